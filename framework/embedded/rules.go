package embedded

// rules.go owns DestinationRules and VirtualServices: applying and deleting
// them, and knowing when istiod has pushed them.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/host"
	"istio.io/istio/pkg/config/schema/gvk"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/virtualservice"
)

// ApplyDestinationRule validates the rule with Istio's validation, creates
// or updates it in istiod's config store, waits until istiod has pushed it,
// and pushes every client's new config.
func (m *Mesh) ApplyDestinationRule(ctx context.Context, dr *networkingv1.DestinationRule) error {
	if dr == nil {
		return errors.New("ApplyDestinationRule: rule is nil")
	}
	if _, err := destinationrule.Validate(dr.Name, dr); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ApplyDestinationRule %s: %s before applying (nothing changed): %w", dr.Name, cancelWord(err), err)
	}
	l := m.lockChange()
	defer l.unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	ns := dr.Namespace
	if ns == "" {
		ns = m.topo.Namespace
	}
	cfg := config.Config{
		Meta: config.Meta{GroupVersionKind: gvk.DestinationRule, Name: dr.Name, Namespace: ns},
		Spec: proto.Clone(&dr.Spec),
	}
	before := m.fake.Discovery.InboundUpdates.Load()
	store := m.fake.Store()
	var err error
	prev := store.Get(gvk.DestinationRule, dr.Name, ns)
	if prev != nil {
		_, err = store.Update(cfg)
	} else {
		_, err = store.Create(cfg)
	}
	if err != nil {
		return fmt.Errorf("apply DestinationRule %s/%s: %w", ns, dr.Name, err)
	}
	key := ns + "/" + dr.Name
	prevStored := m.drs[key]
	stored := dr.DeepCopy()
	stored.Namespace = ns
	m.drs[key] = stored
	// Once istiod has taken it (a debounce, not a push), its push context
	// says whether the rule can reach a client at all (drreach.go); if
	// not, the store is put back as it was.
	if err := m.poll(ctx, "istiod to take DestinationRule "+dr.Name, func() bool { return m.synced(before + 1) }); err != nil {
		return err
	}
	if err := m.destinationRuleReach(ns, dr); err != nil {
		// Put the store back and let istiod take that too, so the next
		// change's update count starts after it.
		rollback := m.fake.Discovery.InboundUpdates.Load()
		if prev != nil {
			restore := prev.DeepCopy()
			restore.ResourceVersion = ""
			_, _ = store.Update(restore)
		} else {
			_ = store.Delete(gvk.DestinationRule, dr.Name, ns, nil)
		}
		if m.drs[key] = prevStored; prevStored == nil {
			delete(m.drs, key)
		}
		if werr := m.poll(ctx, "istiod to take back DestinationRule "+dr.Name, func() bool { return m.synced(rollback + 1) }); werr != nil {
			return fmt.Errorf("%w; %w", err, werr)
		}
		return err
	}
	l.waiting()
	if err := m.poll(ctx, "istiod to push DestinationRule "+dr.Name, func() bool {
		return m.synced(before+1) && m.pushedDestinationRule(ns, dr.Name, &dr.Spec)
	}); err != nil {
		return err
	}
	return m.converge(ctx)
}

// DeleteDestinationRule removes the rule and waits for the push. name is
// "namespace/name", or a bare name when only one applied rule has it.
func (m *Mesh) DeleteDestinationRule(ctx context.Context, name string) error {
	return deleteRule(ctx, m, "DeleteDestinationRule", "DestinationRule", gvk.DestinationRule, m.drs, name, m.pushedDestinationRule)
}

// deleteRule is Delete{DestinationRule,VirtualService}: the rule named
// name in rules (resolve) leaves istiod's store, and deleteRule waits until
// istiod has pushed its absence (pushed with a nil spec) and the sidecars
// have converged.
func deleteRule[T metav1.Object](ctx context.Context, m *Mesh, op, kind string, g config.GroupVersionKind,
	rules map[string]T, name string, pushed func(ns, name string, spec proto.Message) bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %s before deleting (nothing changed): %w", op, name, cancelWord(err), err)
	}
	l := m.lockChange()
	defer l.unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	key, err := resolve(rules, name, op, kind)
	if err != nil {
		return err
	}
	rule := rules[key]
	before := m.fake.Discovery.InboundUpdates.Load()
	if err := m.fake.Store().Delete(g, rule.GetName(), rule.GetNamespace(), nil); err != nil {
		return fmt.Errorf("delete %s %s: %w", kind, key, err)
	}
	delete(rules, key)
	l.waiting()
	if err := m.poll(ctx, "istiod to push the deletion of "+kind+" "+key, func() bool {
		return m.synced(before+1) && pushed(rule.GetNamespace(), rule.GetName(), nil)
	}); err != nil {
		return err
	}
	return m.converge(ctx)
}

