// Zone aware routing. Envoy counterpart:
// source/extensions/load_balancing_policies/common/load_balancer_impl.cc
// (ZoneAwareLoadBalancerBase: constructor / local_priority_set_,
// regenerateLocalityRoutingStructures, earlyExitNonLocalityRouting,
// calculateLocalityPercentages, tryChooseLocalLocalityHosts; the
// hostSourceToUse part is in host_policies.go chooseHostOnce) and
// LoadBalancerConfigHelper::localityLbConfigFromCommonLbConfig (which
// fields of the Cluster's common_lb_config.zone_aware_lb_config reach the
// load balancer).
//
// Zone aware routing needs a local cluster (the bootstrap's
// cluster_manager.local_cluster_name, which istiod's SelfDiscoveryCluster
// serves to sidecars with ENABLE_SELF_DISCOVERY) and applies only to
// priority 0. It is active for every cluster of such a sidecar, with the
// defaults (routing_enabled 100%, min_cluster_size 6) when the Cluster has
// no zone_aware_lb_config; locality_weighted_lb_config, when it picks a
// locality, takes precedence (hostSourceToUse checks it first).

package envoylb

import (
	"fmt"
	"math"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/proto"
)

// zoneConfig is the zone aware part of ZoneAwareLoadBalancerBase's
// constructor, with Envoy's defaults for an absent zone_aware_lb_config.
// The runtime keys upstream.zone_routing.enabled,
// upstream.zone_routing.min_cluster_size and
// upstream.zone_routing.force_locality_direct_routing default to these
// values; Istio sets no runtime overrides for them.
type zoneConfig struct {
	// set: the Cluster has common_lb_config.zone_aware_lb_config.
	set bool
	// routingEnabled: PROTOBUF_PERCENT_TO_ROUNDED_INTEGER_OR_DEFAULT(
	// routing_enabled, 100, 100), used as featureEnabled(
	// "upstream.zone_routing.enabled", routing_enabled).
	routingEnabled uint64
	// minClusterSize: PROTOBUF_GET_WRAPPED_OR_DEFAULT(min_cluster_size, 6).
	minClusterSize uint64
	// failOnPanic: fail_traffic_on_panic (default false).
	failOnPanic bool
}

func zoneConfigOf(c *clusterv3.Cluster) zoneConfig {
	z := zoneConfig{routingEnabled: 100, minClusterSize: 6}
	za := c.GetCommonLbConfig().GetZoneAwareLbConfig()
	if za == nil {
		return z
	}
	z.set = true
	if re := za.GetRoutingEnabled(); re != nil {
		z.routingEnabled = uint64(min(100, math.Max(0, math.Round(re.GetValue()))))
	}
	if mc := za.GetMinClusterSize(); mc != nil {
		z.minClusterSize = mc.GetValue()
	}
	z.failOnPanic = za.GetFailTrafficOnPanic()
	return z
}

// localityRoutingState is ZoneAwareLoadBalancerBase::LocalityRoutingState.
type localityRoutingState uint8

const (
	noLocalityRouting localityRoutingState = iota
	localityDirect
	localityResidual
)

func (s localityRoutingState) String() string {
	switch s {
	case localityDirect:
		return "LocalityDirect"
	case localityResidual:
		return "LocalityResidual"
	}
	return "NoLocalityRouting"
}

// localityPercentages is ZoneAwareLoadBalancerBase::LocalityPercentages,
// in units of 1/10000.
type localityPercentages struct {
	local, upstream uint64
}

// zoneState is PerPriorityState for priority 0, plus why locality routing
// is off (for Prediction).
type zoneState struct {
	state               localityRoutingState
	localPercentToRoute uint64   // local_percent_to_route_ (of 10000)
	residual            []uint64 // residual_capacity_ (cumulative)
	percentages         []localityPercentages
	reason              string // earlyExitNonLocalityRouting's reason, "" when routing
}

// lbStats are the cluster's load balancer counters Envoy keeps
// (ClusterLbStats, envoy/upstream/upstream.h ALL_CLUSTER_LB_STATS) that
// the zone aware code and panic increment.
type lbStats struct {
	healthyPanic, localClusterNotOK, recalculateZoneStructures, zoneClusterTooSmall,
	zoneNoCapacityLeft, zoneRoutingAllDirectly, zoneRoutingSampled, zoneRoutingCrossZone uint64
}

