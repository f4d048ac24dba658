package envoylb

// Zone aware routing vectors from Envoy's
// test/extensions/load_balancing_policies/round_robin/round_robin_lb_test.cc
// (RoundRobinLoadBalancerTest and FailoverTest, the P=0 instantiation: "P = 1
// does not support zone-aware routing"); see vectors_test.go for how rows
// are sourced. Translation of the fixture:
//   - upstream hosts (hostSet().hosts_, in that order) become lb_endpoints
//     of a ClusterLoadAssignment, one LocalityLbEndpoints per token of the
//     row's spec, locality {region "r", zone <letter>}; their
//     healthy_hosts_per_locality_ is what the model's EDS grouping produces
//     (local locality first, then LocalityLess order), which is the order
//     of every test below. A locality listed but empty in Envoy's
//     makeHostsPerLocality has no EDS equivalent; only the local slot
//     matters (hasLocalLocality), and it is present exactly when the
//     sidecar's zone has upstream hosts.
//   - the local priority set (updateHosts(local_hosts, ...)) becomes the
//     local cluster's ClusterLoadAssignment fed with SetLocalCluster, and
//     the sidecar's locality (element 0 of the local hosts_per_locality
//     unless makeHostsPerLocality(..., true)) becomes Options.LocalLocality.
//   - runtime mocks become config: getInteger("upstream.zone_routing.
//     min_cluster_size", d) returning v becomes min_cluster_size v;
//     getInteger("upstream.healthy_panic_threshold", d) returning v becomes
//     healthy_panic_threshold v; featureEnabled("upstream.zone_routing.
//     enabled", d) returning true becomes routing_enabled d with the runtime
//     random value 0 (0 % 100 < d), returning false becomes routing_enabled
//     0; force_local_zone.min_size returning 0 is the absent feature.
//   - random_.random(): Envoy's mock returns 0 unless told otherwise (so
//     seed_ = 0 and round robin starts at index 0). Each pick injects the
//     test's WillOnce(Return(...)) values into the worker's random_ (in
//     order: choosePriority's hash, tryChooseLocalLocalityHosts's % 10000,
//     its residual threshold) and 0 after that; a row fails when the model
//     consumes fewer values than Envoy's test supplies.
//   - EXPECT_EQ(hosts, chooseHost) becomes the served host's name: zone
//     letter + index within the zone in spec order (healthy_hosts_per_
//     locality_[i][j] is the j-th host of the i-th locality), "-" for
//     nullptr (no healthy upstream). stats_.lb_* become LBStats().

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// zeroSource is Envoy's MockRandomGenerator default: random() returns 0.
type zeroSource struct{}

func (zeroSource) Uint64() uint64 { return 0 }

// zaHost is one parsed host of a spec.
type zaHost struct {
	name     string
	zone     string
	priority uint32
	health   corev3.HealthStatus
}

// zaParse reads a spec: tokens "[pN:]Z[!|~][*count]" (priority N, zone
// letter Z, "!" unhealthy, "~" degraded, count hosts).
func zaParse(t *testing.T, spec string) []zaHost {
	t.Helper()
	var out []zaHost
	perZone := map[string]int{}
	for _, tok := range strings.Fields(spec) {
		var p uint64
		if strings.HasPrefix(tok, "p") {
			i := strings.Index(tok, ":")
			var err error
			if p, err = strconv.ParseUint(tok[1:i], 10, 32); err != nil {
				t.Fatalf("spec %q: %v", spec, err)
			}
			tok = tok[i+1:]
		}
		n := 1
		if i := strings.Index(tok, "*"); i >= 0 {
			var err error
			if n, err = strconv.Atoi(tok[i+1:]); err != nil {
				t.Fatalf("spec %q: %v", spec, err)
			}
			tok = tok[:i]
		}
		h := zaHost{zone: tok[:1], priority: uint32(p), health: vH}
		switch tok[1:] {
		case "!":
			h.health = vU
		case "~":
			h.health = vD
		}
		for range n {
			h.name = fmt.Sprintf("%s%d", h.zone, perZone[h.zone])
			perZone[h.zone]++
			out = append(out, h)
		}
	}
	return out
}

