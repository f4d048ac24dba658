package embedded

// This file owns the answer to "can this DestinationRule ever reach a
// client sidecar?" (issue 23 item 6). Once istiod has taken an applied
// rule, its push context says which rules each client's sidecar gets for
// the host the clients call: SidecarScope.DestinationRule, the
// consolidated rule CDS is built from (pilot/pkg/model/sidecar.go,
// selectDestinationRules, which asks PushContext.destinationRule:
// the proxy's namespace first, then rules exported from the service's
// namespace, then the root namespace). A rule in none of them never
// changes what a client does, so ApplyDestinationRule says so at once
// instead of waiting out the sync timeout for a push that cannot come.

import (
	"fmt"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/host"
)

// destinationRuleReach returns nil when istiod gives the rule ns/name to
// at least one client sidecar for the topology's host, or when another
// applied rule takes precedence for that host and this one could take
// over once that one goes. Otherwise it returns why the rule reaches no
// client. Call it with the
// mesh lock held (read or write), once istiod has committed the update.
func (m *Mesh) destinationRuleReach(ns string, dr *networkingv1.DestinationRule) error {
	svc := host.Name(m.topo.Host())
	shadowed := false
	for _, n := range m.clientNames() {
		p := m.proxy(m.clients[n])
		cdr := p.SidecarScope.DestinationRule(model.TrafficDirectionOutbound, p, svc)
		for _, from := range cdr.GetFrom() {
			if from.Namespace == ns && from.Name == dr.Name {
				return nil
			}
		}
		if r := cdr.GetRule(); r != nil && m.drs[r.Namespace+"/"+r.Name] != nil && (r.Namespace != ns || r.Name != dr.Name) {
			shadowed = true
		}
	}
	key := ns + "/" + dr.Name
	// The host as istiod reads it (PushContext.setDestinationRules).
	h := model.ResolveShortnameToFQDN(dr.Spec.Host, config.Meta{Namespace: ns, Domain: m.fake.Discovery.Env.DomainSuffix})
	switch {
	case len(m.clients) == 0:
		return fmt.Errorf("ApplyDestinationRule: DestinationRule %s selects host %s, which no client of this topology calls: the topology has no clients (nothing was applied)", key, h)
	case !h.Matches(svc):
		return fmt.Errorf("ApplyDestinationRule: DestinationRule %s selects host %s, which no client of this topology calls: set spec.host to %s (nothing was applied)", key, h, svc)
	case ns != m.topo.Namespace && ns != m.rootNamespace():
		// PushContext.destinationRule's order: the proxy's namespace, the
		// service's, the root namespace; no other is ever read.
		return fmt.Errorf("ApplyDestinationRule: DestinationRule %s selects host %s, but istiod gives it to no client: a sidecar takes rules from its own namespace, the service's namespace (both %s here) and the root namespace (%s), never from namespace %s: apply it in namespace %s (nothing was applied)",
			key, h, m.topo.Namespace, m.rootNamespace(), ns, m.topo.Namespace)
	case shadowed:
		// Another applied rule takes precedence for the host now (a more
		// specific host, the clients' own namespace first): this one is in
		// istiod's state as Istio's precedence says (pushedDestinationRule).
		return nil
	case dr.Spec.WorkloadSelector != nil:
		return fmt.Errorf("ApplyDestinationRule: DestinationRule %s selects host %s, but its spec.workloadSelector %v matches no client pod of this topology: drop it or match a client's labels (nothing was applied)", key, h, dr.Spec.WorkloadSelector.GetMatchLabels())
	default:
		return fmt.Errorf("ApplyDestinationRule: DestinationRule %s selects host %s, but istiod gives it to no client: its exportTo %s does not include the clients' namespace %s: add %q or \"*\" (nothing was applied)",
			key, h, exportTo(dr), m.topo.Namespace, m.topo.Namespace)
	}
}

// rootNamespace is istiod's config root namespace (mesh config).
func (m *Mesh) rootNamespace() string {
	return m.fake.PushContext().Mesh.GetRootNamespace()
}

// exportTo is how a message shows a rule's exportTo (empty: the mesh
// default, which is "*" in the embedded istiod's mesh config).
func exportTo(dr *networkingv1.DestinationRule) string {
	if len(dr.Spec.ExportTo) == 0 {
		return "unset (the mesh default)"
	}
	return fmt.Sprintf("%q", dr.Spec.ExportTo)
}