// LBStats returns the cluster's load balancer counters under Envoy's stat
// names (cluster.<name>.lb_*): lb_healthy_panic, lb_local_cluster_not_ok,
// lb_recalculate_zone_structures, lb_zone_cluster_too_small,
// lb_zone_no_capacity_left, lb_zone_routing_all_directly,
// lb_zone_routing_sampled, lb_zone_routing_cross_zone. Counters that Envoy
// increments once per worker load balancer (the structure regeneration and
// its early exits) count once per worker here too.
func (lb *LB) LBStats() map[string]uint64 {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.advanceOutlier(lb.clock())
	s := lb.stats
	return map[string]uint64{
		"lb_healthy_panic":               s.healthyPanic,
		"lb_local_cluster_not_ok":        s.localClusterNotOK,
		"lb_recalculate_zone_structures": s.recalculateZoneStructures,
		"lb_zone_cluster_too_small":      s.zoneClusterTooSmall,
		"lb_zone_no_capacity_left":       s.zoneNoCapacityLeft,
		"lb_zone_routing_all_directly":   s.zoneRoutingAllDirectly,
		"lb_zone_routing_sampled":        s.zoneRoutingSampled,
		"lb_zone_routing_cross_zone":     s.zoneRoutingCrossZone,
	}
}

// SetLocalCluster feeds the sidecar's local_cluster endpoints (the
// ClusterLoadAssignment istiod serves over EDS for the bootstrap's
// cluster_manager.local_cluster_name; nil = no local cluster, so no zone
// aware routing). Envoy builds the zone aware load balancer's local
// priority set from the local cluster's hosts grouped by locality, local
// locality (Options.LocalLocality) first; only priority 0 is used
// (localHostSet() is hostSetsPerPriority()[0]; the constructor ASSERTs a
// single priority). Local hosts' health is their EDS health_status, as for
// any cluster (host_set.go health); the local cluster has no outlier
// detection in the model. An update of the local set regenerates the
// locality routing structures (the local priority set's update callback).
// Duplicate addresses follow buildLevels.
func (lb *LB) SetLocalCluster(cla *endpointv3.ClusterLoadAssignment) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.advanceOutlier(lb.clock())
	if cla == nil {
		lb.localCLA, lb.local = nil, nil
		lb.zone = zoneState{reason: "no local cluster"}
		return nil
	}
	old := lb.local
	lb.localCLA = proto.Clone(cla).(*endpointv3.ClusterLoadAssignment)
	lb.local = buildLocalLevel(lb.localCLA, lb.opts.LocalLocality)
	if old == nil || old.signature(0) != lb.local.signature(0) {
		lb.regenerateZone()
	}
	return nil
}

// LocalCluster returns the local cluster's ClusterLoadAssignment last set
// with SetLocalCluster (nil when none).
func (lb *LB) LocalCluster() *endpointv3.ClusterLoadAssignment {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.localCLA == nil {
		return nil
	}
	return proto.Clone(lb.localCLA).(*endpointv3.ClusterLoadAssignment)
}

// buildLocalLevel is the local priority set's host set 0.
func buildLocalLevel(cla *endpointv3.ClusterLoadAssignment, localLocality string) *level {
	levels, _, _ := buildLevels(cla, nil, localLocality, false)
	return levels[0]
}

// hasLocalLocality is HostsPerLocality::hasLocalLocality: the sidecar's
// locality is known and has hosts in this host set (it is then first,
// buildLevels).
func hasLocalLocality(lv *level, localLocality string) bool {
	return localLocality != "" && len(lv.localities) > 0 && lv.localities[0].name == localLocality
}

// regenerateZone is regenerateLocalityRoutingStructures, run by every
// worker's load balancer on a priority 0 update and on a local cluster
// update. Caller holds lb.mu.
func (lb *LB) regenerateZone() {
	if lb.local == nil {
		lb.zone = zoneState{reason: "no local cluster"}
		return
	}
	workers := uint64(len(lb.workers))
	lb.stats.recalculateZoneStructures += workers
	z := zoneState{}
	if z.reason = lb.earlyExitNonLocalityRouting(workers); z.reason != "" {
		lb.zone = z
		return
	}
	up := lb.levels[0]
	upHasLocal := hasLocalLocality(up, lb.opts.LocalLocality)
	z.percentages = calculateLocalityPercentages(lb.local, up)
	p0 := z.percentages[0]
	// force_locality_direct_routing is not in the Cluster proto's
	// zone_aware_lb_config (only in the typed LocalityLbConfig), so it is
	// false here.
	if upHasLocal && p0.upstream > 0 && p0.upstream >= p0.local {
		z.state = localityDirect
		lb.zone = z
		return
	}
	z.state = localityResidual
	if upHasLocal && p0.local > 0 {
		z.localPercentToRoute = p0.upstream * 10000 / p0.local
	}
	z.residual = make([]uint64, len(up.localities))
	for i := range up.localities {
		var last uint64
		if i > 0 {
			last = z.residual[i-1]
		}
		lp := z.percentages[i]
		switch {
		case i == 0 && upHasLocal:
			z.residual[i] = last
		case lp.upstream > lp.local:
			z.residual[i] = last + lp.upstream - lp.local
		default:
			z.residual[i] = last
		}
	}
	lb.zone = z
}