// zaCLA builds a ClusterLoadAssignment from a spec; net is the first octet.
func zaCLA(t *testing.T, spec string, net int) (*endpointv3.ClusterLoadAssignment, map[string]string) {
	hosts := zaParse(t, spec)
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: "outbound|80||zone-vectors"}
	names := map[string]string{}
	var lle *endpointv3.LocalityLbEndpoints
	for k, h := range hosts {
		if lle == nil || lle.GetLocality().GetZone() != h.zone || lle.GetPriority() != h.priority {
			lle = &endpointv3.LocalityLbEndpoints{Locality: &corev3.Locality{Region: "r", Zone: h.zone}, Priority: h.priority}
			cla.Endpoints = append(cla.Endpoints, lle)
		}
		addr := fmt.Sprintf("%d.%d.%d.%d", net, k>>16&255, k>>8&255, k&255)
		lle.LbEndpoints = append(lle.LbEndpoints, &endpointv3.LbEndpoint{
			HealthStatus: h.health,
			HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
				Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
					Address: addr, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080},
				}}},
			}},
		})
		names[addr+":8080"] = h.name
	}
	return cla, names
}

// zaCfg is the Cluster's load balancer configuration of a row.
type zaCfg struct {
	panic       float64 // healthy_panic_threshold (percent)
	routing     *float64
	minCluster  *uint64
	failOnPanic bool
}

func zaU(v uint64) *uint64   { return &v }
func zaF(v float64) *float64 { return &v }

func (c zaCfg) cluster() *clusterv3.Cluster {
	cl := vecCluster(clusterv3.Cluster_ROUND_ROBIN, panicAt(c.panic))
	if c.routing != nil || c.minCluster != nil || c.failOnPanic {
		za := &clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig{FailTrafficOnPanic: c.failOnPanic}
		if c.routing != nil {
			za.RoutingEnabled = &typev3.Percent{Value: *c.routing}
		}
		if c.minCluster != nil {
			za.MinClusterSize = wrapperspb.UInt64(*c.minCluster)
		}
		cl.CommonLbConfig.LocalityConfigSpecifier = &clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig_{ZoneAwareLbConfig: za}
	}
	return cl
}

// zaPick is one chooseHost: the random_ values Envoy's test supplies and
// the expected host name ("-" = nullptr).
type zaPick struct {
	rnd  []uint64
	want string
}

func pk(want string, rnd ...uint64) zaPick { return zaPick{rnd: rnd, want: want} }

// zaPhase is what a test does between assertions: optionally a new Cluster
// config and/or upstream hosts, then picks, then counters (cumulative).
type zaPhase struct {
	cfg      *zaCfg
	upstream string
	picks    []zaPick
	stats    map[string]uint64
}

type zaRow struct {
	envoy    string
	cfg      zaCfg
	upstream string
	local    string // "" = no local cluster
	zone     string // the sidecar's zone
	phases   []zaPhase
}

const zaRR = "test/extensions/load_balancing_policies/round_robin/round_robin_lb_test.cc "

