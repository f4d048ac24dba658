package specs

// docs/locality-behavior.md §2 "Priority load" (Envoy's priority load with
// overprovisioning factor 1.4): with 1 of the 3 local hosts ejected, P0's
// health is min(100, 1.4 × 100 × 2/3) = 93, so 93% stays in kr/b and 7%
// spills to priority 1 (kr/a and kr/c, 3.5% each: without a failover list
// Istio sets no locality_weighted_lb_config, so the 6 hosts share P1 evenly).

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Partial health: one of three local pods ejected", Label("locality:partial-health"), Ordered, func() {
	const client = "netshoot-b"
	m := setUp(topology.ThreeZones(), "failover-max-ejection-100")

	It("keeps 93% in kr/b and spills 7% to kr/a and kr/c", func(ctx SpecContext) {
		if m.Capabilities().Fault5xx {
			steps.Break(ctx, m, "helloworld-zone-b", 1, mesh.Fail5xx)
		} else {
			steps.Break(ctx, m, "helloworld-zone-b", 1, mesh.RefuseConnections)
		}
		steps.Warm(ctx, m, client, 50)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.RowHealthy(0, steps.NoLocalityWeight, 3, 2),
			"kr/a": steps.Row(1, steps.NoLocalityWeight, 3),
			"kr/c": steps.Row(1, steps.NoLocalityWeight, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality, Requests: 2000,
			Expected: split.Expected{"kr/b": 0.93, "kr/a": 0.035, "kr/c": 0.035}})
	})
})
