package envoylb

// Tests for the rules of each file, each naming the Envoy source and unit
// test it mirrors; expectations come from the Envoy tests' assertions.

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	previousprioritiesv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// --- locality_scheduler.go ↔ source/common/upstream/edf_scheduler.h ---

// test/common/upstream/edf_scheduler_test.cc Unweighted: equal weights give
// plain round robin in insertion order.
func TestEDFUnweighted(t *testing.T) {
	s := &edf[int]{weight: func(int) float64 { return 1 }}
	for i := 0; i < 128; i++ {
		s.add(1, i)
	}
	for r := 0; r < 128; r++ {
		for i := 0; i < 128; i++ {
			if p, _ := s.pickAndAdd(); p != i {
				t.Fatalf("round %d: pick %d, want %d", r, p, i)
			}
		}
	}
}

// edf_scheduler_test.cc Weighted: entry i (weight i+1, re-added with weight
// i+1) is picked i+1 times in Σ(i+1) picks.
func TestEDFWeighted(t *testing.T) {
	const n = 128
	s := &edf[int]{weight: func(i int) float64 { return float64(i + 1) }}
	for i := 0; i < n; i++ {
		s.add(float64(i+1), i)
	}
	count := make([]int, n)
	for i := 0; i < n*(n+1)/2; i++ {
		p, _ := s.pickAndAdd()
		count[p]++
	}
	for i, c := range count {
		if c != i+1 {
			t.Errorf("entry %d picked %d times, want %d", i, c, i+1)
		}
	}
}

