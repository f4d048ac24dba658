package specs

// failoverPriority led by topology.istio.io/network, across two networks
// (topology.LocalityTask with two networks: the curl client in cluster1,
// network1, region1.zone1; HelloWorld, one pod each, in region1.zone1
// (cluster1) and region1.zone2 (cluster2) on network1, region2.zone3
// (cluster3) and region3.zone4 (cluster4) on network2, reached through
// their clusters' east-west gateways).
//
// The pinned istiod's applyFailoverPriorityPerLocality
// (pilot/pkg/networking/core/loadbalancer/loadbalancer.go), with N labels:
// an endpoint whose first mismatch against the client's labels is at index
// j gets N−j, a full match 0, except that when the list starts with
// topology.istio.io/network a network mismatch is skipped and adds N
// ("ignore network": the remaining labels rank it, then +N, below every
// endpoint of the client's network). istiod v0.0.0-20260423205519-b01690e6db7d
// had no such exception: an endpoint of another network got N−0 = N, the
// lowest priority, whatever its other labels. applyFailoverPriorities then
// compacts the priorities to 0, 1, 2, … in order.
//
// What the labels are: across networks the client's sidecar does not see
// the remote pods but one endpoint per remote cluster, its east-west
// gateway, and istiod ranks that endpoint by the labels it gives it,
// labelutil.AugmentLabels(nil, gw.Cluster, "", "", gw.Network)
// (pilot/pkg/xds/endpoints/ep_filters.go, EndpointsByNetworkFilter, which
// runs before the priorities, endpoint_builder.go BuildClusterLoadAssignment):
// topology.istio.io/cluster and topology.istio.io/network only, no region
// or zone. The client's labels are its pod's plus cluster1, network1,
// region1, zone1.
//
// Every endpoint weighs 2: one pod, scaled by the least common multiple of
// the gateways per network (specs/multicluster_gateway_test.go).

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// [topology.istio.io/network, topology.kubernetes.io/region,
// topology.kubernetes.io/zone], N = 3, from curl (network1, region1, zone1):
//
//	region1/zone1 (network1): full match                          → 0
//	region1/zone2 (network1): zone mismatch, j = 2                → 3−2 = 1
//	region2/zone3, region3/zone4 (gateways, network2):
//	  pinned: network skipped (+3); region "" ≠ region1, j = 1    → (3−1)+3 = 5
//	  older:  network mismatch, j = 0                             → 3
//
// Compacted, both istiods give 0, 1, 2, 2: the remote network's gateways
// carry no region or zone, so they tie whatever their localities, and the
// change is invisible through east-west gateways (it ranks remote endpoints
// that keep their own labels: a remote network without a gateway, whose
// endpoints istiod sends as they are).
var _ = Describe("Multi-network: failoverPriority [network, region, zone] through east-west gateways", throughGateways, Label("multicluster", "multinetwork", "multicluster:failover-priority"), Ordered, func() {
	const client = "curl"
	m := setUp(topology.LocalityTask(1, true), "failover-priority-network")

	It("ranks region1.zone1 0, region1.zone2 1, and both gateways of network2 2 (they carry no region or zone)", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"region1/zone1": steps.Row(0, 2, 1),
			"region1/zone2": steps.Row(1, 2, 1),
			"region2/zone3": steps.Row(2, 2, 1),
			"region3/zone4": steps.Row(2, 2, 1),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"region1/zone1": 1}})
	})
})

// [topology.istio.io/network, topology.istio.io/cluster=cluster4], N = 2,
// from curl (network1, cluster1; the override compares with cluster4):
//
//	region1/zone1 (cluster1), region1/zone2 (cluster2), network1:
//	  cluster mismatch, j = 1                                     → 2−1 = 1
//	region3/zone4 (cluster4's gateway, network2):
//	  pinned: network skipped (+2); cluster4 matches              → 0+2 = 2
//	  older:  network mismatch, j = 0                             → 2
//	region2/zone3 (cluster3's gateway, network2):
//	  pinned: network skipped (+2); cluster3 ≠ cluster4, j = 1    → (2−1)+2 = 3
//	  older:                                                      → 2
//
// Compacted: pinned 0, 0, 1, 2 (cluster4's gateway before cluster3's);
// older 0, 0, 1, 1. With region1 scaled to zero: pinned region3/zone4 0,
// region2/zone3 1, every request to region3.zone4; on the older istiod both
// gateways share priority 0 and the requests split between them.
// ContinueOnFailure: the second spec runs even where the first fails (an
// older istiod), so that the upgrade check compares both.
var _ = Describe("Multi-network: failoverPriority [network, cluster=cluster4] ranks the remote network's gateways", throughGateways, Label("multicluster", "multinetwork", "multicluster:failover-priority"), Ordered, ContinueOnFailure, func() {
	const client = "curl"
	m := setUp(topology.LocalityTask(1, true), "failover-priority-network-cluster")

	It("keeps region1 at 0 and ranks cluster4's gateway (region3/zone4) 1 before cluster3's (region2/zone3) 2", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"region1/zone1": steps.Row(0, 2, 1),
			"region1/zone2": steps.Row(0, 2, 1),
			"region3/zone4": steps.Row(1, 2, 1),
			"region2/zone3": steps.Row(2, 2, 1),
		}})
	})

	It("with region1 scaled to zero, sends every request to region3.zone4 (cluster4), none to region2.zone3", func(ctx SpecContext) {
		steps.Scale(ctx, m, "helloworld-region1-zone1", 0)
		steps.Scale(ctx, m, "helloworld-region1-zone2", 0)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"region3/zone4": steps.Row(0, 2, 1),
			"region2/zone3": steps.Row(1, 2, 1),
		}})
		sendAndExpectLocality(ctx, m, client, "region3/zone4", "cluster4")
	})
})