func TestEnvoyVectorsZoneAware(t *testing.T) {
	rows := []zaRow{
		{
			// Zone A: 1L 1U, B: 1L 1U (local), C: 1L 1U; min_cluster_size 7 > 3
			// healthy hosts: round robin over all healthy hosts.
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, ZoneAwareSmallCluster)",
			cfg:      zaCfg{panic: 50, routing: zaF(98), minCluster: zaU(7)},
			upstream: "A B C", local: "A B C", zone: "B",
			phases: []zaPhase{
				{picks: []zaPick{pk("A0"), pk("B0"), pk("C0")}, stats: map[string]uint64{"lb_zone_cluster_too_small": 1}},
				// getInteger(min_cluster_size) → 1 and updateHosts: local locality.
				{cfg: &zaCfg{panic: 50, routing: zaF(98), minCluster: zaU(1)}, picks: []zaPick{pk("B0")},
					stats: map[string]uint64{"lb_zone_cluster_too_small": 1}},
			},
		},
		{
			// Zone A: 1L 1U (local), B: 1L 0U, C: 0L 1U: 50% ≥ 50% → LocalityDirect.
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, ZoneAwareZonesMismatched) in zone A",
			cfg:      zaCfg{panic: 50, routing: zaF(100), minCluster: zaU(2)},
			upstream: "A C", local: "A B", zone: "A",
			phases: []zaPhase{
				{picks: []zaPick{pk("A0")}, stats: map[string]uint64{"lb_zone_routing_all_directly": 1}},
				{picks: []zaPick{pk("A0")}, stats: map[string]uint64{"lb_zone_routing_all_directly": 2}},
			},
		},
		{
			// The same hosts seen from zone B (no upstream there): only C has
			// residual capacity.
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, ZoneAwareZonesMismatched) in zone B",
			cfg:      zaCfg{panic: 50, routing: zaF(100), minCluster: zaU(2)},
			upstream: "A C", local: "A B", zone: "B",
			phases: []zaPhase{
				{picks: []zaPick{pk("C0", 0, 0, 0)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 1}},
				{picks: []zaPick{pk("C0", 0, 0, 4999)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 2}},
			},
		},
		{
			// A: 2L 1U (local), B: 2L 0U, C: 1L 3U, D: 1L 3U, E: 0L 1U: 37.5% local,
			// residuals C 20.83%, D 20.83%, E 12.5%.
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, ZoneAwareResidualsMismatched)",
			cfg:      zaCfg{panic: 50, routing: zaF(100), minCluster: zaU(6)},
			upstream: "A C C C D D D E", local: "A A B B C D", zone: "A",
			phases: []zaPhase{
				{picks: []zaPick{pk("A0", 0, 0)}, stats: map[string]uint64{"lb_zone_routing_sampled": 1}},
				{picks: []zaPick{pk("A0", 0, 3749)}, stats: map[string]uint64{"lb_zone_routing_sampled": 2}},
				{picks: []zaPick{pk("C0", 0, 3750, 0)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 1}},
				{picks: []zaPick{pk("C1", 0, 3750, 2083)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 2}},
				{picks: []zaPick{pk("D0", 0, 9999, 2084)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 3}},
				{picks: []zaPick{pk("D1", 0, 9999, 4167)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 4}},
				{picks: []zaPick{pk("E0", 0, 9999, 4168)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 5}},
				{picks: []zaPick{pk("E0", 0, 9999, 5417)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 6}},
			},
		},
		{
			// Upstream A B C one each, local A B, sidecar in B: 2/3 local, the
			// rest to C (the only zone with residual capacity).
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, ZoneAwareDifferentZoneSize)",
			cfg:      zaCfg{panic: 50, routing: zaF(98), minCluster: zaU(3)},
			upstream: "A B C", local: "A B", zone: "B",
			phases: []zaPhase{
				{picks: []zaPick{pk("B0", 0, 0)}, stats: map[string]uint64{"lb_zone_routing_sampled": 1}},
				{picks: []zaPick{pk("B0", 0, 6665)}, stats: map[string]uint64{"lb_zone_routing_sampled": 2}},
				{picks: []zaPick{pk("C0", 0, 6666, 0)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 1}},
				{picks: []zaPick{pk("C0", 0, 9999, 3333)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 2}},
			},
		},
		{
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, ZoneAwareRoutingLargeZoneSwitchOnOff)",
			cfg:      zaCfg{panic: 50, minCluster: zaU(3)},
			upstream: "A B C", local: "A B C", zone: "B",
			phases: []zaPhase{
				{picks: []zaPick{pk("B0")}, stats: map[string]uint64{"lb_zone_routing_all_directly": 1}},
				{picks: []zaPick{pk("B0")}, stats: map[string]uint64{"lb_zone_routing_all_directly": 2}},
				// featureEnabled("upstream.zone_routing.enabled") → false.
				{cfg: &zaCfg{panic: 50, minCluster: zaU(3), routing: zaF(0)}, picks: []zaPick{pk("A0")},
					stats: map[string]uint64{"lb_zone_routing_all_directly": 2}},
			},
		},
		{
			// Upstream A: 1, B: 2, C: 2; local one per zone, sidecar in A:
			// 60% local, residuals B and C.
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, ZoneAwareRoutingSmallZone)",
			cfg:      zaCfg{panic: 50, minCluster: zaU(5)},
			upstream: "B A B C C", local: "A B C", zone: "A",
			phases: []zaPhase{
				{picks: []zaPick{pk("A0", 0, 100)}, stats: map[string]uint64{"lb_zone_routing_sampled": 1}},
				{picks: []zaPick{pk("B0", 0, 9999, 2)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 1}},
			},
		},
		{
			// Upstream D E F, local A B C: every pick is cross zone, by thirds.
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, ZoneAwareNoMatchingZones)",
			cfg:      zaCfg{panic: 50, minCluster: zaU(3)},
			upstream: "D E F", local: "A B C", zone: "A",
			phases: []zaPhase{
				{picks: []zaPick{pk("D0", 0, 0, 3332)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 1}},
				{picks: []zaPick{pk("E0", 0, 0, 3333)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 2}},
				{picks: []zaPick{pk("E0", 0, 0, 6665)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 3}},
				{picks: []zaPick{pk("F0", 0, 0, 6666)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 4}},
				{picks: []zaPick{pk("F0", 0, 0, 9998)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 5}},
			},
		},
		{
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, NoZoneAwareNotEnoughLocalZones)",
			cfg:      zaCfg{panic: 50, minCluster: zaU(2)},
			upstream: "A B", local: "A", zone: "A",
			phases: []zaPhase{{picks: []zaPick{pk("A0", 0), pk("B0", 0)}, stats: map[string]uint64{
				"lb_zone_routing_all_directly": 0, "lb_zone_routing_sampled": 0, "lb_zone_routing_cross_zone": 0}}},
		},
		{
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, NoZoneAwareNotEnoughUpstreamZones)",
			cfg:      zaCfg{panic: 50, minCluster: zaU(1)},
			upstream: "A", local: "A B", zone: "A",
			phases: []zaPhase{{picks: []zaPick{pk("A0", 0), pk("A0", 0)}, stats: map[string]uint64{
				"lb_zone_routing_all_directly": 0, "lb_zone_routing_sampled": 0, "lb_zone_routing_cross_zone": 0}}},
		},
		{
			// The part without force_local_zone (not in the Cluster proto):
			// A 1L 1U (local), B 1L 1U, C 0L 1U → residual mode, 66.66% local.
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, ZoneAwareForceLocalityDirect) residual part",
			cfg:      zaCfg{panic: 50, routing: zaF(100), minCluster: zaU(3)},
			upstream: "A B C", local: "A B", zone: "A",
			phases: []zaPhase{{picks: []zaPick{pk("A0")}, stats: map[string]uint64{
				"lb_zone_routing_all_directly": 0, "lb_zone_routing_sampled": 1}}},
		},
		{
			// Upstream C: 2, E: 1, F: 2, H: 1; local A C D F, sidecar in A:
			// residuals C 8.33%, E 16.67%, F 8.33%, H 16.67%.
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, ZoneAwareEmptyLocalities)",
			cfg:      zaCfg{panic: 50, minCluster: zaU(3)},
			upstream: "C C E F F H", local: "A C D F", zone: "A",
			phases: []zaPhase{
				{picks: []zaPick{pk("C0", 0, 0, 0)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 1}},
				{picks: []zaPick{pk("C1", 0, 0, 832)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 2}},
				{picks: []zaPick{pk("E0", 0, 0, 833)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 3}},
				{picks: []zaPick{pk("E0", 0, 0, 2498)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 4}},
				{picks: []zaPick{pk("F0", 0, 0, 2499)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 5}},
				{picks: []zaPick{pk("F1", 0, 0, 3331)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 6}},
				{picks: []zaPick{pk("H0", 0, 0, 3332)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 7}},
				{picks: []zaPick{pk("H0", 0, 0, 4997)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 8}},
				{picks: []zaPick{pk("C0", 0, 0, 4998)}, stats: map[string]uint64{"lb_zone_routing_cross_zone": 9}},
			},
		},
		{
			// 45000/55000 local vs 44999/55001 upstream: no residual capacity
			// left at 1/10000 precision; the locality is then random.
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, LowPrecisionForDistribution)",
			cfg:      zaCfg{panic: 50, minCluster: zaU(1)},
			upstream: "A*44999 B*55001", local: "A*45000 B*55000", zone: "A",
			phases: []zaPhase{{picks: []zaPick{pk("A0", 0, 9999, 2)}, stats: map[string]uint64{"lb_zone_no_capacity_left": 1}}},
		},
		{
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, NoZoneAwareRoutingOneZone)",
			cfg:      zaCfg{panic: 50},
			upstream: "A", local: "A", zone: "A",
			phases: []zaPhase{{picks: []zaPick{pk("A0")}}},
		},
		{
			// Both upstream hosts in zone A, the sidecar's zone (B) has none:
			// one upstream locality, no locality routing.
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, NoZoneAwareRoutingNotHealthy)",
			cfg:      zaCfg{panic: 50},
			upstream: "A A", local: "A A", zone: "B",
			phases: []zaPhase{{picks: []zaPick{pk("A0"), pk("A1")}}},
		},
		{
			// Envoy's local host set has no (healthy) hosts but two localities;
			// as EDS: both local hosts UNHEALTHY. The local set is in panic:
			// lb_local_cluster_not_ok, regular routing.
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, NoZoneAwareRoutingLocalEmpty)",
			cfg:      zaCfg{panic: 50, minCluster: zaU(1)},
			upstream: "A B", local: "A! B!", zone: "A",
			phases: []zaPhase{{picks: []zaPick{pk("A0")}, stats: map[string]uint64{
				"lb_healthy_panic": 0, "lb_local_cluster_not_ok": 1}}},
		},
		{
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, NoZoneAwareRoutingLocalEmptyFailTrafficOnPanic)",
			cfg:      zaCfg{panic: 50, minCluster: zaU(1), failOnPanic: true},
			upstream: "A B", local: "A! B!", zone: "A",
			phases: []zaPhase{{picks: []zaPick{pk("-")}, stats: map[string]uint64{
				"lb_healthy_panic": 0, "lb_local_cluster_not_ok": 1}}},
		},
		{
			// Two upstream and local localities, none of them the sidecar's.
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, NoZoneAwareRoutingNoLocalLocality)",
			cfg:      zaCfg{panic: 50},
			upstream: "A B", local: "A B", zone: "C",
			phases: []zaPhase{{picks: []zaPick{pk("A0")}, stats: map[string]uint64{
				"lb_healthy_panic": 0, "lb_local_cluster_not_ok": 1}}},
		},
		{
			// 2 of 6 hosts healthy (33% < 50%): panic, and
			// fail_traffic_on_panic answers no host; then 4 of 6 healthy.
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, MaxUnhealthyPanicDisableOnPanic)",
			cfg:      zaCfg{panic: 50, failOnPanic: true},
			upstream: "A A A! A! A! A!",
			phases: []zaPhase{
				{picks: []zaPick{pk("-")}, stats: map[string]uint64{"lb_healthy_panic": 1}},
				{upstream: "A A A A A! A!", picks: []zaPick{pk("A0"), pk("A1")}, stats: map[string]uint64{"lb_healthy_panic": 1}},
			},
		},
		{
			envoy:    zaRR + "TEST_P(RoundRobinLoadBalancerTest, MaxUnhealthyPanic)",
			cfg:      zaCfg{panic: 50},
			upstream: "A A A! A! A! A!",
			phases: []zaPhase{
				{picks: []zaPick{pk("A0"), pk("A1"), pk("A2")}},
				{upstream: "A A A A A! A!", picks: []zaPick{pk("A0"), pk("A1")}, stats: map[string]uint64{"lb_healthy_panic": 3}},
			},
		},
		{
			// P0 and P1 one unhealthy host each: total panic, no host with
			// fail_traffic_on_panic; a healthy P2 takes the traffic, then a
			// healthy P0, and P2 again when P0 goes unhealthy.
			envoy:    zaRR + "TEST_P(FailoverTest, PriorityUpdatesWithLocalHostSetDisableOnPanic)",
			cfg:      zaCfg{panic: 50, failOnPanic: true},
			upstream: "A! p1:B!",
			phases: []zaPhase{
				{picks: []zaPick{pk("-")}},
				{upstream: "A! p1:B! p2:C", picks: []zaPick{pk("C0")}},
				{upstream: "A p1:B! p2:C", picks: []zaPick{pk("A0")}},
				{upstream: "A! p1:B! p2:C", picks: []zaPick{pk("C0")}},
			},
		},
		{
			// With a local priority set: zone aware routing does no harm to
			// priority failover.
			envoy:    zaRR + "TEST_P(FailoverTest, ExtendPrioritiesWithLocalPrioritySet)",
			cfg:      zaCfg{panic: 50},
			upstream: "A! p1:B!", local: "Z", zone: "Z",
			phases: []zaPhase{
				{picks: []zaPick{pk("A0")}},
				{upstream: "A! p1:B! p2:C", picks: []zaPick{pk("C0")}},
			},
		},
	}
	for i, r := range rows {
		t.Run(fmt.Sprintf("%02d_%s", i, shortName(r.envoy)), func(t *testing.T) {
			runZoneAwareRow(t, r)
		})
	}
}

