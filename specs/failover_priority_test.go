package specs

// docs/locality-behavior.md §1 "failoverPriority" (applyFailoverPriorities) and
// istio/istio#40198: with N labels, an endpoint whose first mismatch against
// the client's labels is at index j gets priority N−j, a full match 0;
// `key=value` compares with a fixed value instead of the client's label.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("failoverPriority", Label("locality:failover-priority"), func() {
	const client = "netshoot-b"

	Context("on the topology labels [region, zone]", Ordered, func() {
		m := setUp(topology.ThreeZones(), "failover-priority-topology")

		It("ranks the client's zone first and the rest of its region second", func(ctx SpecContext) {
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
				"kr/b": steps.Row(0, 3, 3),
				"kr/a": steps.Row(1, 3, 3),
				"kr/c": steps.Row(1, 3, 3),
			}})
			steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, Expected: split.Expected{"kr/b": 1}})
		})
	})

	Context("on a custom label [tier], client tier=gold in the silver zone", Ordered, func() {
		m := setUp(topology.ThreeZonesTiers(), "failover-priority-tier")

		It("prefers the gold pods in other zones over the local silver ones", func(ctx SpecContext) {
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
				"kr/a": steps.Row(0, 3, 3),
				"kr/c": steps.Row(0, 3, 3),
				"kr/b": steps.Row(1, 3, 3),
			}})
			steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
				Expected: split.Expected{"kr/a": 0.5, "kr/b": 0, "kr/c": 0.5}})
		})
	})

	Context("with a key=value override [tier=silver]", Ordered, func() {
		m := setUp(topology.ThreeZonesTiers(), "failover-priority-override")

		It("sends the gold client to the silver pods, whatever its own tier", func(ctx SpecContext) {
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
				"kr/b": steps.Row(0, 3, 3),
				"kr/a": steps.Row(1, 3, 3),
				"kr/c": steps.Row(1, 3, 3),
			}})
			steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, Expected: split.Expected{"kr/b": 1}})
		})
	})
})
