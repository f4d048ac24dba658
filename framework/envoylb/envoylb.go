// Package envoylb is a deterministic model of how an Envoy sidecar picks an
// upstream host for one cluster.
//
// The model is driven only by the *clusterv3.Cluster and
// *endpointv3.ClusterLoadAssignment protos that istiod generates; it contains no
// scenario-specific code. Every rule cites the Envoy documentation (and where the
// documentation is silent or ambiguous, the Envoy source file) it implements:
//
//   - priority levels and priority load:
//     https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/priority
//   - overprovisioning factor:
//     https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/overprovisioning
//   - panic threshold:
//     https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/panic_threshold
//   - locality weighted load balancing:
//     https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/locality_weight
//   - load balancer policies:
//     https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/load_balancers
//   - outlier detection:
//     https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier
//   - retries and retry host predicates:
//     https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-retrypolicy
//     https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/http/http_connection_management#arch-overview-http-retry-plugins
//
// Simplifications (all deliberate, see the README-style notes on each rule):
// degraded hosts are treated as unhealthy; endpoint load_balancing_weight is
// ignored by the host-level policies (Istio emits equal weights); requests are
// assigned to workers round-robin; only consecutive_5xx (and, when
// split_external_local_origin_errors is set, consecutive_local_origin_failure)
// outlier detection is modelled; retry back-off timing is not modelled.
package envoylb

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

// ErrNoHealthyUpstream is returned when no host can be picked. Envoy answers the
// downstream with "503 no healthy upstream" in that case
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/panic_threshold).
var ErrNoHealthyUpstream = errors.New("no healthy upstream")

// Options tune the model. The zero value is valid.
type Options struct {
	Seed    uint64           // deterministic RNG seed
	Workers int              // number of Envoy worker threads; default 2 (Istio sidecar concurrency)
	Clock   func() time.Time // time source for outlier detection; default time.Now
	Retry   *RetryPolicy     // nil = IstioDefaultRetryPolicy(); use &RetryPolicy{} for none
}

// Host identifies one upstream endpoint.
type Host struct {
	Address  string
	Port     uint32
	Locality string // "region/zone/subzone"
	Priority uint32
}

// Key returns the host's "ip:port" key.
func (h Host) Key() string { return fmt.Sprintf("%s:%d", h.Address, h.Port) }

// Attempt is what one upstream try returned.
type Attempt struct {
	Status         int
	ConnectFailure bool
}

// hostState is the shared (cross-worker) state of one host.
type hostState struct {
	Host
	key        string
	edsHealthy bool
	eds        corev3.HealthStatus
	locProto   *corev3.Locality
	weight     uint32
	locWeight  uint32
	stats      HostStats

	// active is the number of requests in flight (Envoy's rq_active gauge, shared
	// by all workers), used by LEAST_REQUEST.
	active int64

	// outlier detection state.
	consec5xx   uint32
	consecLocal uint32
	ejected     bool
	ejectedAt   time.Time
	numEjected  uint32
}

// healthy reports whether the host counts as healthy for load balancing: EDS
// healthy and not ejected by outlier detection
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier#ejection-algorithm).
func (h *hostState) healthy() bool { return h.edsHealthy && !h.ejected }

type locality struct {
	name    string
	weight  uint32
	hosts   []*hostState
	healthy []*hostState // recomputed by refresh
	eff     float64      // effective locality weight, recomputed by refresh
}

type level struct {
	localities []*locality
	hosts      []*hostState
	healthy    []*hostState // recomputed by refresh
	panic      bool         // recomputed by refresh
	lwrr       bool         // some locality has a positive effective weight
}

type outlierConfig struct {
	consec5xx      uint32
	enforcing5xx   uint32
	split          bool
	consecLocal    uint32
	enforcingLocal uint32
	interval       time.Duration
	baseEjection   time.Duration
	maxEjection    time.Duration
	maxEjectionPct uint32
	alwaysEjectOne bool
	start          time.Time
	tick           int64 // number of interval ticks already processed
}