func runZoneAwareRow(t *testing.T, r zaRow) {
	t.Helper()
	cla, names := zaCLA(t, r.upstream, 10)
	opts := Options{LocalLocality: "r/" + r.zone + "/"}
	if r.zone == "" {
		opts.LocalLocality = ""
	}
	lb := vecNew(t, r.cfg.cluster(), cla, opts)
	zero := rand.New(zeroSource{})
	lb.mu.Lock()
	lb.wrng[0], lb.rtRNG = zero, zero
	lb.workers[0].rng, lb.workers[0].seed = zero, 0
	lb.mu.Unlock()
	if r.local != "" {
		local, _ := zaCLA(t, r.local, 11)
		if err := lb.SetLocalCluster(local); err != nil {
			t.Fatal(err)
		}
	}
	cfg := r.cfg
	for pi, ph := range r.phases {
		if ph.cfg != nil || ph.upstream != "" {
			if ph.cfg != nil {
				cfg = *ph.cfg
			}
			if ph.upstream != "" {
				cla, names = zaCLA(t, ph.upstream, 10)
			}
			if err := lb.Update(cfg.cluster(), cla); err != nil {
				t.Fatalf("phase %d: Update: %v", pi, err)
			}
		}
		for k, p := range ph.picks {
			lb.mu.Lock()
			lb.workers[0].inject = append([]uint64(nil), p.rnd...)
			lb.mu.Unlock()
			_, h, err := lb.Do(vecOK)
			got := "-"
			if err == nil {
				got = names[h.Key()]
			}
			lb.mu.Lock()
			left := len(lb.workers[0].inject)
			lb.mu.Unlock()
			if got != p.want {
				t.Errorf("phase %d pick %d (random %v): got %s, want %s", pi, k, p.rnd, got, p.want)
			}
			if left != 0 {
				t.Errorf("phase %d pick %d: %d of Envoy's random values %v unused", pi, k, left, p.rnd)
			}
		}
		st := lb.LBStats()
		for name, want := range ph.stats {
			if got, ok := st[name]; !ok || got != want {
				t.Errorf("phase %d: %s = %d, want %d", pi, name, got, want)
			}
		}
	}
}
