// Envoy counterpart: source/common/upstream/upstream_impl.cc (host health
// flags, coarseHealth, ClusterImplBase::partitionHostList,
// excludeBasedOnHealthFlag, PriorityStateManager::updateClusterPrioritySet)
// and source/common/upstream/eds.cc (building the priority set from a
// ClusterLoadAssignment).

package envoylb

import (
	"cmp"
	"fmt"
	"slices"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

// hostState is one Envoy Host object: it is shared by all workers and kept
// across EDS updates while its address stays in the ClusterLoadAssignment.
type hostState struct {
	Host
	key       string
	eds       corev3.HealthStatus
	locProto  *corev3.Locality
	weight    uint32
	locWeight uint32
	stats     HostStats

	// active is rq_active (shared by all workers), used by LEAST_REQUEST.
	active int64

	// od is the outlier detector's per-host monitor (outlier.go).
	od hostMonitor
}

type coarseHealth uint8

const (
	healthHealthy coarseHealth = iota
	healthDegraded
	healthUnhealthy
)

// health is HostImplBase::coarseHealth. EDS health_status maps to flags as
// HostImplBase::setEdsHealthFlag does: UNHEALTHY and TIMEOUT set
// FAILED_EDS_HEALTH, DRAINING sets EDS_STATUS_DRAINING, DEGRADED sets
// DEGRADED_EDS_HEALTH; HEALTHY and UNKNOWN set nothing. Outlier ejection sets
// FAILED_OUTLIER_CHECK. Any "failed" flag or DRAINING makes the host
// unhealthy; otherwise DEGRADED_EDS_HEALTH makes it degraded.
func (h *hostState) health() coarseHealth {
	switch {
	case h.od.ejected, h.eds == corev3.HealthStatus_UNHEALTHY, h.eds == corev3.HealthStatus_TIMEOUT,
		h.eds == corev3.HealthStatus_DRAINING:
		return healthUnhealthy
	case h.eds == corev3.HealthStatus_DEGRADED:
		return healthDegraded
	}
	return healthHealthy
}

// excluded is excludeBasedOnHealthFlag: a host with EDS_STATUS_DRAINING is
// excluded (the runtime guard exclude_host_in_eds_status_draining was removed
// in Envoy 1.36, the behaviour is now unconditional). Excluded hosts stay in
// hosts() (and so are used in panic mode) but are subtracted from the host
// count of priority health, panic and locality weight computations.
func (h *hostState) excluded() bool { return h.eds == corev3.HealthStatus_DRAINING }

type locality struct {
	name     string
	proto    *corev3.Locality
	weight   uint32
	hosts    []*hostState
	healthy  []*hostState
	degraded []*hostState
	excluded int
}

// level is one HostSet (one priority).
type level struct {
	priority   uint32
	hosts      []*hostState // hosts(), in ClusterLoadAssignment order
	healthy    []*hostState // healthyHosts()
	degraded   []*hostState // degradedHosts()
	excluded   int          // excludedHosts().size()
	localities []*locality  // hostsPerLocality(), LocalityLess order, local locality first

	// hasLocalityWeights: the cluster has locality_weighted_lb_config, so
	// Envoy passes locality weights to the host set.
	hasLocalityWeights bool

	// gen changes whenever Envoy would run the priority update callbacks for
	// this host set (membership, health or weights changed); per-worker
	// schedulers are rebuilt then.
	gen uint64
	sig string
}

// partition is ClusterImplBase::partitionHostList applied to the priority
// and to each locality.
func (lv *level) partition() {
	lv.healthy, lv.degraded, lv.excluded = partitionHosts(lv.hosts, lv.healthy[:0], lv.degraded[:0])
	for _, l := range lv.localities {
		l.healthy, l.degraded, l.excluded = partitionHosts(l.hosts, l.healthy[:0], l.degraded[:0])
	}
}

// partitionHosts splits hosts into healthy and degraded (appended to the
// given slices, reused) and counts the excluded ones.
func partitionHosts(hosts, healthy, degraded []*hostState) ([]*hostState, []*hostState, int) {
	excluded := 0
	for _, h := range hosts {
		if h.excluded() {
			excluded++
		}
		switch h.health() {
		case healthHealthy:
			healthy = append(healthy, h)
		case healthDegraded:
			degraded = append(degraded, h)
		}
	}
	return healthy, degraded, excluded
}

// signature identifies what the priority update callbacks depend on, to
// decide whether an EDS update changed this host set.
func (lv *level) signature(overprov uint32) string {
	b := make([]byte, 0, 32*len(lv.hosts))
	b = fmt.Appendf(b, "%d|", overprov)
	for _, l := range lv.localities {
		b = fmt.Appendf(b, "L%s/%d:", l.name, l.weight)
		for _, h := range l.hosts {
			b = fmt.Appendf(b, "%p,%d,%d,%v;", h, h.weight, h.eds, h.od.ejected)
		}
	}
	return string(b)
}

func localityName(l *corev3.Locality) string {
	return l.GetRegion() + "/" + l.GetZone() + "/" + l.GetSubZone()
}

// localityLess is Envoy's LocalityLess: region, then zone, then sub_zone.
func localityLess(a, b *corev3.Locality) int {
	return cmp.Or(cmp.Compare(a.GetRegion(), b.GetRegion()), cmp.Compare(a.GetZone(), b.GetZone()),
		cmp.Compare(a.GetSubZone(), b.GetSubZone()))
}

// buildLevels turns a ClusterLoadAssignment into host sets, reusing host
// objects of old by address (BaseDynamicClusterImpl::updateDynamicHostList
// keeps a host whose address is still present, updating its health flags and
// weight). Per priority, hosts are grouped by locality in LocalityLess order
// with the local locality first (PriorityStateManager::updateClusterPrioritySet);
// a locality listed twice in one priority is merged and the last
// load_balancing_weight wins.
func buildLevels(cla *endpointv3.ClusterLoadAssignment, old map[string]*hostState, localLocality string,
	localityWeighted bool) (levels []*level, hosts map[string]*hostState, order []*hostState) {
	hosts = map[string]*hostState{}
	type locAcc struct {
		proto  *corev3.Locality
		weight uint32
		hosts  []*hostState
	}
	perPriority := map[uint32]map[string]*locAcc{}
	maxP := uint32(0)
	for _, lle := range cla.GetEndpoints() {
		p := lle.GetPriority()
		maxP = max(maxP, p)
		for uint32(len(levels)) <= p {
			levels = append(levels, &level{priority: uint32(len(levels))})
		}
		lv := levels[p]
		name := localityName(lle.GetLocality())
		if perPriority[p] == nil {
			perPriority[p] = map[string]*locAcc{}
		}
		acc := perPriority[p][name]
		if acc == nil {
			acc = &locAcc{proto: lle.GetLocality()}
			perPriority[p][name] = acc
		}
		acc.weight = lle.GetLoadBalancingWeight().GetValue()
		for _, lbe := range lle.GetLbEndpoints() {
			sa := lbe.GetEndpoint().GetAddress().GetSocketAddress()
			h := Host{Address: sa.GetAddress(), Port: sa.GetPortValue(), Locality: name, Priority: p}
			key := h.Key()
			if _, dup := hosts[key]; dup {
				continue
			}
			hs := old[key]
			if hs == nil {
				hs = &hostState{key: key}
			}
			hs.Host = h
			hs.eds = lbe.GetHealthStatus()
			hs.locProto = lle.GetLocality()
			// lb_endpoint load_balancing_weight defaults to 1.
			hs.weight = 1
			if w := lbe.GetLoadBalancingWeight(); w != nil && w.GetValue() > 0 {
				hs.weight = w.GetValue()
			}
			hs.locWeight = lle.GetLoadBalancingWeight().GetValue()
			hosts[key] = hs
			order = append(order, hs)
			lv.hosts = append(lv.hosts, hs)
			acc.hosts = append(acc.hosts, hs)
		}
	}
	if len(levels) == 0 {
		levels = append(levels, &level{})
	}
	for p, lv := range levels {
		accs := perPriority[uint32(p)]
		names := make([]string, 0, len(accs))
		for n, a := range accs {
			if len(a.hosts) > 0 {
				names = append(names, n)
			}
		}
		slices.SortFunc(names, func(a, b string) int {
			if a == localLocality && b != localLocality {
				return -1
			}
			if b == localLocality && a != localLocality {
				return 1
			}
			return localityLess(accs[a].proto, accs[b].proto)
		})
		for _, n := range names {
			a := accs[n]
			lv.localities = append(lv.localities, &locality{name: n, proto: a.proto, weight: a.weight, hosts: a.hosts})
		}
		lv.hasLocalityWeights = localityWeighted && len(lv.localities) > 0
		lv.partition()
	}
	return levels, hosts, order
}
