package specs

// Zone aware routing with callers and upstreams spread alike
// (topology zone-aware-balanced: region kr, zones a, b, c, one caller of
// Service sleep and 2 upstream pods per zone; 6 upstream hosts = Envoy's
// default min_cluster_size, so zone aware routing is on).
//
// From every zone (zone_aware_helpers_test.go has the formula):
// local[z] = 10000×1/3 = 3333, upstream[z] = 10000×2/6 = 3333, so
// upstream[own] ≥ local[own]: LocalityDirect, 100% in the caller's zone.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Zone aware routing: callers and upstreams spread alike", Label("zone-aware:balanced"), Ordered, func() {
	m := setUp(topology.ZoneAwareBalanced(), "zone-aware")
	BeforeEach(func() { requireZoneAware(m) })

	for _, zone := range []string{"a", "b", "c"} {
		client := "sleep-" + zone
		It("keeps every request from "+client+" in kr/"+zone+" (LocalityDirect)", func(ctx SpecContext) {
			// istiod's regional bucketing puts the whole region at
			// priority 0; zone_aware_lb_config replaces
			// locality_weighted_lb_config, so Envoy prints no weights.
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, View: endpoints.Raw, Expected: endpoints.Summary{
				"kr/a": steps.Row(0, 2, 2),
				"kr/b": steps.Row(0, 2, 2),
				"kr/c": steps.Row(0, 2, 2),
			}})
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
				"kr/a": steps.Row(0, steps.NoLocalityWeight, 2),
				"kr/b": steps.Row(0, steps.NoLocalityWeight, 2),
				"kr/c": steps.Row(0, steps.NoLocalityWeight, 2),
			}})
			exp := split.Expected{"kr/a": 0, "kr/b": 0, "kr/c": 0}
			exp["kr/"+zone] = 1
			steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, Expected: exp})
		})
	}
})
