package envoylb

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	previoushostsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// group describes one LocalityLbEndpoints for tests.
type group struct {
	priority  uint32
	zone      string
	weight    uint32
	healthy   int
	unhealthy int
}

func makeCLA(groups ...group) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: "outbound|80||svc"}
	n := 0
	for _, g := range groups {
		lle := &endpointv3.LocalityLbEndpoints{
			Locality: &corev3.Locality{Region: "r", Zone: g.zone},
			Priority: g.priority,
		}
		if g.weight > 0 {
			lle.LoadBalancingWeight = wrapperspb.UInt32(g.weight)
		}
		for i := 0; i < g.healthy+g.unhealthy; i++ {
			n++
			st := corev3.HealthStatus_HEALTHY
			if i >= g.healthy {
				st = corev3.HealthStatus_UNHEALTHY
			}
			lle.LbEndpoints = append(lle.LbEndpoints, &endpointv3.LbEndpoint{
				HealthStatus: st,
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Address:       fmt.Sprintf("10.%d.%d.%d", n/65536, n/256%256, n%256),
						PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080},
					}}},
				}},
			})
		}
		cla.Endpoints = append(cla.Endpoints, lle)
	}
	return cla
}

func makeCluster(policy clusterv3.Cluster_LbPolicy) *clusterv3.Cluster {
	return &clusterv3.Cluster{Name: "outbound|80||svc", LbPolicy: policy, CommonLbConfig: &clusterv3.Cluster_CommonLbConfig{}}
}

func withPanic(c *clusterv3.Cluster, pct float64) *clusterv3.Cluster {
	c.CommonLbConfig.HealthyPanicThreshold = &typev3.Percent{Value: pct}
	return c
}

func withLocalityLB(c *clusterv3.Cluster) *clusterv3.Cluster {
	c.CommonLbConfig.LocalityConfigSpecifier = &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{
		LocalityWeightedLbConfig: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig{},
	}
	return c
}

func withOutlier(c *clusterv3.Cluster, consec, maxPct uint32) *clusterv3.Cluster {
	c.OutlierDetection = &clusterv3.OutlierDetection{
		EnforcingSuccessRate: wrapperspb.UInt32(0), // as istiod sets it
		Consecutive_5Xx:      wrapperspb.UInt32(consec),
		BaseEjectionTime:     durationpb.New(30 * time.Second),
		Interval:             durationpb.New(10 * time.Second),
	}
	if maxPct > 0 {
		c.OutlierDetection.MaxEjectionPercent = wrapperspb.UInt32(maxPct)
	}
	return c
}

func mustNew(t testing.TB, c *clusterv3.Cluster, cla *endpointv3.ClusterLoadAssignment, opts Options) *LB {
	t.Helper()
	lb, err := New(c, cla, opts)
	if err != nil {
		t.Fatal(err)
	}
	return lb
}

func ok(Host) Attempt { return Attempt{Status: 200} }

// picks runs n requests answering 200 and counts served hosts by key.
func picks(t testing.TB, lb *LB, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		_, h, err := lb.Do(ok)
		if err != nil {
			t.Fatal(err)
		}
		got[h.Key()]++
	}
	return got
}

