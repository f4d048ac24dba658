package specs

// Zone aware routing while a zone loses upstream hosts (topology
// zone-aware-uneven, rule zone-aware; callers kr/a 2, kr/b 1, kr/c 1:
// local a 5000, b 2500, c 2500 in Envoy's 1/10000, see
// zone_aware_helpers_test.go).
//
// kr/b scaled 3 → 1: upstream a 2, b 1, c 3 (6 hosts, = min_cluster_size
// 6, so zone aware routing stays on): upstream a 10000×2/6 = 3333,
// b 1666, c 5000.
//   - from kr/b: 1666 < 2500 → local_percent_to_route = 1666×10000/2500 =
//     6664: 66.64% stay in kr/b; residual a max(0, 3333−5000) = 0,
//     c 5000−2500 = 2500: the other 33.36% all go to kr/c, none to kr/a.
//   - from kr/a: 3333 < 5000 → 3333×10000/5000 = 6666: 66.66% stay in
//     kr/a; residual b max(0, 1666−2500) = 0, c 2500: 33.34% to kr/c.
//
// kr/b scaled to 0: 5 hosts left < min_cluster_size 6
// (earlyExitNonLocalityRouting, lb_zone_cluster_too_small): no zone aware
// routing, sleep-b's requests spread over the 5 hosts: kr/a 2/5 = 40%,
// kr/c 3/5 = 60%.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Zone aware routing: a zone losing upstream hosts", Label("zone-aware:scale"), Ordered, func() {
	m := setUp(topology.ZoneAwareUneven(), "zone-aware")
	BeforeEach(func() { requireZoneAware(m) })

	It("keeps 66.64% of sleep-b's requests in kr/b at 1 pod and spills the rest to kr/c only", func(ctx SpecContext) {
		steps.Scale(ctx, m, "helloworld-zone-b", 1)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: "sleep-b", Expected: endpoints.Summary{
			"kr/a": steps.Row(0, steps.NoLocalityWeight, 2),
			"kr/b": steps.Row(0, steps.NoLocalityWeight, 1),
			"kr/c": steps.Row(0, steps.NoLocalityWeight, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: "sleep-b",
			Expected: split.Expected{"kr/a": 0, "kr/b": 0.6664, "kr/c": 0.3336}})
	})

	It("moves sleep-a-1's local share to 66.66% (its residual also goes to kr/c only)", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: "sleep-a-1", Expected: endpoints.Summary{
			"kr/a": steps.Row(0, steps.NoLocalityWeight, 2),
			"kr/b": steps.Row(0, steps.NoLocalityWeight, 1),
			"kr/c": steps.Row(0, steps.NoLocalityWeight, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: "sleep-a-1",
			Expected: split.Expected{"kr/a": 0.6666, "kr/b": 0, "kr/c": 0.3334}})
	})

	It("spreads sleep-b's requests 40/60 over kr/a and kr/c at 0 pods (5 hosts < min_cluster_size 6)", func(ctx SpecContext) {
		steps.Scale(ctx, m, "helloworld-zone-b", 0)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: "sleep-b", Expected: endpoints.Summary{
			"kr/a": steps.Row(0, steps.NoLocalityWeight, 2),
			"kr/c": steps.Row(0, steps.NoLocalityWeight, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: "sleep-b",
			Expected: split.Expected{"kr/a": 0.4, "kr/b": 0, "kr/c": 0.6}})
	})
})
