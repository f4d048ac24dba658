package specs

// Across networks, a client's sidecar does not see remote pods: istiod
// replaces each remote locality's endpoints with one endpoint, the east-west
// gateway of their cluster, weighted by the endpoints behind it
// (EndpointsByNetworkFilter, pilot/pkg/xds/endpoints/ep_filters.go). Every
// weight is scaled by the least common multiple of the gateways per network
// (2 here: network2 has cluster3's and cluster4's gateways), so one endpoint
// weighs 2 and the gateway of three pods 6. The gateway then passes each
// connection through (AUTO_PASSTHROUGH) to a pod its own Envoy picks.
//
// Topology: topology.LocalityTask with two networks, two pods per locality
// and three in region2.zone3.

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

func gatewayTopology() topology.Topology {
	t := topology.LocalityTask(2, true)
	t.Name = "locality-task-gateway-weights"
	t.Workloads[2].Replicas = 3
	return t
}

// The split is checked under ROUND_ROBIN, which picks in proportion to the
// weights; the default LEAST_REQUEST with requests in flight picks by
// weight / (active + 1), which favours the lighter local hosts.
var _ = Describe("Multi-network: east-west gateway endpoints carry the weight of the pods behind them", throughGateways, Label("multicluster", "multinetwork", "multicluster:gateway"), Ordered, func() {
	const client = "curl"
	m := setUp(gatewayTopology(), "round-robin")

	It("weighs each remote locality's gateway endpoint as its pods (3 pods: 6, 2 pods: 4, like 2 local pods)", func(ctx SpecContext) {
		tbl := steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, View: endpoints.Raw, Expected: endpoints.Summary{
			"region1/zone1": steps.Row(0, 4, 2),
			"region1/zone2": steps.Row(0, 4, 2),
			"region2/zone3": steps.Row(0, 6, 1),
			"region3/zone4": steps.Row(0, 4, 1),
		}})
		for _, loc := range []string{"region2/zone3", "region3/zone4"} {
			r, _ := tbl.Row(loc)
			Expect(r.Hosts[0].Gateway).To(BeTrue(), "%s is reached through its cluster's east-west gateway:\n%s", loc, tbl)
		}
	})

	It("so under round robin every one of the nine pods gets the same share (1/9), across networks too", func(ctx SpecContext) {
		pods := split.Expected{}
		for _, p := range mustPods(ctx, m) {
			if p.Workload != "" {
				pods[p.Name] = 1.0 / 9
			}
		}
		Expect(pods).To(HaveLen(9))
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByPod, Expected: pods})
	})
})

var _ = Describe("Multi-network: failover through an east-west gateway", throughGateways, Label("multicluster", "multinetwork", "multicluster:gateway"), Ordered, func() {
	const client = "curl"
	m := setUp(gatewayTopology(), "locality-task-failover-max-ejection-100")

	It("fails over across networks when region1 has no pods: every request to region2.zone3, through cluster3's gateway", func(ctx SpecContext) {
		steps.Scale(ctx, m, "helloworld-region1-zone1", 0)
		steps.Scale(ctx, m, "helloworld-region1-zone2", 0)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"region2/zone3": steps.Row(0, 6, 1),
			"region3/zone4": steps.Row(1, 4, 1),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"region2/zone3": 1}})
	})

	It("ejects the whole gateway when one of its three pods is drained: the client sees a dropped connection, not the pod, and moves to region3.zone4", func(ctx SpecContext) {
		steps.Break(ctx, m, "helloworld-region2-zone3", 1, mesh.RefuseConnections)
		steps.Warm(ctx, m, client, 20)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"region2/zone3": steps.RowHealthy(0, 6, 1, 0),
			"region3/zone4": steps.Row(1, 4, 1),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"region2/zone3": 0, "region3/zone4": 1}})
	})
})

func mustPods(ctx SpecContext, m mesh.Mesh) []mesh.Pod {
	pods, err := m.Pods(ctx)
	Expect(err).NotTo(HaveOccurred())
	return pods
}
