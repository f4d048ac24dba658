package kind

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/embedded"
	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// TestEndpointsReadFromAnEmbeddedMesh runs the kind backend's endpoint
// reading (kindFetcher's exec commands, endpoints.Read) against the
// documents a real istiod and the embedded sidecars serve: each
// `pilot-agent request GET <path>` exec is answered by the client
// sidecar's admin API, each `pilot-discovery request GET <path>` by the
// in-process istiod's debug API. Both backends must then show the same
// tables, for a distribute rule (istiod keeps emptied localities, Envoy
// drops them) and with ejected hosts.
func TestEndpointsReadFromAnEmbeddedMesh(t *testing.T) {
	ctx := context.Background()
	topo := topology.ThreeZones()
	em, err := embedded.New(embedded.Options{Seed: 7}).Deploy(ctx, topo)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close(ctx)
	e := em.(*embedded.Mesh)
	topo = e.Topology()

	kube := fake.NewClientset()
	_, _ = kube.CoreV1().Pods(IstioNamespace).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "istiod-1", Namespace: IstioNamespace, Labels: map[string]string{"app": "istiod"}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}, metav1.CreateOptions{})
	pods, err := e.Pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		_, _ = kube.CoreV1().Pods(topo.Namespace).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: topo.Namespace},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: p.IP},
		}, metav1.CreateOptions{})
	}
	var calls []string
	exec := func(ctx context.Context, ns, pod, container string, argv []string) (string, string, error) {
		calls = append(calls, ns+"/"+pod+"/"+container+": "+strings.Join(argv, " "))
		var url string
		switch {
		case len(argv) == 4 && argv[0] == "pilot-agent" && argv[1] == "request" && argv[2] == "GET" && container == SidecarContainer:
			base, err := e.AdminURL(pod)
			if err != nil {
				return "", err.Error(), err
			}
			url = base + strings.TrimPrefix(argv[3], "/")
		case len(argv) == 4 && argv[0] == "pilot-discovery" && argv[1] == "request" && argv[2] == "GET" && container == IstiodContainer:
			url = e.IstiodDebugURL() + argv[3]
		default:
			return "", "unexpected command", fmt.Errorf("unexpected exec %v in %s/%s", argv, pod, container)
		}
		resp, err := http.Get(url)
		if err != nil {
			return "", err.Error(), err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		// pilot-agent / pilot-discovery request (istio
		// pilot/pkg/request/command.go Do) exit non-zero above 399, except
		// on 404, whose body they print with exit 0.
		if resp.StatusCode > 399 && resp.StatusCode != http.StatusNotFound {
			return "", fmt.Sprintf("Error: received unsuccessful status code %d: %s", resp.StatusCode, body), fmt.Errorf("command terminated with exit code 1")
		}
		return string(body), "", nil
	}
	cfg := DefaultConfig()
	km := &kindMesh{b: &backend{cfg: cfg, log: io.Discard, kube: kube, exec: exec, meshes: map[*kindMesh]bool{}}, ns: topo.Namespace, topo: topo}

	same := func(what string) {
		t.Helper()
		for _, view := range []endpoints.View{endpoints.Envoy, endpoints.Raw} {
			want, err := e.Endpoints(ctx, "netshoot-b", view)
			if err != nil {
				t.Fatalf("%s: embedded %s view: %v", what, view, err)
			}
			got, err := km.Endpoints(ctx, "netshoot-b", view)
			if err != nil {
				t.Fatalf("%s: kind %s view: %v\nexecs: %v", what, view, err, calls)
			}
			if got.String() != want.String() {
				t.Fatalf("%s: %s view differs\nkind:\n%s\nembedded:\n%s", what, view, got, want)
			}
			if len(want.Rows) == 0 {
				t.Fatalf("%s: %s view is empty", what, view)
			}
		}
	}

	dr, err := destinationrule.Load("distribute-90-10")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ApplyDestinationRule(ctx, destinationrule.ForTopology(dr, topo.Host(), topo.Namespace)); err != nil {
		t.Fatal(err)
	}
	same("distribute-90-10")
	raw, _ := km.Endpoints(ctx, "netshoot-b", endpoints.Raw)
	if r, ok := raw.Row("kr/b"); !ok || len(r.Hosts) != 0 {
		t.Fatalf("istiod view through kind's exec path should keep kr/b emptied:\n%s", raw)
	}

	dr, _ = destinationrule.Load("failover-max-ejection-100")
	if err := e.ApplyDestinationRule(ctx, destinationrule.ForTopology(dr, topo.Host(), topo.Namespace)); err != nil {
		t.Fatal(err)
	}
	if err := e.SetFault(ctx, "helloworld-zone-b", -1, mesh.Fail5xx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Send(ctx, "netshoot-b", 50); err != nil {
		t.Fatal(err)
	}
	same("failover with kr/b ejected")
	env, _ := km.Endpoints(ctx, "netshoot-b", endpoints.Envoy)
	if s := env.Summarize()["kr/b"]; s.Hosts != 3 || s.Healthy != 0 {
		t.Fatalf("kind's read of the ejected kr/b hosts: %+v\n%s", s, env)
	}

	// A proxy this istiod does not know: the real istiod debug handler
	// answers 404 "Proxy not connected to this Pilot instance", which
	// pilot-discovery prints with exit 0; the fetcher says what it means
	// instead of a JSON parse error (issue 12 item 8).
	_, err = kindFetcher{km}.IstiodDebug(ctx, endpoints.IstiodEDSPath("nobody."+topo.Namespace))
	if err == nil || !strings.Contains(err.Error(), "the proxy is not connected to this istiod") || strings.Contains(err.Error(), "invalid character") {
		t.Errorf("istiod 404: %v", err)
	}
	// Envoy's admin API answers 404 for an unknown path, also with exit 0.
	_, err = kindFetcher{km}.EnvoyAdmin(ctx, "netshoot-b", "no_such_handler")
	if err == nil || !strings.Contains(err.Error(), "pilot-agent request GET no_such_handler in netshoot-b answered") {
		t.Errorf("envoy 404: %v", err)
	}
}

func TestCheckJSONBody(t *testing.T) {
	for _, ok := range []string{`{"configs":[]}`, "[]\n", "  {}"} {
		if err := checkJSONBody("x", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for body, want := range map[string]string{
		"Proxy not connected to this Pilot instance. It may be connected to another instance.\n": "not connected to this istiod",
		"invalid path: /nope\nadmin commands are:\n  /: Admin home page\n":                       "HTTP 404 from Envoy's admin API",
		"":               "an empty body",
		"404 page found": "not JSON: most likely an HTTP 404 page",
	} {
		err := checkJSONBody("pilot-discovery request GET /debug/edsz in istiod-1", body)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "istiod-1") {
			t.Errorf("%q: %v", body, err)
		}
	}
}
