// Zone aware routing in explanations: the sidecar's local_cluster (the
// caller's own Service as istiod's SelfDiscoveryCluster serves it) goes
// into envoylb.Predict, and the zone aware figures Envoy computes
// (load_balancer_impl.cc ZoneAwareLoadBalancerBase::
// regenerateLocalityRoutingStructures, calculateLocalityPercentages) become
// one sentence per client and the reason of each priority 0 row.

package explain

import (
	"fmt"
	"strings"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	networkingapi "istio.io/api/networking/v1alpha3"

	"github.com/localitylb/locality-e2e/framework/envoylb"
	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// localClusterSource is implemented by a backend that feeds sidecars a
// local_cluster (embedded: sidecars with ENABLE_SELF_DISCOVERY). It
// returns nil when the client's sidecar has no local cluster.
type localClusterSource interface {
	ClientLocalCluster(client string) (*endpointv3.ClusterLoadAssignment, error)
}

// localClusterOf returns the client's local_cluster assignment, or nil.
func localClusterOf(m any, client string) (*endpointv3.ClusterLoadAssignment, error) {
	src, ok := m.(localClusterSource)
	if !ok {
		return nil, nil
	}
	return src.ClientLocalCluster(client)
}

// pct formats a fraction as a percentage without needless decimals.
func pct(f float64) string {
	s := fmt.Sprintf("%.2f", 100*f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

// zoneSummary says what zone aware routing does for this client, or ""
// when it plays no part (no zone_aware_lb_config and no local cluster).
func zoneSummary(p envoylb.Prediction) string {
	z := p.ZoneAware
	if !z.Configured && !z.LocalCluster {
		return ""
	}
	if !z.LocalCluster {
		if z.RoutingEnabled == 0 {
			return "zone aware routing off: zone_aware_lb_config routing_enabled 0% (zoneAwareLbSetting enabled: false)"
		}
		return "zone aware routing off: the Cluster has zone_aware_lb_config but the sidecar has no local_cluster " +
			"(Envoy needs the caller's own Service over EDS: proxy metadata ENABLE_SELF_DISCOVERY=true)"
	}
	if z.State == "NoLocalityRouting" {
		return "zone aware routing off at priority 0: " + z.Reason
	}
	if z.RoutingEnabled == 0 {
		return "zone aware routing off: routing_enabled 0% (zoneAwareLbSetting enabled: false)"
	}
	local := bucket(z.LocalLocality)
	var localPct, upPct float64
	var callers, callersTotal, up, upTotal int
	for l, n := range z.LocalHealthy {
		callersTotal += n
		if l == z.LocalLocality {
			callers = n
		}
	}
	if len(p.Priorities) > 0 {
		for _, ls := range p.Priorities[0].Localities {
			upTotal += ls.Healthy
			if ls.Locality == z.LocalLocality {
				up = ls.Healthy
			}
		}
	}
	if len(z.Localities) > 0 && z.Localities[0].Locality == z.LocalLocality {
		localPct, upPct = z.Localities[0].LocalPercentage, z.Localities[0].UpstreamPercentage
	} else if callersTotal > 0 {
		localPct = float64(callers) / float64(callersTotal)
	}
	head := fmt.Sprintf("zone aware routing at priority 0: local zone %s holds %s of callers (%d of %d healthy local_cluster hosts)",
		local, pct(localPct), callers, callersTotal)
	var tail string
	switch z.State {
	case "LocalityDirect":
		tail = fmt.Sprintf(" and %s of upstream hosts (%d of %d healthy): upstream share ≥ caller share, so all of %s's zone-routed requests stay local (LocalityDirect)",
			pct(upPct), up, upTotal, local)
	default:
		conj := "but"
		if up == 0 {
			conj = "and"
		}
		tail = fmt.Sprintf(" %s %s of upstream hosts (%d of %d healthy): %s of %s's zone-routed requests stay local (%s × 10000 / %s), the rest spills by residual capacity",
			conj, pct(upPct), up, upTotal, pct(z.LocalPercentToRoute), local, pct(upPct), pct(localPct))
		var spill []string
		for _, l := range z.Localities {
			if l.Locality == z.LocalLocality || l.Share == 0 {
				continue
			}
			spill = append(spill, fmt.Sprintf("%s %s (residual %s = %s upstream − %s callers)", bucket(l.Locality),
				pct(l.Share), pct(l.Residual), pct(l.UpstreamPercentage), pct(l.LocalPercentage)))
		}
		if len(spill) > 0 {
			tail += ": " + strings.Join(spill, ", ")
		}
	}
	s := head + tail
	if z.RoutingEnabled < 100 {
		s += fmt.Sprintf("; routing_enabled %d%%: the other picks ignore zones", z.RoutingEnabled)
	}
	if z.LocalPanic {
		s += "; BUT the local cluster is in panic (healthy below the panic threshold): zone aware routing is skipped (lb_local_cluster_not_ok)"
		if z.FailTrafficOnPanic {
			s += " and fail_traffic_on_panic answers no healthy upstream"
		}
	}
	return s
}

// zoneWhen is the "now" part of a priority 0 row under zone aware routing
// ("" when zone aware routing does not decide the row's share).
func zoneWhen(p envoylb.Prediction, pp envoylb.PriorityPrediction, ls envoylb.LocalityShare) string {
	z := p.ZoneAware
	if pp.Priority != 0 || pp.Panic || p.LocalityWeighted || !z.LocalCluster || z.State == "NoLocalityRouting" ||
		z.RoutingEnabled == 0 || z.LocalPanic {
		return ""
	}
	for _, l := range z.Localities {
		if l.Locality != ls.Locality {
			continue
		}
		how := "residual capacity"
		switch {
		case z.State == "LocalityDirect" && l.Locality == z.LocalLocality:
			how = "all local (LocalityDirect)"
		case l.Locality == z.LocalLocality:
			how = fmt.Sprintf("local_percent_to_route %s", pct(z.LocalPercentToRoute))
		case z.State == "LocalityDirect":
			how = "none (LocalityDirect)"
		default:
			how = fmt.Sprintf("%s of the spill", pct(spillShare(z, l)))
		}
		s := fmt.Sprintf("now: priority load %d%% × zone aware %s (%s)", pp.HealthyLoad, pct(l.Share), how)
		if z.RoutingEnabled < 100 {
			s += fmt.Sprintf(" for %d%% of picks, %d/%d healthy hosts for the rest", z.RoutingEnabled, ls.Healthy, pp.Healthy)
		}
		return s + fmt.Sprintf(" = %.1f%%", 100*ls.Share)
	}
	return ""
}

func spillShare(z envoylb.ZoneAwarePrediction, l envoylb.ZoneLocality) float64 {
	if z.LocalPercentToRoute >= 1 {
		return 0
	}
	return l.Share / (1 - z.LocalPercentToRoute)
}

// zoneAwarePriority explains a row's priority under zoneAwareLbSetting:
// istiod's ApplyZoneAwareLoadBalancer (failoverPriority tiers, then
// applyZoneAwareRegionalFailover: the client's region, failover targets,
// other regions).
func zoneAwarePriority(za *networkingapi.ZoneAwareLoadBalancerSetting, client, ep locality.Locality, priority uint32) string {
	if za.GetEnabled() != nil && !za.GetEnabled().GetValue() {
		return "zoneAwareLbSetting enabled: false: istiod sets routing_enabled 0% and assigns no priorities, every endpoint priority 0"
	}
	var where string
	switch {
	case ep.Region == client.Region:
		where = "the client's region (zoneAwareLbSetting keeps it first; Envoy balances its zones by zone aware routing)"
	default:
		where = "other region (zoneAwareLbSetting puts other regions after the client's)"
		for _, f := range za.GetFailover() {
			if f.GetFrom() == client.Region {
				if f.GetTo() == ep.Region {
					where = fmt.Sprintf("other region, failover target of %s → %s", f.GetFrom(), f.GetTo())
				}
				break
			}
		}
	}
	s := fmt.Sprintf("priority %d: %s", priority, where)
	if fp := za.GetFailoverPriority(); len(fp) > 0 {
		s += fmt.Sprintf(", within failoverPriority %v tiers", fp)
	}
	return s
}

// zoneAwareTraps are the warnings for a zoneAwareLbSetting on this
// topology: routing switched off, a minClusterSize (Envoy's default 6 when
// unset) above the pods of a client's region (priority 0 after istiod's
// regional bucketing, so Envoy never routes by zone there), and failover
// entries whose from matches no client's region.
func zoneAwareTraps(s lbSetting, topo topology.Topology) []string {
	za := s.zoneAware
	if za == nil {
		return nil
	}
	path := s.path + ".loadBalancer.zoneAwareLbSetting"
	if za.GetEnabled() != nil && !za.GetEnabled().GetValue() {
		return []string{path + ".enabled is false: istiod sets routing_enabled 0% (Envoy's zone aware routing off) and assigns no regional priorities: traffic spreads over every pod of every region"}
	}
	var warns []string
	minSize, what := 6, "is unset (Envoy's default 6)"
	if m := za.GetMinClusterSize(); m != nil {
		minSize, what = int(m.GetValue()), fmt.Sprintf("is %d", m.GetValue())
	}
	seen := map[string]bool{}
	for _, c := range topo.Clients {
		region := c.Locality.Region
		if seen[region] {
			continue
		}
		seen[region] = true
		pods := 0
		for _, w := range topo.Workloads {
			if w.Locality.Region == region {
				pods += w.Replicas
			}
		}
		if pods > 0 && pods < minSize {
			warns = append(warns, fmt.Sprintf("%s.minClusterSize %s but region %s has %d upstream pods at priority 0: Envoy needs at least min_cluster_size healthy hosts (earlyExitNonLocalityRouting, lb_zone_cluster_too_small) and spreads over them ignoring zones",
				path, what, region, pods))
		}
	}
	for i, f := range za.GetFailover() {
		matched := false
		for _, c := range topo.Clients {
			if c.Locality.Region == f.GetFrom() {
				matched = true
			}
		}
		if !matched {
			warns = append(warns, fmt.Sprintf("%s.failover[%d].from %q matches no client's region (clients are in %s): the entry never applies", path, i, f.GetFrom(), clientLocalities(topo)))
		}
	}
	return warns
}
