package kind

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
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