// earlyExitNonLocalityRouting returns why locality routing is off ("" when
// it is possible) and counts the stats it counts (once per worker).
func (lb *LB) earlyExitNonLocalityRouting(workers uint64) string {
	up := lb.levels[0]
	if len(up.localities) < 2 {
		return fmt.Sprintf("priority 0 has %d upstream locality(ies), zone aware routing needs 2", len(up.localities))
	}
	if len(lb.local.localities) < 2 {
		return fmt.Sprintf("the local cluster has %d locality(ies), zone aware routing needs 2", len(lb.local.localities))
	}
	if !hasLocalLocality(lb.local, lb.opts.LocalLocality) || len(lb.local.localities[0].hosts) == 0 {
		lb.stats.localClusterNotOK += workers
		return fmt.Sprintf("the local cluster has no host in the sidecar's locality %q (lb_local_cluster_not_ok)", lb.opts.LocalLocality)
	}
	if uint64(len(up.healthy)) < lb.zoneCfg.minClusterSize {
		lb.stats.zoneClusterTooSmall += workers
		return fmt.Sprintf("%d healthy upstream hosts at priority 0 < min_cluster_size %d (lb_zone_cluster_too_small)",
			len(up.healthy), lb.zoneCfg.minClusterSize)
	}
	return ""
}

// calculateLocalityPercentages is
// ZoneAwareLoadBalancerBase::calculateLocalityPercentages over the healthy
// hosts per locality of the local host set and of upstream priority 0, in
// the upstream's locality order.
func calculateLocalityPercentages(local, up *level) []localityPercentages {
	var totalLocal, totalUp uint64
	localCounts := map[string]uint64{}
	for _, l := range local.localities {
		totalLocal += uint64(len(l.healthy))
		if len(l.healthy) > 0 {
			localCounts[l.name] = uint64(len(l.healthy))
		}
	}
	for _, l := range up.localities {
		totalUp += uint64(len(l.healthy))
	}
	out := make([]localityPercentages, len(up.localities))
	for i, l := range up.localities {
		if len(l.healthy) == 0 {
			continue
		}
		if totalLocal > 0 {
			out[i].local = 10000 * localCounts[l.name] / totalLocal
		}
		if totalUp > 0 {
			out[i].upstream = 10000 * uint64(len(l.healthy)) / totalUp
		}
	}
	return out
}

// tryChooseLocalLocalityHosts returns the index of the upstream locality
// (in priority 0) to pick from. Random values come from the worker's
// random_ in Envoy's order. Caller holds lb.mu.
func (lb *LB) tryChooseLocalLocalityHosts(w *worker) uint32 {
	z := &lb.zone
	if z.state == localityDirect {
		lb.stats.zoneRoutingAllDirectly++
		return 0
	}
	if w.random()%10000 < z.localPercentToRoute {
		lb.stats.zoneRoutingSampled++
		return 0
	}
	lb.stats.zoneRoutingCrossZone++
	n := uint64(len(z.residual))
	if z.residual[n-1] == 0 {
		lb.stats.zoneNoCapacityLeft++
		return uint32(w.random() % n)
	}
	threshold := w.random() % z.residual[n-1]
	i := 0
	for threshold >= z.residual[i] {
		i++
	}
	return uint32(i)
}

// runtimeFeatureEnabled is Runtime::Snapshot::featureEnabled(key,
// default_value) without an override: the runtime's own random value % 100
// < default_value (always true at 100, never at 0). Caller holds lb.mu.
func (lb *LB) runtimeFeatureEnabled(pct uint64) bool {
	switch {
	case pct >= 100:
		return true
	case pct == 0:
		return false
	}
	var r uint64
	if len(lb.injectRuntime) > 0 {
		r, lb.injectRuntime = lb.injectRuntime[0], lb.injectRuntime[1:]
	} else {
		r = lb.rtRNG.Uint64()
	}
	return r%100 < pct
}

// zoneLocalityShares is the long-run share of tryChooseLocalLocalityHosts's
// answers per upstream locality of priority 0 (exact: the random draws are
// uniform modulo 10000 and modulo the residual total), plus the shares of
// the direct, sampled and cross-zone outcomes.
func (z *zoneState) localityShares(n int) (shares []float64, local, cross float64) {
	shares = make([]float64, n)
	if z.state == localityDirect {
		shares[0] = 1
		return shares, 1, 0
	}
	local = float64(min(z.localPercentToRoute, 10000)) / 10000
	cross = 1 - local
	shares[0] += local
	total := z.residual[n-1]
	if total == 0 {
		for i := range shares {
			shares[i] += cross / float64(n)
		}
		return shares, local, cross
	}
	var prev uint64
	for i, r := range z.residual {
		shares[i] += cross * float64(r-prev) / float64(total)
		prev = r
	}
	return shares, local, cross
}
