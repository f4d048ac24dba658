package specs

// Zone aware routing across regions (topology zone-aware-regions:
// upstream kr/a 3 gold, kr/b 3 silver, us/a 2 gold, eu/a 2 gold; callers
// of Service sleep sleep-kr-a and sleep-kr-b, tier gold). istiod buckets
// endpoints by region under zoneAwareLbSetting (loadbalancer.go
// applyZoneAwareRegionalFailover): the caller's region 0, a failover
// target 1, any other region 2; with failoverPriority the label ranks
// come first (rank×3 + region bucket); then priorities are compacted.
// Envoy routes by zone at priority 0 only (load_balancer_impl.cc,
// zone_aware_helpers_test.go).
//   - rule zone-aware: kr/a, kr/b priority 0; us/a, eu/a (both "other")
//     priority 1. From kr/a: local a 5000, b 5000 (one caller each);
//     upstream a 10000×3/6 = 5000 ≥ 5000 → LocalityDirect, 100% kr/a.
//     kr/a scaled to 0: priority 0 is kr/b alone (< 2 upstream
//     localities: no zone aware routing), 100% kr/b: the region is kept
//     while it has hosts. kr/b scaled to 0 too: us/a and eu/a become
//     priority 0, 4 hosts < min_cluster_size 6: spread alike, 50/50.
//   - rule zone-aware-failover (kr → eu): kr 0, eu/a 1, us/a 2; with kr
//     empty eu/a is priority 0: 100% eu/a, us/a 0.
//   - rule zone-aware-failover-priority ([tier], kr → eu), from gold
//     sleep-kr-b: kr/a 0 (gold, kr), eu/a 1 (gold, eu), us/a 2 (gold,
//     other), kr/b 3 (silver, kr: 3×1 + 0): priority 0 is kr/a alone,
//     so 100% kr/a although the caller's own zone has hosts.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Zone aware routing across regions", Label("zone-aware:regions"), func() {
	nw := steps.NoLocalityWeight

	Context("regional bucketing without failover", Ordered, func() {
		const client = "sleep-kr-a"
		m := setUp(topology.ZoneAwareRegions(), "zone-aware")
		BeforeEach(func() { requireZoneAware(m) })

		It("keeps every request in kr/a, other regions at priority 1", func(ctx SpecContext) {
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, View: endpoints.Raw, Expected: endpoints.Summary{
				"kr/a": steps.Row(0, 3, 3), "kr/b": steps.Row(0, 3, 3),
				"us/a": steps.Row(1, 2, 2), "eu/a": steps.Row(1, 2, 2),
			}})
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
				"kr/a": steps.Row(0, nw, 3), "kr/b": steps.Row(0, nw, 3),
				"us/a": steps.Row(1, nw, 2), "eu/a": steps.Row(1, nw, 2),
			}})
			steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
				Expected: split.Expected{"kr/a": 1, "kr/b": 0, "us/a": 0, "eu/a": 0}})
		})

		It("stays in the region (kr/b) when kr/a has no pods", func(ctx SpecContext) {
			steps.Scale(ctx, m, "helloworld-kr-a", 0)
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
				"kr/b": steps.Row(0, nw, 3),
				"us/a": steps.Row(1, nw, 2), "eu/a": steps.Row(1, nw, 2),
			}})
			steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
				Expected: split.Expected{"kr/b": 1, "us/a": 0, "eu/a": 0}})
		})

		It("spreads over us/a and eu/a (≈50/50) once the region is empty", func(ctx SpecContext) {
			steps.Scale(ctx, m, "helloworld-kr-b", 0)
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
				"us/a": steps.Row(0, nw, 2), "eu/a": steps.Row(0, nw, 2),
			}})
			steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
				Expected: split.Expected{"kr/a": 0, "kr/b": 0, "us/a": 0.5, "eu/a": 0.5}})
		})
	})

	Context("failover kr → eu", Ordered, func() {
		const client = "sleep-kr-a"
		m := setUp(topology.ZoneAwareRegions(), "zone-aware-failover")
		BeforeEach(func() { requireZoneAware(m) })

		It("orders the other regions: eu/a priority 1, us/a priority 2", func(ctx SpecContext) {
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
				"kr/a": steps.Row(0, nw, 3), "kr/b": steps.Row(0, nw, 3),
				"eu/a": steps.Row(1, nw, 2), "us/a": steps.Row(2, nw, 2),
			}})
			steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
				Expected: split.Expected{"kr/a": 1, "kr/b": 0, "us/a": 0, "eu/a": 0}})
		})

		It("sends every request to eu/a once kr is empty", func(ctx SpecContext) {
			steps.Scale(ctx, m, "helloworld-kr-a", 0)
			steps.Scale(ctx, m, "helloworld-kr-b", 0)
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
				"eu/a": steps.Row(0, nw, 2), "us/a": steps.Row(1, nw, 2),
			}})
			steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
				Expected: split.Expected{"kr/a": 0, "kr/b": 0, "us/a": 0, "eu/a": 1}})
		})
	})

	Context("failoverPriority [tier] on top of the regions", Ordered, func() {
		const client = "sleep-kr-b"
		m := setUp(topology.ZoneAwareRegions(), "zone-aware-failover-priority")
		BeforeEach(func() { requireZoneAware(m) })

		It("sends the gold caller in kr/b to gold kr/a, its own silver zone last", func(ctx SpecContext) {
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
				"kr/a": steps.Row(0, nw, 3), "eu/a": steps.Row(1, nw, 2),
				"us/a": steps.Row(2, nw, 2), "kr/b": steps.Row(3, nw, 3),
			}})
			steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
				Expected: split.Expected{"kr/a": 1, "kr/b": 0, "us/a": 0, "eu/a": 0}})
		})

		It("fails over to gold eu/a, not to silver kr/b, when kr/a is empty", func(ctx SpecContext) {
			steps.Scale(ctx, m, "helloworld-kr-a", 0)
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
				"eu/a": steps.Row(0, nw, 2), "us/a": steps.Row(1, nw, 2), "kr/b": steps.Row(2, nw, 3),
			}})
			steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
				Expected: split.Expected{"kr/a": 0, "kr/b": 0, "us/a": 0, "eu/a": 1}})
		})
	})
})
