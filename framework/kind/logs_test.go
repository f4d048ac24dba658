package kind

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/localitylb/locality-e2e/framework/endpoints"
)

func TestSavePodLogs(t *testing.T) {
	kube := fake.NewSimpleClientset(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "netshoot-b", Namespace: "le2e-x"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "client"}, {Name: "istio-proxy"}}},
	})
	dir := t.TempDir()
	if err := savePodLogs(context.Background(), kube, "le2e-x", dir); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"client", "istio-proxy"} {
		data, err := os.ReadFile(filepath.Join(dir, "netshoot-b."+c+".log"))
		if err != nil {
			t.Fatalf("log of %s not saved: %v", c, err)
		}
		if len(data) == 0 {
			t.Errorf("log of %s is empty", c)
		}
	}
}

// On Kubernetes ≥ 1.33 istio-proxy is a native sidecar: an init container
// with restartPolicy Always. Its access log is saved too.
func TestSavePodLogsNativeSidecar(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	kube := fake.NewSimpleClientset(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "netshoot-b", Namespace: "le2e-x"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "istio-init"}, {Name: "istio-proxy", RestartPolicy: &always}},
			Containers:     []corev1.Container{{Name: "client"}},
		},
	})
	dir := t.TempDir()
	if err := savePodLogs(context.Background(), kube, "le2e-x", dir); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"istio-init", "istio-proxy", "client"} {
		if _, err := os.Stat(filepath.Join(dir, "netshoot-b."+c+".log")); err != nil {
			t.Errorf("log of %s not saved: %v", c, err)
		}
	}
}

// A failed spec saves its namespace's pod logs and endpoint tables, and
// only asks for the node logs; Teardown's export runs once for all the
// failures of the suite.
func TestCollectLogsDefersNodeLogs(t *testing.T) {
	_, b, m := deployThreeZones(t)
	b.cfg.LogsDir = t.TempDir()
	var exports []string
	b.cl = &cluster{name: "locality-e2e", exportLogs: func(name, dir string) error {
		exports = append(exports, name+" → "+dir)
		return nil
	}}
	ctx := context.Background()
	specDir := t.TempDir()
	var folders []string
	for range 2 { // two failed specs
		out, err := m.CollectLogs(ctx, specDir)
		if err != nil {
			t.Fatal(err)
		}
		folders = append(folders, out)
	}
	if len(exports) != 0 {
		t.Fatalf("node logs exported per spec: %v", exports)
	}
	tables, err := os.ReadFile(filepath.Join(folders[0], "endpoints.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range m.topology().Clients {
		for _, v := range []endpoints.View{endpoints.Envoy, endpoints.Raw} {
			if !strings.Contains(string(tables), fmt.Sprintf("endpoints of %s (%s view)", c.Name, v)) {
				t.Errorf("endpoints.txt lacks %s's %s view:\n%s", c.Name, v, tables)
			}
		}
	}
	if !strings.Contains(string(tables), "kr/b      0         3       10.244.2.10|EJECTED|helloworld-zone-b-0") {
		t.Errorf("endpoints.txt has no table rows:\n%s", tables)
	}
	if _, err := os.Stat(filepath.Join(folders[0], m.topology().Clients[0].Name+".client.log")); err != nil {
		t.Errorf("pod log: %v", err)
	}
	var log strings.Builder
	exportNodeLogsIfWanted(b.cl, b.cfg.LogsDir, &log)
	exportNodeLogsIfWanted(b.cl, b.cfg.LogsDir, &log)
	if len(exports) != 1 || !strings.HasPrefix(exports[0], "locality-e2e → "+filepath.Join(b.cfg.LogsDir, "locality-e2e-")) {
		t.Errorf("exports %v", exports)
	}
	if !strings.Contains(log.String(), "once for the failures in: "+m.ns+", "+m.ns) {
		t.Errorf("log %s", log.String())
	}
	// A suite without failure exports nothing.
	exports = nil
	exportNodeLogsIfWanted(b.cl, b.cfg.LogsDir, &log)
	if len(exports) != 0 {
		t.Errorf("exported without a failure")
	}
}

// A failed deploy or scale (diagnose) also defers the node logs.
func TestDiagnoseDefersNodeLogs(t *testing.T) {
	_, b, m := deployThreeZones(t)
	b.cfg.LogsDir = t.TempDir()
	n := 0
	b.cl = &cluster{name: "c", exportLogs: func(string, string) error { n++; return nil }}
	b.diagnose(context.Background(), m.ns)
	if n != 0 {
		t.Fatal("diagnose exported node logs")
	}
	if _, err := os.Stat(nodeLogsMarker(b.cfg.LogsDir, "c")); err != nil {
		t.Fatalf("no request for node logs: %v", err)
	}
}

// A request left by a run that never reached Teardown is cleared by the
// next setup, not honoured at its end.
func TestClearNodeLogsRequest(t *testing.T) {
	dir := t.TempDir()
	b := &backend{cfg: Config{LogsDir: dir}, cl: &cluster{name: "c"}, log: os.Stderr}
	b.wantNodeLogs("ns")
	clearNodeLogsRequest(dir, "c")
	n := 0
	exportNodeLogsIfWanted(&cluster{name: "c", exportLogs: func(string, string) error { n++; return nil }}, dir, os.Stderr)
	if n != 0 {
		t.Error("a cleared request exported node logs")
	}
}