func eqLoad(a, b []uint32) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// Envoy's documented 2-priority table, P=1 100% healthy
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/priority).
func TestPriorityLoadTwoLevels(t *testing.T) {
	for _, tc := range []struct {
		p0   int
		want []uint32
	}{
		{100, []uint32{100, 0}},
		{72, []uint32{100, 0}},
		{71, []uint32{99, 1}},
		{50, []uint32{70, 30}},
		{25, []uint32{35, 65}},
		{0, []uint32{0, 100}},
	} {
		cla := makeCLA(group{priority: 0, healthy: tc.p0, unhealthy: 100 - tc.p0}, group{priority: 1, healthy: 100})
		lb := mustNew(t, makeCluster(clusterv3.Cluster_ROUND_ROBIN), cla, Options{Seed: 1})
		if got := lb.PriorityLoad(); !eqLoad(got, tc.want) {
			t.Errorf("P0 %d%% healthy: load %v, want %v", tc.p0, got, tc.want)
		}
	}
	// Traffic actually follows the load: 50% healthy P0 → 70/30.
	lb := mustNew(t, makeCluster(clusterv3.Cluster_ROUND_ROBIN),
		makeCLA(group{priority: 0, healthy: 5, unhealthy: 5}, group{priority: 1, healthy: 10}), Options{Seed: 7})
	var p0 int
	const n = 20000
	for i := 0; i < n; i++ {
		_, h, err := lb.Do(ok)
		if err != nil {
			t.Fatal(err)
		}
		if h.Priority == 0 {
			p0++
		}
	}
	if frac := float64(p0) / n; frac < 0.68 || frac > 0.72 {
		t.Errorf("P0 traffic fraction %.3f, want ≈0.70", frac)
	}
}

// Envoy's documented normalisation and 3-priority tables. The documented tables
// ignore panic mode, so the panic threshold is disabled here.
func TestPriorityLoadThreeLevels(t *testing.T) {
	for _, tc := range []struct {
		h    [3]int
		want []uint32
	}{
		{[3]int{100, 100, 100}, []uint32{100, 0, 0}},
		{[3]int{72, 72, 100}, []uint32{100, 0, 0}},
		{[3]int{71, 71, 100}, []uint32{99, 1, 0}},
		{[3]int{50, 50, 100}, []uint32{70, 30, 0}},
		{[3]int{25, 100, 100}, []uint32{35, 65, 0}},
		{[3]int{25, 25, 100}, []uint32{35, 35, 30}},
		// Docs show 36/36/28 (exact arithmetic); Envoy's integer arithmetic gives
		// 35/35/28 and adds the 2% remainder to the first healthy priority.
		{[3]int{25, 25, 20}, []uint32{37, 35, 28}},
	} {
		var gs []group
		for p, h := range tc.h {
			gs = append(gs, group{priority: uint32(p), healthy: h, unhealthy: 100 - h})
		}
		lb := mustNew(t, withPanic(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 0), makeCLA(gs...), Options{})
		if got := lb.PriorityLoad(); !eqLoad(got, tc.want) {
			t.Errorf("health %v: load %v, want %v", tc.h, got, tc.want)
		}
	}
	// 2 levels at 25%/25%: health {35,35} normalised to 50/50.
	lb := mustNew(t, withPanic(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 0),
		makeCLA(group{priority: 0, healthy: 25, unhealthy: 75}, group{priority: 1, healthy: 25, unhealthy: 75}), Options{})
	if got := lb.PriorityLoad(); !eqLoad(got, []uint32{50, 50}) {
		t.Errorf("25/25: load %v, want [50 50]", got)
	}
	// With the default 50% panic threshold, 25/25/20 puts every level in panic
	// and Envoy distributes by host count.
	lb = mustNew(t, makeCluster(clusterv3.Cluster_ROUND_ROBIN),
		makeCLA(group{priority: 0, healthy: 25, unhealthy: 75}, group{priority: 1, healthy: 25, unhealthy: 75},
			group{priority: 2, healthy: 20, unhealthy: 80}), Options{})
	if got := lb.PriorityLoad(); !eqLoad(got, []uint32{34, 33, 33}) {
		t.Errorf("total panic: load %v, want [34 33 33]", got)
	}
	// Documented panic table row: P0 5%, P1 65% → normalized 98, P0 in panic.
	// Docs show 7/93; Envoy's integer arithmetic gives 7/92 plus the 1%
	// remainder on the first healthy priority = 8/92.
	lb = mustNew(t, makeCluster(clusterv3.Cluster_ROUND_ROBIN),
		makeCLA(group{priority: 0, healthy: 5, unhealthy: 95}, group{priority: 1, healthy: 65, unhealthy: 35}), Options{})
	if got := lb.PriorityLoad(); !eqLoad(got, []uint32{8, 92}) {
		t.Errorf("5/65: load %v, want [8 92]", got)
	}
	if !lb.prio.panic[0] || lb.prio.panic[1] {
		t.Errorf("5/65: panic = %v/%v, want true/false", lb.prio.panic[0], lb.prio.panic[1])
	}
}