type srcKey struct {
	priority uint32
	locality int // -1: whole priority
	panic    bool
}

// worker is the per-worker LB state: Envoy builds one load balancer per worker
// thread, so RNG, round robin indexes and locality schedulers are not shared
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/load_balancers).
type worker struct {
	rng *rand.Rand
	gen uint64
	rr  map[srcKey]uint64
	wrr map[uint32][]float64 // smooth WRR current weights per priority
}

// LB models one Envoy cluster as seen by one sidecar. It is safe for concurrent use.
type LB struct {
	mu sync.Mutex

	clock       func() time.Time
	clusterName string
	retry       RetryPolicy
	policy      clusterv3.Cluster_LbPolicy
	choiceCount int
	localityLB  bool
	panicPct    float64
	overprov    uint32
	od          *outlierConfig
	odRNG       *rand.Rand

	hosts  map[string]*hostState
	order  []*hostState // deterministic iteration order
	levels []*level
	load   []uint32

	gen     uint64
	workers []*worker
	next    uint64
}

// New builds an LB for cluster c with endpoints cla. It errors on nil inputs and
// on lb_policy values the model does not implement.
func New(c *clusterv3.Cluster, cla *endpointv3.ClusterLoadAssignment, opts Options) (*LB, error) {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	lb := &LB{clock: opts.Clock, hosts: map[string]*hostState{}}
	if opts.Retry == nil {
		lb.retry = IstioDefaultRetryPolicy()
	} else {
		lb.retry = *opts.Retry
	}
	for i := 0; i < opts.Workers; i++ {
		lb.workers = append(lb.workers, &worker{
			rng: rand.New(rand.NewPCG(opts.Seed, uint64(i)+1)),
			rr:  map[srcKey]uint64{},
			wrr: map[uint32][]float64{},
		})
	}
	lb.odRNG = rand.New(rand.NewPCG(opts.Seed, 0x0d))
	if err := lb.Update(c, cla); err != nil {
		return nil, err
	}
	return lb, nil
}

