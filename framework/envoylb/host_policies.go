// Envoy counterparts: source/extensions/load_balancing_policies/common/load_balancer_impl.cc
// (ZoneAwareLoadBalancerBase::hostSourceToUse, EdfLoadBalancerBase::refresh and
// chooseHostOnce), source/extensions/load_balancing_policies/round_robin/round_robin_lb.h,
// source/extensions/load_balancing_policies/least_request/least_request_lb.{h,cc}
// and source/extensions/load_balancing_policies/random/random_lb.cc.

package envoylb

import (
	"math"
	"math/rand/v2"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
)

type sourceType uint8

// HostsSource::SourceType.
const (
	srcAll sourceType = iota
	srcHealthy
	srcDegraded
	srcLocalityHealthy
	srcLocalityDegraded
)

type hostsSource struct {
	priority uint32
	typ      sourceType
	locality uint32
}

func (lv *level) sourceHosts(s hostsSource) []*hostState {
	switch s.typ {
	case srcAll:
		return lv.hosts
	case srcHealthy:
		return lv.healthy
	case srcDegraded:
		return lv.degraded
	case srcLocalityHealthy:
		return lv.localities[s.locality].healthy
	default:
		return lv.localities[s.locality].degraded
	}
}

// policy is the host-level part of the cluster's load balancer configuration.
type policy struct {
	kind        clusterv3.Cluster_LbPolicy
	choiceCount uint32
	// activeRequestBias is least_request_lb_config.active_request_bias (default
	// 1.0); biasSet forces weighted (EDF) selection even with equal weights
	// (LeastRequestLoadBalancer::refresh, runtime guard
	// least_request_lb_active_request_bias_forces_weighted).
	activeRequestBias float64
	biasSet           bool
}

// hostWeight is RoundRobinLoadBalancer::hostWeight (the endpoint weight) or
// LeastRequestLoadBalancer::hostWeight: weight / (active+1)^bias.
func (p *policy) hostWeight(h *hostState) float64 {
	w := float64(h.weight)
	if p.kind != clusterv3.Cluster_LEAST_REQUEST {
		return w
	}
	active := float64(h.active + 1)
	switch {
	case p.activeRequestBias == 1.0:
		return w / active
	case p.activeRequestBias != 0.0:
		return w / math.Pow(active, p.activeRequestBias)
	}
	return w
}

// workerPriority is the per-worker, per-priority scheduler state that Envoy
// rebuilds in its priority update callbacks.
type workerPriority struct {
	gen         uint64
	localityWrr *localityWrr
	edf         map[hostsSource]*edf[*hostState]
}

// worker is one Envoy worker thread's load balancer: RNG, seed_, round robin
// indexes, EDF schedulers and locality schedulers are per worker.
type worker struct {
	rng *rand.Rand
	// inject overrides the next random() values (tests: Envoy's tests
	// inject random_.random() return values).
	inject []uint64
	seed   uint64 // EdfLoadBalancerBase::seed_
	rr     map[hostsSource]uint64
	prios  []*workerPriority
}

// random is the load balancer's random_.random().
func (w *worker) random() uint64 {
	if len(w.inject) > 0 {
		r := w.inject[0]
		w.inject = w.inject[1:]
		return r
	}
	return w.rng.Uint64()
}

func newWorker(rng *rand.Rand) *worker {
	w := &worker{rng: rng, rr: map[hostsSource]uint64{}}
	// The LocalityWrr of each priority is built (consuming a random value)
	// before EdfLoadBalancerBase draws seed_; the model draws seed_ first and
	// the locality seeds lazily, which only changes which random values are
	// used for what.
	w.seed = rng.Uint64()
	return w
}

// refreshPriority is the work of the priority update callbacks for one
// priority: ZoneAwareLoadBalancerBase::rebuildLocalityWrrForPriority (new
// random seed) and EdfLoadBalancerBase::refresh (round robin indexes are only
// inserted, never reset; EDF schedulers are rebuilt with createWithPicks(seed_)
// for sources whose hosts do not all have the same weight).
func (w *worker) refreshPriority(lb *LB, lv *level) *workerPriority {
	for len(w.prios) <= int(lv.priority) {
		w.prios = append(w.prios, &workerPriority{gen: ^uint64(0)})
	}
	wp := w.prios[lv.priority]
	if wp.gen == lv.gen {
		return wp
	}
	wp.gen = lv.gen
	wp.localityWrr = nil
	if lb.localityWeighted {
		wp.localityWrr = newLocalityWrr(lv, lb.overprov, w.rng.Uint64())
	}
	clear(wp.edf)
	add := func(s hostsSource, hosts []*hostState) {
		if _, ok := w.rr[s]; !ok {
			w.rr[s] = w.seed
		}
		if lb.policy.kind == clusterv3.Cluster_RANDOM {
			return // RandomLoadBalancer does not use EDF.
		}
		if (hostWeightsAreEqual(hosts) && !lb.policy.biasSet) || len(hosts) <= 1 {
			return
		}
		if wp.edf == nil {
			wp.edf = map[hostsSource]*edf[*hostState]{}
		}
		wp.edf[s] = newEDFWithPicks(hosts, lb.policy.hostWeight, uint32(w.seed))
	}
	p := lv.priority
	add(hostsSource{p, srcAll, 0}, lv.hosts)
	add(hostsSource{p, srcHealthy, 0}, lv.healthy)
	add(hostsSource{p, srcDegraded, 0}, lv.degraded)
	for i, l := range lv.localities {
		add(hostsSource{p, srcLocalityHealthy, uint32(i)}, l.healthy)
	}
	for i, l := range lv.localities {
		add(hostsSource{p, srcLocalityDegraded, uint32(i)}, l.degraded)
	}
	return wp
}

