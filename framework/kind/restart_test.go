package kind

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// RestartWorkload patches the Deployment as `kubectl rollout restart`
// does, one pod at a time, and waits for the rollout (client-go fakes).
func TestRestartWorkload(t *testing.T) {
	f, _, m := deployThreeZones(t)
	ctx := context.Background()
	before := time.Now().UTC().Truncate(time.Second)
	if err := m.RestartWorkload(ctx, "helloworld-zone-b"); err != nil {
		t.Fatalf("%v\nlog:\n%s", err, f.log.String())
	}
	d, err := f.kube.AppsV1().Deployments(m.ns).Get(ctx, "helloworld-zone-b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339Nano, d.Spec.Template.Annotations[RestartedAtAnnotation])
	if err != nil || at.Before(before) {
		t.Errorf("restartedAt %q (%v)", d.Spec.Template.Annotations[RestartedAtAnnotation], err)
	}
	ru := d.Spec.Strategy.RollingUpdate
	if ru == nil || *ru.MaxSurge != intstr.FromInt32(1) || *ru.MaxUnavailable != intstr.FromInt32(0) {
		t.Errorf("strategy %+v", d.Spec.Strategy)
	}
	// The other workloads are untouched.
	other, _ := f.kube.AppsV1().Deployments(m.ns).Get(ctx, "helloworld-zone-a", metav1.GetOptions{})
	if _, ok := other.Spec.Template.Annotations[RestartedAtAnnotation]; ok {
		t.Error("helloworld-zone-a restarted too")
	}
	if !strings.Contains(f.log.String(), "restarting "+m.ns+"/helloworld-zone-b (3 pods, one by one)") {
		t.Errorf("log:\n%s", f.log.String())
	}
	if err := m.RestartWorkload(ctx, "nope"); err == nil {
		t.Error("unknown workload restarted")
	}
}
