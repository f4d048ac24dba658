package envoylb

// EDS: how a ClusterLoadAssignment becomes host sets
// (source/extensions/clusters/eds/eds.cc EdsClusterImpl::BatchUpdateHelper,
// source/common/upstream/upstream_impl.cc PriorityStateManager).
//
// TestEnvoyVectorsEDS mirrors test/extensions/clusters/eds/eds_test.cc
// (envoyproxy/envoy main as stored in the search index in 2026), with the
// conventions of vectors_test.go. Envoy's node locality in EdsTest is
// zone "us-east-1a" (resetCluster), i.e. Options.LocalLocality
// "/us-east-1a/".
//
// Duplicate addresses: eds_test.cc has NO test of the rule "When the
// configuration contains duplicate hosts, only the first one will be
// retained" (BatchUpdateHelper::updateLocalityEndpoints; the whole file was
// read: the tests named *Duplicate* are about duplicate localities).
// TestEDSDuplicateAddresses is therefore an ordinary test whose
// expectations are derived from eds.cc (batchUpdate, updateLocalityEndpoints)
// and upstream_impl.cc (PriorityStateManager::initializePriorityFor,
// registerHostForPriority, updateClusterPrioritySet), and from the behaviour
// reported in envoyproxy/envoy#22417 ("only one endpoint is actually
// preserved", also in config_dump?include_eds) and #23445 (Envoy ignores all
// but the first occurrence, across localities and priorities).

import (
	"fmt"
	"reflect"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// edsLoc is one LocalityLbEndpoints of an eds_test.cc-style assignment:
// locality (nil: unset), priority, load_balancing_weight (nil: unset) and
// lb_endpoints as "ip:port" with health_status and weight.
type edsLoc struct {
	loc      *corev3.Locality
	priority uint32
	weight   *uint32
	eps      []edsEp
}

type edsEp struct {
	addr   string
	port   uint32
	health corev3.HealthStatus
	weight uint32 // 0: unset
}

func loc(region, zone, subZone string) *corev3.Locality {
	return &corev3.Locality{Region: region, Zone: zone, SubZone: subZone}
}

func w(v uint32) *uint32 { return &v }

// eps is n endpoints 1.2.3.4:port, port++ (eds_test.cc add_hosts_to_locality).
func eps(port *uint32, n int) []edsEp {
	var out []edsEp
	for i := 0; i < n; i++ {
		out = append(out, edsEp{addr: "1.2.3.4", port: *port})
		*port++
	}
	return out
}

func edsCLA(locs ...edsLoc) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: "fare"}
	for _, l := range locs {
		lle := &endpointv3.LocalityLbEndpoints{Locality: l.loc, Priority: l.priority}
		if l.weight != nil {
			lle.LoadBalancingWeight = wrapperspb.UInt32(*l.weight)
		}
		for _, e := range l.eps {
			lbe := &endpointv3.LbEndpoint{
				HealthStatus: e.health,
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Address: e.addr, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: e.port},
					}}},
				}},
			}
			if e.weight > 0 {
				lbe.LoadBalancingWeight = wrapperspb.UInt32(e.weight)
			}
			lle.LbEndpoints = append(lle.LbEndpoints, lbe)
		}
		cla.Endpoints = append(cla.Endpoints, lle)
	}
	return cla
}

// hostSets is what Envoy's tests read from the priority set: per priority,
// hostsPerLocality() (locality, host count) and localityWeights().
type hostSetView struct {
	Localities []string
	Hosts      []int
	Weights    []uint32
}

func hostSets(lb *LB) []hostSetView {
	var out []hostSetView
	for _, p := range lb.Prediction().Priorities {
		v := hostSetView{}
		for _, l := range p.Localities {
			v.Localities = append(v.Localities, l.Locality)
			v.Hosts = append(v.Hosts, l.Hosts)
			v.Weights = append(v.Weights, l.Weight)
		}
		out = append(out, v)
	}
	return out
}

