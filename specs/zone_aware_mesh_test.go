package specs

// Mesh-wide zone aware routing: meshConfig.zoneAwareLbSetting applies to
// every service whose DestinationRule sets neither zoneAwareLbSetting nor
// localityLbSetting, and a DestinationRule's localityLbSetting replaces it
// (loadbalancer.go GetEffectiveLbSetting: DR zoneAwareLbSetting, DR
// localityLbSetting, Service trafficDistribution, mesh zoneAwareLbSetting,
// mesh localityLbSetting, in that order). Topology zone-aware-uneven
// (upstream kr/a 2, kr/b 3, kr/c 3; callers kr/a 2, kr/b 1, kr/c 1) with
// meshConfig.zoneAwareLbSetting {} (enabled unset = on).
//
// Figures (Envoy's formula, zone_aware_helpers_test.go and
// zone_aware_uneven_test.go): from kr/a local_percent_to_route
// 2500×10000/5000 = 5000 → 50% kr/a, residuals 1250/1250 → 25% kr/b,
// 25% kr/c; from kr/b upstream 3750 ≥ local 2500 → 100% kr/b. Under a
// DestinationRule's localityLbSetting (locality-enabled: failover with
// outlier detection) kr/a is priority 0 alone for sleep-a-1, kr/b and kr/c
// priority 1: one upstream locality at priority 0, so Envoy's
// earlyExitNonLocalityRouting leaves zone aware routing off and every
// request stays in kr/a.

import (
	networkingapi "istio.io/api/networking/v1alpha3"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

func zoneAwareMeshWide() topology.Topology {
	t := topology.ZoneAwareUneven()
	t.Name = "zone-aware-uneven-mesh"
	t.Mesh.ZoneAwareLbSetting = &networkingapi.ZoneAwareLoadBalancerSetting{}
	return t
}

var _ = Describe("Mesh-wide zoneAwareLbSetting and its replacement by a DestinationRule", Label("mesh-config", "zone-aware:mesh-config"), Ordered, func() {
	m := setUp(zoneAwareMeshWide(), "")
	BeforeEach(func() { requireZoneAware(m) })
	meshTable := unevenTable(endpoints.Envoy)
	zoneAwareA := split.Expected{"kr/a": 0.5, "kr/b": 0.25, "kr/c": 0.25}

	It("routes by zone without any DestinationRule: 50/25/25 from sleep-a-1", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: "sleep-a-1", View: endpoints.Raw, Expected: unevenTable(endpoints.Raw)})
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: "sleep-a-1", Expected: meshTable})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: "sleep-a-1", Expected: zoneAwareA})
	})

	It("keeps routing by zone under a DestinationRule with outlier detection only: 100% kr/b from sleep-b", func(ctx SpecContext) {
		steps.ApplyDestinationRule(ctx, m, "outlier-only")
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: "sleep-b", Expected: meshTable})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: "sleep-b",
			Expected: split.Expected{"kr/a": 0, "kr/b": 1, "kr/c": 0}})
	})

	It("yields to a DestinationRule's localityLbSetting: kr/a priority 0 alone, 100% kr/a from sleep-a-1", func(ctx SpecContext) {
		steps.ApplyDestinationRule(ctx, m, "locality-enabled")
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: "sleep-a-1", Expected: endpoints.Summary{
			"kr/a": steps.Row(0, steps.NoLocalityWeight, 2),
			"kr/b": steps.Row(1, steps.NoLocalityWeight, 3),
			"kr/c": steps.Row(1, steps.NoLocalityWeight, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: "sleep-a-1",
			Expected: split.Expected{"kr/a": 1, "kr/b": 0, "kr/c": 0}})
	})

	It("routes by zone again when the DestinationRule is deleted", func(ctx SpecContext) {
		By("deleting DestinationRule helloworld-dr")
		Expect(m.DeleteDestinationRule(ctx, "helloworld-dr")).To(Succeed())
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: "sleep-a-1", Expected: meshTable})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: "sleep-a-1", Expected: zoneAwareA})
	})
})