// edf_scheduler_test.cc SchedulerWithZeroPicksEqualToEmptyWithAddedEntries and
// SchedulerWithSomePicksEqualToEmptyWithAddedEntries: createWithPicks(P)
// equals an empty scheduler with the entries added and P picks made
// (deadlines within 1e-5, same entries in queue order).
func TestEDFCreateWithPicks(t *testing.T) {
	const n = 128
	var ws []float64
	for i := 0; i < n; i++ {
		ws = append(ws, (100.5-0.01)/n*float64(i)+0.01)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	w := func(i int) float64 { return ws[i] }
	for _, picks := range []uint32{0, 5, 140, 501, 123456, 894571} {
		s1 := &edf[int]{weight: w}
		for i := 0; i < n; i++ {
			s1.add(ws[i], i)
		}
		for i := uint32(0); i < picks; i++ {
			s1.pickAndAdd()
		}
		s2 := newEDFWithPicks(idx, w, picks)
		if len(s1.q) != len(s2.q) {
			t.Fatalf("picks %d: queue sizes %d / %d", picks, len(s1.q), len(s2.q))
		}
		for len(s1.q) > 0 {
			a, b := s1.pop(), s2.pop()
			if d := a.deadline - b.deadline; d > 1e-5 || d < -1e-5 || a.item != b.item {
				t.Fatalf("picks %d: entry %d@%g vs %d@%g", picks, a.item, a.deadline, b.item, b.deadline)
			}
		}
	}
	if s := newEDFWithPicks([]int{}, w, 123); len(s.q) != 0 {
		t.Error("SchedulerWithSomePicksEmptyEntries: not empty")
	}
}

// edf_scheduler_test.cc SchedulerWithRandomPicksFirstPickDistribution: the
// first pick of a scheduler created with a random number of picks follows
// the weights (±1%): this is Envoy's initial-pick behaviour for locality and
// weighted host schedulers.
func TestEDFFirstPickDistribution(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, weights := range [][]float64{{25, 75}, {1, 99}, {50, 50}, {1, 20, 79}} {
		idx := make([]int, len(weights))
		for i := range idx {
			idx[i] = i
		}
		w := func(i int) float64 { return weights[i] }
		const iterations = 400000
		count := make([]int, len(weights))
		for i := 0; i < iterations; i++ {
			s := newEDFWithPicks(idx, w, uint32(rng.Uint64()))
			p, _ := s.pickAndAdd()
			count[p]++
		}
		for i, c := range count {
			if obs := 100 * float64(c) / iterations; obs < weights[i]-1 || obs > weights[i]+1 {
				t.Errorf("weights %v: entry %d first-picked %.2f%%, want %.0f%% ±1", weights, i, obs, weights[i])
			}
		}
	}
}

// --- host_set.go ↔ source/common/upstream/upstream_impl.cc ---

func withStatus(cla *endpointv3.ClusterLoadAssignment, i int, st corev3.HealthStatus) {
	n := 0
	for _, lle := range cla.Endpoints {
		for _, e := range lle.LbEndpoints {
			if n == i {
				e.HealthStatus = st
			}
			n++
		}
	}
}

// DRAINING hosts are excluded (upstream_impl.cc excludeBasedOnHealthFlag,
// unconditional since the exclude_host_in_eds_status_draining guard was
// removed): not healthy, and left out of the denominator of priority health.
// Envoy's documented example
// (docs/root/intro/arch_overview/upstream/load_balancing/excluded.rst):
// P0 {healthy, excluded, excluded}, P1 {healthy, healthy} → all traffic to
// P0, as 1 / (3 − 2) = 1. Had DRAINING counted as an unhealthy host, P0
// health would be 140 × 1/3 = 46 → load [46 54].
func TestDrainingExcluded(t *testing.T) {
	cla := makeCLA(group{healthy: 3}, group{priority: 1, healthy: 2})
	withStatus(cla, 1, corev3.HealthStatus_DRAINING)
	withStatus(cla, 2, corev3.HealthStatus_DRAINING)
	lb := mustNew(t, makeCluster(clusterv3.Cluster_ROUND_ROBIN), cla, Options{Seed: 1})
	if got := lb.PriorityLoad(); !eqLoad(got, []uint32{100, 0}) {
		t.Errorf("P0 1 healthy + 2 draining: load %v, want [100 0]", got)
	}
	got := picks(t, lb, 100)
	if got[lb.Hosts()[0].Key()] != 100 {
		t.Errorf("picks %v, want all on the healthy P0 host", got)
	}
	if hh := lb.HostHealth(); hh[lb.Hosts()[1].Key()] != "DRAINING" {
		t.Errorf("health %v", hh)
	}
}

// DEGRADED hosts get degraded load after healthy load
// (load_balancer_impl_test.cc LoadBalancerBaseTest GentleFailoverWithExtraLevels
// "degraded" rows): P0 1 healthy + 1 degraded of 2 → health 70, degraded 70 →
// normalized 100: healthy load 70, degraded 30.
func TestDegradedLoad(t *testing.T) {
	cla := makeCLA(group{healthy: 2})
	withStatus(cla, 1, corev3.HealthStatus_DEGRADED)
	lb := mustNew(t, makeCluster(clusterv3.Cluster_ROUND_ROBIN), cla, Options{Seed: 1})
	h, d := lb.PriorityLoads()
	if !eqLoad(h, []uint32{70}) || !eqLoad(d, []uint32{30}) {
		t.Errorf("loads %v / %v, want [70] / [30]", h, d)
	}
	got := picks(t, lb, 10000)
	if n := got[lb.Hosts()[1].Key()]; n < 2800 || n > 3200 {
		t.Errorf("degraded host picked %d/10000, want ≈3000", n)
	}
	if st := lb.State(); st.Hosts[1].EDSHealth != corev3.HealthStatus_DEGRADED {
		t.Errorf("State EDSHealth %v", st.Hosts[1].EDSHealth)
	}
}

// --- lb.go ↔ source/common/upstream/cluster_manager_impl.cc (CDS) ---

// addOrUpdateCluster: an identical cluster config is ignored (blockUpdate on
// the config hash) and host/outlier state is kept; a changed config replaces
// the cluster and everything starts fresh. EDS-only updates keep hosts that
// remain. (test/common/upstream/cluster_manager_impl_test.cc
// ClusterManagerImplTest DynamicAddRemove: "update with the same config is a
// no-op", modified cluster → cluster_modified.)
func TestClusterUpdate(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	c := withOutlier(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 1, 100)
	lb := mustNew(t, c, makeCLA(group{healthy: 3}), Options{Seed: 1, Workers: 1, Clock: clk.Now})
	bad := lb.Hosts()[0].Key()
	for i := 0; i < 3; i++ {
		lb.Do(func(h Host) Attempt {
			if h.Key() == bad {
				return Attempt{Status: 500}
			}
			return Attempt{Status: 200}
		})
	}
	if lb.HostHealth()[bad] != "EJECTED" {
		t.Fatal("not ejected")
	}
	if st := lb.State(); !st.Hosts[0].FailedOutlierCheck || st.Hosts[1].FailedOutlierCheck {
		t.Errorf("State FailedOutlierCheck %v/%v, want true/false", st.Hosts[0].FailedOutlierCheck, st.Hosts[1].FailedOutlierCheck)
	}
	// Same Cluster (a new but equal proto), new CLA: EDS update, state kept.
	if err := lb.Update(withOutlier(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 1, 100), makeCLA(group{healthy: 4})); err != nil {
		t.Fatal(err)
	}
	if hh := lb.HostHealth(); hh[bad] != "EJECTED" || len(hh) != 4 {
		t.Errorf("EDS update: %v", hh)
	}
	if s := lb.State(); s.Hosts[0].Stats.RqTotal == 0 {
		t.Error("EDS update reset host stats")
	}
	// Changed Cluster: replaced, fresh host state.
	c2 := withOutlier(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 2, 100)
	if err := lb.Update(c2, makeCLA(group{healthy: 4})); err != nil {
		t.Fatal(err)
	}
	if hh := lb.HostHealth(); hh[bad] != "HEALTHY" {
		t.Errorf("CDS replace: %v", hh)
	}
	if s := lb.State(); s.Hosts[0].Stats.RqTotal != 0 {
		t.Error("CDS replace kept host stats")
	}
}

// --- retry.go ↔ source/common/router/retry_state_impl.cc ---

// test/common/router/retry_state_impl_test.cc: which try outcomes each
// retry_on token retries.
func TestRetryOnDecisions(t *testing.T) {
	reset, refused, connect, timeout := Attempt{Reset: true}, Attempt{RefusedStream: true}, Attempt{ConnectFailure: true}, Attempt{Timeout: true}
	for _, tc := range []struct {
		test, on string
		codes    []int
		a        Attempt
		want     bool
	}{
		{"PolicyRefusedStream", "refused-stream", nil, refused, true},
		{"Policy5xxRemoteReset", "5xx", nil, reset, true},
		{"Policy5xxRemote503", "5xx", nil, Attempt{Status: 503}, true},
		{"PolicyGatewayErrorRemote502", "gateway-error", nil, Attempt{Status: 502}, true},
		{"PolicyGatewayErrorRemote503", "gateway-error", nil, Attempt{Status: 503}, true},
		{"PolicyGatewayErrorRemote504", "gateway-error", nil, Attempt{Status: 504}, true},
		{"PolicyGatewayErrorRemoteReset", "gateway-error", nil, reset, true},
		{"PolicyGrpcCancelled", "cancelled", nil, Attempt{Status: 200, GRPCStatus: 1}, true},
		{"PolicyGrpcDeadlineExceeded", "deadline-exceeded", nil, Attempt{Status: 200, GRPCStatus: 4}, true},
		{"PolicyGrpcResourceExhausted", "resource-exhausted", nil, Attempt{Status: 200, GRPCStatus: 8}, true},
		{"PolicyGrpcUnavilable", "unavailable", nil, Attempt{Status: 200, GRPCStatus: 14}, true},
		{"PolicyGrpcInternal", "internal", nil, Attempt{Status: 200, GRPCStatus: 13}, true},
		{"PolicyConnectFailureOtherReset", "connect-failure", nil, reset, false},
		{"PolicyConnectFailureResetConnectFailure", "connect-failure", nil, connect, true},
		{"PolicyRetriable4xxRetry", "retriable-4xx", nil, Attempt{Status: 409}, true},
		{"PolicyRetriable4xxNoRetry", "retriable-4xx", nil, Attempt{Status: 400}, false},
		{"PolicyRetriable4xxReset", "retriable-4xx", nil, reset, false},
		{"RetriableStatusCodes", "retriable-status-codes", []int{409}, Attempt{Status: 409}, true},
		{"RetriableStatusCodesUpstreamReset", "retriable-status-codes", []int{409}, reset, false},
		{"PolicyResetRemoteReset (reset)", "reset", nil, reset, true},
		// wouldRetryFromReset: a connect failure falls through to the reset /
		// 5xx checks.
		{"wouldRetryFromReset connect failure under 5xx", "5xx", nil, connect, true},
		{"wouldRetryFromReset reset-before-request, connect failure", "reset-before-request", nil, connect, true},
		{"wouldRetryFromReset reset-before-request, request started", "reset-before-request", nil, reset, false},
		// router.cc onPerTryTimeout → maybeRetryReset(LocalReset).
		{"per-try timeout under 5xx", "5xx", nil, timeout, true},
		{"per-try timeout under connect-failure", "connect-failure", nil, timeout, false},
		{"5xx 200", "5xx", nil, Attempt{Status: 200}, false},
	} {
		on, err := ParseRetryOn(tc.on)
		if err != nil {
			t.Fatal(err)
		}
		p := RetryPolicy{NumRetries: 1, RetryOn: on, RetriableStatusCodes: tc.codes}
		if got := p.wouldRetry(tc.a); got != tc.want {
			t.Errorf("%s: retry_on %q, %+v: retry %v, want %v", tc.test, tc.on, tc.a, got, tc.want)
		}
	}
}

// RetryPolicyFromRoute reads Envoy's route retry_policy with its defaults
// (retry_policy_impl.cc: num_retries 1, host_selection_retry_max_attempts 1)
// and refuses what the model cannot do.
func TestRetryPolicyFromRoute(t *testing.T) {
	p, err := RetryPolicyFromRoute(istioDefaultRoutePolicy())
	if err != nil {
		t.Fatal(err)
	}
	want := RetryOnConnectFailure | RetryOnRefusedStream | RetryOnGRPCUnavailable | RetryOnGRPCCancelled | RetryOnRetriableStatusCodes
	if p.NumRetries != 2 || p.RetryOn != want || p.HostSelectionRetryMaxAttempts != 5 || len(p.RetriableStatusCodes) != 0 {
		t.Errorf("Istio default: %+v", p)
	}
	p, err = RetryPolicyFromRoute(&routev3.RetryPolicy{RetryOn: "5xx"})
	if err != nil || p.NumRetries != 1 || p.HostSelectionRetryMaxAttempts != 0 {
		t.Errorf("defaults: %+v %v", p, err)
	}
	pp, _ := anypb.New(&previousprioritiesv3.PreviousPrioritiesConfig{UpdateFrequency: 2})
	p, err = RetryPolicyFromRoute(&routev3.RetryPolicy{
		RetryOn: "gateway-error, reset", PerTryTimeout: durationpb.New(2 * time.Second),
		RetryPriority: &routev3.RetryPolicy_RetryPriority{Name: "envoy.retry_priorities.previous_priorities",
			ConfigType: &routev3.RetryPolicy_RetryPriority_TypedConfig{TypedConfig: pp}},
	})
	if err != nil || !p.PreviousPriorities || p.PreviousPrioritiesUpdateFrequency != 2 || p.PerTryTimeout != 2*time.Second ||
		p.RetryOn != RetryOnGatewayError|RetryOnReset {
		t.Errorf("previous_priorities: %+v %v", p, err)
	}
	for name, rp := range map[string]*routev3.RetryPolicy{
		"unknown token": {RetryOn: "5xx,bogus"},
		"other predicate": {RetryOn: "5xx", RetryHostPredicate: []*routev3.RetryPolicy_RetryHostPredicate{
			{Name: "envoy.retry_host_predicates.omit_canary_hosts"}}},
		"other priority": {RetryOn: "5xx", RetryPriority: &routev3.RetryPolicy_RetryPriority{Name: "x"}},
	} {
		if _, err := RetryPolicyFromRoute(rp); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if p, err := RetryPolicyFromRoute(nil); err != nil || p.NumRetries != 0 || p.RetryOn != 0 {
		t.Errorf("nil route policy: %+v %v", p, err)
	}
}

// test/common/router/router_test.cc RetryNoneHealthy: a retry that finds no
// host ends the request with 503 "no healthy upstream" (UH), not the
// previous try's response.
func TestRetryFindsNoHost(t *testing.T) {
	// Downstream statuses of a last try (router.cc onPerTryTimeout → 504 UT,
	// onUpstreamReset / pool failure → 503).
	for a, want := range map[Attempt]int{{Timeout: true}: 504, {Reset: true}: 503, {ConnectFailure: true}: 503, {Status: 404}: 404} {
		if got := a.DownstreamStatus(); got != want {
			t.Errorf("%+v: downstream %d, want %d", a, got, want)
		}
	}
	c := withPanic(withOutlier(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 1, 100), 0)
	lb := mustNew(t, c, makeCLA(group{healthy: 1}), Options{Seed: 1,
		Retry: &RetryPolicy{NumRetries: 1, RetryOn: RetryOn5xx}})
	tries := 0
	a, _, err := lb.Do(func(Host) Attempt { tries++; return Attempt{Status: 503} })
	if !errors.Is(err, ErrNoHealthyUpstream) || tries != 1 || a != (Attempt{}) {
		t.Errorf("got %+v %v after %d tries, want ErrNoHealthyUpstream after 1", a, err, tries)
	}
}

// --- retry.go ↔ source/extensions/retry/priority/previous_priorities ---

// test/extensions/retry/priority/previous_priorities/config_test.cc, the
// loads asserted by each test, on determinePriorityLoad directly.
func TestPreviousPrioritiesVectors(t *testing.T) {
	type lvl struct{ n, healthy, degraded int }
	mk := func(ls ...lvl) *priorityState {
		var levels []*level
		for p, l := range ls {
			lv := &level{priority: uint32(p)}
			for i := 0; i < l.n; i++ {
				h := &hostState{Host: Host{Priority: uint32(p)}, weight: 1, eds: corev3.HealthStatus_UNHEALTHY}
				switch {
				case i < l.healthy:
					h.eds = corev3.HealthStatus_HEALTHY
				case i < l.healthy+l.degraded:
					h.eds = corev3.HealthStatus_DEGRADED
				}
				lv.hosts = append(lv.hosts, h)
			}
			lv.partition()
			levels = append(levels, lv)
		}
		ps := &priorityState{}
		ps.recalculate(levels, 140, false, 50)
		return ps
	}
	type step struct {
		attempt  uint32
		healthy  []uint32
		degraded []uint32
	}
	for _, tc := range []struct {
		test      string
		freq      int
		levels    []lvl
		origH     []uint32
		origD     []uint32
		steps     []step
		skipFirst bool
	}{
		{"DefaultFrequency", 1, []lvl{{2, 2, 0}, {2, 2, 0}}, []uint32{100, 0}, []uint32{0, 0},
			[]step{{0, []uint32{0, 100}, []uint32{0, 0}}, {1, []uint32{100, 0}, []uint32{0, 0}}}, false},
		{"DefaultFrequencyUnhealthyPriorities", 1, []lvl{{10, 3, 0}, {10, 2, 0}, {10, 10, 0}}, []uint32{42, 28, 30}, []uint32{0, 0, 0},
			[]step{{0, []uint32{0, 28, 72}, []uint32{0, 0, 0}}, {1, []uint32{0, 0, 100}, []uint32{0, 0, 0}},
				{2, []uint32{42, 28, 30}, []uint32{0, 0, 0}}}, false},
		{"DefaultFrequencyUnhealthyPrioritiesDegradedLoad", 1, []lvl{{10, 0, 3}, {10, 0, 2}, {10, 0, 10}}, []uint32{0, 0, 0}, []uint32{42, 28, 30},
			[]step{{0, []uint32{0, 0, 0}, []uint32{0, 28, 72}}, {1, []uint32{0, 0, 0}, []uint32{0, 0, 100}},
				{2, []uint32{0, 0, 0}, []uint32{42, 28, 30}}}, false},
		{"DefaultFrequencyUnhealthyPrioritiesDegradedLoadSpillover", 1, []lvl{{10, 0, 3}, {10, 9, 1}, {10, 2, 0}}, []uint32{0, 100, 0}, []uint32{0, 0, 0},
			[]step{{1, []uint32{0, 0, 40}, []uint32{60, 0, 0}}, {2, []uint32{0, 0, 0}, []uint32{100, 0, 0}},
				{0, []uint32{0, 100, 0}, []uint32{0, 0, 0}}}, false},
		{"OverridenFrequency", 2, []lvl{{2, 2, 0}, {2, 2, 0}}, []uint32{100, 0}, []uint32{0, 0},
			[]step{{0, []uint32{100, 0}, []uint32{0, 0}}, {0, []uint32{0, 100}, []uint32{0, 0}}}, false},
	} {
		ps := mk(tc.levels...)
		if !eqLoad(ps.healthyLoad, tc.origH) || !eqLoad(ps.degradedLoad, tc.origD) {
			t.Errorf("%s: original load %v/%v, want %v/%v", tc.test, ps.healthyLoad, ps.degradedLoad, tc.origH, tc.origD)
			continue
		}
		rs := &retryState{freq: tc.freq}
		if h, d := rs.determinePriorityLoad(ps, len(tc.levels)); !eqLoad(h, tc.origH) || !eqLoad(d, tc.origD) {
			t.Errorf("%s: before attempts %v/%v", tc.test, h, d)
		}
		for i, s := range tc.steps {
			rs.onHostAttempted(&hostState{Host: Host{Priority: s.attempt}}, true)
			h, d := rs.determinePriorityLoad(ps, len(tc.levels))
			if !eqLoad(h, s.healthy) || !eqLoad(d, s.degraded) {
				t.Errorf("%s step %d (attempted P%d): load %v/%v, want %v/%v", tc.test, i, s.attempt, h, d, s.healthy, s.degraded)
			}
		}
	}
}

// previous_priorities through Do: P0 fails, the retry goes to P1
// (config_test.cc DefaultFrequency, Istio's retryRemoteLocalities).
func TestPreviousPrioritiesDo(t *testing.T) {
	lb := mustNew(t, makeCluster(clusterv3.Cluster_ROUND_ROBIN),
		makeCLA(group{priority: 0, healthy: 2}, group{priority: 1, healthy: 2}),
		Options{Seed: 2, Retry: &RetryPolicy{NumRetries: 1, RetryOn: RetryOn5xx, PreviousPriorities: true, PreviousPrioritiesUpdateFrequency: 1}})
	for i := 0; i < 50; i++ {
		var prios []uint32
		a, _, err := lb.Do(func(h Host) Attempt {
			prios = append(prios, h.Priority)
			if h.Priority == 0 {
				return Attempt{Status: 503}
			}
			return Attempt{Status: 200}
		})
		if err != nil || a.Status != 200 || len(prios) != 2 || prios[0] != 0 || prios[1] != 1 {
			t.Fatalf("tries %v → %+v %v, want P0 then P1", prios, a, err)
		}
	}
}

// --- outlier.go ↔ source/common/upstream/outlier_detection_impl.cc ---

type odHarness struct {
	t   *testing.T
	clk *fakeClock
	lb  *LB
}

func newOD(t *testing.T, od *clusterv3.OutlierDetection, hosts int) *odHarness {
	c := makeCluster(clusterv3.Cluster_ROUND_ROBIN)
	c.OutlierDetection = od
	clk := &fakeClock{t: time.Unix(0, 0)}
	return &odHarness{t, clk, mustNew(t, c, makeCLA(group{healthy: hosts}), Options{Seed: 1, Workers: 1, Clock: clk.Now})}
}

// load sends n tries answering a to host i only (other hosts answer 200).
func (o *odHarness) load(i, n int, a Attempt) {
	key := o.lb.Hosts()[i].Key()
	for sent := 0; sent < n; {
		o.lb.Do(func(h Host) Attempt {
			if h.Key() == key {
				sent++
				return a
			}
			return Attempt{Status: 200}
		})
	}
}

func (o *odHarness) ejected(i int) bool { return o.lb.HostHealth()[o.lb.Hosts()[i].Key()] == "EJECTED" }

// BasicFlowGatewayFailure: enforcing_consecutive_gateway_failure defaults to
// 0, so 5 × 503 with consecutive_5xx disabled ejects nothing; with it at 100
// the host is ejected by the 5th gateway error. 500s reset the gateway
// counter (putHttpResponseCode).
func TestOutlierGatewayFailure(t *testing.T) {
	o := newOD(t, &clusterv3.OutlierDetection{EnforcingConsecutive_5Xx: wrapperspb.UInt32(0), MaxEjectionPercent: wrapperspb.UInt32(100)}, 2)
	o.load(0, 10, Attempt{Status: 503})
	if o.ejected(0) {
		t.Error("ejected with enforcing_consecutive_gateway_failure at its default 0")
	}
	o = newOD(t, &clusterv3.OutlierDetection{EnforcingConsecutive_5Xx: wrapperspb.UInt32(0),
		EnforcingConsecutiveGatewayFailure: wrapperspb.UInt32(100), MaxEjectionPercent: wrapperspb.UInt32(100)}, 2)
	o.load(0, 4, Attempt{Status: 503})
	o.load(0, 1, Attempt{Status: 500}) // resets the gateway counter, not the 5xx one
	o.load(0, 4, Attempt{Status: 502})
	if o.ejected(0) {
		t.Error("ejected after a non-gateway 5xx reset the gateway counter")
	}
	o.load(0, 1, Attempt{Timeout: true}) // per-try timeout reports 504
	if !o.ejected(0) {
		t.Error("not ejected after 5 consecutive gateway errors")
	}
}

// BasicFlowLocalOriginFailure: with split_external_local_origin_errors,
// connect failures only feed consecutive_local_origin_failure (default 5,
// enforcing 100) and not consecutive_5xx; without split they count as 503.
func TestOutlierLocalOrigin(t *testing.T) {
	o := newOD(t, &clusterv3.OutlierDetection{SplitExternalLocalOriginErrors: true,
		EnforcingLocalOriginSuccessRate: wrapperspb.UInt32(0), MaxEjectionPercent: wrapperspb.UInt32(100)}, 2)
	o.load(0, 4, Attempt{ConnectFailure: true})
	o.load(0, 4, Attempt{Status: 500})
	// The 500s came over established connections: LocalOriginConnectSuccess
	// reset the local-origin counter (localOriginNoFailure).
	o.load(0, 1, Attempt{ConnectFailure: true})
	if o.ejected(0) {
		t.Error("ejected: local-origin counter not reset by a connect success, or 5xx counted")
	}
	o.load(0, 4, Attempt{ConnectFailure: true})
	if !o.ejected(0) {
		t.Error("not ejected after 5 consecutive connect failures")
	}
	o = newOD(t, &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100)}, 2)
	o.load(0, 5, Attempt{ConnectFailure: true})
	if !o.ejected(0) {
		t.Error("BasicFlow5xxViaNonHttpCodes: connect failures not counted as 5xx without split")
	}
}

