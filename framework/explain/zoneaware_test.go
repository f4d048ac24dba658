package explain

import (
	"fmt"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/localitylb/locality-e2e/framework/envoylb"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// zaCLA builds an assignment with n healthy hosts per zone of region kr.
func zaCLA(name string, net int, zones []string, n []int) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: name}
	for i, z := range zones {
		lle := &endpointv3.LocalityLbEndpoints{Locality: &corev3.Locality{Region: "kr", Zone: z}}
		for j := range n[i] {
			lle.LbEndpoints = append(lle.LbEndpoints, &endpointv3.LbEndpoint{
				HealthStatus: corev3.HealthStatus_HEALTHY,
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Address: fmt.Sprintf("10.%d.%d.%d", net, i, j+1), PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 5000},
					}}},
				}},
			})
		}
		cla.Endpoints = append(cla.Endpoints, lle)
	}
	return cla
}

func zaCluster(minSize uint64) *clusterv3.Cluster {
	return &clusterv3.Cluster{Name: "outbound|5000||helloworld", LbPolicy: clusterv3.Cluster_ROUND_ROBIN,
		CommonLbConfig: &clusterv3.Cluster_CommonLbConfig{LocalityConfigSpecifier: &clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig_{
			ZoneAwareLbConfig: &clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig{MinClusterSize: wrapperspb.UInt64(minSize)}}}}
}

