package kind

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Client pods run `sleep` as PID 1, which ignores SIGTERM: the pod the
// backend creates must not make the kubelet wait the default 30 s.
func TestClientPodTerminatesFast(t *testing.T) {
	f, _, m := deployThreeZones(t)
	ctx := context.Background()
	for _, c := range m.topology().Clients {
		p, err := f.kube.CoreV1().Pods(m.ns).Get(ctx, c.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if g := p.Spec.TerminationGracePeriodSeconds; g == nil || *g != 1 {
			t.Errorf("client pod %s: terminationGracePeriodSeconds %v, want 1", c.Name, g)
		}
		if cmd := p.Spec.Containers[0].Command; len(cmd) == 0 || cmd[0] != "sleep" {
			t.Errorf("client pod %s: command %q", c.Name, cmd)
		}
	}
}