// unejectHost resets the consecutive counters: a single host, ejected, keeps
// receiving traffic in total panic; its 5xx counter grows to 4 while ejected
// (onConsecutiveErrorWorker ignores ejected hosts and does not reset it);
// after unejection one more 500 must not eject (it would with the stale
// counter: 4+1 = consecutive_5xx). always_eject_one_host ejects one host
// even above max_ejection_percent (outlier_detection_impl_test.cc
// MaxEjectionPercentageSingleHost / AlwaysEjectOneHost*).
func TestOutlierCountersResetAndAlwaysEjectOne(t *testing.T) {
	o := newOD(t, &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100)}, 1)
	o.load(0, 5, Attempt{Status: 500})
	if !o.ejected(0) {
		t.Fatal("not ejected")
	}
	o.load(0, 4, Attempt{Status: 500})
	o.clk.Add(30 * time.Second)
	if o.ejected(0) {
		t.Fatal("still ejected after base_ejection_time")
	}
	o.load(0, 1, Attempt{Status: 500})
	if o.ejected(0) {
		t.Error("ejected by one 500 after unejection: counters not reset")
	}

	o = newOD(t, &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(10)}, 2)
	o.load(0, 5, Attempt{Status: 500})
	if o.ejected(0) {
		t.Error("50% > max_ejection_percent 10 ejected without always_eject_one_host")
	}
	o = newOD(t, &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(10), AlwaysEjectOneHost: wrapperspb.Bool(true)}, 2)
	o.load(0, 5, Attempt{Status: 500})
	o.load(1, 5, Attempt{Status: 500})
	if !o.ejected(0) || o.ejected(1) {
		t.Errorf("always_eject_one_host: ejected %v/%v, want only the first", o.ejected(0), o.ejected(1))
	}
}

