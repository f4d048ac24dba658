package specs

// istio.io's locality weighted distribution task (tasks/traffic-management/
// locality-load-balancing/distribute) on its environment
// (topology.LocalityTask: curl in region1.zone1, one HelloWorld pod in each
// of region1.zone1, region1.zone2, region2.zone3 and region3.zone4, each in
// its own cluster). The rule sends 70% to region1.zone1, 20% to
// region1.zone2 and 10% to region3.zone4; region2.zone3 gets no share.
//
// On one flat network that is what happens. Across networks it is not:
// region3.zone4 is reached through cluster4's east-west gateway, whose own
// Envoy load balances the sni-dnat cluster from the gateway's locality
// (region3/zone4). The rule's only `from` (region1/zone1/*) does not match
// it, so the gateway spreads over every endpoint of its network, region2.zone3
// included: half of the 10% lands in region2.zone3 (istio/istio#35126).

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// distributeTable is curl's Envoy view under the task's rule: the `to`
// weights (ceil(endpoint weight × to / matched weight) with one endpoint
// per locality), region2/zone3 emptied and so absent from Envoy's view.
func distributeTable() endpoints.Summary {
	return endpoints.Summary{
		"region1/zone1": steps.Row(0, 70, 1),
		"region1/zone2": steps.Row(0, 20, 1),
		"region3/zone4": steps.Row(0, 10, 1),
	}
}

var _ = Describe("Multi-cluster: istio.io locality distribution task, one network", Label("multicluster", "multicluster:distribute"), Ordered, func() {
	const client = "curl"
	m := setUp(topology.LocalityTask(1, false), "locality-task-distribute")

	It("sends 70% to region1.zone1, 20% to region1.zone2, 10% to region3.zone4 and none to region2.zone3", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: distributeTable()})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"region1/zone1": 0.7, "region1/zone2": 0.2, "region2/zone3": 0, "region3/zone4": 0.1}})
	})

	It("splits the same way by cluster (one locality per cluster)", func(ctx SpecContext) {
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByCluster,
			Expected: split.Expected{"cluster1": 0.7, "cluster2": 0.2, "cluster3": 0, "cluster4": 0.1}})
	})
})

var _ = Describe("Multi-cluster: istio.io locality distribution task, two networks", throughGateways, Label("multicluster", "multinetwork", "multicluster:distribute"), Ordered, func() {
	const client = "curl"
	m := setUp(topology.LocalityTask(1, true), "locality-task-distribute")

	It("gives curl's sidecar the task's weights, region3.zone4 as cluster4's east-west gateway", func(ctx SpecContext) {
		tbl := steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: distributeTable()})
		r, _ := tbl.Row("region3/zone4")
		Expect(r.Hosts[0].Gateway).To(BeTrue(), "region3/zone4 is reached through a gateway:\n%s", tbl)
		Expect(r.Hosts[0].Cluster).To(Equal("cluster4"))
	})

	It("still sends 70% and 20% to region1, but cluster4's gateway spreads the 10% over its network: 5% ends in region2.zone3", func(ctx SpecContext) {
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"region1/zone1": 0.7, "region1/zone2": 0.2, "region2/zone3": 0.05, "region3/zone4": 0.05}})
	})
})
