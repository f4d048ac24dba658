package specs

// A mesh-wide default: meshConfig.localityLbSetting applies to every
// service whose DestinationRule sets no localityLbSetting, and a
// DestinationRule's localityLbSetting replaces it whole (GetLocalityLbSetting
// in pilot/pkg/networking/core/loadbalancer/loadbalancer.go). ThreeZones
// (client netshoot-b in kr/b, 3 pods per zone) with the mesh default
// "from kr/b: 80% to kr/b, 20% to kr/c".

import (
	networkingapi "istio.io/api/networking/v1alpha3"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

func threeZonesMeshDefault() topology.Topology {
	t := topology.ThreeZones()
	t.Name = "three-zones-mesh-default"
	t.Mesh.LocalityLbSetting = &networkingapi.LocalityLoadBalancerSetting{
		Distribute: []*networkingapi.LocalityLoadBalancerSetting_Distribute{{
			From: "kr/b/*",
			To:   map[string]uint32{"kr/b/*": 80, "kr/c/*": 20},
		}},
	}
	return t
}

var _ = Describe("Mesh-wide localityLbSetting: the default a DestinationRule replaces", Label("mesh-config", "mesh-config:locality-default"), Ordered, func() {
	const client = "netshoot-b"
	m := setUp(threeZonesMeshDefault(), "")
	meshDefault := endpoints.Summary{
		"kr/b": steps.Row(0, 80, 3),
		"kr/c": steps.Row(0, 20, 3),
	}
	meshSplit := split.Expected{"kr/a": 0, "kr/b": 0.8, "kr/c": 0.2}

	It("applies the mesh default to a service with no DestinationRule: 80% kr/b, 20% kr/c", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: meshDefault})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, Expected: meshSplit})
	})

	It("keeps the mesh default under a DestinationRule without localityLbSetting (outlier detection only)", func(ctx SpecContext) {
		steps.ApplyDestinationRule(ctx, m, "outlier-only")
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: meshDefault})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, Expected: meshSplit})
	})

	It("drops the mesh default whole for a DestinationRule's own localityLbSetting (failover: every request in kr/b)", func(ctx SpecContext) {
		steps.ApplyDestinationRule(ctx, m, "locality-enabled")
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.Row(0, steps.NoLocalityWeight, 3),
			"kr/a": steps.Row(1, steps.NoLocalityWeight, 3),
			"kr/c": steps.Row(1, steps.NoLocalityWeight, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, Expected: split.Expected{"kr/b": 1}})
	})

	It("returns to the mesh default when the DestinationRule is deleted", func(ctx SpecContext) {
		By("deleting DestinationRule helloworld-dr")
		Expect(m.DeleteDestinationRule(ctx, "helloworld-dr")).To(Succeed())
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: meshDefault})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, Expected: meshSplit})
	})
})
