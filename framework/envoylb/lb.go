// The cluster glue. Envoy counterparts: source/common/upstream/cluster_manager_impl.cc
// (ClusterManagerImpl::addOrUpdateCluster: CDS updates),
// source/extensions/clusters/eds/eds.cc (EDS updates), source/common/router/router.cc (Filter::doRetry and the
// upstream try loop) and source/common/upstream/upstream_impl.cc (host stats).

package envoylb

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/proto"
)

// ErrNoHealthyUpstream is returned when no host can be picked, at the first
// try or at a retry. Envoy answers the downstream with 503
// "no healthy upstream" (response flag UH) in both cases
// (router.cc: Filter::decodeHeaders and Filter::doRetry call
// sendNoHealthyUpstreamResponse).
var ErrNoHealthyUpstream = errors.New("no healthy upstream")

// Options tune the model. The zero value is valid.
type Options struct {
	Seed    uint64           // deterministic RNG seed
	Workers int              // number of Envoy worker threads; default 2 (Istio sidecar concurrency)
	Clock   func() time.Time // time source for outlier detection; default time.Now
	// Retry is the retry policy of the route sending to this cluster; nil
	// means no retries (a route without retry_policy). See
	// RetryPolicyFromRoute.
	Retry *RetryPolicy
	// LocalLocality is the sidecar's own locality ("region/zone/subzone").
	// Envoy puts it first in each priority's per-locality host lists
	// (PriorityStateManager::updateClusterPrioritySet), which decides EDF
	// tie-breaks between localities. Optional.
	LocalLocality string
}

// Host identifies one upstream endpoint.
type Host struct {
	Address  string
	Port     uint32
	Locality string // "region/zone/subzone"
	Priority uint32
}

// Key returns the host's "ip:port" key.
func (h Host) Key() string {
	var buf [64]byte
	return string(h.appendKey(buf[:0]))
}

// appendKey appends Key to b without allocating (Hold looks hosts up per
// request).
func (h Host) appendKey(b []byte) []byte {
	b = append(b, h.Address...)
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(h.Port), 10)
}

// Attempt is what one upstream try returned.
type Attempt struct {
	// Status is the HTTP status of the response (when the try got one).
	Status int
	// GRPCStatus is the response's grpc-status (0 = OK or absent).
	GRPCStatus uint32
	// ConnectFailure: the connection could not be established (pool failure,
	// the request was not sent).
	ConnectFailure bool
	// Reset: the upstream reset the stream after the request was sent and
	// before a response (e.g. connection terminated).
	Reset bool
	// RefusedStream: the upstream reset the stream with REFUSED_STREAM.
	RefusedStream bool
	// Timeout: the try hit the route's per-try timeout
	// (RetryPolicy.PerTryTimeout), which the caller enforces.
	Timeout bool
}

// DownstreamStatus is the status Envoy sends downstream when this try is the
// last one: 504 for a per-try timeout (UT), 503 for a connect failure or
// reset (UF / UR), the response status otherwise.
func (a Attempt) DownstreamStatus() int {
	switch {
	case a.Timeout:
		return 504
	case a.ConnectFailure, a.Reset, a.RefusedStream:
		return 503
	}
	return a.Status
}

func (a Attempt) failed() bool {
	return a.ConnectFailure || a.Reset || a.RefusedStream || a.Timeout || a.Status >= 500
}

// LB models one Envoy cluster as seen by one sidecar. It is safe for concurrent use.
type LB struct {
	mu sync.Mutex

	clock   func() time.Time
	opts    Options
	retry   RetryPolicy
	cluster *clusterv3.Cluster // the active cluster config (CDS)

	clusterName      string
	policy           policy
	localityWeighted bool
	panicThreshold   uint64
	overprov         uint32
	weightedHealth   bool

	od    *detector
	odRNG *rand.Rand

	// Zone aware routing (zone_aware.go): the Cluster's settings, the
	// local_cluster's assignment and host set 0 (nil = no local cluster),
	// the priority 0 routing structures and the load balancer counters.
	zoneCfg  zoneConfig
	localCLA *endpointv3.ClusterLoadAssignment
	local    *level
	zone     zoneState
	stats    lbStats
	// rtRNG stands for the runtime loader's random generator
	// (featureEnabled); injectRuntime overrides its values in tests.
	rtRNG         *rand.Rand
	injectRuntime []uint64

	hosts  map[string]*hostState
	order  []*hostState // ClusterLoadAssignment order
	levels []*level
	prio   priorityState
	gen    uint64

	workers []*worker
	wrng    []*rand.Rand
	next    uint64
}

