package envoylb

// Zone aware routing: Predict's shares against figures derived by hand from
// load_balancer_impl.cc (calculateLocalityPercentages in 1/10000 units,
// local_percent_to_route_ = upstream% × 10000 / local%, residual capacity
// = upstream% − local% where positive), and Do's picks against Predict.

import (
	"math"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func withZoneAware(c *clusterv3.Cluster, routing float64, minSize uint64, failOnPanic bool) *clusterv3.Cluster {
	c.CommonLbConfig.LocalityConfigSpecifier = &clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig_{
		ZoneAwareLbConfig: &clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig{
			RoutingEnabled: &typev3.Percent{Value: routing}, MinClusterSize: wrapperspb.UInt64(minSize),
			FailTrafficOnPanic: failOnPanic}}
	return c
}

func TestPredictZoneAware(t *testing.T) {
	rr := func() *clusterv3.Cluster { return makeCluster(clusterv3.Cluster_ROUND_ROBIN) }
	for _, tc := range []struct {
		name     string
		cluster  *clusterv3.Cluster
		upstream []group
		local    []group // nil = no local cluster
		zone     string
		state    string
		localPct float64
		want     map[string]float64
		nhu      float64
	}{
		{
			// Local A 2/6 = 3333, upstream A 1/8 = 1250: 1250×10000/3333 = 3750
			// stay. Residuals: C 3750−1666 = 2084, D 2084, E 1250−0 = 1250
			// (total 5418), B has no upstream host.
			name: "residuals (ZoneAwareResidualsMismatched's hosts)", cluster: withZoneAware(rr(), 100, 6, false),
			upstream: []group{{zone: "a", healthy: 1}, {zone: "c", healthy: 3}, {zone: "d", healthy: 3}, {zone: "e", healthy: 1}},
			local:    []group{{zone: "a", healthy: 2}, {zone: "b", healthy: 2}, {zone: "c", healthy: 1}, {zone: "d", healthy: 1}},
			zone:     "a", state: "LocalityResidual", localPct: 0.375,
			want: map[string]float64{"r/a/": 0.375, "r/c/": 0.625 * 2084 / 5418, "r/d/": 0.625 * 2084 / 5418, "r/e/": 0.625 * 1250 / 5418},
		},
		{
			// Balanced: 3333 upstream ≥ 3333 local → LocalityDirect.
			name: "balanced callers and upstreams: all local", cluster: withZoneAware(rr(), 100, 6, false),
			upstream: []group{{zone: "a", healthy: 2}, {zone: "b", healthy: 2}, {zone: "c", healthy: 2}},
			local:    []group{{zone: "a", healthy: 2}, {zone: "b", healthy: 2}, {zone: "c", healthy: 2}},
			zone:     "b", state: "LocalityDirect", localPct: 1,
			want: map[string]float64{"r/a/": 0, "r/b/": 1, "r/c/": 0},
		},
		{
			// Default cluster config (no zone_aware_lb_config): routing 100%,
			// min_cluster_size 6 ≤ 6; b 3333 upstream ≥ 3333 local.
			name: "defaults apply without zone_aware_lb_config", cluster: rr(),
			upstream: []group{{zone: "a", healthy: 2}, {zone: "b", healthy: 2}, {zone: "c", healthy: 2}},
			local:    []group{{zone: "a", healthy: 1}, {zone: "b", healthy: 1}, {zone: "c", healthy: 1}},
			zone:     "b", state: "LocalityDirect", localPct: 1,
			want: map[string]float64{"r/a/": 0, "r/b/": 1, "r/c/": 0},
		},
		{
			name: "min_cluster_size above the healthy upstream hosts", cluster: withZoneAware(rr(), 100, 7, false),
			upstream: []group{{zone: "a", healthy: 2}, {zone: "b", healthy: 2}, {zone: "c", healthy: 2}},
			local:    []group{{zone: "a", healthy: 2}, {zone: "b", healthy: 2}, {zone: "c", healthy: 2}},
			zone:     "b", state: "NoLocalityRouting",
			want: map[string]float64{"r/a/": 1.0 / 3, "r/b/": 1.0 / 3, "r/c/": 1.0 / 3},
		},
		{
			// featureEnabled(routing_enabled 50): half the picks zone aware
			// (all local), half over all healthy hosts (1/3 each).
			name: "routing_enabled 50%", cluster: withZoneAware(rr(), 50, 6, false),
			upstream: []group{{zone: "a", healthy: 2}, {zone: "b", healthy: 2}, {zone: "c", healthy: 2}},
			local:    []group{{zone: "a", healthy: 2}, {zone: "b", healthy: 2}, {zone: "c", healthy: 2}},
			zone:     "b", state: "LocalityDirect", localPct: 1,
			want: map[string]float64{"r/a/": 1.0 / 6, "r/b/": 0.5 + 1.0/6, "r/c/": 1.0 / 6},
		},
		{
			name: "routing_enabled 0% (istiod's enabled: false)", cluster: withZoneAware(rr(), 0, 6, false),
			upstream: []group{{zone: "a", healthy: 2}, {zone: "b", healthy: 2}, {zone: "c", healthy: 2}},
			local:    []group{{zone: "a", healthy: 2}, {zone: "b", healthy: 2}, {zone: "c", healthy: 2}},
			zone:     "b", state: "LocalityDirect", localPct: 1,
			want: map[string]float64{"r/a/": 1.0 / 3, "r/b/": 1.0 / 3, "r/c/": 1.0 / 3},
		},
		{
			name: "no local cluster", cluster: withZoneAware(rr(), 100, 1, false),
			upstream: []group{{zone: "a", healthy: 1}, {zone: "b", healthy: 3}},
			zone:     "a", state: "NoLocalityRouting",
			want: map[string]float64{"r/a/": 0.25, "r/b/": 0.75},
		},
		{
			// Local host set 1 of 4 healthy (25% < 50%): in panic, so with
			// fail_traffic_on_panic no host; percentages use the 1 healthy
			// local host (zone a: 10000 local vs 5000 upstream).
			name: "local cluster in panic with fail_traffic_on_panic", cluster: withZoneAware(rr(), 100, 1, true),
			upstream: []group{{zone: "a", healthy: 1}, {zone: "b", healthy: 1}},
			local:    []group{{zone: "a", healthy: 1, unhealthy: 1}, {zone: "b", unhealthy: 2}},
			zone:     "a", state: "LocalityResidual", localPct: 0.5,
			want: map[string]float64{"r/a/": 0, "r/b/": 0}, nhu: 1,
		},
		{
			// 2 of 6 healthy (33% < 50%): priority 0 in panic and, with
			// fail_traffic_on_panic, hostSourceToUse returns no host
			// (RoundRobinLoadBalancerTest.MaxUnhealthyPanicDisableOnPanic).
			name: "priority panic with fail_traffic_on_panic", cluster: withZoneAware(rr(), 100, 6, true),
			upstream: []group{{zone: "a", healthy: 1, unhealthy: 3}, {zone: "b", healthy: 1, unhealthy: 1}},
			zone:     "a", state: "NoLocalityRouting",
			want: map[string]float64{"r/a/": 0, "r/b/": 0}, nhu: 1,
		},
		{
			// Half the callers in a, a quarter of the upstream hosts: 2500×10000
			// /5000 = 5000 stay; residuals b 5000−2500 = 2500, c 2500−2500 = 0.
			name: "docs example: 50% of callers, 25% of upstreams", cluster: withZoneAware(rr(), 100, 4, false),
			upstream: []group{{zone: "a", healthy: 1}, {zone: "b", healthy: 2}, {zone: "c", healthy: 1}},
			local:    []group{{zone: "a", healthy: 2}, {zone: "b", healthy: 1}, {zone: "c", healthy: 1}},
			zone:     "a", state: "LocalityResidual", localPct: 0.5,
			want: map[string]float64{"r/a/": 0.5, "r/b/": 0.5, "r/c/": 0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := PredictOptions{LocalLocality: "r/" + tc.zone + "/"}
			if tc.local != nil {
				opts.LocalCluster = makeCLA(tc.local...)
			}
			p, err := Predict(tc.cluster, makeCLA(tc.upstream...), opts)
			if err != nil {
				t.Fatal(err)
			}
			if p.ZoneAware.State != tc.state {
				t.Errorf("state %s (%s), want %s", p.ZoneAware.State, p.ZoneAware.Reason, tc.state)
			}
			if tc.state != "NoLocalityRouting" && !near(p.ZoneAware.LocalPercentToRoute, tc.localPct) {
				t.Errorf("local percent to route %.6f, want %.6f", p.ZoneAware.LocalPercentToRoute, tc.localPct)
			}
			got := p.ByLocality()
			for l, w := range tc.want {
				if !near(got[l], w) {
					t.Errorf("%s: share %.6f, want %.6f (all %v)", l, got[l], w, got)
				}
			}
			if !near(p.NoHealthyUpstream, tc.nhu) {
				t.Errorf("no healthy upstream %.4f, want %.4f", p.NoHealthyUpstream, tc.nhu)
			}
			if tc.local == nil {
				return
			}
			// The same shares from picks (Do with the model's own RNG).
			lb, err := New(tc.cluster, makeCLA(tc.upstream...), Options{Seed: 7, LocalLocality: opts.LocalLocality})
			if err != nil {
				t.Fatal(err)
			}
			if err := lb.SetLocalCluster(opts.LocalCluster); err != nil {
				t.Fatal(err)
			}
			const n = 20000
			count, nhu := map[string]float64{}, 0.0
			for range n {
				_, h, err := lb.Do(func(Host) Attempt { return Attempt{Status: 200} })
				if err != nil {
					nhu++
					continue
				}
				count[h.Locality]++
			}
			for l, w := range tc.want {
				if math.Abs(count[l]/n-w) > 0.015 {
					t.Errorf("picks: %s %.4f, predicted %.4f", l, count[l]/n, w)
				}
			}
			if math.Abs(nhu/n-tc.nhu) > 0.015 {
				t.Errorf("picks: no healthy upstream %.4f, predicted %.4f", nhu/n, tc.nhu)
			}
			if lp := lb.Prediction(); !near(lp.ByLocality()["r/"+tc.zone+"/"], got["r/"+tc.zone+"/"]) {
				t.Errorf("LB.Prediction %v differs from Predict %v", lp.ByLocality(), got)
			}
		})
	}
}

// TestZoneAwareRegenerates: the routing structures follow upstream EDS
// updates, outlier-free health changes and local cluster updates
// (regenerateLocalityRoutingStructures runs on priority 0 and local
// priority set updates), and SetLocalCluster(nil) turns routing off.
func TestZoneAwareRegenerates(t *testing.T) {
	c := withZoneAware(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 100, 1, false)
	up := makeCLA(group{zone: "a", healthy: 2}, group{zone: "b", healthy: 2})
	local := makeCLA(group{zone: "a", healthy: 1}, group{zone: "b", healthy: 1})
	lb, err := New(c, up, Options{Seed: 1, Workers: 2, LocalLocality: "r/a/"})
	if err != nil {
		t.Fatal(err)
	}
	if s := lb.Prediction().ZoneAware.State; s != "NoLocalityRouting" {
		t.Fatalf("before SetLocalCluster: %s", s)
	}
	if err := lb.SetLocalCluster(local); err != nil {
		t.Fatal(err)
	}
	if z := lb.Prediction().ZoneAware; z.State != "LocalityDirect" {
		t.Fatalf("balanced: %s (%s)", z.State, z.Reason)
	}
	if got := lb.LBStats()["lb_recalculate_zone_structures"]; got != 2 {
		t.Errorf("lb_recalculate_zone_structures %d, want 2 (one per worker)", got)
	}
	// One of zone a's upstream hosts goes UNHEALTHY over EDS: a holds 1/3
	// of the healthy upstreams (3333) for 1/2 of the callers (5000):
	// 3333×10000/5000 = 6666 stay local.
	up.Endpoints[0].LbEndpoints[0].HealthStatus = vU
	if err := lb.Update(c, up); err != nil {
		t.Fatal(err)
	}
	if z := lb.Prediction().ZoneAware; z.State != "LocalityResidual" || !near(z.LocalPercentToRoute, 0.6666) {
		t.Fatalf("after a's host went unhealthy: %s %.4f", z.State, z.LocalPercentToRoute)
	}
	// A third caller in zone b: a holds 1/3 of callers (3333) and 3333 of
	// the upstreams → direct again.
	if err := lb.SetLocalCluster(makeCLA(group{zone: "a", healthy: 1}, group{zone: "b", healthy: 2})); err != nil {
		t.Fatal(err)
	}
	if z := lb.Prediction().ZoneAware; z.State != "LocalityDirect" {
		t.Fatalf("after the local cluster grew in b: %s", z.State)
	}
	if err := lb.SetLocalCluster(nil); err != nil {
		t.Fatal(err)
	}
	if z := lb.Prediction().ZoneAware; z.State != "NoLocalityRouting" || z.LocalCluster {
		t.Fatalf("after SetLocalCluster(nil): %+v", z)
	}
}

// TestZoneAwareFollowsOutlierEjection: an ejection changes priority 0's
// healthy hosts, so the priority update callback regenerates the zone
// aware structures (ZoneAwareLoadBalancerBase constructor's
// addPriorityUpdateCb). Upstream a 2, b 2, c 2; callers 1 per zone; the
// sidecar in a. Before: 3333 ≥ 3333, LocalityDirect. After one of a's
// hosts is ejected: a holds 1/5 = 2000 of the healthy upstreams for 3333
// of the callers, 2000 × 10000 / 3333 = 6000 stay local; b and c have
// 4000 − 3333 = 667 residual each, 20% of the picks each.
func TestZoneAwareFollowsOutlierEjection(t *testing.T) {
	c := withOutlier(withZoneAware(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 100, 1, false), 5, 100)
	up := makeCLA(group{zone: "a", healthy: 2}, group{zone: "b", healthy: 2}, group{zone: "c", healthy: 2})
	lb := mustNew(t, c, up, Options{Seed: 3, LocalLocality: "r/a/"})
	if err := lb.SetLocalCluster(makeCLA(group{zone: "a", healthy: 1}, group{zone: "b", healthy: 1}, group{zone: "c", healthy: 1})); err != nil {
		t.Fatal(err)
	}
	if z := lb.Prediction().ZoneAware; z.State != "LocalityDirect" {
		t.Fatalf("before: %s (%s)", z.State, z.Reason)
	}
	bad := lb.Hosts()[0] // zone a
	for i := 0; i < 50 && lb.HostHealth()[bad.Key()] != "EJECTED"; i++ {
		_, _, _ = lb.Do(func(h Host) Attempt {
			if h == bad {
				return Attempt{Status: 503}
			}
			return Attempt{Status: 200}
		})
	}
	if lb.HostHealth()[bad.Key()] != "EJECTED" {
		t.Fatal("zone a's failing host was not ejected")
	}
	p := lb.Prediction()
	if z := p.ZoneAware; z.State != "LocalityResidual" || !near(z.LocalPercentToRoute, 0.6) {
		t.Fatalf("after ejection: %s %.4f", z.State, z.LocalPercentToRoute)
	}
	got := p.ByLocality()
	for l, w := range map[string]float64{"r/a/": 0.6, "r/b/": 0.2, "r/c/": 0.2} {
		if !near(got[l], w) {
			t.Errorf("%s: %.4f, want %.4f", l, got[l], w)
		}
	}
}
