package explain

import (
	"fmt"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	networkingapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"istio.io/istio/pilot/pkg/networking/util"

	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// lbSetting is one place of a rule that sets load balancing: the top-level
// traffic policy or a port-level one.
type lbSetting struct {
	path     string
	port     uint32 // port-level: the port number; 0 for the top level
	locality *networkingapi.LocalityLoadBalancerSetting
	// zoneAware is loadBalancer.zoneAwareLbSetting (it wins over
	// localityLbSetting in istiod's GetEffectiveLbSetting).
	zoneAware *networkingapi.ZoneAwareLoadBalancerSetting
	outlier   *networkingapi.OutlierDetection
}

func settings(dr *networkingv1.DestinationRule) []lbSetting {
	if dr == nil {
		return nil
	}
	tp := dr.Spec.GetTrafficPolicy()
	out := []lbSetting{{path: "spec.trafficPolicy", locality: tp.GetLoadBalancer().GetLocalityLbSetting(),
		zoneAware: tp.GetLoadBalancer().GetZoneAwareLbSetting(), outlier: tp.GetOutlierDetection()}}
	for i, pl := range tp.GetPortLevelSettings() {
		s := lbSetting{path: fmt.Sprintf("spec.trafficPolicy.portLevelSettings[%d]", i), port: pl.GetPort().GetNumber(),
			locality: pl.GetLoadBalancer().GetLocalityLbSetting(), zoneAware: pl.GetLoadBalancer().GetZoneAwareLbSetting(),
			outlier: pl.GetOutlierDetection()}
		if s.locality == nil {
			s.locality = out[0].locality
		}
		if s.zoneAware == nil {
			s.zoneAware = out[0].zoneAware
		}
		if s.outlier == nil {
			s.outlier = out[0].outlier
		}
		out = append(out, s)
	}
	return out
}

// settingFor returns the setting that applies to the Service port.
func settingFor(dr *networkingv1.DestinationRule, port int) lbSetting {
	all := settings(dr)
	if len(all) == 0 {
		return lbSetting{}
	}
	for _, s := range all[1:] {
		if int(s.port) == port {
			return s
		}
	}
	return all[0]
}

func enabled(l *networkingapi.LocalityLoadBalancerSetting) bool {
	return l == nil || l.GetEnabled() == nil || l.GetEnabled().GetValue()
}

// podLabels are the labels istiod sees on the topology's endpoints: the
// pod's own (app, workload, the topology's extra labels) and the locality
// labels istiod adds (labelutil.AugmentLabels).
func podLabels(topo topology.Topology) []map[string]string {
	var out []map[string]string
	for _, w := range topo.Workloads {
		m := map[string]string{
			"app": topo.App, "workload": w.Name, topology.LabelIstioLocality: strings.ReplaceAll(w.Locality.String(), "/", "."),
			topology.LabelRegion: w.Locality.Region, topology.LabelZone: w.Locality.Zone,
			"topology.istio.io/cluster": "Kubernetes",
		}
		if w.Locality.Subzone != "" {
			m[topology.LabelSubzone] = w.Locality.Subzone
		}
		for k, v := range w.Labels {
			m[k] = v
		}
		out = append(out, m)
	}
	return out
}

func coreLocality(l locality.Locality) *corev3.Locality {
	return &corev3.Locality{Region: l.Region, Zone: l.Zone, SubZone: l.Subzone}
}

// Traps returns the warnings about rule shapes that do not do what they
// seem to, for this topology: failover without outlierDetection,
// distribute.from matching no client, a maxEjectionPercent too low to eject
// a client's whole local zone, enabled: false, a failoverPriority label no
// pod carries, zone aware settings that cannot take effect
// (zoneAwareTraps). dr may be nil (no rule).
func Traps(dr *networkingv1.DestinationRule, topo topology.Topology) []string {
	var warns []string
	if topo.MultiNetwork() {
		// ep_filters.go EndpointsByNetworkFilter and the gateway's sni-dnat
		// clusters (docs/locality-behavior.md §6).
		warns = append(warns, "the topology spans several networks: a client's sidecar sees each remote locality as one east-west gateway endpoint, and the gateway's own load balancing (the rule applied from the gateway's locality, over every pod of its network) picks the pod; the prediction covers the share sent to each gateway, and the locality that answers can differ (--verify shows it)")
	}
	if topo.Mesh.LocalityLbSetting != nil {
		if dr != nil && dr.Spec.GetTrafficPolicy().GetLoadBalancer().GetLocalityLbSetting() != nil {
			warns = append(warns, "the topology sets meshConfig.localityLbSetting, and the rule's trafficPolicy.loadBalancer.localityLbSetting replaces it whole for this service (nothing of the mesh default is merged in)")
		}
	}
	total := topo.WorkloadPods()
	labels := podLabels(topo)
	for _, s := range settings(dr) {
		warns = append(warns, zoneAwareTraps(s, topo)...)
		l := s.locality
		if !enabled(l) {
			warns = append(warns, fmt.Sprintf("%s.loadBalancer.localityLbSetting.enabled is false: locality load balancing is off, every endpoint is priority 0 and traffic spreads over every pod of every locality (outlierDetection only ejects hosts, it gives no failover)", s.path))
			continue
		}
		if l != nil && len(l.GetDistribute()) == 0 && s.outlier == nil {
			what := "locality failover"
			if len(l.GetFailover()) > 0 {
				what = "failover"
			} else if len(l.GetFailoverPriority()) > 0 {
				what = "failoverPriority"
			}
			warns = append(warns, fmt.Sprintf("%s has no outlierDetection: istiod assigns no failover priorities, so %s does nothing: every endpoint is priority 0 and traffic spreads over every locality (add outlierDetection, e.g. consecutive5xxErrors: 1)", s.path, what))
		}
		for i, d := range l.GetDistribute() {
			matched := false
			for _, c := range topo.Clients {
				if util.LocalityMatch(coreLocality(c.Locality), d.GetFrom()) {
					matched = true
				}
			}
			if !matched {
				warns = append(warns, fmt.Sprintf("%s.loadBalancer.localityLbSetting.distribute[%d].from %q matches no client (clients are in %s): the entry never applies", s.path, i, d.GetFrom(), clientLocalities(topo)))
			}
		}
		for i, fp := range l.GetFailoverPriority() {
			key, val, hasVal := strings.Cut(fp, "=")
			carried := false
			for _, m := range labels {
				if v, ok := m[key]; ok && (!hasVal || v == val) {
					carried = true
				}
			}
			if !carried {
				what := "label " + key
				if hasVal {
					what = "label " + key + "=" + val
				}
				warns = append(warns, fmt.Sprintf("%s.loadBalancer.localityLbSetting.failoverPriority[%d] %q: no pod carries %s, so it ranks no endpoint above another", s.path, i, fp, what))
			}
		}
		if s.outlier != nil && total > 0 {
			pct := uint32(10)
			if s.outlier.GetMaxEjectionPercent() != 0 {
				pct = uint32(s.outlier.GetMaxEjectionPercent())
			}
			for _, c := range topo.Clients {
				local := 0
				for _, w := range topo.Workloads {
					if w.Locality == c.Locality {
						local += w.Replicas
					}
				}
				if local == 0 {
					continue
				}
				// Envoy ejects the k-th host only if 100·k/N ≤ maxEjectionPercent,
				// N every host of the cluster.
				ejectable := int(pct) * total / 100
				if ejectable < local {
					maxPct := fmt.Sprintf("is %d", pct)
					if s.outlier.GetMaxEjectionPercent() == 0 {
						maxPct = "is unset (Envoy's default 10)"
					}
					need := (100*local + total - 1) / total
					warns = append(warns, fmt.Sprintf("%s.outlierDetection.maxEjectionPercent %s: Envoy ejects at most %d of the cluster's %d hosts ((ejected+1)/hosts ≤ %d%%), but client %s's locality %s has %d: when they fail they stay in and their errors reach the client instead of failing over (set maxEjectionPercent ≥ %d)",
						s.path, maxPct, ejectable, total, pct, c.Name, c.Locality, local, need))
				}
			}
		}
	}
	sort.Strings(warns)
	return dedupe(warns)
}

func dedupe(ss []string) []string {
	var out []string
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func clientLocalities(topo topology.Topology) string {
	var ls []string
	for _, c := range topo.Clients {
		ls = append(ls, c.Locality.String())
	}
	return strings.Join(ls, ", ")
}
