package specs

// docs/locality-behavior.md §1 "Failover" (applyLocalityFailover): with
// failover [{from: kr, to: us}] and outlier detection, from my-shell-kr-a
// the order is kr/a, then kr/b (same region), then us. Emptying kr/a moves
// traffic to kr/b; emptying all of kr moves it to us (istio/istio#12961:
// failover needs outlier detection).

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Cross-region failover (kr → us)", Label("locality:cross-region"), Ordered, func() {
	const client = "my-shell-kr-a"
	m := setUp(topology.TwoRegions(), "failover-cross-region")

	It("keeps traffic in kr/a while it has pods", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/a": steps.Row(0, 2, 2),
			"kr/b": steps.Row(1, 2, 2),
			"us/a": steps.Row(2, 2, 2),
			"us/b": steps.Row(2, 2, 2),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, Expected: split.Expected{"kr/a": 1}})
	})

	It("fails over to kr/b when kr/a is emptied", func(ctx SpecContext) {
		steps.Scale(ctx, m, "helloworld-kr-a", 0)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.Row(0, 2, 2),
			"us/a": steps.Row(1, 2, 2),
			"us/b": steps.Row(1, 2, 2),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, Expected: split.Expected{"kr/b": 1}})
	})

	It("fails over to us when all of kr is emptied", func(ctx SpecContext) {
		steps.Scale(ctx, m, "helloworld-kr-b", 0)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"us/a": steps.Row(0, 2, 2),
			"us/b": steps.Row(0, 2, 2),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
			Expected: split.Expected{"kr/a": 0, "kr/b": 0, "us/a": 0.5, "us/b": 0.5}})
	})
})
