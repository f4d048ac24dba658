package kind

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: %s
contexts:
- name: c
  context:
    cluster: c
    user: u
current-context: c
users:
- name: u
  user:
    token: test
`, server)
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSetupRoundTrip(t *testing.T) {
	s := &Setup{Kubeconfig: "/tmp/kc", ClusterName: "locality-e2e", Created: true, IstioVersion: "1.28.0"}
	got, err := UnmarshalSetup(s.Marshal())
	if err != nil || *got != *s {
		t.Fatalf("round trip %+v %v", got, err)
	}
	for _, bad := range []string{"", "{}", "not json"} {
		if _, err := UnmarshalSetup([]byte(bad)); err == nil {
			t.Errorf("UnmarshalSetup(%q) accepted", bad)
		}
	}
}

func TestTeardownNeverDeletesWhatItDidNotCreate(t *testing.T) {
	// No Docker here: any attempt to delete would fail.
	for _, s := range []*Setup{nil, {Kubeconfig: "/kc"}, {Kubeconfig: "/kc", ClusterName: "reused", Created: false}} {
		if err := Teardown(context.Background(), DefaultConfig(), s, nil); err != nil {
			t.Errorf("Teardown(%+v): %v", s, err)
		}
	}
}

func TestConnectToLoopbackAPIServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/version" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"major":"1","minor":"37","gitVersion":"v1.37.0"}`)
	}))
	defer srv.Close()
	s := &Setup{Kubeconfig: writeKubeconfig(t, srv.URL), IstioVersion: "1.28.0"}
	mb, err := Connect(context.Background(), DefaultConfig(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := mb.(*backend)
	if b.Name() != "kind" || !b.trafficDistribution || b.cl != nil || b.teardown != nil {
		t.Errorf("backend %+v", b)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestConnectUnreachableAPIServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	start := time.Now()
	_, err = Connect(context.Background(), DefaultConfig(), &Setup{Kubeconfig: writeKubeconfig(t, "https://"+addr)}, nil)
	if err == nil || !strings.Contains(err.Error(), "does not answer") || time.Since(start) > 10*time.Second {
		t.Fatalf("error %v after %v", err, time.Since(start))
	}
}

// Prepare with an existing kubeconfig skips Docker and stops at the node
// check when the cluster lacks the localities.
func TestPrepareExistingClusterMissingLocalities(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/version":
			fmt.Fprint(w, `{"major":"1","minor":"37"}`)
		case "/api/v1/nodes":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"kind":"NodeList","apiVersion":"v1","items":[{"metadata":{"name":"n1","labels":{"topology.kubernetes.io/region":"kr","topology.kubernetes.io/zone":"a"}}}]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.Kubeconfig = writeKubeconfig(t, srv.URL)
	cfg.WorkloadImage = "registry.example/le2e/workload:v3" // pushed: the built-in one cannot be loaded here
	t.Setenv("PATH", t.TempDir())                           // no docker, no istioctl: must not be needed before the node check
	_, err := Prepare(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "LOCALITY_E2E_KUBECONFIG") || !strings.Contains(err.Error(), "kr/b (kubectl label node <node> topology.kubernetes.io/region=kr topology.kubernetes.io/zone=b)") {
		t.Fatalf("error %v", err)
	}
}