// resolve finds the key ("namespace/name") of an applied object from
// "namespace/name" or a bare name that only one applied object has.
func resolve[T any](objs map[string]T, name, op, kind string) (string, error) {
	if _, ok := objs[name]; ok && strings.Contains(name, "/") {
		return name, nil
	}
	var matches []string
	for k := range objs {
		if _, n, _ := strings.Cut(k, "/"); n == name {
			matches = append(matches, k)
		}
	}
	sort.Strings(matches)
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		known := make([]string, 0, len(objs))
		for k := range objs {
			known = append(known, k)
		}
		sort.Strings(known)
		return "", fmt.Errorf("%s: no %s %q was applied (applied: %v)", op, kind, name, known)
	default:
		return "", fmt.Errorf("%s: %s name %q is ambiguous: applied as %v; pass namespace/name", op, kind, name, matches)
	}
}

// DestinationRules lists the applied rules.
func (m *Mesh) DestinationRules(ctx context.Context) ([]*networkingv1.DestinationRule, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []*networkingv1.DestinationRule
	for _, dr := range m.drs {
		out = append(out, dr.DeepCopy())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// ApplyVirtualService validates the VirtualService with Istio's
// validation, creates or updates it in istiod's config store, and waits
// until every sidecar has received the pushes it causes.
func (m *Mesh) ApplyVirtualService(ctx context.Context, vs *networkingv1.VirtualService) error {
	if vs == nil {
		return errors.New("ApplyVirtualService: VirtualService is nil")
	}
	if _, err := virtualservice.Validate("VirtualService "+vs.Name, vs); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ApplyVirtualService %s: %s before applying (nothing changed): %w", vs.Name, cancelWord(err), err)
	}
	l := m.lockChange()
	defer l.unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	ns := vs.Namespace
	if ns == "" {
		ns = m.topo.Namespace
	}
	cfg := config.Config{
		Meta: config.Meta{GroupVersionKind: gvk.VirtualService, Name: vs.Name, Namespace: ns},
		Spec: proto.Clone(&vs.Spec),
	}
	before := m.fake.Discovery.InboundUpdates.Load()
	store := m.fake.Store()
	var err error
	if store.Get(gvk.VirtualService, vs.Name, ns) != nil {
		_, err = store.Update(cfg)
	} else {
		_, err = store.Create(cfg)
	}
	if err != nil {
		return fmt.Errorf("apply VirtualService %s/%s: %w", ns, vs.Name, err)
	}
	stored := vs.DeepCopy()
	stored.Namespace = ns
	m.vss[ns+"/"+vs.Name] = stored
	l.waiting()
	if err := m.poll(ctx, "istiod to push VirtualService "+vs.Name, func() bool {
		return m.synced(before+1) && m.pushedVirtualService(ns, vs.Name, &vs.Spec)
	}); err != nil {
		return err
	}
	return m.converge(ctx)
}

// DeleteVirtualService removes the VirtualService and waits for the push.
// name is "namespace/name", or a bare name when only one has it.
func (m *Mesh) DeleteVirtualService(ctx context.Context, name string) error {
	return deleteRule(ctx, m, "DeleteVirtualService", "VirtualService", gvk.VirtualService, m.vss, name, m.pushedVirtualService)
}

// pushedDestinationRule reports whether istiod's current push context
// holds the DestinationRule ns/name with this spec (nil: holds no rule of
// that name for the Service). Counting updates is not enough: an update
// of something else may arrive first.
func (m *Mesh) pushedDestinationRule(ns, name string, spec proto.Message) bool {
	var found proto.Message
	for _, c := range m.clients {
		p := m.proxy(c)
		cdr := p.SidecarScope.DestinationRule(model.TrafficDirectionOutbound, p, host.Name(m.topo.Host()))
		if r := cdr.GetRule(); r != nil && r.Name == name && r.Namespace == ns {
			found, _ = r.Spec.(proto.Message)
		} else if r != nil && spec != nil && m.drs[r.Namespace+"/"+r.Name] != nil && (r.Namespace != ns || r.Name != name) {
			// Another applied rule takes precedence for the host (istiod
			// prefers the client's namespace's rule): once istiod has
			// processed the update, this one is in and shadowed.
			return true
		}
		break
	}
	if spec == nil {
		return found == nil
	}
	return found != nil && proto.Equal(found, spec)
}

// pushedVirtualService reports whether istiod's current push context holds
// the mesh VirtualService ns/name with this spec (nil: holds none of that
// name).
func (m *Mesh) pushedVirtualService(ns, name string, spec proto.Message) bool {
	var found proto.Message
	for _, c := range m.fake.PushContext().VirtualServicesForGateway(ns, "mesh") {
		if c.Name == name && c.Namespace == ns {
			found, _ = c.Spec.(proto.Message)
		}
	}
	if spec == nil {
		return found == nil
	}
	return found != nil && proto.Equal(found, spec)
}
