package explain

// reasons.go owns the why of each predicted row: the sentence that says
// which priority a locality has and when it gets traffic.

import (
	"fmt"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/localitylb/locality-e2e/framework/envoylb"
	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// reason explains one locality row: why its priority, and when and how
// much traffic it gets.
func reason(dr *networkingv1.DestinationRule, client topology.Client, topo topology.Topology, p envoylb.Prediction, pp envoylb.PriorityPrediction, ls envoylb.LocalityShare) string {
	var why string
	lbs := settingFor(dr, topo.Port)
	loc, _ := locality.Parse(bucket(ls.Locality))
	switch {
	case lbs.zoneAware != nil:
		why = zoneAwarePriority(lbs.zoneAware, client.Locality, loc, pp.Priority)
	case dr != nil && !enabled(lbs.locality):
		why = "locality LB off (enabled: false): every endpoint priority 0"
	case len(lbs.locality.GetDistribute()) > 0:
		from := ""
		for _, d := range lbs.locality.GetDistribute() {
			if matchFrom(client.Locality, d.GetFrom()) {
				from = d.GetFrom()
				break
			}
		}
		if from == "" {
			why = "no distribute.from matches the client: istiod's default weights (ready pods)"
		} else {
			why = fmt.Sprintf("distribute from %q gives it locality weight %d", from, ls.Weight)
		}
	case topo.TrafficDistribution != "" && lbs.locality == nil:
		why = fmt.Sprintf("priority %d: Service trafficDistribution %s (failoverPriority network, region, zone): %s", pp.Priority, topo.TrafficDistribution, relation(client.Locality, loc))
	case lbs.outlier == nil:
		why = "priority 0: no outlierDetection, so istiod assigns no failover priorities"
	case len(lbs.locality.GetFailoverPriority()) > 0:
		fps := lbs.locality.GetFailoverPriority()
		n := len(fps)
		k := n - int(pp.Priority)
		switch {
		case k >= n:
			why = fmt.Sprintf("priority 0: matches the client on every failoverPriority label %v", fps)
		case k <= 0:
			why = fmt.Sprintf("priority %d: matches the client on no failoverPriority label (first: %s)", pp.Priority, fps[0])
		default:
			why = fmt.Sprintf("priority %d: matches the client on failoverPriority %v, not on %s", pp.Priority, fps[:k], fps[k])
		}
	default:
		why = fmt.Sprintf("priority %d: %s", pp.Priority, relation(client.Locality, loc))
		for _, f := range lbs.locality.GetFailover() {
			if f.GetFrom() == client.Locality.Region && loc.Region == f.GetTo() {
				why += fmt.Sprintf(" (failover target of %s → %s)", f.GetFrom(), f.GetTo())
			}
		}
	}
	return why + "; " + when(p, pp, ls)
}

func matchFrom(l locality.Locality, from string) bool {
	r, z, s := splitRule(from)
	return (r == "*" || r == l.Region) && (z == "*" || z == "" || z == l.Zone) && (s == "*" || s == "" || s == l.Subzone)
}

func splitRule(s string) (r, z, sz string) {
	parts := strings.SplitN(s, "/", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

func relation(client, ep locality.Locality) string {
	switch {
	case client.Region == ep.Region && client.Zone == ep.Zone && client.Subzone == ep.Subzone:
		return "same locality as the client"
	case client.Region == ep.Region && client.Zone == ep.Zone:
		return "same zone, other subzone"
	case client.Region == ep.Region:
		return "same region, other zone"
	}
	return "other region"
}

// when says when the row gets traffic and how much it gets now.
func when(p envoylb.Prediction, pp envoylb.PriorityPrediction, ls envoylb.LocalityShare) string {
	if s := zoneWhen(p, pp, ls); s != "" {
		return s
	}
	var parts []string
	if pp.Priority > 0 {
		prev := p.Priorities[pp.Priority-1]
		if pp.Priority == 1 {
			need := (100*prev.Hosts + int(p.OverprovisioningFactor) - 1) / int(p.OverprovisioningFactor)
			parts = append(parts, fmt.Sprintf("gets traffic only when priority 0 health < %.0f%% (fewer than %d of its %d hosts healthy)", 10000/float64(p.OverprovisioningFactor), need, prev.Hosts))
		} else {
			parts = append(parts, fmt.Sprintf("gets traffic only when priorities 0–%d together have health < 100%%", pp.Priority-1))
		}
	}
	if pp.Panic {
		parts = append(parts, fmt.Sprintf("priority %d is in panic (healthy below %d%%): its hosts are used whatever their health", pp.Priority, p.PanicThreshold))
	}
	parts = append(parts, fmt.Sprintf("now: priority load %d%%", pp.HealthyLoad))
	if p.LocalityWeighted && ls.EffectiveWeight > 0 {
		sum := 0.0
		for _, o := range pp.Localities {
			sum += o.EffectiveWeight
		}
		parts[len(parts)-1] += fmt.Sprintf(" × locality weight %g/%g", ls.EffectiveWeight, sum)
	} else if pp.Healthy > 0 && !pp.Panic {
		parts[len(parts)-1] += fmt.Sprintf(" × %d/%d healthy hosts", ls.Healthy, pp.Healthy)
	}
	parts[len(parts)-1] += fmt.Sprintf(" = %.1f%%", 100*ls.Share)
	return strings.Join(parts, "; ")
}