// Update applies a new cluster / endpoint configuration. Outlier detection state
// of hosts that remain (by "ip:port" key) is kept, as Envoy keeps host objects
// across EDS updates.
func (lb *LB) Update(c *clusterv3.Cluster, cla *endpointv3.ClusterLoadAssignment) error {
	if c == nil {
		return errors.New("envoylb: nil Cluster")
	}
	if cla == nil {
		return errors.New("envoylb: nil ClusterLoadAssignment")
	}
	// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/load_balancers
	switch c.GetLbPolicy() {
	case clusterv3.Cluster_ROUND_ROBIN, clusterv3.Cluster_LEAST_REQUEST, clusterv3.Cluster_RANDOM:
	default:
		return fmt.Errorf("envoylb: unsupported lb_policy %s", c.GetLbPolicy())
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	now := lb.clock()

	lb.policy = c.GetLbPolicy()
	lb.clusterName = cla.GetClusterName()
	// Least request: "choice_count" random hosts are sampled (default 2, i.e.
	// power of two choices).
	lb.choiceCount = 2
	if cc := c.GetLeastRequestLbConfig().GetChoiceCount(); cc != nil && cc.GetValue() > 0 {
		lb.choiceCount = int(cc.GetValue())
	}
	// Locality weighted LB is only active when locality_weighted_lb_config is set
	// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/locality_weight).
	lb.localityLB = c.GetCommonLbConfig().GetLocalityWeightedLbConfig() != nil
	// Panic threshold defaults to 50%; 0 disables panic mode
	// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/panic_threshold).
	lb.panicPct = 50
	if p := c.GetCommonLbConfig().GetHealthyPanicThreshold(); p != nil {
		lb.panicPct = p.GetValue()
	}
	// Overprovisioning factor defaults to 140 (1.4)
	// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/overprovisioning).
	lb.overprov = 140
	if f := cla.GetPolicy().GetOverprovisioningFactor(); f != nil {
		lb.overprov = f.GetValue()
	}
	lb.configureOutlier(c.GetOutlierDetection(), now)

	// Hosts: every lb_endpoint of every LocalityLbEndpoints, grouped by priority.
	old := lb.hosts
	lb.hosts = map[string]*hostState{}
	lb.order = nil
	lb.levels = nil
	for _, lle := range cla.GetEndpoints() {
		p := lle.GetPriority()
		for uint32(len(lb.levels)) <= p {
			lb.levels = append(lb.levels, &level{})
		}
		lv := lb.levels[p]
		loc := &locality{name: localityName(lle.GetLocality()), weight: lle.GetLoadBalancingWeight().GetValue()}
		for _, lbe := range lle.GetLbEndpoints() {
			sa := lbe.GetEndpoint().GetAddress().GetSocketAddress()
			h := Host{Address: sa.GetAddress(), Port: sa.GetPortValue(), Locality: loc.name, Priority: p}
			key := h.Key()
			if _, dup := lb.hosts[key]; dup {
				continue // Envoy de-duplicates hosts by address.
			}
			hs := old[key]
			if hs == nil {
				hs = &hostState{key: key}
			}
			hs.Host = h
			hs.edsHealthy = edsHealthy(lbe.GetHealthStatus())
			hs.eds = lbe.GetHealthStatus()
			hs.locProto = lle.GetLocality()
			hs.weight = max(1, lbe.GetLoadBalancingWeight().GetValue())
			hs.locWeight = lle.GetLoadBalancingWeight().GetValue()
			lb.hosts[key] = hs
			lb.order = append(lb.order, hs)
			loc.hosts = append(loc.hosts, hs)
			lv.hosts = append(lv.hosts, hs)
		}
		lv.localities = append(lv.localities, loc)
	}
	if lb.od == nil {
		for _, h := range lb.order {
			h.ejected, h.consec5xx, h.consecLocal, h.numEjected = false, 0, 0, 0
		}
	}
	lb.refresh()
	return nil
}

func localityName(l *corev3.Locality) string {
	return l.GetRegion() + "/" + l.GetZone() + "/" + l.GetSubZone()
}

// edsHealthy maps lb_endpoint.health_status: HEALTHY and UNKNOWN are healthy;
// UNHEALTHY, DRAINING, TIMEOUT are unhealthy. DEGRADED is treated as unhealthy
// for simplicity (Envoy would route to degraded hosts only once healthy ones are
// insufficient: .../load_balancing/degraded).
func edsHealthy(s corev3.HealthStatus) bool {
	return s == corev3.HealthStatus_HEALTHY || s == corev3.HealthStatus_UNKNOWN
}

func (lb *LB) configureOutlier(od *clusterv3.OutlierDetection, now time.Time) {
	if od == nil {
		lb.od = nil
		return
	}
	// Defaults from https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/outlier_detection.proto
	u32 := func(v interface{ GetValue() uint32 }, isNil bool, def uint32) uint32 {
		if isNil {
			return def
		}
		return v.GetValue()
	}
	dur := func(d interface{ AsDuration() time.Duration }, isNil bool, def time.Duration) time.Duration {
		if isNil {
			return def
		}
		if v := d.AsDuration(); v > 0 {
			return v
		}
		return def
	}
	cfg := &outlierConfig{
		consec5xx:      u32(od.GetConsecutive_5Xx(), od.GetConsecutive_5Xx() == nil, 5),
		enforcing5xx:   u32(od.GetEnforcingConsecutive_5Xx(), od.GetEnforcingConsecutive_5Xx() == nil, 100),
		split:          od.GetSplitExternalLocalOriginErrors(),
		consecLocal:    u32(od.GetConsecutiveLocalOriginFailure(), od.GetConsecutiveLocalOriginFailure() == nil, 5),
		enforcingLocal: u32(od.GetEnforcingConsecutiveLocalOriginFailure(), od.GetEnforcingConsecutiveLocalOriginFailure() == nil, 100),
		interval:       dur(od.GetInterval(), od.GetInterval() == nil, 10*time.Second),
		baseEjection:   dur(od.GetBaseEjectionTime(), od.GetBaseEjectionTime() == nil, 30*time.Second),
		maxEjection:    dur(od.GetMaxEjectionTime(), od.GetMaxEjectionTime() == nil, 300*time.Second),
		maxEjectionPct: u32(od.GetMaxEjectionPercent(), od.GetMaxEjectionPercent() == nil, 10),
		alwaysEjectOne: od.GetAlwaysEjectOneHost().GetValue(),
		start:          now,
	}
	if lb.od != nil { // keep the detector's interval timer phase across updates
		cfg.start, cfg.tick = lb.od.start, lb.od.tick
	}
	lb.od = cfg
}

// refresh recomputes health-derived state (per-priority healthy sets, locality
// effective weights, priority load and panic flags) after any health change and
// invalidates per-worker schedulers, as Envoy rebuilds them on host set updates.
func (lb *LB) refresh() {
	lb.gen++
	health := make([]uint32, len(lb.levels))
	for i, lv := range lb.levels {
		lv.healthy = lv.healthy[:0]
		lv.lwrr = false
		for _, loc := range lv.localities {
			loc.healthy = loc.healthy[:0]
			for _, h := range loc.hosts {
				if h.healthy() {
					loc.healthy = append(loc.healthy, h)
					lv.healthy = append(lv.healthy, h)
				}
			}
			// Effective locality weight = weight × min(1, overprovisioning ×
			// healthy/total)
			// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/locality_weight).
			loc.eff = 0
			if n := len(loc.hosts); n > 0 {
				avail := float64(lb.overprov) / 100 * float64(len(loc.healthy)) / float64(n)
				loc.eff = float64(loc.weight) * min(1, avail)
			}
			if loc.eff > 0 {
				lv.lwrr = true
			}
		}
		// health(P) = min(100, overprovisioning × healthy / total) on integer
		// percents (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/priority).
		if n := len(lv.hosts); n > 0 {
			health[i] = min(100, uint32(uint64(lb.overprov)*uint64(len(lv.healthy))/uint64(n)))
		}
	}
	lb.load = lb.setPanic(health)
}

// priorityLoad implements the documented priority load algorithm
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/priority):
//
//	normalized_total_health = min(100, Σ health(P_i))
//	priority_load(P_X) = min(100 - Σ_{i<X} priority_load(P_i), health(P_X) × 100 / normalized_total_health)
//
// with the rounding remainder added to the first priority with non-zero health
// (Envoy source/common/upstream/load_balancer_impl.cc, distributeLoad).
func priorityLoad(health []uint32) (load []uint32, normalized uint32) {
	load = make([]uint32, max(1, len(health)))
	for _, h := range health {
		normalized += h
	}
	normalized = min(100, normalized)
	if normalized == 0 {
		return load, 0 // panic handling assigns the load.
	}
	total := uint32(100)
	first := -1
	for i, h := range health {
		if first < 0 && h > 0 {
			first = i
		}
		load[i] = min(total, h*100/normalized)
		total -= load[i]
	}
	load[first] += total
	return load, normalized
}