// max_ejection_time defaults to max(300s, base_ejection_time)
// (DetectorConfig; MaxEjectTime): with base 400s the first ejection lasts 400s.
// max_ejection_time < base_ejection_time is refused (DetectorImpl::create).
func TestOutlierMaxEjectionTimeDefault(t *testing.T) {
	o := newOD(t, &clusterv3.OutlierDetection{BaseEjectionTime: durationpb.New(400 * time.Second), MaxEjectionPercent: wrapperspb.UInt32(100)}, 2)
	o.load(0, 5, Attempt{Status: 500})
	o.clk.Add(399 * time.Second)
	if !o.ejected(0) {
		t.Error("unejected before 400s: max_ejection_time not max(300s, base)")
	}
	o.clk.Add(time.Second)
	if o.ejected(0) {
		t.Error("still ejected at 400s")
	}
	c := makeCluster(clusterv3.Cluster_ROUND_ROBIN)
	c.OutlierDetection = &clusterv3.OutlierDetection{EnforcingSuccessRate: wrapperspb.UInt32(0),
		BaseEjectionTime: durationpb.New(60 * time.Second), MaxEjectionTime: durationpb.New(30 * time.Second)}
	if _, err := New(c, makeCLA(group{healthy: 1}), Options{}); err == nil {
		t.Error("max_ejection_time < base_ejection_time accepted")
	}
}

