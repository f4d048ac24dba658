package endpoints

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

// FromClusterLoadAssignment builds a table from an EDS ClusterLoadAssignment
// (istiod's output, or the EDS part of Envoy's config dump). podByIP names
// hosts (may be nil). In the Envoy view, localities without hosts are
// dropped, as Envoy rebuilds its view from live hosts.
func FromClusterLoadAssignment(cla *endpointv3.ClusterLoadAssignment, view View, podByIP map[string]string) Table {
	t := Table{Cluster: cla.GetClusterName(), View: view}
	for _, lle := range cla.GetEndpoints() {
		row := Locality{
			Locality: localityString(lle.GetLocality()),
			Priority: lle.GetPriority(),
			Weight:   lle.GetLoadBalancingWeight().GetValue(),
		}
		for _, lb := range lle.GetLbEndpoints() {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			row.Hosts = append(row.Hosts, Host{
				Address: sa.GetAddress(),
				Port:    sa.GetPortValue(),
				Pod:     podByIP[sa.GetAddress()],
				Health:  healthOf(lb.GetHealthStatus()),
			})
		}
		if view == Envoy && len(row.Hosts) == 0 {
			continue
		}
		t.Rows = append(t.Rows, row)
	}
	t.Sort()
	return t
}

func localityString(l *corev3.Locality) string {
	s := l.GetRegion()
	if l.GetZone() == "" && l.GetSubZone() == "" {
		return s
	}
	s += "/" + l.GetZone()
	if l.GetSubZone() != "" {
		s += "/" + l.GetSubZone()
	}
	return s
}

func healthOf(h corev3.HealthStatus) Health {
	switch h {
	case corev3.HealthStatus_HEALTHY, corev3.HealthStatus_UNKNOWN:
		return Healthy
	case corev3.HealthStatus_DRAINING:
		return Draining
	default:
		return Unhealthy
	}
}