// setPanic computes the priority load and the per-priority panic flags.
//
// Panic threshold rules
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/panic_threshold):
// if normalized total health is 100 no priority is in panic; otherwise a
// priority whose healthy percentage (not overprovisioned) is below the threshold
// is in panic and balances over all its hosts. With the threshold at 0 and no
// healthy host, all load is on P0 and picks fail with "no healthy upstream". If
// every priority is in panic (which includes "all hosts unhealthy"), Envoy
// distributes load proportionally to the host count of each priority
// (load_balancer_impl.cc, recalculateLoadInTotalPanic); with a single priority
// this is the documented "all traffic will be redirected to P=0".
func (lb *LB) setPanic(health []uint32) []uint32 {
	load, normalized := priorityLoad(health)
	if lb.panicPct == 0 && normalized == 0 {
		load[0] = 100
		for _, lv := range lb.levels {
			lv.panic = false
		}
		return load
	}
	total := len(lb.levels) > 0
	for _, lv := range lb.levels {
		lv.panic = false
		if normalized < 100 {
			pct := 0.0
			if n := len(lv.hosts); n > 0 {
				pct = 100 * float64(len(lv.healthy)) / float64(n)
			}
			lv.panic = pct < lb.panicPct
		}
		total = total && lv.panic
	}
	if !total {
		if normalized == 0 {
			load[0] = 100
		}
		return load
	}
	hosts := 0
	for _, lv := range lb.levels {
		hosts += len(lv.hosts)
	}
	if hosts == 0 {
		load[0] = 100
		return load
	}
	rest, first := uint32(100), -1
	for i, lv := range lb.levels {
		if first < 0 && len(lv.hosts) > 0 {
			first = i
		}
		load[i] = uint32(100 * len(lv.hosts) / hosts)
		rest -= load[i]
	}
	load[first] += rest
	return load
}