// New builds an LB for cluster c with endpoints cla. It errors on nil inputs
// and on configuration the model does not implement (see unsupported.go).
func New(c *clusterv3.Cluster, cla *endpointv3.ClusterLoadAssignment, opts Options) (*LB, error) {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	lb := &LB{clock: opts.Clock, opts: opts, hosts: map[string]*hostState{}}
	if opts.Retry != nil {
		lb.retry = *opts.Retry
	}
	for i := 0; i < opts.Workers; i++ {
		lb.wrng = append(lb.wrng, rand.New(rand.NewPCG(opts.Seed, uint64(i)+1)))
	}
	lb.odRNG = rand.New(rand.NewPCG(opts.Seed, 0x0d))
	lb.rtRNG = rand.New(rand.NewPCG(opts.Seed, 0x27))
	lb.zone = zoneState{reason: "no local cluster"}
	if err := lb.Update(c, cla); err != nil {
		return nil, err
	}
	return lb, nil
}

// Update applies a CDS and/or EDS update.
//
// CDS (cluster_manager_impl.cc addOrUpdateCluster): a Cluster equal to the
// active one is ignored (Envoy compares the config hash, blockUpdate); a
// changed Cluster replaces the cluster: new host objects (health, outlier
// state and counters start fresh), a new outlier detector and new per-worker
// load balancers.
//
// EDS (eds.cc EdsClusterImpl::BatchUpdateHelper / updateDynamicHostList):
// an address listed more than once in cla (in any localities and
// priorities) is one host, the first lb_endpoint in ClusterLoadAssignment
// order; the later copies are dropped (BatchUpdateHelper::
// updateLocalityEndpoints, see buildLevels). Hosts whose address remains
// keep their host object (outlier state, counters); priorities never
// disappear from a priority set, they become empty.
func (lb *LB) Update(c *clusterv3.Cluster, cla *endpointv3.ClusterLoadAssignment) error {
	if c == nil {
		return errors.New("envoylb: nil Cluster")
	}
	if cla == nil {
		return errors.New("envoylb: nil ClusterLoadAssignment")
	}
	if err := checkSupported(c, cla); err != nil {
		return err
	}
	var odCfg *outlierConfig
	if c.GetOutlierDetection() != nil {
		var err error
		if odCfg, err = newOutlierConfig(c.GetOutlierDetection()); err != nil {
			return err
		}
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	now := lb.clock()

	replaced := lb.cluster == nil || !proto.Equal(c, lb.cluster)
	if replaced {
		lb.cluster = proto.Clone(c).(*clusterv3.Cluster)
		lb.hosts, lb.levels, lb.order = map[string]*hostState{}, nil, nil
		lb.prio = priorityState{}
		lb.workers = lb.workers[:0]
		for _, r := range lb.wrng {
			lb.workers = append(lb.workers, newWorker(r))
		}
		lb.configure(c)
		lb.od = nil
		if odCfg != nil {
			lb.od = &detector{cfg: odCfg, start: now, rng: lb.odRNG}
		}
	} else {
		lb.advanceOutlier(now)
	}

	lb.clusterName = cla.GetClusterName()
	// overprovisioning_factor defaults to 140; weighted_priority_health to false.
	lb.overprov = 140
	if f := cla.GetPolicy().GetOverprovisioningFactor(); f != nil {
		lb.overprov = f.GetValue()
	}
	lb.weightedHealth = cla.GetPolicy().GetWeightedPriorityHealth()

	oldLevels := lb.levels
	levels, hosts, order := buildLevels(cla, lb.hosts, lb.opts.LocalLocality, lb.localityWeighted)
	for len(levels) < len(oldLevels) {
		levels = append(levels, &level{priority: uint32(len(levels))})
	}
	// Hosts that left the cluster: their ejection no longer counts.
	if lb.od != nil {
		for k, h := range lb.hosts {
			if hosts[k] != h && h.od.ejected {
				lb.od.active--
			}
		}
	}
	lb.hosts, lb.order, lb.levels = hosts, order, levels
	for i, lv := range levels {
		lv.sig = lv.signature(lb.overprov)
		if i < len(oldLevels) && oldLevels[i].sig == lv.sig {
			lv.gen = oldLevels[i].gen
		} else {
			lb.gen++
			lv.gen = lb.gen
		}
	}
	lb.prio.recalculate(lb.levels, lb.overprov, lb.weightedHealth, lb.panicThreshold)
	// The priority 0 update callback regenerates the locality routing
	// structures when there is a local cluster.
	if lb.local != nil && (replaced || len(oldLevels) == 0 || oldLevels[0].gen != levels[0].gen) {
		lb.regenerateZone()
	}
	return nil
}

// configure reads the load balancer settings of the Cluster.
func (lb *LB) configure(c *clusterv3.Cluster) {
	lb.policy = policy{kind: c.GetLbPolicy(), choiceCount: 2, activeRequestBias: 1.0}
	if lr := c.GetLeastRequestLbConfig(); lr != nil {
		if cc := lr.GetChoiceCount(); cc != nil {
			lb.policy.choiceCount = cc.GetValue()
		}
		if b := lr.GetActiveRequestBias(); b != nil {
			lb.policy.biasSet = true
			lb.policy.activeRequestBias = b.GetDefaultValue()
			if lb.policy.activeRequestBias < 0 || math.IsNaN(lb.policy.activeRequestBias) {
				lb.policy.activeRequestBias = 1.0
			}
		}
	}
	lb.localityWeighted = c.GetCommonLbConfig().GetLocalityWeightedLbConfig() != nil
	// healthy_panic_threshold: PROTOBUF_PERCENT_TO_ROUNDED_INTEGER_OR_DEFAULT(…, 100, 50), capped at 100.
	lb.panicThreshold = 50
	if p := c.GetCommonLbConfig().GetHealthyPanicThreshold(); p != nil {
		lb.panicThreshold = uint64(math.Round(p.GetValue()))
	}
	lb.panicThreshold = min(100, lb.panicThreshold)
	lb.zoneCfg = zoneConfigOf(c)
}

// hostHealthChanged re-partitions the host set of h's priority after an
// outlier ejection or unejection and runs the priority update callbacks.
func (lb *LB) hostHealthChanged(h *hostState) {
	lv := lb.levels[h.Priority]
	lv.partition()
	lb.gen++
	lv.gen = lb.gen
	lv.sig = lv.signature(lb.overprov)
	lb.prio.recalculate(lb.levels, lb.overprov, lb.weightedHealth, lb.panicThreshold)
	if h.Priority == 0 && lb.local != nil {
		lb.regenerateZone()
	}
}

// PriorityLoad returns the current per-priority healthy load percentages.
func (lb *LB) PriorityLoad() []uint32 {
	h, _ := lb.PriorityLoads()
	return h
}

// PriorityLoads returns the per-priority healthy and degraded loads.
func (lb *LB) PriorityLoads() (healthy, degraded []uint32) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.advanceOutlier(lb.clock())
	return append([]uint32(nil), lb.prio.healthyLoad...), append([]uint32(nil), lb.prio.degradedLoad...)
}

