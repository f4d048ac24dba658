package specs

// Zone aware routing with callers spread unlike the upstreams (topology
// zone-aware-uneven: upstream pods kr/a 2, kr/b 3, kr/c 3; callers of
// Service sleep kr/a 2 (sleep-a-1, sleep-a-2), kr/b 1, kr/c 1).
//
// Envoy's formula (zone_aware_helpers_test.go): local a 10000×2/4 = 5000,
// b 2500, c 2500; upstream a 10000×2/8 = 2500, b 3750, c 3750.
//   - from kr/a: upstream 2500 < local 5000 → LocalityResidual,
//     local_percent_to_route = 2500×10000/5000 = 5000: 50% stay in kr/a;
//     residual capacity b 3750−2500 = 1250, c 1250: the other 50% split
//     evenly, 25% to kr/b and 25% to kr/c. Each of the two kr/a replicas
//     is its own Envoy and shows the split on its own.
//   - from kr/b and kr/c: upstream 3750 ≥ local 2500 → LocalityDirect,
//     100% local.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Zone aware routing: a zone with more callers than upstream capacity", Label("zone-aware:uneven"), Ordered, func() {
	m := setUp(topology.ZoneAwareUneven(), "zone-aware")
	BeforeEach(func() { requireZoneAware(m) })

	for _, client := range []string{"sleep-a-1", "sleep-a-2"} {
		It("keeps 50% of "+client+"'s requests in kr/a and spills 25%/25% to kr/b and kr/c by residual capacity", func(ctx SpecContext) {
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, View: endpoints.Raw, Expected: unevenTable(endpoints.Raw)})
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: unevenTable(endpoints.Envoy)})
			steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
				Expected: split.Expected{"kr/a": 0.5, "kr/b": 0.25, "kr/c": 0.25}})
		})
	}

	for _, zone := range []string{"b", "c"} {
		client := "sleep-" + zone
		It("keeps every request from "+client+" in kr/"+zone+" (upstream share 37.5% ≥ caller share 25%)", func(ctx SpecContext) {
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: unevenTable(endpoints.Envoy)})
			exp := split.Expected{"kr/a": 0, "kr/b": 0, "kr/c": 0}
			exp["kr/"+zone] = 1
			steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, Expected: exp})
		})
	}
})
