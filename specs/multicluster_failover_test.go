package specs

// istio.io's locality failover task (tasks/traffic-management/
// locality-load-balancing/failover) on the task's own environment: the curl
// client in region1.zone1 and HelloWorld in region1.zone1, region1.zone2,
// region2.zone3 and region3.zone4, each locality in its own cluster
// (topology.LocalityTask), once on one flat network and once with
// region2/region3 on a second network reached through east-west gateways.
//
// Priorities from curl: the task's table lists 0, 2, 3, 4 (priority 1, "a
// different sub-zone", is empty); istiod compacts them, so Envoy holds 0,
// 1, 2, 3 (applyLocalityFailover in pilot/pkg/networking/core/loadbalancer).
//
// The task "drains" each pod's sidecar (POST /drain_listeners), after which
// it refuses connections: mesh.RefuseConnections.
//
// As written, the task's rule sets no maxEjectionPercent, so Envoy's default
// of 10% applies, and since Envoy 1.28 a host is ejected only if
// 100 × (ejected + 1) / hosts ≤ max_ejection_percent
// (outlier_detection_impl.cc DetectorImpl::ejectHost; Envoy's
// MaxEjectionPercentage tests, mirrored in framework/envoylb). With the
// task's four hosts one ejection is 25%: nothing is ejected, nothing fails
// over, and the drained locality's requests fail. With maxEjectionPercent
// 100 the task's whole sequence runs.

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// taskPriorities is the curl client's Envoy view under the task's rule,
// each locality with its one host and whether it is healthy. The rule's
// failover gives the cluster locality_weighted_lb_config, so Envoy shows
// locality weights: one endpoint's weight, which istiod scales on a
// multi-network mesh by the least common multiple of the gateways per
// network (2 here: network2 has cluster3's and cluster4's;
// EndpointsByNetworkFilter, pilot/pkg/xds/endpoints/ep_filters.go).
func taskPriorities(weight int, healthy ...int) endpoints.Summary {
	locs := []string{"region1/zone1", "region1/zone2", "region2/zone3", "region3/zone4"}
	s := endpoints.Summary{}
	for i, l := range locs {
		s[l] = steps.RowHealthy(i, weight, 1, healthy[i])
	}
	return s
}

// endpointWeight is one endpoint's weight in LocalityTask: 1 on a flat
// network, 2 across the two networks.
func endpointWeight(multiNetwork bool) int {
	if multiNetwork {
		return 2
	}
	return 1
}

var _ = Describe("Multi-cluster: istio.io locality failover task, as written (default maxEjectionPercent)", Label("multicluster", "multicluster:failover"), Ordered, func() {
	const client = "curl"
	m := setUp(topology.LocalityTask(1, false), "locality-task-failover")

	It("keeps every request in region1.zone1 (priorities 0-3 after istiod compacts the task's 0, 2, 3, 4)", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: taskPriorities(1, 1, 1, 1, 1)})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"region1/zone1": 1}})
	})

	It("does not fail over when region1.zone1 is drained: ejecting 1 of 4 hosts is 25% > 10%", func(ctx SpecContext) {
		steps.Break(ctx, m, "helloworld-region1-zone1", -1, mesh.RefuseConnections)
		steps.Warm(ctx, m, client, 20)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: taskPriorities(1, 1, 1, 1, 1)})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByClass,
			Expected: split.Expected{traffic.ClassConnectFailure: 1}})
	})
})

// The task's sequence with maxEjectionPercent 100, on a flat network and
// across networks.
var _ = describeFailoverTask("one network", false, Label("multicluster", "multicluster:failover"))
var _ = describeFailoverTask("two networks, through east-west gateways", true, Label("multicluster", "multinetwork", "multicluster:failover"))

func describeFailoverTask(what string, multiNetwork bool, labels Labels) bool {
	decorations := []any{labels, Ordered}
	if multiNetwork {
		decorations = append(decorations, throughGateways)
	}
	return Describe("Multi-cluster: istio.io locality failover task with maxEjectionPercent 100, "+what, append(decorations, func() {
		const client = "curl"
		m := setUp(topology.LocalityTask(1, multiNetwork), "locality-task-failover-max-ejection-100")
		healthy := []int{1, 1, 1, 1}
		sequence := []struct {
			drain, to, cluster string
		}{
			{"helloworld-region1-zone1", "region1/zone2", "cluster2"},
			{"helloworld-region1-zone2", "region2/zone3", "cluster3"},
			{"helloworld-region2-zone3", "region3/zone4", "cluster4"},
		}

		It("keeps every request in region1.zone1", func(ctx SpecContext) {
			expectTask(ctx, m, client, endpointWeight(multiNetwork), healthy)
			sendAndExpectLocality(ctx, m, client, "region1/zone1", "cluster1")
		})
		for i, st := range sequence {
			It(fmt.Sprintf("fails over to %s (%s) when %s is drained", st.to, st.cluster, st.drain), func(ctx SpecContext) {
				drainAndWarm(ctx, m, client, st.drain)
				healthy[i] = 0
				expectTask(ctx, m, client, endpointWeight(multiNetwork), healthy)
				sendAndExpectLocality(ctx, m, client, st.to, st.cluster)
			})
		}
	})...)
}

func expectTask(ctx SpecContext, m mesh.Mesh, client string, weight int, healthy []int) {
	steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: taskPriorities(weight, healthy...)})
}

// drainAndWarm makes the workload refuse connections (the task's drain)
// and sends a few requests, so that outlier detection sees the failure.
func drainAndWarm(ctx SpecContext, m mesh.Mesh, client, workload string) {
	steps.Break(ctx, m, workload, -1, mesh.RefuseConnections)
	steps.Warm(ctx, m, client, 20)
}

// sendAndExpectLocality checks that every request is answered in loc, by a
// pod of cluster.
func sendAndExpectLocality(ctx SpecContext, m mesh.Mesh, client, loc, cluster string) {
	steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
		Expected: split.Expected{loc: 1}})
	steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByCluster,
		Expected: split.Expected{cluster: 1}})
}