// PriorityLoad returns the current per-priority load percentages.
func (lb *LB) PriorityLoad() []uint32 {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.advanceOutlier(lb.clock())
	return append([]uint32(nil), lb.load...)
}

// HostHealth returns key → "HEALTHY" | "UNHEALTHY" | "EJECTED" for every host.
func (lb *LB) HostHealth() map[string]string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.advanceOutlier(lb.clock())
	m := make(map[string]string, len(lb.hosts))
	for k, h := range lb.hosts {
		switch {
		case h.ejected:
			m[k] = "EJECTED"
		case h.edsHealthy:
			m[k] = "HEALTHY"
		default:
			m[k] = "UNHEALTHY"
		}
	}
	return m
}

// Hosts returns all hosts in configuration order.
func (lb *LB) Hosts() []Host {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	out := make([]Host, len(lb.order))
	for i, h := range lb.order {
		out[i] = h.Host
	}
	return out
}

// pick chooses a host for worker w. Caller holds lb.mu.
func (lb *LB) pick(w *worker) *hostState {
	if w.gen != lb.gen {
		w.gen = lb.gen
		clear(w.wrr)
	}
	if len(lb.levels) == 0 {
		return nil
	}
	// Choose the priority: a uniform number in [1,100] is mapped onto the
	// cumulative priority load (load_balancer_impl.cc, choosePriority).
	r := uint32(w.rng.Uint64N(100)) + 1
	p, acc := uint32(0), uint32(0)
	for i, l := range lb.load {
		acc += l
		if r <= acc {
			p = uint32(i)
			break
		}
	}
	if int(p) >= len(lb.levels) {
		return nil
	}
	lv := lb.levels[p]
	var cands []*hostState
	key := srcKey{priority: p, locality: -1}
	switch {
	case lv.panic:
		// In panic, all hosts of the priority regardless of health (and of
		// locality) (.../load_balancing/panic_threshold; load_balancer_impl.cc
		// hostSourceToUse checks panic before locality weighting).
		cands, key.panic = lv.hosts, true
	case lb.localityLB && lv.lwrr:
		// Locality weighted: pick the locality by deterministic smooth weighted
		// round robin on effective weights (Envoy uses an EDF scheduler with the
		// same long-run proportions; .../load_balancing/locality_weight).
		li := w.pickLocality(p, lv)
		cands, key.locality = lv.localities[li].healthy, li
	default:
		cands = lv.healthy
	}
	if len(cands) == 0 {
		return nil
	}
	switch lb.policy {
	case clusterv3.Cluster_ROUND_ROBIN:
		// Per-worker rotating index per host source (.../load_balancers#weighted-round-robin).
		i := w.rr[key]
		w.rr[key] = i + 1
		return cands[i%uint64(len(cands))]
	case clusterv3.Cluster_RANDOM:
		// .../load_balancers#random
		return cands[w.rng.IntN(len(cands))]
	default:
		// LEAST_REQUEST with equal weights: sample choice_count hosts at random
		// (with replacement) and keep the one with the fewest active requests,
		// ties keep the earlier sample (.../load_balancers#weighted-least-request).
		var best *hostState
		for range lb.choiceCount {
			h := cands[w.rng.IntN(len(cands))]
			if best == nil || h.active < best.active {
				best = h
			}
		}
		return best
	}
}