// outlier_detection_impl_test.cc BasicFlowSuccessRateExternalOrigin: 5
// hosts, consecutive 5xx not enforced; 4 hosts at 100% and host 4 at 50% over
// ≥100 requests → mean 90, threshold 90 − 1.9 × 20 = 52 → host 4 ejected
// at the 10s tick (enforcing_success_rate defaults to 100), still ejected at
// 19.999s, back by 50.001s; then 50 requests on host 4 (below
// success_rate_request_volume 100) eject nothing.
func TestOutlierSuccessRate(t *testing.T) {
	o := newOD(t, &clusterv3.OutlierDetection{EnforcingConsecutive_5Xx: wrapperspb.UInt32(0),
		MaxEjectionPercent: wrapperspb.UInt32(100)}, 5)
	o.load(4, 200, Attempt{Status: 200})
	o.load(4, 200, Attempt{Status: 503})
	o.clk.Add(9999 * time.Millisecond)
	if o.ejected(4) {
		t.Fatal("ejected before the interval tick")
	}
	o.clk.Add(time.Millisecond)
	if !o.ejected(4) {
		t.Fatal("50% success host not ejected at the 10s tick")
	}
	o.clk.Add(9999 * time.Millisecond)
	if !o.ejected(4) {
		t.Error("unejected before 19.999s")
	}
	o.clk.Add(30002 * time.Millisecond)
	if o.ejected(4) {
		t.Error("still ejected at 50.001s")
	}
	o.load(4, 25, Attempt{Status: 200})
	o.load(4, 25, Attempt{Status: 503})
	o.clk.Add(10 * time.Second)
	if o.ejected(4) {
		t.Error("ejected below success_rate_request_volume")
	}
}

