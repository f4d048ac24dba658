package embedded

import (
	"context"
	"strings"
	"testing"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// TestSelfDiscoveryLocalCluster: a self-discovering client's sidecar
// receives istiod's local_cluster (its Service sleep's pods in its
// region, per zone), the model holds it, and the outbound cluster carries
// zone_aware_lb_config under a zoneAwareLbSetting rule.
func TestSelfDiscoveryLocalCluster(t *testing.T) {
	g := NewWithT(t)
	m := deployT(t, topology.ZoneAwareUneven())
	applyT(t, m, "zone-aware")
	local, err := m.ClientLocalCluster("sleep-a-1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(local).NotTo(BeNil())
	perZone := map[string]int{}
	for _, le := range local.GetEndpoints() {
		perZone[le.GetLocality().GetZone()] += len(le.GetLbEndpoints())
	}
	g.Expect(perZone).To(Equal(map[string]int{"a": 2, "b": 1, "c": 1}))
	cl, _, err := m.ClientConfig("sleep-a-1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cl.GetCommonLbConfig().GetZoneAwareLbConfig()).NotTo(BeNil())
	g.Expect(m.Capabilities().ZoneAwareRouting).To(BeTrue())

	// Envoy's calculateLocalityPercentages (load_balancer_impl.cc), in
	// 1/10000: callers a 5000, b 2500, c 2500; upstream hosts a 2500,
	// b 3750, c 3750. From kr/a, upstream a < local a, so
	// local_percent_to_route = 2500*10000/5000 = 5000 (50%); the residual
	// capacities b 3750-2500 = 1250 and c 1250 share the rest: 25% each.
	b, err := m.Send(context.Background(), "sleep-a-1", 400)
	g.Expect(err).NotTo(HaveOccurred())
	zone := map[string]int{}
	for _, r := range b.Responses {
		for _, z := range []string{"a", "b", "c"} {
			if strings.HasPrefix(r.Pod, "helloworld-zone-"+z+"-") {
				zone[z]++
			}
		}
	}
	// Binomial sd for n=400: 10 at p=0.5, 8.7 at p=0.25; ±5 sd.
	g.Expect(zone["a"]).To(BeNumerically("~", 200, 50), "%v", zone)
	g.Expect(zone["b"]).To(BeNumerically("~", 100, 44), "%v", zone)
	g.Expect(zone["c"]).To(BeNumerically("~", 100, 44), "%v", zone)

	// Two replicas of one client are two Envoys with their own random
	// numbers (proxySeed): the same 400 requests from sleep-a-2 do not
	// land on the same pods in the same order. (With the seed derived
	// from the name's length they did: sleep-a-1 and sleep-a-2 drew the
	// same picks.) P(400 identical picks) for independent draws is ~0.
	b2, err := m.Send(context.Background(), "sleep-a-2", 400)
	g.Expect(err).NotTo(HaveOccurred())
	same := 0
	for i := range b.Responses {
		if i < len(b2.Responses) && b.Responses[i].Pod == b2.Responses[i].Pod {
			same++
		}
	}
	g.Expect(same).To(BeNumerically("<", len(b.Responses)), "sleep-a-1 and sleep-a-2 picked the same pods in the same order: their sidecars share a seed")
}

// TestSelfDiscoveryAdminView: the sidecar's admin API shows local_cluster
// as Envoy does, a bootstrap cluster: /clusters?format=json lists it with
// added_via_api false and one host per caller pod, config_dump has it
// under static_clusters (with the bootstrap's least_request policy) and,
// with include_eds, its assignment under static_endpoint_configs; the
// Service's cluster is still the one endpoint table the framework reads.
// A client without self-discovery has no local_cluster.
func TestSelfDiscoveryAdminView(t *testing.T) {
	g := NewWithT(t)
	m := deployT(t, topology.ZoneAwareUneven())
	applyT(t, m, "zone-aware")
	ctx := context.Background()
	f := fetcher{m}

	body, err := f.EnvoyAdmin(ctx, "sleep-a-1", "/clusters?format=json")
	g.Expect(err).NotTo(HaveOccurred())
	var cl adminv3.Clusters
	g.Expect(protojson.Unmarshal(body, &cl)).To(Succeed())
	var local *adminv3.ClusterStatus
	for _, c := range cl.GetClusterStatuses() {
		if c.GetName() == "local_cluster" {
			local = c
		}
	}
	g.Expect(local).NotTo(BeNil(), "%s", body)
	g.Expect(local.GetAddedViaApi()).To(BeFalse())
	g.Expect(local.GetObservabilityName()).To(Equal("local_cluster;"))
	g.Expect(local.GetEdsServiceName()).To(Equal("local_cluster"))
	perZone := map[string]int{}
	for _, h := range local.GetHostStatuses() {
		perZone[h.GetLocality().GetZone()]++
	}
	g.Expect(perZone).To(Equal(map[string]int{"a": 2, "b": 1, "c": 1}))

	body, err = f.EnvoyAdmin(ctx, "sleep-a-1", "/config_dump?include_eds")
	g.Expect(err).NotTo(HaveOccurred())
	var dump adminv3.ConfigDump
	g.Expect(protojson.Unmarshal(body, &dump)).To(Succeed())
	var staticCluster, staticEDS bool
	for _, a := range dump.GetConfigs() {
		msg, err := a.UnmarshalNew()
		g.Expect(err).NotTo(HaveOccurred())
		switch d := msg.(type) {
		case *adminv3.ClustersConfigDump:
			for _, sc := range d.GetStaticClusters() {
				var c clusterv3.Cluster
				g.Expect(sc.GetCluster().UnmarshalTo(&c)).To(Succeed())
				staticCluster = staticCluster || c.GetName() == "local_cluster" &&
					c.GetLoadBalancingPolicy().GetPolicies()[0].GetTypedExtensionConfig().GetName() == "envoy.load_balancing_policies.least_request"
			}
		case *adminv3.EndpointsConfigDump:
			for _, se := range d.GetStaticEndpointConfigs() {
				var cla endpointv3.ClusterLoadAssignment
				g.Expect(se.GetEndpointConfig().UnmarshalTo(&cla)).To(Succeed())
				staticEDS = staticEDS || cla.GetClusterName() == "local_cluster" && len(cla.GetEndpoints()) == 3
			}
		}
	}
	g.Expect(staticCluster).To(BeTrue(), "static_clusters lacks local_cluster")
	g.Expect(staticEDS).To(BeTrue(), "static_endpoint_configs lacks local_cluster's 3 localities")

	tbl, err := m.Endpoints(ctx, "sleep-a-1", endpoints.Envoy)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tbl.Summarize()).To(HaveLen(3))

	m2 := deployT(t, topology.ThreeZones())
	body, err = fetcher{m2}.EnvoyAdmin(ctx, "netshoot-b", "/clusters?format=json")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(body)).NotTo(ContainSubstring("local_cluster"))
}
