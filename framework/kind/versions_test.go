package kind

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestVersionsNote(t *testing.T) {
	running := corev1.PodStatus{Phase: corev1.PodRunning}
	istiod := func(name, image string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: IstioNamespace, Labels: map[string]string{"app": "istiod"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: IstiodContainer, Image: image}}}, Status: running}
	}
	proxied := func(name, image string, native bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "le2e-x"}, Status: running}
		c := corev1.Container{Name: SidecarContainer, Image: image}
		if native {
			p.Spec.InitContainers = []corev1.Container{c}
		} else {
			p.Spec.Containers = []corev1.Container{c}
		}
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "app"})
		return p
	}
	kube := fake.NewClientset(
		istiod("istiod-1", "docker.io/istio/pilot:1.31.4"), istiod("istiod-canary-1", "docker.io/istio/pilot:1.32.0-distroless"),
		proxied("netshoot-b", "docker.io/istio/proxyv2:1.31.4", false),
		proxied("helloworld-zone-b-1", "docker.io/istio/proxyv2:1.32.0", true),
		proxied("helloworld-zone-b-2", "docker.io/istio/proxyv2:1.31.4", false),
		proxied("helloworld-zone-b-3", "docker.io/istio/proxyv2:1.32.0", true),
	)
	got := VersionsNote(context.Background(), kube, "le2e-x", "netshoot-b")
	if want := "istiod 1.31.4×1 1.32.0×1; client 1.31.4×1; workloads 1.31.4×1 1.32.0×2"; got != want {
		t.Errorf("note %q, want %q", got, want)
	}
}