// HostHealth returns key → "HEALTHY" | "DEGRADED" | "DRAINING" | "UNHEALTHY" |
// "EJECTED" for every host.
func (lb *LB) HostHealth() map[string]string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.advanceOutlier(lb.clock())
	m := make(map[string]string, len(lb.hosts))
	for k, h := range lb.hosts {
		switch {
		case h.od.ejected:
			m[k] = "EJECTED"
		case h.excluded():
			m[k] = "DRAINING"
		case h.health() == healthDegraded:
			m[k] = "DEGRADED"
		case h.health() == healthHealthy:
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

// SetRetryPolicy replaces the retry policy, as an RDS push of the route
// that sends to this cluster would.
func (lb *LB) SetRetryPolicy(p RetryPolicy) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.retry = p
}

// chooseHost is ZoneAwareLoadBalancerBase::chooseHost with the router as
// LoadBalancerContext: the retry priority adjusts the priority load on
// retries, and on retries a host rejected by the retry host predicate is
// re-picked up to host_selection_retry_max_attempts times, the last pick
// being used if all are rejected. Caller holds lb.mu.
func (lb *LB) chooseHost(w *worker, rp *RetryPolicy, rs *retryState, isRetry bool) *hostState {
	healthy, degraded := lb.prio.healthyLoad, lb.prio.degradedLoad
	attempts := 1
	if isRetry {
		if rp.PreviousPriorities {
			healthy, degraded = rs.determinePriorityLoad(&lb.prio, len(lb.levels))
		}
		attempts += max(0, rp.HostSelectionRetryMaxAttempts)
	}
	var h *hostState
	for i := 0; i < attempts; i++ {
		h = lb.chooseHostOnce(w, healthy, degraded)
		if h == nil || !isRetry || rp.HostSelectionRetryMaxAttempts <= 0 || !rs.shouldSelectAnotherHost(h) {
			return h
		}
	}
	return h
}

// Do runs one downstream request through the router: it picks a host with
// the worker's load balancer, calls send for it without holding the LB lock,
// records the outcome (host stats, outlier detection) and retries as the
// route's retry policy says (RetryStateImpl::shouldRetry: retries while
// num_retries allows and the try is retriable).
//
// It returns the final attempt and the host that served it, or
// ErrNoHealthyUpstream when no host could be picked, at the first try or at
// a retry (Envoy answers 503 "no healthy upstream", UH, even after failed
// tries).
func (lb *LB) Do(send func(h Host) Attempt) (Attempt, Host, error) {
	lb.mu.Lock()
	w := lb.workers[lb.next%uint64(len(lb.workers))]
	lb.next++
	rp := lb.retry
	lb.mu.Unlock()

	var rs *retryState // retry plugin state, only when the route has plugins
	if rp.HostSelectionRetryMaxAttempts > 0 || rp.PreviousPriorities {
		rs = &retryState{freq: max(1, rp.PreviousPrioritiesUpdateFrequency)}
	}
	retriesLeft := rp.NumRetries
	for try := 0; ; try++ {
		lb.mu.Lock()
		lb.advanceOutlier(lb.clock())
		h := lb.chooseHost(w, &rp, rs, try > 0)
		if h == nil {
			lb.mu.Unlock()
			return Attempt{}, Host{}, ErrNoHealthyUpstream
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
		case a.failed():
			h.stats.RqError++
		default:
			h.stats.RqSuccess++
		}
		lb.recordOutlier(h, a, lb.clock())
		lb.mu.Unlock()

		if rs != nil {
			rs.onHostAttempted(h, rp.PreviousPriorities)
		}
		if !rp.wouldRetry(a) || retriesLeft <= 0 {
			return a, host, nil
		}
		retriesLeft--
	}
}

// Hold counts one more request in flight on host h, as Envoy's rq_active
// gauge does while a request is outstanding, until release is called.
// LEAST_REQUEST sees it. A caller that sends requests one after another
// but models several in flight (the embedded backend: each pick sees the
// previous concurrency-1 requests as still active, as with equal
// latencies) holds each finished request's host until the window moves
// on. Holding a host the cluster no longer has is a no-op.
func (lb *LB) Hold(h Host) (release func()) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var buf [64]byte
	hs := lb.hosts[string(h.appendKey(buf[:0]))] // no allocation for the key
	if hs == nil {
		return func() {}
	}
	hs.active++
	var once sync.Once
	return func() {
		once.Do(func() {
			lb.mu.Lock()
			defer lb.mu.Unlock()
			hs.active--
		})
	}
}