func TestEnvoyVectorsEDS(t *testing.T) {
	const edsTest = "test/extensions/clusters/eds/eds_test.cc"
	type row struct {
		envoy string
		cla   func() *endpointv3.ClusterLoadAssignment
		want  []hostSetView // localities in hostsPerLocality() order
		hosts []string      // hosts() of P0 ("ip:port"), when checked
	}
	rows := []row{
		{envoy: edsTest + " EdsLocalityWeightsTest.WeightsPresentWithLocalityWeightedConfig (42, unset, 37: localityWeights 42,0,37)",
			cla: func() *endpointv3.ClusterLoadAssignment {
				return edsCLA(
					edsLoc{loc: loc("oceania", "hello", "world"), weight: w(42), eps: []edsEp{{addr: "1.2.3.4", port: 80}}},
					edsLoc{loc: loc("space", "station", "international"), eps: []edsEp{{addr: "1.2.3.5", port: 80}}},
					edsLoc{loc: loc("sugar", "candy", "mountain"), weight: w(37), eps: []edsEp{{addr: "1.2.3.6", port: 80}}},
				)
			},
			want: []hostSetView{{
				Localities: []string{"oceania/hello/world", "space/station/international", "sugar/candy/mountain"},
				Hosts:      []int{1, 1, 1}, Weights: []uint32{42, 0, 37},
			}}},
		{envoy: edsTest + " PriorityAndLocalityWeighted (local locality first; P0 75,25; P1 60,40)",
			cla: func() *endpointv3.ClusterLoadAssignment {
				port := uint32(1000)
				return edsCLA(
					edsLoc{loc: loc("oceania", "koala", "ingsoc"), priority: 0, weight: w(25), eps: eps(&port, 2)},
					edsLoc{loc: loc("", "us-east-1a", ""), priority: 0, weight: w(75), eps: eps(&port, 1)},
					edsLoc{loc: loc("", "us-east-1a", ""), priority: 1, weight: w(60), eps: eps(&port, 8)},
					edsLoc{loc: loc("foo", "bar", "eep"), priority: 1, weight: w(40), eps: eps(&port, 2)},
				)
			},
			want: []hostSetView{
				{Localities: []string{"/us-east-1a/", "oceania/koala/ingsoc"}, Hosts: []int{1, 2}, Weights: []uint32{75, 25}},
				{Localities: []string{"/us-east-1a/", "foo/bar/eep"}, Hosts: []int{8, 2}, Weights: []uint32{60, 40}},
			}},
		{envoy: edsTest + " EndpointCombineDuplicateLocalities (one locality listed twice: 2 hosts, one locality)",
			cla: func() *endpointv3.ClusterLoadAssignment {
				return edsCLA(
					edsLoc{loc: loc("oceania", "hello", "world"), eps: []edsEp{{addr: "1.2.3.4", port: 80}}},
					edsLoc{loc: loc("oceania", "hello", "world"), eps: []edsEp{{addr: "2.3.4.5", port: 80}}},
				)
			},
			want:  []hostSetView{{Localities: []string{"oceania/hello/world"}, Hosts: []int{2}, Weights: []uint32{0}}},
			hosts: []string{"1.2.3.4:80", "2.3.4.5:80"}},
		{envoy: edsTest + " EndpointHostsPerLocality (us-east-1a first, then oceania)",
			cla: func() *endpointv3.ClusterLoadAssignment {
				port := uint32(1000)
				return edsCLA(
					edsLoc{loc: loc("oceania", "koala", "ingsoc"), eps: eps(&port, 2)},
					edsLoc{loc: loc("", "us-east-1a", ""), eps: eps(&port, 1)},
				)
			},
			want: []hostSetView{{Localities: []string{"/us-east-1a/", "oceania/koala/ingsoc"}, Hosts: []int{1, 2}, Weights: []uint32{0, 0}}}},
		{envoy: edsTest + " EndpointHostsPerPriority (P0 2 hosts, P1 1, gap at P2, P3 5)",
			cla: func() *endpointv3.ClusterLoadAssignment {
				port := uint32(1000)
				return edsCLA(
					edsLoc{priority: 0, eps: eps(&port, 2)},
					edsLoc{priority: 1, eps: eps(&port, 1)},
					edsLoc{priority: 0, eps: eps(&port, 2)},
					edsLoc{priority: 3, eps: eps(&port, 5)},
				)
			},
			want: []hostSetView{
				{Localities: []string{"//"}, Hosts: []int{4}, Weights: []uint32{0}},
				{Localities: []string{"//"}, Hosts: []int{1}, Weights: []uint32{0}},
				{},
				{Localities: []string{"//"}, Hosts: []int{5}, Weights: []uint32{0}},
			}},
	}
	// The model runs every row with locality_weighted_lb_config so that the
	// weights are observable; Envoy asserts localityWeights() only in rows
	// 00 and 01, the others set no locality weight (hence 0) and assert
	// hostsPerLocality() / hosts() only.
	for i, r := range rows {
		t.Run(fmt.Sprintf("%02d_%s", i, shortName(r.envoy)), func(t *testing.T) {
			t.Logf("envoy: %s", r.envoy)
			lb := vecNew(t, vecCluster(clusterv3.Cluster_ROUND_ROBIN, localityWeighted()), r.cla(), Options{Seed: 1, LocalLocality: "/us-east-1a/"})
			if got := hostSets(lb); !reflect.DeepEqual(got, r.want) {
				t.Errorf("host sets\n%+v\nwant\n%+v", got, r.want)
			}
			if r.hosts != nil {
				var got []string
				for _, h := range lb.Hosts() {
					got = append(got, h.Key())
				}
				if !reflect.DeepEqual(got, r.hosts) {
					t.Errorf("hosts %v, want %v", got, r.hosts)
				}
			}
		})
	}
}

