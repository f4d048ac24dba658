// Envoy counterpart: source/common/upstream/upstream_impl.cc (host health
// flags, coarseHealth, ClusterImplBase::partitionHostList,
// excludeBasedOnHealthFlag, PriorityStateManager::updateClusterPrioritySet)
// and source/extensions/clusters/eds/eds.cc (building the priority set from a
// ClusterLoadAssignment: EdsClusterImpl::BatchUpdateHelper, including its
// duplicate-address rule, see buildLevels).

package envoylb

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

// hostState is one Envoy Host object: it is shared by all workers and kept
// across EDS updates while its address stays in the ClusterLoadAssignment.
type hostState struct {
	Host
	key      string
	eds      corev3.HealthStatus
	locProto *corev3.Locality
	weight   uint32
	// locWeight is the weight Envoy holds for the host's locality in its
	// priority (what PriorityStateManager recorded, see buildLevels).
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

// buildLevels turns a ClusterLoadAssignment into host sets, as
// EdsClusterImpl::BatchUpdateHelper::batchUpdate does
// (source/extensions/clusters/eds/eds.cc) with the PriorityStateManager of
// source/common/upstream/upstream_impl.cc:
//
//   - LocalityLbEndpoints are walked in ClusterLoadAssignment order (not
//     priority order). For each one, initializePriorityFor creates its
//     priority and, when the LocalityLbEndpoints has a locality and a
//     load_balancing_weight, records that weight for the locality in that
//     priority (the last one listed wins; an unset weight records nothing,
//     a locality never given one has weight 0). This happens before any of
//     its hosts is looked at, so it holds even when every host of the
//     LocalityLbEndpoints is dropped as a duplicate below.
//   - Duplicate addresses: updateLocalityEndpoints keeps only the FIRST
//     lb_endpoint of a given address across the whole assignment (all
//     localities and priorities), keyed by address->asString() ("ip:port",
//     "[ipv6]:port"): "When the configuration contains duplicate hosts,
//     only the first one will be retained". A later copy is dropped whole:
//     its health_status and load_balancing_weight are ignored and it is
//     registered for no locality (registerHostForPriority is not called).
//     Envoy accepts the update and logs or counts nothing for it
//     (envoyproxy/envoy#22417; #23445 proposes a NACK instead).
//     Istio produces such copies in multi-network meshes: the east-west
//     gateway endpoint once per remote locality (istio/istio#56355).
//   - updateClusterPrioritySet groups each priority's hosts by their
//     locality (LocalityLess order, local locality first) and takes the
//     locality weights from the recorded map. A locality all of whose hosts
//     were dropped has no hosts, so it is not in the host set at all: its
//     weight is not used.
//
// Host objects of old are reused by address
// (BaseDynamicClusterImpl::updateDynamicHostList keeps a host whose address
// is still present, updating its health flags and weight).
func buildLevels(cla *endpointv3.ClusterLoadAssignment, old map[string]*hostState, localLocality string,
	localityWeighted bool) (levels []*level, hosts map[string]*hostState, order []*hostState) {
	hosts = map[string]*hostState{}
	allNewHosts := map[string]bool{} // eds.cc all_new_hosts: address->asString()
	type locAcc struct {
		proto  *corev3.Locality
		weight uint32
		hosts  []*hostState
	}
	perPriority := map[uint32]map[string]*locAcc{}
	for _, lle := range cla.GetEndpoints() {
		// initializePriorityFor.
		p := lle.GetPriority()
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
		if lle.GetLocality() != nil && lle.GetLoadBalancingWeight() != nil {
			acc.weight = lle.GetLoadBalancingWeight().GetValue()
		}
		// updateLocalityEndpoints for each lb_endpoint.
		for _, lbe := range lle.GetLbEndpoints() {
			sa := lbe.GetEndpoint().GetAddress().GetSocketAddress()
			addr := addressString(sa.GetAddress(), sa.GetPortValue())
			if allNewHosts[addr] {
				continue // a duplicate: only the first one is retained
			}
			allNewHosts[addr] = true
			h := Host{Address: sa.GetAddress(), Port: sa.GetPortValue(), Locality: name, Priority: p}
			key := h.Key()
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
			hosts[key] = hs
			order = append(order, hs)
			lv.hosts = append(lv.hosts, hs)
			acc.hosts = append(acc.hosts, hs)
		}
	}
	if len(levels) == 0 {
		levels = append(levels, &level{})
	}
	// updateClusterPrioritySet.
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
			for _, h := range a.hosts {
				h.locWeight = a.weight
			}
			lv.localities = append(lv.localities, &locality{name: n, proto: a.proto, weight: a.weight, hosts: a.hosts})
		}
		lv.hasLocalityWeights = localityWeighted && len(lv.localities) > 0
		lv.partition()
	}
	return levels, hosts, order
}

// addressString is Envoy's Address::Instance::asString() for a socket
// address, the key of eds.cc's duplicate check: the IP in canonical form
// ("[ipv6]:port" for IPv6), so that two spellings of one IP are one
// address. An address that is not an IP literal (Envoy NACKs those for EDS
// clusters: "malformed IP address") is kept as written.
func addressString(addr string, port uint32) string {
	if a, err := netip.ParseAddr(addr); err == nil && port <= 0xffff {
		return netip.AddrPortFrom(a, uint16(port)).String()
	}
	return fmt.Sprintf("%s:%d", addr, port)
}