// pickLocality runs smooth weighted round robin over the effective locality
// weights of priority p; localities with zero effective weight are never chosen.
func (w *worker) pickLocality(p uint32, lv *level) int {
	cur := w.wrr[p]
	if len(cur) != len(lv.localities) {
		cur = make([]float64, len(lv.localities))
		w.wrr[p] = cur
	}
	best, sum := -1, 0.0
	for i, loc := range lv.localities {
		if loc.eff <= 0 {
			continue
		}
		sum += loc.eff
		cur[i] += loc.eff
		if best < 0 || cur[i] > cur[best] {
			best = i
		}
	}
	cur[best] -= sum
	return best
}

// advanceOutlier processes the outlier detector's interval ticks up to now.
// Envoy checks ejected hosts for unejection on an interval timer; the model
// unejects a host at the first tick (counted from detector start, i.e. New) at
// which base_ejection_time × number_of_ejections, capped by
// max(base_ejection_time, max_ejection_time), has elapsed since its ejection
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier#ejection-algorithm).
// Caller holds lb.mu.
func (lb *LB) advanceOutlier(now time.Time) {
	od := lb.od
	if od == nil {
		return
	}
	target := int64(now.Sub(od.start) / od.interval)
	changed := false
	for od.tick < target {
		ejected := false
		for _, h := range lb.order {
			if h.ejected {
				ejected = true
				break
			}
		}
		if !ejected {
			od.tick = target
			break
		}
		od.tick++
		t := od.start.Add(time.Duration(od.tick) * od.interval)
		for _, h := range lb.order {
			if h.ejected && t.Sub(h.ejectedAt) >= lb.ejectionDuration(h) {
				h.ejected = false
				changed = true
			}
		}
	}
	if changed {
		lb.refresh()
	}
}

func (lb *LB) ejectionDuration(h *hostState) time.Duration {
	d := lb.od.baseEjection * time.Duration(h.numEjected)
	return min(d, max(lb.od.baseEjection, lb.od.maxEjection))
}

// record feeds one attempt's outcome to the outlier detector. Caller holds lb.mu.
//
// consecutive_5xx counts 5xx responses; when split_external_local_origin_errors
// is false, connect failures (local origin errors) are counted as 5xx too,
// otherwise they feed consecutive_local_origin_failure. A success resets the
// counter. Reaching the threshold ejects the host if the enforcing percentage
// passes and (ejected+1)/total_hosts×100 ≤ max_ejection_percent, computed over
// the whole cluster, not per priority
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier).
func (lb *LB) record(h *hostState, a Attempt, now time.Time) {
	od := lb.od
	if od == nil || lb.hosts[h.key] != h {
		return // no detector, or host removed by an Update while in flight.
	}
	if a.ConnectFailure && od.split {
		h.consecLocal++
		if h.consecLocal == od.consecLocal {
			h.consecLocal = 0
			lb.maybeEject(h, od.enforcingLocal, now)
		}
		return
	}
	if a.ConnectFailure || (a.Status >= 500 && a.Status <= 599) {
		h.consec5xx++
		if h.consec5xx == od.consec5xx {
			h.consec5xx = 0
			lb.maybeEject(h, od.enforcing5xx, now)
		}
		return
	}
	h.consec5xx = 0
	if od.split {
		h.consecLocal = 0
	}
}