// --- unsupported.go ---

func TestRefusals(t *testing.T) {
	cla := makeCLA(group{healthy: 1})
	for _, tc := range []struct {
		name string
		c    func() *clusterv3.Cluster
		want string
	}{
		{"ring hash", func() *clusterv3.Cluster { return makeCluster(clusterv3.Cluster_RING_HASH) }, "consistentHash"},
		{"slow start", func() *clusterv3.Cluster {
			c := makeCluster(clusterv3.Cluster_ROUND_ROBIN)
			c.LbConfig = &clusterv3.Cluster_RoundRobinLbConfig_{RoundRobinLbConfig: &clusterv3.Cluster_RoundRobinLbConfig{
				SlowStartConfig: &clusterv3.Cluster_SlowStartConfig{SlowStartWindow: durationpb.New(time.Minute)}}}
			return c
		}, "warmup"},
		{"subset", func() *clusterv3.Cluster {
			c := makeCluster(clusterv3.Cluster_ROUND_ROBIN)
			c.LbSubsetConfig = &clusterv3.Cluster_LbSubsetConfig{SubsetSelectors: []*clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector{{Keys: []string{"v"}}}}
			return c
		}, "lb_subset_config"},
	} {
		_, err := New(tc.c(), cla, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	// Zone aware config (all three fields the Cluster proto has) is
	// modelled (zone_aware.go) and accepted.
	c := makeCluster(clusterv3.Cluster_ROUND_ROBIN)
	c.CommonLbConfig.LocalityConfigSpecifier = &clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig_{
		ZoneAwareLbConfig: &clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig{RoutingEnabled: &typev3.Percent{Value: 50},
			MinClusterSize: wrapperspb.UInt64(3), FailTrafficOnPanic: true}}
	if _, err := New(c, cla, Options{}); err != nil {
		t.Errorf("zone aware config: %v", err)
	}
}

// TestHoldCountsAsActiveForLeastRequest: a held host counts as one request
// in flight, so LEAST_REQUEST with choice_count ≥ hosts (it then compares
// every host) never picks it while another host has none
// (least_request_lb.cc, unweightedHostPick).
func TestHoldCountsAsActiveForLeastRequest(t *testing.T) {
	c := makeCluster(clusterv3.Cluster_LEAST_REQUEST)
	c.LbConfig = &clusterv3.Cluster_LeastRequestLbConfig_{LeastRequestLbConfig: &clusterv3.Cluster_LeastRequestLbConfig{
		ChoiceCount: wrapperspb.UInt32(50),
	}}
	lb, err := New(c, makeCLA(group{zone: "a", healthy: 2}), Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	hosts := lb.Hosts()
	release := lb.Hold(hosts[0])
	for i := 0; i < 20; i++ {
		_, h, err := lb.Do(func(Host) Attempt { return Attempt{Status: 200} })
		if err != nil || h != hosts[1] {
			t.Fatalf("pick %d with %s held: %v %v, want %s", i, hosts[0].Key(), h, err, hosts[1].Key())
		}
	}
	release()
	release() // idempotent
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		_, h, _ := lb.Do(func(Host) Attempt { return Attempt{Status: 200} })
		seen[h.Key()] = true
	}
	if len(seen) != 2 {
		t.Fatalf("after release only %v were picked", seen)
	}
	lb.Hold(Host{Address: "127.0.0.9", Port: 1})() // unknown host: no-op
}
