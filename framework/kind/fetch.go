package kind

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/localitylb/locality-e2e/framework/endpoints"
)

// kindFetcher is the kind backend's endpoints.Fetcher: it runs the admin
// requests by exec, `pilot-agent request GET <path>` in the client's
// istio-proxy container (the sidecar's admin API on 127.0.0.1:15000) and
// `pilot-discovery request GET <path>` in istiod's discovery container (its
// debug API on 127.0.0.1:15014).
type kindFetcher struct{ m *kindMesh }

var _ endpoints.Fetcher = kindFetcher{}

// EnvoyAdmin runs PilotAgentRequestArgs("GET", path) in the client's
// sidecar. pilot-agent exits non-zero on an HTTP status above 399 except
// 404, whose body it prints with exit 0 (checkJSONBody catches it).
func (f kindFetcher) EnvoyAdmin(ctx context.Context, client, path string) ([]byte, error) {
	out, stderr, err := f.m.b.execIn(ctx, f.m.ns, client, SidecarContainer, PilotAgentRequestArgs("GET", path))
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s", path, err, firstLines(strings.TrimSpace(stderr), 2))
	}
	if err := checkJSONBody("pilot-agent request GET "+path+" in "+client, out); err != nil {
		return nil, err
	}
	return []byte(out), nil
}

// checkJSONBody refuses a body that is not JSON, before a parser reports
// "invalid character 'P' looking for beginning of value". Every admin and
// debug path the backend reads answers JSON; `pilot-agent request` and
// `pilot-discovery request` exit 0 on HTTP 404 and print the body
// (istio pilot/pkg/request/command.go Do: an error only for
// "resp.StatusCode > 399 && resp.StatusCode != 404"), so a 404 page
// arrives here as output. istiod's debug handlers answer 404 "Proxy not
// connected to this Pilot instance. It may be connected to another
// instance." for a proxy connected elsewhere (pilot/pkg/xds/debug.go);
// Envoy's admin answers 404 with its list of handlers for an unknown path.
func checkJSONBody(what, out string) error {
	body := strings.TrimSpace(out)
	if body != "" && (body[0] == '{' || body[0] == '[') {
		return nil
	}
	meaning := "not JSON: most likely an HTTP 404 page (the request commands exit 0 on 404)"
	switch {
	case body == "":
		meaning = "an empty body"
	case strings.HasPrefix(body, "Proxy not connected to this Pilot instance"):
		meaning = "HTTP 404 from istiod: the proxy is not connected to this istiod (not yet connected, or connected to another replica or revision)"
	case strings.Contains(body, "admin commands are:") || strings.Contains(body, "invalid path"):
		meaning = "HTTP 404 from Envoy's admin API: this Envoy does not serve that path"
	}
	return fmt.Errorf("%s answered %s: %q", what, meaning, firstLines(body, 2))
}

// IstiodDebug runs `pilot-discovery request GET <path>` in each running
// istiod pod (of the configured revision) until one answers JSON: with
// several replicas only the one a proxy is connected to knows it, the
// others answer 404 "Proxy not connected to this Pilot instance", which
// pilot-discovery prints with exit 0 (checkJSONBody).
func (f kindFetcher) IstiodDebug(ctx context.Context, path string) ([]byte, error) {
	pods, err := f.m.b.istiodPods(ctx)
	if err != nil {
		return nil, err
	}
	var errs []string
	for _, p := range pods {
		out, err := f.m.b.istiodDebugIn(ctx, p, path)
		if err != nil {
			// A replica the proxy is not connected to answers 404 with
			// exit 0: try the next one.
			errs = append(errs, err.Error())
			continue
		}
		return out, nil
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("no running istiod pod (%s) in %s", f.m.b.istiodSelector(), IstioNamespace)
	}
	return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
}

// istiodSelector selects the istiod pods of the configured revision.
func (b *backend) istiodSelector() string {
	selector := "app=istiod"
	if rev := b.cfg.Revision; rev != "" {
		// A canary control plane: only its istiod serves this namespace.
		selector += "," + LabelRevision + "=" + rev
	}
	return selector
}

// istiodPods lists the running istiod pods of the configured revision.
func (b *backend) istiodPods(ctx context.Context) ([]string, error) {
	pods, err := b.kube.CoreV1().Pods(IstioNamespace).List(ctx, metav1.ListOptions{LabelSelector: b.istiodSelector()})
	if err != nil {
		return nil, fmt.Errorf("list istiod pods: %w", err)
	}
	var out []string
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning {
			out = append(out, p.Name)
		}
	}
	return out, nil
}

// istiodDebugIn runs `pilot-discovery request GET <path>` in one istiod
// pod's discovery container (its debug API on 127.0.0.1:15014) and
// returns the body, which must be JSON (checkJSONBody).
func (b *backend) istiodDebugIn(ctx context.Context, pod, path string) ([]byte, error) {
	argv := []string{"pilot-discovery", "request", "GET", path}
	out, stderr, err := b.execIn(ctx, IstioNamespace, pod, IstiodContainer, argv)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s", pod, err, firstLines(strings.TrimSpace(stderr), 2))
	}
	if err := checkJSONBody("pilot-discovery request GET "+path+" in "+pod, out); err != nil {
		return nil, err
	}
	return []byte(out), nil
}
