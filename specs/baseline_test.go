package specs

// Seed §1.1, docs/locality-behavior.md §3 (a): two regions × two zones, two pods each, the
// client my-shell-kr-a in kr/a, and no DestinationRule. Locality load
// balancing is on by default, but without outlier detection there is no
// failover priority, so every locality is priority 0 and requests spread
// over all eight pods. Adding outlier detection alone pins traffic to the
// client's zone (istio/istio#39477).

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Baseline: two regions, no DestinationRule", Label("locality:baseline"), Ordered, func() {
	const client = "my-shell-kr-a"
	m := setUp(topology.TwoRegions(), "")

	It("spreads requests evenly over the four localities (≈25% each)", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/a": steps.Row(0, steps.NoLocalityWeight, 2),
			"kr/b": steps.Row(0, steps.NoLocalityWeight, 2),
			"us/a": steps.Row(0, steps.NoLocalityWeight, 2),
			"us/b": steps.Row(0, steps.NoLocalityWeight, 2),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/a": 0.25, "kr/b": 0.25, "us/a": 0.25, "us/b": 0.25}})
	})

	It("spreads requests evenly over the eight pods (≈12.5% each)", func(ctx SpecContext) {
		pods := steps.PodLocalities(ctx, m)
		exp := split.Expected{}
		for name, loc := range pods {
			if loc != "" && name != client {
				exp[name] = 1.0 / 8
			}
		}
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByPod, Requests: 2000, Expected: exp})
	})

	It("with outlier detection alone, keeps every request in kr/a (kr/b priority 1, us priority 2)", func(ctx SpecContext) {
		steps.ApplyDestinationRule(ctx, m, "outlier-only")
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/a": steps.Row(0, steps.NoLocalityWeight, 2),
			"kr/b": steps.Row(1, steps.NoLocalityWeight, 2),
			"us/a": steps.Row(2, steps.NoLocalityWeight, 2),
			"us/b": steps.Row(2, steps.NoLocalityWeight, 2),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/a": 1}})
	})
})