// TestEDSDuplicateAddresses: no Envoy unit test covers the rule (see the
// file comment); each case states the eds.cc / upstream_impl.cc step it
// follows.
func TestEDSDuplicateAddresses(t *testing.T) {
	const gw = "172.18.0.10" // an east-west gateway address
	keys := func(lb *LB) []string {
		var out []string
		for _, h := range lb.Hosts() {
			out = append(out, fmt.Sprintf("%s P%d %s", h.Key(), h.Priority, h.Locality))
		}
		return out
	}
	type tc struct {
		name      string
		cla       *endpointv3.ClusterLoadAssignment
		hosts     []string      // lb.Hosts(): "ip:port Pn locality"
		sets      []hostSetView // per priority
		load      []uint32      // PriorityLoad
		stateLocW map[string]uint32
		stateW    map[string]uint32
		stateEDS  map[string]corev3.HealthStatus
	}
	cases := []tc{{
		// Istio multi-network: istiod's EndpointsByNetworkFilter emits the
		// remote network's gateway once per remote locality group, weighted
		// by that locality's endpoints (istio/istio#56355). Envoy keeps the
		// first copy (r2/z1, lb weight 4, locality weight 4); r2/z2 is left
		// without hosts and is not in the host set.
		name: "gateway per remote locality: first kept, other locality gone",
		cla: edsCLA(
			edsLoc{loc: loc("r1", "z1", ""), weight: w(2), eps: []edsEp{{addr: "10.0.0.1", port: 8080}, {addr: "10.0.0.2", port: 8080}}},
			edsLoc{loc: loc("r2", "z1", ""), weight: w(4), eps: []edsEp{{addr: gw, port: 15443, weight: 4}}},
			edsLoc{loc: loc("r2", "z2", ""), weight: w(11), eps: []edsEp{{addr: gw, port: 15443, weight: 11}}},
		),
		hosts:     []string{"10.0.0.1:8080 P0 r1/z1/", "10.0.0.2:8080 P0 r1/z1/", gw + ":15443 P0 r2/z1/"},
		sets:      []hostSetView{{Localities: []string{"r1/z1/", "r2/z1/"}, Hosts: []int{2, 1}, Weights: []uint32{2, 4}}},
		load:      []uint32{100},
		stateLocW: map[string]uint32{gw + ":15443": 4},
		stateW:    map[string]uint32{gw + ":15443": 4},
	}, {
		// batchUpdate walks endpoints() in ClusterLoadAssignment order, not
		// by priority: the P1 copy listed first is the host; P0 exists
		// (initializePriorityFor) but is empty, so all load goes to P1.
		name: "across priorities: CLA order wins, not priority order",
		cla: edsCLA(
			edsLoc{loc: loc("r", "b", ""), priority: 1, eps: []edsEp{{addr: "10.0.0.1", port: 80}}},
			edsLoc{loc: loc("r", "a", ""), priority: 0, eps: []edsEp{{addr: "10.0.0.1", port: 80}}},
		),
		hosts: []string{"10.0.0.1:80 P1 r/b/"},
		sets:  []hostSetView{{}, {Localities: []string{"r/b/"}, Hosts: []int{1}, Weights: []uint32{0}}},
		load:  []uint32{0, 100},
	}, {
		// The dropped copy is dropped whole: its health_status and weight
		// are ignored (registerHostForPriority is never called for it).
		name: "later copy's health and weight ignored",
		cla: edsCLA(
			edsLoc{loc: loc("r", "a", ""), eps: []edsEp{{addr: "10.0.0.1", port: 80, health: vH, weight: 3}, {addr: "10.0.0.1", port: 80, health: vU, weight: 9}}},
		),
		hosts:    []string{"10.0.0.1:80 P0 r/a/"},
		sets:     []hostSetView{{Localities: []string{"r/a/"}, Hosts: []int{1}, Weights: []uint32{0}}},
		load:     []uint32{100},
		stateW:   map[string]uint32{"10.0.0.1:80": 3},
		stateEDS: map[string]corev3.HealthStatus{"10.0.0.1:80": vH},
	}, {
		// Same IP, different ports: different addresses.
		name: "same IP, other port: not a duplicate",
		cla: edsCLA(
			edsLoc{loc: loc("r", "a", ""), eps: []edsEp{{addr: "10.0.0.1", port: 80}}},
			edsLoc{loc: loc("r", "b", ""), eps: []edsEp{{addr: "10.0.0.1", port: 81}}},
		),
		hosts: []string{"10.0.0.1:80 P0 r/a/", "10.0.0.1:81 P0 r/b/"},
		sets:  []hostSetView{{Localities: []string{"r/a/", "r/b/"}, Hosts: []int{1, 1}, Weights: []uint32{0, 0}}},
		load:  []uint32{100},
	}, {
		// The key is address->asString(): the canonical IP, so two
		// spellings of one IPv6 address are one host.
		name: "IPv6 spellings of one address",
		cla: edsCLA(
			edsLoc{loc: loc("r", "a", ""), eps: []edsEp{{addr: "fd00::1", port: 80}}},
			edsLoc{loc: loc("r", "b", ""), eps: []edsEp{{addr: "fd00:0:0::0001", port: 80}}},
		),
		hosts: []string{"fd00::1:80 P0 r/a/"},
		sets:  []hostSetView{{Localities: []string{"r/a/"}, Hosts: []int{1}, Weights: []uint32{0}}},
		load:  []uint32{100},
	}, {
		// initializePriorityFor records a LocalityLbEndpoints' weight before
		// its hosts are registered, so a LocalityLbEndpoints whose only host
		// is a dropped duplicate still sets its locality's weight (last one
		// wins) when that locality has hosts from another
		// LocalityLbEndpoints of the same priority.
		name: "dropped copy's locality weight still recorded",
		cla: edsCLA(
			edsLoc{loc: loc("r", "a", ""), weight: w(10), eps: []edsEp{{addr: "10.0.0.1", port: 80}}},
			edsLoc{loc: loc("r", "b", ""), weight: w(20), eps: []edsEp{{addr: "10.0.0.2", port: 80}}},
			edsLoc{loc: loc("r", "a", ""), weight: w(30), eps: []edsEp{{addr: "10.0.0.2", port: 80}}},
		),
		hosts:     []string{"10.0.0.1:80 P0 r/a/", "10.0.0.2:80 P0 r/b/"},
		sets:      []hostSetView{{Localities: []string{"r/a/", "r/b/"}, Hosts: []int{1, 1}, Weights: []uint32{30, 20}}},
		load:      []uint32{100},
		stateLocW: map[string]uint32{"10.0.0.1:80": 30, "10.0.0.2:80": 20},
	}, {
		// An unset load_balancing_weight records nothing: the weight set
		// earlier for the locality stays (initializePriorityFor requires
		// has_load_balancing_weight()).
		name: "unset locality weight does not override",
		cla: edsCLA(
			edsLoc{loc: loc("r", "a", ""), weight: w(10), eps: []edsEp{{addr: "10.0.0.1", port: 80}}},
			edsLoc{loc: loc("r", "a", ""), eps: []edsEp{{addr: "10.0.0.2", port: 80}}},
		),
		hosts:     []string{"10.0.0.1:80 P0 r/a/", "10.0.0.2:80 P0 r/a/"},
		sets:      []hostSetView{{Localities: []string{"r/a/"}, Hosts: []int{2}, Weights: []uint32{10}}},
		load:      []uint32{100},
		stateLocW: map[string]uint32{"10.0.0.1:80": 10, "10.0.0.2:80": 10},
	}, {
		// A LocalityLbEndpoints without a locality records no weight
		// (has_locality() is false): its group has weight 0.
		name: "no locality: weight not recorded",
		cla: edsCLA(
			edsLoc{weight: w(7), eps: []edsEp{{addr: "10.0.0.1", port: 80}}},
		),
		hosts: []string{"10.0.0.1:80 P0 //"},
		sets:  []hostSetView{{Localities: []string{"//"}, Hosts: []int{1}, Weights: []uint32{0}}},
		load:  []uint32{100},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, update := range []bool{false, true} {
				var lb *LB
				if update {
					// The same rule on an EDS update (Update → buildLevels).
					lb = vecNew(t, vecCluster(clusterv3.Cluster_ROUND_ROBIN, localityWeighted()), edsCLA(), Options{Seed: 1})
					if err := lb.Update(vecCluster(clusterv3.Cluster_ROUND_ROBIN, localityWeighted()), c.cla); err != nil {
						t.Fatal(err)
					}
				} else {
					lb = vecNew(t, vecCluster(clusterv3.Cluster_ROUND_ROBIN, localityWeighted()), c.cla, Options{Seed: 1})
				}
				if got := keys(lb); !reflect.DeepEqual(got, c.hosts) {
					t.Errorf("update=%v: hosts %v, want %v", update, got, c.hosts)
				}
				if got := len(lb.HostHealth()); got != len(c.hosts) {
					t.Errorf("update=%v: HostHealth has %d hosts, want %d", update, got, len(c.hosts))
				}
				if got := hostSets(lb); !reflect.DeepEqual(got, c.sets) {
					t.Errorf("update=%v: host sets\n%+v\nwant\n%+v", update, got, c.sets)
				}
				if got := lb.PriorityLoad(); !vecEq(got, c.load) {
					t.Errorf("update=%v: priority load %v, want %v", update, got, c.load)
				}
				st := lb.State()
				if len(st.Hosts) != len(c.hosts) {
					t.Errorf("update=%v: State has %d hosts, want %d", update, len(st.Hosts), len(c.hosts))
				}
				for _, h := range st.Hosts {
					if want, ok := c.stateLocW[h.Key()]; ok && h.LocalityWeight != want {
						t.Errorf("update=%v: %s LocalityWeight %d, want %d", update, h.Key(), h.LocalityWeight, want)
					}
					if want, ok := c.stateW[h.Key()]; ok && h.Weight != want {
						t.Errorf("update=%v: %s Weight %d, want %d", update, h.Key(), h.Weight, want)
					}
					if want, ok := c.stateEDS[h.Key()]; ok && h.EDSHealth != want {
						t.Errorf("update=%v: %s EDSHealth %v, want %v", update, h.Key(), h.EDSHealth, want)
					}
				}
				// Every pick lands on a surviving host.
				for _, k := range vecPicks(t, lb, 20) {
					if _, ok := lb.HostHealth()[k]; !ok {
						t.Errorf("update=%v: picked %s, not a host", update, k)
					}
				}
			}
		})
	}
}

