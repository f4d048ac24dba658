package specs

// zoneAwareLbSetting enabled: false (topology zone-aware-uneven). istiod
// emits zone_aware_lb_config with routing_enabled 0% and no regional
// priorities (loadbalancer.go ZoneAwareLBSettings.ApplyToCluster and
// ApplyToLoadAssignment). Envoy's regenerateLocalityRoutingStructures
// checks runtime featureEnabled("upstream.zone_routing.enabled",
// routing_enabled) first: at 0% it never routes by zone, so the
// self-discovering sidecar sleep-b, which zone aware routing would keep
// 100% in kr/b (zone_aware_uneven_test.go), spreads over the 8 hosts
// alike: kr/a 2/8 = 25%, kr/b 3/8 = 37.5%, kr/c 37.5%.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Zone aware routing disabled (enabled: false)", Label("zone-aware:disabled"), Ordered, func() {
	const client = "sleep-b"
	m := setUp(topology.ZoneAwareUneven(), "zone-aware-disabled")
	BeforeEach(func() { requireZoneAware(m) })

	It("spreads sleep-b's requests over every host (routing_enabled 0%)", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, View: endpoints.Raw, Expected: unevenTable(endpoints.Raw)})
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: unevenTable(endpoints.Envoy)})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
			Expected: split.Expected{"kr/a": 0.25, "kr/b": 0.375, "kr/c": 0.375}})
	})
})