func TestPanicThreshold(t *testing.T) {
	cla := makeCLA(group{priority: 0, healthy: 4, unhealthy: 6})
	health := func(lb *LB) map[string]string { return lb.HostHealth() }

	lb := mustNew(t, makeCluster(clusterv3.Cluster_LEAST_REQUEST), cla, Options{Seed: 3})
	got := picks(t, lb, 5000)
	hh := health(lb)
	unhealthy := 0
	for k, n := range got {
		if hh[k] == "UNHEALTHY" {
			unhealthy += n
		}
	}
	if len(got) != 10 || unhealthy < 2500 || unhealthy > 3500 {
		t.Errorf("panic mode: %d hosts used, %d picks on unhealthy; want all 10 hosts, ≈3000", len(got), unhealthy)
	}

	lb = mustNew(t, withPanic(makeCluster(clusterv3.Cluster_LEAST_REQUEST), 0), cla, Options{Seed: 3})
	got = picks(t, lb, 5000)
	hh = health(lb)
	for k := range got {
		if hh[k] != "HEALTHY" {
			t.Errorf("panic disabled: picked %s (%s)", k, hh[k])
		}
	}
	if len(got) != 4 {
		t.Errorf("panic disabled: %d hosts used, want 4", len(got))
	}
}

func localityCounts(t *testing.T, lb *LB, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for i := 0; i < n; i++ {
		_, h, err := lb.Do(ok)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Locality]++
	}
	return out
}