func (lb *LB) maybeEject(h *hostState, enforcing uint32, now time.Time) {
	if h.ejected || uint32(lb.odRNG.Uint64N(100)) >= enforcing {
		return
	}
	ejected := 0
	for _, o := range lb.order {
		if o.ejected {
			ejected++
		}
	}
	pct := 100 * float64(ejected+1) / float64(len(lb.order))
	if pct > float64(min(100, lb.od.maxEjectionPct)) && !(lb.od.alwaysEjectOne && ejected == 0) {
		return
	}
	h.ejected = true
	h.ejectedAt = now
	h.numEjected++
	lb.refresh()
}

// Do runs one downstream request: it picks a host (with the per-worker LB
// state), calls send for it without holding the LB lock, records the outcome for
// outlier detection and active request counts, and retries per the retry policy.
//
// It returns the final attempt, the host that served it and ErrNoHealthyUpstream
// if no host could be picked at the first try. When no host can be picked on a
// retry, the previous attempt is returned without error.
func (lb *LB) Do(send func(h Host) Attempt) (Attempt, Host, error) {
	lb.mu.Lock()
	w := lb.workers[lb.next%uint64(len(lb.workers))]
	lb.next++
	lb.mu.Unlock()

	var (
		last     Attempt
		lastHost Host
		tried    = map[string]bool{}
	)
	for try := 0; try <= lb.retry.NumRetries; try++ {
		lb.mu.Lock()
		lb.advanceOutlier(lb.clock())
		h := lb.pickWithPredicate(w, tried, try > 0)
		if h == nil {
			lb.mu.Unlock()
			if try == 0 {
				return Attempt{}, Host{}, ErrNoHealthyUpstream
			}
			return last, lastHost, nil
		}
		h.active++
		host := h.Host
		lb.mu.Unlock()

		a := send(host)

		lb.mu.Lock()
		h.active--
		h.stats.RqTotal++
		switch {
		case a.ConnectFailure:
			h.stats.CxConnectFail++
			h.stats.RqError++
		case a.Status >= 500:
			h.stats.RqError++
		default:
			h.stats.RqSuccess++
		}
		lb.record(h, a, lb.clock())
		lb.mu.Unlock()

		last, lastHost = a, host
		tried[host.Key()] = true
		if !lb.retry.retriable(a) {
			break
		}
	}
	return last, lastHost, nil
}

// pickWithPredicate applies the previous_hosts retry host predicate on retries:
// a host already tried is rejected and the pick repeated up to
// host_selection_retry_max_attempts times; the last pick is used if all are
// rejected (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/http/http_connection_management#retry-plugin-configuration).
func (lb *LB) pickWithPredicate(w *worker, tried map[string]bool, retry bool) *hostState {
	attempts := 1
	if retry && lb.retry.HostSelectionRetryMaxAttempts > 0 {
		attempts += lb.retry.HostSelectionRetryMaxAttempts
	}
	var h *hostState
	for i := 0; i < attempts; i++ {
		h = lb.pick(w)
		if h == nil || !tried[h.key] {
			return h
		}
	}
	return h
}

// State returns a snapshot of the cluster as the sidecar holds it, for
// rendering Envoy's admin API.
func (lb *LB) State() State {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.advanceOutlier(lb.clock())
	st := State{ClusterName: lb.clusterName, LocalityWeighted: lb.localityLB, OverprovisioningFactor: lb.overprov}
	for _, h := range lb.order {
		hs := HostStatus{
			Host: h.Host, LocalityProto: h.locProto, Weight: h.weight, LocalityWeight: h.locWeight,
			EDSHealth: h.eds, FailedOutlierCheck: h.ejected, Stats: h.stats,
		}
		hs.Stats.RqActive = uint64(h.active)
		st.Hosts = append(st.Hosts, hs)
	}
	return st
}

// SetRetryPolicy replaces the retry policy, as an RDS push of the route
// that sends to this cluster would.
func (lb *LB) SetRetryPolicy(p RetryPolicy) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.retry = p
}
