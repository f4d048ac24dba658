// Envoy counterpart: source/server/admin/clusters_handler.cc and
// config_dump_handler.cc read these fields (host_statuses, lb_endpoints).

package envoylb

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// HostStatus is one host of the cluster with everything Envoy's admin API
// reports about it (/clusters host_statuses, config_dump?include_eds
// lb_endpoints). It is what an admin renderer reads; it carries state, not
// formatting.
type HostStatus struct {
	Host
	// LocalityProto is the host's locality as EDS sent it.
	LocalityProto *corev3.Locality
	// Weight is the lb_endpoint's load_balancing_weight (1 when unset).
	Weight uint32
	// LocalityWeight is the weight Envoy holds for the host's locality in
	// its priority, what config_dump prints from the host set's
	// localityWeights() (config_dump_handler.cc): the load_balancing_weight
	// of the last LocalityLbEndpoints of that locality and priority that set
	// one, including one whose hosts were all dropped as duplicates
	// (PriorityStateManager::initializePriorityFor); 0 when none did.
	LocalityWeight uint32
	// EDSHealth is the lb_endpoint's health_status as EDS sent it.
	EDSHealth corev3.HealthStatus
	// FailedOutlierCheck: ejected by outlier detection.
	FailedOutlierCheck bool
	// Stats are the host's request counters.
	Stats HostStats
}

// HostStats are the per-host counters Envoy's /clusters prints.
type HostStats struct {
	RqTotal, RqSuccess, RqError, RqActive, CxConnectFail uint64
}

// State is a snapshot of the cluster as the sidecar holds it.
type State struct {
	// ClusterName is the ClusterLoadAssignment's cluster_name.
	ClusterName string
	// LocalityWeighted: the Cluster has common_lb_config.locality_weighted_lb_config,
	// so Envoy keeps (and dumps) locality weights.
	LocalityWeighted bool
	// OverprovisioningFactor in percent (EDS policy, default 140).
	OverprovisioningFactor uint32
	// Hosts in ClusterLoadAssignment order (LocalityLbEndpoints, then
	// lb_endpoint order), one per address: a duplicate address is not a
	// host (eds.cc keeps only the first, see buildLevels).
	Hosts []HostStatus
}

// State returns a snapshot of the cluster as the sidecar holds it, for
// rendering Envoy's admin API.
func (lb *LB) State() State {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.advanceOutlier(lb.clock())
	st := State{ClusterName: lb.clusterName, LocalityWeighted: lb.localityWeighted, OverprovisioningFactor: lb.overprov}
	for _, h := range lb.order {
		hs := HostStatus{
			Host: h.Host, LocalityProto: h.locProto, Weight: h.weight, LocalityWeight: h.locWeight,
			EDSHealth: h.eds, FailedOutlierCheck: h.od.ejected, Stats: h.stats,
		}
		hs.Stats.RqActive = uint64(h.active)
		st.Hosts = append(st.Hosts, hs)
	}
	return st
}
