package specs

// Zone aware routing and minClusterSize (topology zone-aware-uneven: 8
// upstream hosts kr/a 2, kr/b 3, kr/c 3; callers kr/a 2, kr/b 1, kr/c 1).
// istiod copies minClusterSize into zone_aware_lb_config.min_cluster_size;
// Envoy's earlyExitNonLocalityRouting turns zone aware routing off when
// priority 0 has fewer healthy hosts than that (healthyHosts().size() <
// min_cluster_size, lb_zone_cluster_too_small).
//   - minClusterSize 9 > 8 hosts: no zone aware routing; sleep-a-1's
//     requests spread over the 8 hosts alike: kr/a 2/8 = 25%, kr/b 3/8 =
//     37.5%, kr/c 37.5%.
//   - minClusterSize 8 = 8 hosts: 8 < 8 is false, zone aware routing is
//     on: the 50/25/25 of zone_aware_uneven_test.go (local_percent_to_route
//     2500×10000/5000 = 5000, residuals 1250/1250).

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Zone aware routing: minClusterSize", Label("zone-aware:min-cluster-size"), Ordered, func() {
	const client = "sleep-a-1"
	m := setUp(topology.ZoneAwareUneven(), "zone-aware-min-cluster-size-9")
	BeforeEach(func() { requireZoneAware(m) })
	table := unevenTable(endpoints.Envoy)

	It("spreads requests over every host when minClusterSize (9) is above the upstream size (8)", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: table})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
			Expected: split.Expected{"kr/a": 0.25, "kr/b": 0.375, "kr/c": 0.375}})
	})

	It("routes by zone again at minClusterSize 8 (equal to the upstream size)", func(ctx SpecContext) {
		steps.ApplyDestinationRule(ctx, m, "zone-aware-min-cluster-size-8")
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: table})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
			Expected: split.Expected{"kr/a": 0.5, "kr/b": 0.25, "kr/c": 0.25}})
	})
})
