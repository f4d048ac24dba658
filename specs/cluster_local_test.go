package specs

// meshConfig.serviceSettings clusterLocal: a client reaches only the
// endpoints of its own cluster, whatever the locality rules say (istiod
// leaves the other clusters' endpoints out of the client's EDS). The
// istio.io task's four clusters on one network, two pods per locality,
// HelloWorld cluster-local, and the task's failover rule (with
// maxEjectionPercent 100): region1.zone1 is cluster1's only locality, so
// when it has no pods there is nothing to fail over to.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

func clusterLocalTask() topology.Topology {
	t := topology.LocalityTask(2, false)
	t.Name = "locality-task-cluster-local"
	t.Mesh.ClusterLocal = true
	return t
}

var _ = Describe("Mesh-wide clusterLocal: traffic stays in the client's cluster", Label("multicluster", "mesh-config", "mesh-config:cluster-local"), Ordered, func() {
	const client = "curl"
	m := setUp(clusterLocalTask(), "locality-task-failover-max-ejection-100")

	It("shows curl only cluster1's endpoints and keeps every request there", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"region1/zone1": steps.Row(0, 2, 2),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByCluster,
			Expected: split.Expected{"cluster1": 1, "cluster2": 0, "cluster3": 0, "cluster4": 0}})
	})

	It("does not fail over to another cluster when cluster1 has no pods: every request is 503 no healthy upstream", func(ctx SpecContext) {
		steps.Scale(ctx, m, "helloworld-region1-zone1", 0)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByClass,
			Expected: split.Expected{traffic.ClassNoHealthyUpstream: 1}})
	})
})