func TestLocalityWeighted(t *testing.T) {
	cla := makeCLA(group{zone: "a", weight: 90, healthy: 3}, group{zone: "b", weight: 10, healthy: 3})
	lb := mustNew(t, withLocalityLB(makeCluster(clusterv3.Cluster_LEAST_REQUEST)), cla, Options{Seed: 1})
	got := localityCounts(t, lb, 10000)
	// Deterministic WRR: exact within ±1 per worker.
	if d := got["r/a/"] - 9000; d < -2 || d > 2 {
		t.Errorf("locality counts %v, want 9000/1000 ±2", got)
	}

	// Unhealthy hosts reduce effective weight: zone a 1/3 healthy →
	// 90×min(1,1.4/3)=42, zone b 10 → 42/52 ≈ 80.8%. Panic threshold disabled
	// (P0 4/6 healthy is above 50% anyway).
	cla2 := makeCLA(group{zone: "a", weight: 90, healthy: 1, unhealthy: 2}, group{zone: "b", weight: 10, healthy: 3})
	lb = mustNew(t, withLocalityLB(makeCluster(clusterv3.Cluster_ROUND_ROBIN)), cla2, Options{Seed: 1})
	got = localityCounts(t, lb, 5200)
	if d := got["r/a/"] - 4200; d < -2 || d > 2 {
		t.Errorf("effective weights: counts %v, want 4200/1000 ±2", got)
	}

	// Without locality_weighted_lb_config weights are ignored: uniform over hosts.
	lb = mustNew(t, makeCluster(clusterv3.Cluster_LEAST_REQUEST), cla, Options{Seed: 1})
	hosts := picks(t, lb, 12000)
	if len(hosts) != 6 {
		t.Fatalf("want 6 hosts, got %v", hosts)
	}
	for k, n := range hosts {
		if n < 1800 || n > 2200 {
			t.Errorf("host %s got %d picks, want ≈2000", k, n)
		}
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestOutlierDetection(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	cla := makeCLA(group{healthy: 3})
	// One worker: round robin (started at the worker's random seed_) then
	// visits every host in any 3 consecutive requests.
	lb := mustNew(t, withOutlier(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 1, 100), cla,
		Options{Seed: 1, Workers: 1, Clock: clk.Now, Retry: &RetryPolicy{}})
	bad := lb.Hosts()[0].Key()
	failing := true
	send := func(h Host) Attempt {
		if failing && h.Key() == bad {
			return Attempt{Status: 500}
		}
		return Attempt{Status: 200}
	}
	clk.Add(5 * time.Second) // eject between ticks
	for i := 0; i < 3; i++ {
		if _, _, err := lb.Do(send); err != nil {
			t.Fatal(err)
		}
	}
	if got := lb.HostHealth()[bad]; got != "EJECTED" {
		t.Fatalf("%s health %q, want EJECTED", bad, got)
	}
	if got := picks(t, lb, 100); got[bad] != 0 || len(got) != 2 {
		t.Errorf("ejected host still picked: %v", got)
	}
	failing = false
	// Ejected at t+5s for 30s: unejected at the first tick at or after t+35s, i.e. t+40s.
	clk.Add(34 * time.Second) // t+39s
	if got := lb.HostHealth()[bad]; got != "EJECTED" {
		t.Errorf("at t+39s health %q, want EJECTED", got)
	}
	clk.Add(time.Second) // t+40s
	if got := lb.HostHealth()[bad]; got != "HEALTHY" {
		t.Errorf("at t+40s health %q, want HEALTHY", got)
	}
	if got := picks(t, lb, 90); got[bad] != 30 {
		t.Errorf("unejected host picks %v, want 30 of 90", got)
	}
	// Second ejection lasts 2 × base_ejection_time.
	failing = true
	for i := 0; i < 3; i++ {
		lb.Do(send)
	}
	failing = false
	if got := lb.HostHealth()[bad]; got != "EJECTED" {
		t.Fatalf("second ejection: health %q", got)
	}
	clk.Add(50 * time.Second) // t+90s, ejected at t+40s, needs 60s
	if got := lb.HostHealth()[bad]; got != "EJECTED" {
		t.Errorf("second ejection at +50s: health %q, want EJECTED", got)
	}
	clk.Add(10 * time.Second)
	if got := lb.HostHealth()[bad]; got != "HEALTHY" {
		t.Errorf("second ejection at +60s: health %q, want HEALTHY", got)
	}

	// Update keeps outlier state of hosts that remain.
	failing = true
	for i := 0; i < 3; i++ {
		lb.Do(send)
	}
	if err := lb.Update(withOutlier(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 1, 100), makeCLA(group{healthy: 4})); err != nil {
		t.Fatal(err)
	}
	if got := lb.HostHealth(); got[bad] != "EJECTED" || len(got) != 4 {
		t.Errorf("after Update: %v", got)
	}
}

func TestOutlierMaxEjectionPercent(t *testing.T) {
	c := makeCluster(clusterv3.Cluster_ROUND_ROBIN)
	c.OutlierDetection = &clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(1), EnforcingSuccessRate: wrapperspb.UInt32(0)} // default 10%
	lb := mustNew(t, c, makeCLA(group{healthy: 9}), Options{Seed: 1, Retry: &RetryPolicy{}})
	for i := 0; i < 50; i++ {
		lb.Do(func(Host) Attempt { return Attempt{Status: 503} })
	}
	for k, v := range lb.HostHealth() {
		if v != "HEALTHY" {
			t.Errorf("%s = %s; 1/9 = 11%% > 10%% so nothing may be ejected", k, v)
		}
	}
	// With 10 hosts exactly one may be ejected.
	lb = mustNew(t, c, makeCLA(group{healthy: 10}), Options{Seed: 1, Retry: &RetryPolicy{}})
	for i := 0; i < 50; i++ {
		lb.Do(func(Host) Attempt { return Attempt{Status: 503} })
	}
	ejected := 0
	for _, v := range lb.HostHealth() {
		if v == "EJECTED" {
			ejected++
		}
	}
	if ejected != 1 {
		t.Errorf("10 hosts: %d ejected, want 1", ejected)
	}
}

func TestOutlierMultiPriority(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	lb := mustNew(t, withOutlier(makeCluster(clusterv3.Cluster_LEAST_REQUEST), 1, 100),
		makeCLA(group{priority: 0, zone: "a", healthy: 2}, group{priority: 1, zone: "b", healthy: 2}),
		Options{Seed: 1, Clock: clk.Now, Retry: &RetryPolicy{}})
	send := func(h Host) Attempt {
		if h.Priority == 0 {
			return Attempt{ConnectFailure: true}
		}
		return Attempt{Status: 200}
	}
	for i := 0; i < 50; i++ {
		lb.Do(send)
	}
	if got := lb.PriorityLoad(); !eqLoad(got, []uint32{0, 100}) {
		t.Errorf("load %v, want [0 100]", got)
	}
	for i := 0; i < 100; i++ {
		_, h, err := lb.Do(send)
		if err != nil || h.Priority != 1 {
			t.Fatalf("request went to %+v (%v), want P1", h, err)
		}
	}
	clk.Add(30 * time.Second)
	if got := lb.PriorityLoad(); !eqLoad(got, []uint32{100, 0}) {
		t.Errorf("after base_ejection_time load %v, want [100 0]", got)
	}
}

// istioDefaultRoutePolicy is the retry policy istiod puts on a route without
// VirtualService retries (istio.io/istio pilot/pkg/networking/core/route/retry/retry.go
// DefaultPolicy): 2 retries on
// "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
// no retriable_status_codes, previous_hosts, host_selection_retry_max_attempts 5.
func istioDefaultRoutePolicy() *routev3.RetryPolicy {
	ph, _ := anypb.New(&previoushostsv3.PreviousHostsPredicate{})
	return &routev3.RetryPolicy{
		NumRetries:                    wrapperspb.UInt32(2),
		RetryOn:                       "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
		HostSelectionRetryMaxAttempts: 5,
		RetryHostPredicate: []*routev3.RetryPolicy_RetryHostPredicate{{
			Name:       "envoy.retry_host_predicates.previous_hosts",
			ConfigType: &routev3.RetryPolicy_RetryHostPredicate_TypedConfig{TypedConfig: ph},
		}},
	}
}

func mustRoutePolicy(t *testing.T, rp *routev3.RetryPolicy) *RetryPolicy {
	t.Helper()
	p, err := RetryPolicyFromRoute(rp)
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

// Istio's default route retry policy (retry_state_impl.cc
// wouldRetryFromHeaders / wouldRetryFromReset, mirrored by
// test/common/router/retry_state_impl_test.cc PolicyConnectFailure... and
// PolicyRetriableStatusCodes*): connect failures are retried on another host
// (previous_hosts), a 503 answered by the workload is NOT retried
// (retriable-status-codes with an empty code list), nor is a 500.
func TestRetriesIstioDefault(t *testing.T) {
	cla := makeCLA(group{healthy: 2})
	lb := mustNew(t, makeCluster(clusterv3.Cluster_LEAST_REQUEST), cla,
		Options{Seed: 5, Retry: mustRoutePolicy(t, istioDefaultRoutePolicy())})
	bad := lb.Hosts()[0].Key()
	calls := 0
	for i := 0; i < 200; i++ {
		a, h, err := lb.Do(func(h Host) Attempt {
			calls++
			if h.Key() == bad {
				return Attempt{ConnectFailure: true}
			}
			return Attempt{Status: 200}
		})
		if err != nil || a.Status != 200 || h.Key() == bad {
			t.Fatalf("connect failure: got %+v from %s (%v), want 200 from the other host", a, h.Key(), err)
		}
	}
	if calls <= 200 || calls > 400 {
		t.Errorf("connect failure: %d upstream calls for 200 requests", calls)
	}
	for _, st := range []int{503, 500} {
		calls = 0
		for i := 0; i < 20; i++ {
			a, _, _ := lb.Do(func(Host) Attempt { calls++; return Attempt{Status: st} })
			if a.Status != st {
				t.Fatal(a)
			}
		}
		if calls != 20 {
			t.Errorf("%d retried under Istio's default policy: %d calls for 20 requests", st, calls)
		}
	}
	// refused-stream and gRPC unavailable are retried, 1 + 2 retries.
	for _, fail := range []Attempt{{RefusedStream: true}, {Status: 200, GRPCStatus: 14}} {
		calls = 0
		a, _, err := lb.Do(func(Host) Attempt { calls++; return fail })
		if err != nil || a != fail || calls != 3 {
			t.Errorf("%+v: got %+v %v after %d calls, want 3 calls", fail, a, err, calls)
		}
	}
}

func TestRetries(t *testing.T) {
	cla := makeCLA(group{healthy: 2})
	// retry_on retriable-status-codes with [503]: 1 + 2 retries, final attempt returned.
	rp := istioDefaultRoutePolicy()
	rp.RetriableStatusCodes = []uint32{503}
	lb := mustNew(t, makeCluster(clusterv3.Cluster_LEAST_REQUEST), cla, Options{Seed: 5, Retry: mustRoutePolicy(t, rp)})
	calls := 0
	a, h, err := lb.Do(func(Host) Attempt { calls++; return Attempt{Status: 503} })
	if err != nil || a.Status != 503 || calls != 3 || h.Key() == ":0" {
		t.Errorf("all 503: %+v %v %v calls=%d", a, h, err, calls)
	}
	// Options.Retry nil: no retry policy on the route, no retries.
	lb = mustNew(t, makeCluster(clusterv3.Cluster_LEAST_REQUEST), cla, Options{Seed: 5})
	calls = 0
	lb.Do(func(Host) Attempt { calls++; return Attempt{ConnectFailure: true} })
	if calls != 1 {
		t.Errorf("no retry policy: %d calls", calls)
	}
}

func TestNoHealthyUpstream(t *testing.T) {
	called := false
	send := func(Host) Attempt { called = true; return Attempt{Status: 200} }
	for name, tc := range map[string]struct {
		c   *clusterv3.Cluster
		cla *endpointv3.ClusterLoadAssignment
	}{
		"no endpoints":             {makeCluster(clusterv3.Cluster_ROUND_ROBIN), makeCLA()},
		"empty locality":           {makeCluster(clusterv3.Cluster_ROUND_ROBIN), makeCLA(group{})},
		"all unhealthy, panic off": {withPanic(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 0), makeCLA(group{unhealthy: 3}, group{priority: 1, unhealthy: 2})},
		"locality lb, panic off":   {withPanic(withLocalityLB(makeCluster(clusterv3.Cluster_RANDOM)), 0), makeCLA(group{weight: 1, unhealthy: 3})},
	} {
		lb := mustNew(t, tc.c, tc.cla, Options{})
		a, h, err := lb.Do(send)
		if !errors.Is(err, ErrNoHealthyUpstream) || called || h != (Host{}) || a != (Attempt{}) {
			t.Errorf("%s: got %+v %+v %v (send called %v), want ErrNoHealthyUpstream", name, a, h, err, called)
		}
	}
	// All unhealthy with panic on: panic routes to the hosts anyway, by host count.
	lb := mustNew(t, makeCluster(clusterv3.Cluster_ROUND_ROBIN), makeCLA(group{unhealthy: 3}, group{priority: 1, unhealthy: 1}), Options{})
	if got := lb.PriorityLoad(); !eqLoad(got, []uint32{75, 25}) {
		t.Errorf("all unhealthy, panic on: load %v, want [75 25]", got)
	}
	if _, _, err := lb.Do(send); err != nil {
		t.Errorf("all unhealthy, panic on: %v", err)
	}
}

func TestDeterminism(t *testing.T) {
	seq := func(seed uint64, policy clusterv3.Cluster_LbPolicy) string {
		lb := mustNew(t, withLocalityLB(makeCluster(policy)),
			makeCLA(group{zone: "a", weight: 3, healthy: 3, unhealthy: 1}, group{zone: "b", weight: 1, healthy: 2},
				group{priority: 1, zone: "c", healthy: 2}), Options{Seed: seed, Workers: 3})
		var b strings.Builder
		for i := 0; i < 500; i++ {
			_, h, err := lb.Do(ok)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString(h.Key() + ",")
		}
		return b.String()
	}
	for _, p := range []clusterv3.Cluster_LbPolicy{clusterv3.Cluster_LEAST_REQUEST, clusterv3.Cluster_ROUND_ROBIN, clusterv3.Cluster_RANDOM} {
		if seq(42, p) != seq(42, p) {
			t.Errorf("%s: same seed, different sequences", p)
		}
	}
	if seq(1, clusterv3.Cluster_RANDOM) == seq(2, clusterv3.Cluster_RANDOM) {
		t.Error("different seeds, same sequence")
	}
}

func TestLeastRequestPrefersIdle(t *testing.T) {
	lb := mustNew(t, makeCluster(clusterv3.Cluster_LEAST_REQUEST), makeCLA(group{healthy: 2}), Options{Seed: 9})
	busy := lb.Hosts()[0]
	lb.hosts[busy.Key()].active = 10
	got := picks(t, lb, 1000)
	// P2C picks the busy host only when both samples hit it: ≈25%.
	if n := got[busy.Key()]; n < 200 || n > 300 {
		t.Errorf("busy host picked %d/1000, want ≈250", n)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(nil, makeCLA(), Options{}); err == nil {
		t.Error("nil cluster accepted")
	}
	if _, err := New(makeCluster(clusterv3.Cluster_ROUND_ROBIN), nil, Options{}); err == nil {
		t.Error("nil CLA accepted")
	}
	if _, err := New(makeCluster(clusterv3.Cluster_MAGLEV), makeCLA(), Options{}); err == nil || !strings.Contains(err.Error(), "MAGLEV") {
		t.Errorf("MAGLEV: %v", err)
	}
}

func TestConcurrentDo(t *testing.T) {
	lb := mustNew(t, withOutlier(withLocalityLB(makeCluster(clusterv3.Cluster_LEAST_REQUEST)), 3, 50),
		makeCLA(group{zone: "a", weight: 1, healthy: 3}, group{zone: "b", weight: 1, healthy: 3}), Options{Seed: 1, Workers: 4})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				lb.Do(func(h Host) Attempt {
					if i%7 == 0 {
						return Attempt{Status: 503}
					}
					return Attempt{Status: 200}
				})
			}
		}()
	}
	wg.Wait()
	for k, h := range lb.hosts {
		if h.active != 0 {
			t.Errorf("%s: %d active requests left", k, h.active)
		}
	}
}

func BenchmarkDo(b *testing.B) {
	lb := mustNew(b, withOutlier(withLocalityLB(makeCluster(clusterv3.Cluster_LEAST_REQUEST)), 5, 10),
		makeCLA(group{zone: "a", weight: 9, healthy: 10}, group{zone: "b", weight: 1, healthy: 10},
			group{priority: 1, zone: "c", healthy: 10}), Options{Seed: 1})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := lb.Do(ok); err != nil {
			b.Fatal(err)
		}
	}
}