// TestEDSDuplicateOrderChangeOnUpdate: which copy survives is decided anew
// on every update, by the new assignment's order (batchUpdate builds
// all_new_hosts per update).
func TestEDSDuplicateOrderChangeOnUpdate(t *testing.T) {
	c := vecCluster(clusterv3.Cluster_ROUND_ROBIN, localityWeighted())
	a := edsLoc{loc: loc("r", "a", ""), weight: w(1), eps: []edsEp{{addr: "10.0.0.1", port: 80}}}
	b := edsLoc{loc: loc("r", "b", ""), weight: w(5), eps: []edsEp{{addr: "10.0.0.1", port: 80}}}
	lb := vecNew(t, c, edsCLA(a, b), Options{Seed: 1})
	if got := lb.Hosts(); len(got) != 1 || got[0].Locality != "r/a/" {
		t.Fatalf("hosts %v, want the r/a/ copy", got)
	}
	if err := lb.Update(c, edsCLA(b, a)); err != nil {
		t.Fatal(err)
	}
	if got := lb.Hosts(); len(got) != 1 || got[0].Locality != "r/b/" {
		t.Errorf("after reorder: hosts %v, want the r/b/ copy", got)
	}
	if got := hostSets(lb); !reflect.DeepEqual(got, []hostSetView{{Localities: []string{"r/b/"}, Hosts: []int{1}, Weights: []uint32{5}}}) {
		t.Errorf("after reorder: host sets %+v", got)
	}
}
