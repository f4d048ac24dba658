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
// sidecar. pilot-agent exits non-zero on an answer other than 200.
func (f kindFetcher) EnvoyAdmin(ctx context.Context, client, path string) ([]byte, error) {
	out, stderr, err := f.m.b.execIn(ctx, f.m.ns, client, SidecarContainer, PilotAgentRequestArgs("GET", path))
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s", path, err, firstLines(strings.TrimSpace(stderr), 2))
	}
	return []byte(out), nil
}

// IstiodDebug runs `pilot-discovery request GET <path>` in each running
// istiod pod (of the configured revision) until one answers 200: with
// several replicas only the one a proxy is connected to knows it, the
// others answer 404 and pilot-discovery exits non-zero.
func (f kindFetcher) IstiodDebug(ctx context.Context, path string) ([]byte, error) {
	selector := "app=istiod"
	if rev := f.m.b.cfg.Revision; rev != "" {
		// A canary control plane: only its istiod serves this namespace.
		selector += "," + LabelRevision + "=" + rev
	}
	pods, err := f.m.b.kube.CoreV1().Pods(IstioNamespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list istiod pods: %w", err)
	}
	argv := []string{"pilot-discovery", "request", "GET", path}
	var errs []string
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning {
			continue
		}
		out, stderr, err := f.m.b.execIn(ctx, IstioNamespace, p.Name, IstiodContainer, argv)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v: %s", p.Name, err, firstLines(strings.TrimSpace(stderr), 2)))
			continue
		}
		return []byte(out), nil
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("no running istiod pod (%s) in %s", selector, IstioNamespace)
	}
	return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
}