func hostWeightsAreEqual(hosts []*hostState) bool {
	for _, h := range hosts[min(1, len(hosts)):] {
		if h.weight != hosts[0].weight {
			return false
		}
	}
	return true
}

// hostSourceToUse is ZoneAwareLoadBalancerBase::hostSourceToUse after
// chooseHostSet: panic (all hosts, or none with fail_traffic_on_panic),
// then locality weighted balancing when it picks a locality, then zone
// aware routing at priority 0 (zone_aware.go), else the priority's healthy
// or degraded hosts. ok is false when Envoy returns no source (no host).
// Caller holds lb.mu.
func (lb *LB) hostSourceToUse(w *worker, wp *workerPriority, p int, isDegraded bool) (src hostsSource, ok bool) {
	src = hostsSource{priority: uint32(p), typ: srcHealthy}
	if isDegraded {
		src.typ = srcDegraded
	}
	if lb.prio.panic[p] {
		// In panic the priority's hosts are used regardless of health (and of
		// locality), before locality weighting is considered.
		lb.stats.healthyPanic++
		if lb.zoneCfg.failOnPanic {
			return src, false
		}
		src.typ = srcAll
		return src, true
	}
	locSrc := func(i uint32) hostsSource {
		s := hostsSource{priority: uint32(p), typ: srcLocalityHealthy, locality: i}
		if isDegraded {
			s.typ = srcLocalityDegraded
		}
		return s
	}
	if lb.localityWeighted {
		if li, ok := wp.localityWrr.choose(isDegraded); ok {
			return locSrc(uint32(li)), true
		}
	}
	if p != 0 || lb.zone.state == noLocalityRouting {
		return src, true
	}
	if !lb.runtimeFeatureEnabled(lb.zoneCfg.routingEnabled) {
		return src, true
	}
	if hostSetInPanic(lb.local, lb.panicThreshold) {
		lb.stats.localClusterNotOK++
		return src, !lb.zoneCfg.failOnPanic
	}
	return locSrc(lb.tryChooseLocalLocalityHosts(w)), true
}

// chooseHostOnce is EdfLoadBalancerBase::chooseHostOnce (RandomLoadBalancer
// for RANDOM) with hostSourceToUse inlined. healthy/degraded are the priority
// loads to use (the LB's own, or the retry priority's). Caller holds lb.mu.
func (lb *LB) chooseHostOnce(w *worker, healthy, degraded []uint32) *hostState {
	p, isDegraded := choosePriority(w.random(), healthy, degraded)
	lv := lb.levels[p]
	wp := w.refreshPriority(lb, lv)
	src, ok := lb.hostSourceToUse(w, wp, p, isDegraded)
	if !ok {
		return nil
	}
	if s := wp.edf[src]; s != nil {
		h, _ := s.pickAndAdd()
		return h
	}
	hosts := lv.sourceHosts(src)
	if len(hosts) == 0 {
		return nil
	}
	switch lb.policy.kind {
	case clusterv3.Cluster_ROUND_ROBIN:
		// RoundRobinLoadBalancer::unweightedHostPick.
		i := w.rr[src]
		w.rr[src] = i + 1
		return hosts[i%uint64(len(hosts))]
	case clusterv3.Cluster_RANDOM:
		// RandomLoadBalancer::peekOrChoose: weights are ignored.
		return hosts[w.random()%uint64(len(hosts))]
	default:
		// LeastRequestLoadBalancer::unweightedHostPickNChoices: choice_count
		// random samples (with replacement), keep the first with the fewest
		// active requests.
		var best *hostState
		for range lb.policy.choiceCount {
			h := hosts[w.random()%uint64(len(hosts))]
			if best == nil || h.active < best.active {
				best = h
			}
		}
		return best
	}
}
