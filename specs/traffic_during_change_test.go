package specs

// Issue 12 item 11: what users fear during an upgrade, on every backend and
// every commit. Steady traffic flows from netshoot-b (kr/b) while the mesh
// changes under it, and the timeline of its batches (OK responses by
// locality, errors by class) must keep the invariants: while kr/b has
// healthy pods no request leaves kr/b, and errors stay under a bound.
//
// The changes: the failover rule (locality failover with outlier
// detection) is replaced by distribute kr/b → kr/b 100 (istiod pushes a
// new Cluster and ClusterLoadAssignment; both rules keep kr/b local), and
// kr/b's three pods are replaced one by one (a rolling restart: a new pod
// ready before an old one is deleted; the old pod leaves the endpoints and
// is told to stop at the same time, as Kubernetes does, and keeps serving
// for its drain period: preStop sleep and cmd/workload's drain on kind,
// the same drain on embedded). kr/b keeps at least three ready pods
// throughout, so its priority stays fully healthy and nothing spills over.

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/timeline"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// maxChangeErrorFraction bounds the errors of steady traffic during a
// change: none are expected, because a deleted pod keeps serving until
// every sidecar has its endpoint update (Istio's default retry policy
// retries connect failures only, not a 503 or a reset, so without the
// drain the requests sent to a stopped pod before the push fail:
// embedded's TestScaleDownWithoutDrainFails); the bound leaves room for
// one unlucky request per 1000 on a real cluster.
const maxChangeErrorFraction = 0.001

var _ = Describe("Traffic during change", Label("locality:traffic-during-change"), Ordered, func() {
	const client = "netshoot-b"
	m := setUp(topology.ThreeZones(), "failover")

	expectLocal := func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.Row(0, steps.NoLocalityWeight, 3),
			"kr/a": steps.Row(1, steps.NoLocalityWeight, 3),
			"kr/c": steps.Row(1, steps.NoLocalityWeight, 3),
		}})
	}

	It("keeps every request in kr/b, without errors, while the DestinationRule changes", func(ctx SpecContext) {
		expectLocal(ctx)
		tr := steps.StartSteadyTraffic(ctx, m, client, 0, "failover rule")
		tr.AwaitBatches(ctx, 3)
		tr.Phase("DR → distribute kr/b 100")
		steps.ApplyDestinationRule(ctx, m, "distribute-local-zone")
		tr.AwaitBatches(ctx, 3)
		tr.Phase("distribute rule")
		tr.AwaitBatches(ctx, 3)
		t := tr.Stop()
		steps.ExpectTimeline(t, timeline.Invariants{Stay: []string{"kr/b"}, MaxErrorFraction: maxChangeErrorFraction, MinBatches: 3})
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.Row(0, 100, 3),
		}})
	})

	It("keeps every request in kr/b, without errors, while kr/b's pods are replaced one by one", func(ctx SpecContext) {
		steps.ApplyDestinationRule(ctx, m, "failover")
		expectLocal(ctx)
		before := podsOf(ctx, m, "helloworld-zone-b")
		tr := steps.StartSteadyTraffic(ctx, m, client, 0, "before restart")
		tr.AwaitBatches(ctx, 3)
		tr.Phase("rolling restart of kr/b")
		steps.RestartWorkload(ctx, m, "helloworld-zone-b")
		tr.AwaitBatches(ctx, 1)
		tr.Phase("after restart")
		tr.AwaitBatches(ctx, 3)
		t := tr.Stop()
		steps.ExpectTimeline(t, timeline.Invariants{Stay: []string{"kr/b"}, MaxErrorFraction: maxChangeErrorFraction, MinBatches: 1})

		after := podsOf(ctx, m, "helloworld-zone-b")
		Expect(after).To(HaveLen(3))
		for _, p := range after {
			Expect(before).NotTo(ContainElement(p), "pod %s was not replaced", p)
		}
		expectLocal(ctx)
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/b": 1}})
	})
})

// podsOf lists a workload's pod names.
func podsOf(ctx SpecContext, m *scenario, workload string) []string {
	pods, err := m.Pods(ctx)
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, p := range pods {
		if p.Workload == workload {
			out = append(out, p.Name)
		}
	}
	return out
}