// TestZoneSummary: the sentence and row reasons for the docs' worked
// example (docs/locality-behavior.md §7, topology zone-aware-uneven):
// callers kr/a 2, kr/b 1, kr/c 1; upstreams kr/a 2, kr/b 3, kr/c 3.
func TestZoneSummary(t *testing.T) {
	zones := []string{"a", "b", "c"}
	up := zaCLA("outbound|5000||helloworld", 1, zones, []int{2, 3, 3})
	local := zaCLA("local_cluster", 2, zones, []int{2, 1, 1})
	p, err := envoylb.Predict(zaCluster(6), up, envoylb.PredictOptions{LocalLocality: "kr/a/", LocalCluster: local})
	if err != nil {
		t.Fatal(err)
	}
	got := zoneSummary(p)
	for _, want := range []string{
		"local zone kr/a holds 50% of callers (2 of 4 healthy local_cluster hosts)",
		"but 25% of upstream hosts (2 of 8 healthy)",
		"50% of kr/a's zone-routed requests stay local (25% × 10000 / 50%)",
		"the rest spills by residual capacity: kr/b 25% (residual 12.5% = 37.5% upstream − 25% callers), kr/c 25% (residual 12.5% = 37.5% upstream − 25% callers)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	rows := map[string]string{}
	for _, ls := range p.Priorities[0].Localities {
		rows[ls.Locality] = when(p, p.Priorities[0], ls)
	}
	for l, want := range map[string]string{
		"kr/a/": "zone aware 50% (local_percent_to_route 50%) = 50.0%",
		"kr/b/": "zone aware 25% (50% of the spill) = 25.0%",
		"kr/c/": "zone aware 25% (50% of the spill) = 25.0%",
	} {
		if !strings.Contains(rows[l], want) {
			t.Errorf("%s: %q lacks %q", l, rows[l], want)
		}
	}

	// From kr/b (1 caller of 4 = 25%, 3 upstreams of 8 = 37.5%): all local.
	pb, err := envoylb.Predict(zaCluster(6), up, envoylb.PredictOptions{LocalLocality: "kr/b/", LocalCluster: local})
	if err != nil {
		t.Fatal(err)
	}
	if got := zoneSummary(pb); !strings.Contains(got, "all of kr/b's zone-routed requests stay local (LocalityDirect)") {
		t.Errorf("kr/b: %s", got)
	}
	// min_cluster_size 9 > 8 healthy upstreams: off, with Envoy's reason.
	pm, err := envoylb.Predict(zaCluster(9), up, envoylb.PredictOptions{LocalLocality: "kr/a/", LocalCluster: local})
	if err != nil {
		t.Fatal(err)
	}
	if got := zoneSummary(pm); !strings.Contains(got, "8 healthy upstream hosts at priority 0 < min_cluster_size 9") {
		t.Errorf("min_cluster_size: %s", got)
	}
	// zone_aware_lb_config without a local cluster: says what is missing.
	pn, err := envoylb.Predict(zaCluster(6), up, envoylb.PredictOptions{LocalLocality: "kr/a/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := zoneSummary(pn); !strings.Contains(got, "ENABLE_SELF_DISCOVERY") {
		t.Errorf("no local cluster: %s", got)
	}
}

// TestZoneAwareRuleOnEmbeddedIstiod applies zoneAwareLbSetting through the
// real istiod (embedded backend, sidecars without self-discovery): istiod
// emits zone_aware_lb_config and buckets by region
// (applyZoneAwareRegionalFailover), the model accepts it, and without a
// local_cluster Envoy balances priority 0 over its hosts; --verify agrees.
func TestZoneAwareRuleOnEmbeddedIstiod(t *testing.T) {
	t.Run("enabled: region kr first", func(t *testing.T) {
		dr := parse(t, "    loadBalancer:\n      zoneAwareLbSetting:\n        enabled: true\n        minClusterSize: 2\n")
		res := mustRun(t, Input{Rule: dr, Topology: topology.TwoRegions(), Verify: true, Seed: 3})
		checkVerified(t, res)
		c := res.Clients[0]
		// Client in kr/a: kr/a and kr/b priority 0 (2 pods each), us
		// priority 1; priority 0 fully healthy takes 100%.
		expectShares(t, c, map[string]float64{"kr/a": 0.5, "kr/b": 0.5, "us/a": 0, "us/b": 0})
		z := c.Prediction.ZoneAware
		if !z.Configured || z.LocalCluster || z.MinClusterSize != 2 || z.RoutingEnabled != 100 {
			t.Errorf("zone aware prediction %+v", z)
		}
		if r := row(t, c, "us/a"); r.Priority != 1 || !strings.Contains(r.Reason, "other region (zoneAwareLbSetting puts other regions after the client's)") {
			t.Errorf("us/a row: %+v", r)
		}
		if r := row(t, c, "kr/b"); r.Priority != 0 || !strings.Contains(r.Reason, "the client's region") {
			t.Errorf("kr/b row: %+v", r)
		}
		if !strings.Contains(c.ZoneAware, "ENABLE_SELF_DISCOVERY") {
			t.Errorf("summary: %q", c.ZoneAware)
		}
	})
	t.Run("enabled false: routing_enabled 0%, no priorities", func(t *testing.T) {
		dr := parse(t, "    loadBalancer:\n      zoneAwareLbSetting:\n        enabled: false\n")
		res := mustRun(t, Input{Rule: dr, Topology: topology.TwoRegions(), Verify: true, Seed: 3})
		checkVerified(t, res)
		c := res.Clients[0]
		expectShares(t, c, map[string]float64{"kr/a": 0.25, "kr/b": 0.25, "us/a": 0.25, "us/b": 0.25})
		if z := c.Prediction.ZoneAware; !z.Configured || z.RoutingEnabled != 0 {
			t.Errorf("zone aware prediction %+v", z)
		}
		if !strings.Contains(c.ZoneAware, "routing_enabled 0%") {
			t.Errorf("summary: %q", c.ZoneAware)
		}
	})
}

// TestZoneAwareTopologies: explain on the zone aware fixtures, sidecars
// with self-discovery holding istiod's local_cluster. Figures from
// load_balancer_impl.cc (calculateLocalityPercentages,
// regenerateLocalityRoutingStructures):
//   - zone-aware-uneven: callers a 2 (5000), b 1 (2500), c 1 (2500);
//     upstreams a 2 (2500), b 3 (3750), c 3 (3750). From a: 2500×10000/5000
//     = 5000 stay, residuals b 1250, c 1250 → 50/25/25. From b and c:
//     3750 ≥ 2500, all local.
//   - zone-aware-balanced: 1 caller and 2 upstreams per zone (3333 each,
//     6 hosts = min_cluster_size 6): all local.
func TestZoneAwareTopologies(t *testing.T) {
	res := mustRun(t, Input{Rule: load(t, "zone-aware"), Topology: Topologies["zone-aware-uneven"](), Verify: true, Seed: 3})
	checkVerified(t, res)
	for _, c := range res.Clients {
		want := map[string]float64{"kr/a": 0, "kr/b": 0, "kr/c": 0}
		switch c.Locality {
		case "kr/a":
			want = map[string]float64{"kr/a": 0.5, "kr/b": 0.25, "kr/c": 0.25}
			if z := c.Prediction.ZoneAware; z.State != "LocalityResidual" || !near(z.LocalPercentToRoute, 0.5) {
				t.Errorf("%s: %s %.4f", c.Name, z.State, z.LocalPercentToRoute)
			}
			if !strings.Contains(c.ZoneAware, "local zone kr/a holds 50% of callers (2 of 4 healthy local_cluster hosts) but 25% of upstream hosts (2 of 8 healthy)") {
				t.Errorf("%s: %s", c.Name, c.ZoneAware)
			}
		default:
			want[c.Locality] = 1
			if z := c.Prediction.ZoneAware; z.State != "LocalityDirect" {
				t.Errorf("%s: %s (%s)", c.Name, z.State, z.Reason)
			}
		}
		expectShares(t, c, want)
	}
	res = mustRun(t, Input{Rule: load(t, "zone-aware"), Topology: Topologies["zone-aware-balanced"](), Verify: true, Seed: 3})
	checkVerified(t, res)
	for _, c := range res.Clients {
		want := map[string]float64{"kr/a": 0, "kr/b": 0, "kr/c": 0}
		want[c.Locality] = 1
		expectShares(t, c, want)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
