package kind

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/localitylb/locality-e2e/framework/topology"
)

// podLifecycleSleepDefaultOn is the first Kubernetes minor with the
// PodLifecycleSleepAction feature (lifecycle.preStop.sleep) on by
// default: beta in 1.30 (alpha in 1.29, GA in 1.34; KEP-3960).
const podLifecycleSleepDefaultOn = 30

// TestPreStopSleepIsServed: the workload Deployments' preStop sleep
// (framework/topology/termination.go) needs PodLifecycleSleepAction on:
// kind v0.33.0's default node image, and the oldest Kubernetes the suite
// accepts for each Istio release, have it by default.
func TestPreStopSleepIsServed(t *testing.T) {
	k, ok := NodeImageKubernetesMinor(DefaultNodeImage)
	if !ok || k < podLifecycleSleepDefaultOn {
		t.Errorf("default node image %s: Kubernetes 1.%d, want 1.%d or newer for lifecycle.preStop.sleep", DefaultNodeImage, k, podLifecycleSleepDefaultOn)
	}
	for istio, r := range kubernetesSupport {
		if r[0] < podLifecycleSleepDefaultOn {
			t.Errorf("Istio 1.%d accepts Kubernetes 1.%d, which lacks lifecycle.preStop.sleep by default", istio, r[0])
		}
	}
	// The topology as the kind backend deploys it has the hook.
	b := &backend{cfg: DefaultConfig()}
	objs, err := topology.Render(b.deployable(topology.ThreeZones()))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := objs[0].(*appsv1.Deployment)
	if !ok {
		t.Fatalf("first object %T, want the first Deployment", objs[0])
	}
	spec := d.Spec.Template.Spec
	c := spec.Containers[0]
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil ||
		c.Lifecycle.PreStop.Sleep.Seconds != int64(topology.PreStopSleepSeconds) ||
		spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds != int64(topology.TerminationGracePeriodSeconds) {
		t.Errorf("%s on %s: lifecycle %+v, grace %v; want preStop sleep %ds, grace %ds",
			d.Name, c.Image, c.Lifecycle, spec.TerminationGracePeriodSeconds, topology.PreStopSleepSeconds, topology.TerminationGracePeriodSeconds)
	}
}
