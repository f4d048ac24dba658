package specs

// docs/locality-behavior.md §1 "Which setting applies": a Service's trafficDistribution
// (PreferClose, PreferSameZone) makes istiod use failoverPriority [network,
// region, zone] even without a DestinationRule or outlier detection; a
// DestinationRule's localityLbSetting replaces it.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Service trafficDistribution", Label("locality:traffic-distribution"), func() {
	const client = "netshoot-b"

	for _, mode := range []string{"PreferClose", "PreferSameZone"} {
		Context(mode, Ordered, func() {
			topo := topology.ThreeZones()
			topo.TrafficDistribution = mode
			m := setUp(topo, "")
			BeforeEach(func() {
				// Skipped, not failed, where the API server cannot take the
				// mode: trafficDistribution (PreferClose) needs Kubernetes
				// 1.31, PreferSameZone 1.34 (alpha, off by default, in 1.33).
				caps := m.Capabilities()
				if !caps.ServiceTrafficDistribution {
					Skip("the cluster does not serve Service.spec.trafficDistribution (Kubernetes < 1.31)")
				}
				if mode == "PreferSameZone" && !caps.TrafficDistributionPreferSameZone {
					Skip("the cluster does not accept trafficDistribution PreferSameZone (on by default from Kubernetes 1.34)")
				}
			})

			It("keeps traffic in the client's zone without any DestinationRule", func(ctx SpecContext) {
				steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
					"kr/b": steps.Row(0, 3, 3),
					"kr/a": steps.Row(1, 3, 3),
					"kr/c": steps.Row(1, 3, 3),
				}})
				steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, Expected: split.Expected{"kr/b": 1}})
			})

			It("yields to a DestinationRule's distribute (90/10)", func(ctx SpecContext) {
				steps.ApplyDestinationRule(ctx, m, "distribute-90-10")
				steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
					"kr/a": steps.Row(0, 90, 3),
					"kr/c": steps.Row(0, 10, 3),
				}})
				steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
					Expected: split.Expected{"kr/a": 0.9, "kr/b": 0, "kr/c": 0.1}})
			})
		})
	}
})
