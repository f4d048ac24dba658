package specs

// Service trafficDistribution PreferSameNode: istiod gives it the
// failoverPriority [topology.istio.io/network, region, zone, subzone,
// kubernetes.io/hostname] (loadbalancer.go GetEffectiveLbSetting), applied
// without a DestinationRule or outlier detection (Force). Endpoints and the
// proxy carry their node's name as kubernetes.io/hostname (label
// AugmentLabels). applyFailoverPriorityPerLocality gives an endpoint
// priority 0 when every label matches the client's, else 5 − j for the
// first label j that differs: same node 0, same zone on another node
// 5 − 4 = 1, another zone 5 − 2 = 3; compacted to 0, 1, 2.
//
// Topology: ThreeZones with kr/b split over two nodes: helloworld-zone-b
// (1 pod) on kr-b-node-1 with the client netshoot-b, helloworld-zone-b-2
// (2 pods) on kr-b-node-2; kr/a and kr/c 3 pods each.

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

func threeZonesSameNode() topology.Topology {
	t := topology.ThreeZones()
	t.Name = "three-zones-same-node"
	t.TrafficDistribution = "PreferSameNode"
	for i := range t.Workloads {
		if t.Workloads[i].Locality.Zone == "b" {
			t.Workloads[i].Replicas = 1
			t.Workloads[i].Node = "kr-b-node-1"
		}
	}
	t.Workloads = append(t.Workloads, topology.Workload{Name: "helloworld-zone-b-2", Locality: locality.MustParse("kr/b"), Replicas: 2, Node: "kr-b-node-2"})
	t.Clients[0].Node = "kr-b-node-1"
	return t
}

var _ = Describe("Service trafficDistribution PreferSameNode", Label("locality:traffic-distribution"), Ordered, func() {
	const client = "netshoot-b"
	m := setUp(threeZonesSameNode(), "")
	BeforeEach(func() {
		// PreferSameNode and PreferSameZone are one Kubernetes feature
		// (KEP-3015, PreferSameTrafficDistribution: on by default from 1.34).
		caps := m.Capabilities()
		if !caps.ServiceTrafficDistribution || !caps.TrafficDistributionPreferSameZone {
			Skip("the cluster does not accept trafficDistribution PreferSameNode (on by default from Kubernetes 1.34)")
		}
	})

	It("keeps every request on the client's node", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b@0": steps.Row(0, 1, 1),
			"kr/b@1": steps.Row(1, 2, 2),
			"kr/a":   steps.Row(2, 3, 3),
			"kr/c":   steps.Row(2, 3, 3),
		}})
		pods, err := m.Pods(ctx)
		Expect(err).NotTo(HaveOccurred())
		exp := split.Expected{}
		for _, p := range pods {
			switch p.Workload {
			case "":
			case "helloworld-zone-b":
				exp[p.Name] = 1
			default:
				exp[p.Name] = 0
			}
		}
		Expect(exp).To(HaveLen(9))
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByPod, Expected: exp})
	})

	It("falls back to the other node of its zone, not to other zones, when its node has no pod", func(ctx SpecContext) {
		steps.Scale(ctx, m, "helloworld-zone-b", 0)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.Row(0, 2, 2),
			"kr/a": steps.Row(1, 3, 3),
			"kr/c": steps.Row(1, 3, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
			Expected: split.Expected{"kr/a": 0, "kr/b": 1, "kr/c": 0}})
	})
})
