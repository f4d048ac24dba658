// The expected split, computed from the same inputs and the same code as
// the picks: priority load (priority_load.go: per_priority_health_,
// distributeLoad, panic), locality weights under locality_weighted_lb_config
// (locality_scheduler.go: effectiveLocalityWeight, the EDF scheduler's
// long-run shares) and the host policy within the chosen host source
// (host_policies.go: uniform with equal endpoint weights, weighted EDF
// otherwise).

package envoylb

import (
	"errors"
	"slices"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

// PredictOptions are the state Predict assumes besides the protos.
type PredictOptions struct {
	// LocalLocality is the sidecar's own locality ("region/zone/subzone");
	// it only orders localities, as Options.LocalLocality does.
	LocalLocality string
	// Ejected lists hosts ("ip:port") to treat as ejected by outlier
	// detection (unhealthy). Optional.
	Ejected map[string]bool
	// LocalCluster is the sidecar's local_cluster assignment (as
	// SetLocalCluster takes it); nil = no local cluster, so no zone aware
	// routing.
	LocalCluster *endpointv3.ClusterLoadAssignment
}

// Prediction is the long-run share of requests per priority, locality and
// host that the model gives a Cluster and ClusterLoadAssignment (no
// retries: each request is one pick). Shares are fractions of all
// requests and, with NoHealthyUpstream, sum to 1.
type Prediction struct {
	Policy                 clusterv3.Cluster_LbPolicy
	LocalityWeighted       bool   // the Cluster has locality_weighted_lb_config
	OverprovisioningFactor uint32 // percent, EDS policy (default 140)
	PanicThreshold         uint64 // percent (healthy_panic_threshold, default 50)
	// HealthyLoad and DegradedLoad are the per-priority loads in percent
	// (what choosePriority draws from).
	HealthyLoad, DegradedLoad []uint32
	// TotalPanic: every priority is in panic; loads follow host counts.
	TotalPanic bool
	Priorities []PriorityPrediction
	// Hosts in ClusterLoadAssignment order.
	Hosts []HostShare
	// NoHealthyUpstream is the share of picks that find no host (Envoy
	// answers 503 "no healthy upstream").
	NoHealthyUpstream float64
	// ZoneAware is the zone aware routing state of priority 0
	// (zone_aware.go).
	ZoneAware ZoneAwarePrediction
	// Approximate: host shares within a source follow endpoint weights
	// under LEAST_REQUEST with unequal weights, which Envoy divides by
	// active requests; the locality and priority shares stay exact.
	Approximate bool
}

// PriorityPrediction is one priority (host set).
type PriorityPrediction struct {
	Priority                  uint32
	Hosts, Healthy, Degraded  int
	Excluded                  int
	Health, DegradedHealth    uint32 // per_priority_health_ / per_priority_degraded_ (percent, capped at 100)
	HealthyLoad, DegradedLoad uint32 // percent
	Panic                     bool   // this priority balances over all its hosts
	Localities                []LocalityShare
	Share                     float64 // of all requests, hosts found
	NoHealthyUpstream         float64 // of all requests, no host found in this priority
}

// LocalityShare is one locality of one priority.
type LocalityShare struct {
	Locality string // region/zone/subzone
	// Weight is the locality's weight in this priority: the
	// load_balancing_weight of the last LocalityLbEndpoints of it that set
	// one (0 when none did), see buildLevels.
	Weight uint32
	// EffectiveWeight is weight × min(1, overprovisioning × healthy/hosts)
	// for the healthy scheduler, only under locality_weighted_lb_config
	// (0 otherwise).
	EffectiveWeight float64
	Hosts, Healthy  int
	Share           float64 // of all requests
}

// ZoneAwarePrediction is what regenerateLocalityRoutingStructures
// computed for priority 0 and what hostSourceToUse does with it.
type ZoneAwarePrediction struct {
	// LocalCluster: a local cluster is set (SetLocalCluster /
	// PredictOptions.LocalCluster); without one there is no zone aware
	// routing.
	LocalCluster bool
	// LocalLocality is the sidecar's own locality.
	LocalLocality string
	// State is Envoy's LocalityRoutingState: NoLocalityRouting,
	// LocalityDirect (all zone-routed picks stay in the local locality) or
	// LocalityResidual (LocalPercentToRoute stay, the rest spills by
	// residual capacity).
	State string
	// Reason says why State is NoLocalityRouting (earlyExitNonLocalityRouting).
	Reason string
	// Configured: the Cluster has common_lb_config.zone_aware_lb_config
	// (istiod's zoneAwareLbSetting); without it Envoy still routes by zone
	// with the defaults when there is a local cluster.
	Configured bool
	// RoutingEnabled (percent of picks considered for zone aware routing),
	// MinClusterSize and FailTrafficOnPanic are the Cluster's
	// zone_aware_lb_config with Envoy's defaults (100, 6, false).
	RoutingEnabled, MinClusterSize uint64
	FailTrafficOnPanic             bool
	// LocalPanic: the local cluster's host set is below the panic
	// threshold, so hostSourceToUse skips zone aware routing
	// (lb_local_cluster_not_ok).
	LocalPanic bool
	// LocalPercentToRoute is the fraction of zone-routed picks that stay in
	// the local locality (Envoy's local_percent_to_route_ / 10000; 1 in
	// LocalityDirect).
	LocalPercentToRoute float64
	// Localities are priority 0's upstream localities in Envoy's order
	// (local first), with calculateLocalityPercentages' figures.
	Localities []ZoneLocality
	// LocalHealthy counts the local cluster's healthy hosts per locality.
	LocalHealthy map[string]int
}

// ZoneLocality is one upstream locality of priority 0.
type ZoneLocality struct {
	Locality string
	// LocalPercentage and UpstreamPercentage are the locality's fractions
	// of the local cluster's and of the upstream's healthy hosts, in
	// Envoy's precision (integer 1/10000).
	LocalPercentage, UpstreamPercentage float64
	// Residual is the locality's residual capacity (upstream − local
	// percentage when positive, 0 for the local locality), the weight of
	// its bucket for cross-zone picks.
	Residual float64
	// Share is the fraction of zone-routed picks that go to this locality.
	Share float64
}

// HostShare is one host's expected share.
type HostShare struct {
	Host
	Health string // HEALTHY, DEGRADED, DRAINING, UNHEALTHY, EJECTED
	Share  float64
}

// ByLocality sums host shares per locality ("region/zone/subzone") over
// every priority.
func (p Prediction) ByLocality() map[string]float64 {
	out := map[string]float64{}
	for _, h := range p.Hosts {
		out[h.Locality] += h.Share
	}
	return out
}

// Predict computes the expected split of cluster c with endpoints cla,
// using the same code as New and Do. It errors like New.
func Predict(c *clusterv3.Cluster, cla *endpointv3.ClusterLoadAssignment, opts PredictOptions) (Prediction, error) {
	if c == nil {
		return Prediction{}, errors.New("envoylb: nil Cluster")
	}
	if cla == nil {
		return Prediction{}, errors.New("envoylb: nil ClusterLoadAssignment")
	}
	if err := checkSupported(c, cla); err != nil {
		return Prediction{}, err
	}
	lb := &LB{}
	lb.configure(c)
	lb.overprov = 140
	if f := cla.GetPolicy().GetOverprovisioningFactor(); f != nil {
		lb.overprov = f.GetValue()
	}
	lb.weightedHealth = cla.GetPolicy().GetWeightedPriorityHealth()
	levels, _, order := buildLevels(cla, nil, opts.LocalLocality, lb.localityWeighted)
	if len(opts.Ejected) > 0 {
		for _, h := range order {
			h.od.ejected = opts.Ejected[h.key]
		}
		for _, lv := range levels {
			lv.partition()
		}
	}
	lb.levels, lb.order = levels, order
	lb.prio.recalculate(levels, lb.overprov, lb.weightedHealth, lb.panicThreshold)
	lb.opts.LocalLocality = opts.LocalLocality
	lb.zone = zoneState{reason: "no local cluster"}
	if opts.LocalCluster != nil {
		lb.local = buildLocalLevel(opts.LocalCluster, opts.LocalLocality)
		lb.regenerateZone()
	}
	return lb.predictLocked(), nil
}

// Prediction is Predict for the LB's current state (hosts ejected by
// outlier detection included).
func (lb *LB) Prediction() Prediction {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.advanceOutlier(lb.clock())
	return lb.predictLocked()
}

func (lb *LB) predictLocked() Prediction {
	ps := &lb.prio
	p := Prediction{
		Policy: lb.policy.kind, LocalityWeighted: lb.localityWeighted,
		OverprovisioningFactor: lb.overprov, PanicThreshold: lb.panicThreshold,
		HealthyLoad:  slices.Clone(ps.healthyLoad[:len(lb.levels)]),
		DegradedLoad: slices.Clone(ps.degradedLoad[:len(lb.levels)]),
	}
	share := map[*hostState]float64{}
	total := true
	for i, lv := range lb.levels {
		pp := PriorityPrediction{
			Priority: lv.priority, Hosts: len(lv.hosts), Healthy: len(lv.healthy), Degraded: len(lv.degraded),
			Excluded: lv.excluded, Health: ps.health[i], DegradedHealth: ps.degraded[i],
			HealthyLoad: ps.healthyLoad[i], DegradedLoad: ps.degradedLoad[i], Panic: ps.panic[i],
		}
		total = total && ps.panic[i]
		for _, degraded := range []bool{false, true} {
			load := ps.healthyLoad[i]
			if degraded {
				load = ps.degradedLoad[i]
			}
			if load == 0 {
				continue
			}
			nhu := lb.predictSource(lv, ps.panic[i], degraded, float64(load)/100, share)
			pp.NoHealthyUpstream += nhu
		}
		for _, l := range lv.localities {
			ls := LocalityShare{Locality: l.name, Weight: l.weight, Hosts: len(l.hosts), Healthy: len(l.healthy)}
			if lv.hasLocalityWeights {
				ls.EffectiveWeight = effectiveLocalityWeight(l, len(l.healthy), lb.overprov)
			}
			for _, h := range l.hosts {
				ls.Share += share[h]
			}
			pp.Share += ls.Share
			pp.Localities = append(pp.Localities, ls)
		}
		p.NoHealthyUpstream += pp.NoHealthyUpstream
		p.Priorities = append(p.Priorities, pp)
	}
	p.TotalPanic = total && len(lb.levels) > 0
	for _, h := range lb.order {
		hs := HostShare{Host: h.Host, Share: share[h]}
		switch {
		case h.od.ejected:
			hs.Health = "EJECTED"
		case h.excluded():
			hs.Health = "DRAINING"
		case h.health() == healthDegraded:
			hs.Health = "DEGRADED"
		case h.health() == healthHealthy:
			hs.Health = "HEALTHY"
		default:
			hs.Health = "UNHEALTHY"
		}
		p.Hosts = append(p.Hosts, hs)
	}
	p.Approximate = lb.policy.kind == clusterv3.Cluster_LEAST_REQUEST && !lb.allWeightsEqual()
	p.ZoneAware = lb.zonePrediction()
	return p
}

func (lb *LB) zonePrediction() ZoneAwarePrediction {
	z := ZoneAwarePrediction{
		LocalCluster: lb.local != nil, LocalLocality: lb.opts.LocalLocality, State: lb.zone.state.String(),
		Reason: lb.zone.reason, RoutingEnabled: lb.zoneCfg.routingEnabled, MinClusterSize: lb.zoneCfg.minClusterSize,
		FailTrafficOnPanic: lb.zoneCfg.failOnPanic, Configured: lb.zoneCfg.set,
	}
	if lb.local == nil {
		return z
	}
	z.LocalHealthy = map[string]int{}
	for _, l := range lb.local.localities {
		z.LocalHealthy[l.name] = len(l.healthy)
	}
	z.LocalPanic = hostSetInPanic(lb.local, lb.panicThreshold)
	if lb.zone.state == noLocalityRouting {
		return z
	}
	shares, local, _ := lb.zone.localityShares(len(lb.levels[0].localities))
	z.LocalPercentToRoute = local
	for i, l := range lb.levels[0].localities {
		lp := lb.zone.percentages[i]
		zl := ZoneLocality{Locality: l.name, LocalPercentage: float64(lp.local) / 10000,
			UpstreamPercentage: float64(lp.upstream) / 10000, Share: shares[i]}
		if lb.zone.residual != nil {
			prev := uint64(0)
			if i > 0 {
				prev = lb.zone.residual[i-1]
			}
			zl.Residual = float64(lb.zone.residual[i]-prev) / 10000
		}
		z.Localities = append(z.Localities, zl)
	}
	return z
}

func (lb *LB) allWeightsEqual() bool {
	return hostWeightsAreEqual(lb.order)
}

// predictSource spreads `load` (a fraction of all requests) over the hosts
// chooseHostOnce would pick from in priority lv, and returns the part that
// finds no host.
func (lb *LB) predictSource(lv *level, panic, degraded bool, load float64, share map[*hostState]float64) (noHost float64) {
	pick := func(l *locality) []*hostState {
		if degraded {
			return l.degraded
		}
		return l.healthy
	}
	switch {
	case panic:
		if lb.zoneCfg.failOnPanic {
			return load // hostSourceToUse returns no source
		}
		return lb.spread(lv.hosts, load, share)
	case lb.localityWeighted && lv.hasLocalityWeights:
		// buildLocalityScheduler: localities with a positive effective
		// weight; EDF gives each weight/sum of the picks in the long run.
		anyEligible := len(lv.healthy) > 0
		if degraded {
			anyEligible = len(lv.degraded) > 0
		}
		sum := 0.0
		eff := make([]float64, len(lv.localities))
		if anyEligible {
			for i, l := range lv.localities {
				eff[i] = effectiveLocalityWeight(l, len(pick(l)), lb.overprov)
				sum += eff[i]
			}
		}
		if sum > 0 {
			for i, l := range lv.localities {
				if eff[i] > 0 {
					noHost += lb.spread(pick(l), load*eff[i]/sum, share)
				}
			}
			return noHost
		}
	}
	if lv.priority == 0 && lb.zone.state != noLocalityRouting {
		// hostSourceToUse: featureEnabled(routing_enabled) picks go through
		// zone aware routing unless the local cluster is in panic.
		zoned := load * float64(lb.zoneCfg.routingEnabled) / 100
		load -= zoned
		if hostSetInPanic(lb.local, lb.panicThreshold) {
			if lb.zoneCfg.failOnPanic {
				noHost += zoned
			} else {
				load += zoned
			}
		} else {
			shares, _, _ := lb.zone.localityShares(len(lv.localities))
			for i, l := range lv.localities {
				if shares[i] > 0 {
					noHost += lb.spread(pick(l), zoned*shares[i], share)
				}
			}
		}
		if load == 0 {
			return noHost
		}
	}
	if degraded {
		return noHost + lb.spread(lv.degraded, load, share)
	}
	return noHost + lb.spread(lv.healthy, load, share)
}

// spread is the host policy's long-run share within one host source:
// uniform with equal endpoint weights (round robin, least request's
// symmetric random choices, random), else proportional to the endpoint
// weights (EDF; RANDOM ignores weights).
func (lb *LB) spread(hosts []*hostState, load float64, share map[*hostState]float64) (noHost float64) {
	if len(hosts) == 0 {
		return load
	}
	if lb.policy.kind == clusterv3.Cluster_RANDOM || hostWeightsAreEqual(hosts) {
		for _, h := range hosts {
			share[h] += load / float64(len(hosts))
		}
		return 0
	}
	sum := 0.0
	for _, h := range hosts {
		sum += float64(h.weight)
	}
	for _, h := range hosts {
		share[h] += load * float64(h.weight) / sum
	}
	return 0
}
