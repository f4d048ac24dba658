package destinationrule

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"istio.io/istio/pilot/pkg/serviceregistry/util/label"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/gvk"
	"istio.io/istio/pkg/config/validation"
	"istio.io/istio/pkg/config/validation/agent"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
)

// checkFailoverPriority checks one failoverPriority entry: a label key, or
// key=value (istiod's override form), each as Kubernetes validates labels.
// It returns what is wrong, or "".
func checkFailoverPriority(fp string) string {
	if fp == "" {
		return "is empty"
	}
	key, value, hasValue := strings.Cut(fp, "=")
	if errs := k8svalidation.IsQualifiedName(key); len(errs) > 0 {
		return "is not a label key (" + strings.Join(errs, "; ") + ")"
	}
	if hasValue {
		if errs := k8svalidation.IsValidLabelValue(value); len(errs) > 0 {
			return "has a value that is not a label value (" + strings.Join(errs, "; ") + ")"
		}
	}
	return ""
}

// Validate runs Istio's ValidateDestinationRule on dr. Each problem is
// reported as
//
//	<file>: DestinationRule "<name>": <field path>: <Istio's reason>: <fix hint>
//
// e.g. trafficPolicy.loadBalancer.localityLbSetting.distribute[1].to: total
// locality weight 90 != 100. The field path is left out where it cannot be
// determined. Istio's warnings (e.g. failover without outlierDetection)
// come back in warnings, in the same format; they do not make err non-nil.
// err is a *ValidationError and matches ErrInvalid with errors.Is.
func Validate(file string, dr *networkingv1.DestinationRule) (warnings []string, err error) {
	if dr == nil {
		return nil, fmt.Errorf("%s: %w: no DestinationRule", file, ErrInvalid)
	}
	ns := dr.Namespace
	if ns == "" {
		ns = "default"
	}
	cfg := config.Config{
		Meta: config.Meta{
			GroupVersionKind: gvk.DestinationRule,
			Name:             dr.Name,
			Namespace:        ns,
			Labels:           dr.Labels,
			Annotations:      dr.Annotations,
		},
		Spec: &dr.Spec,
	}
	prefix := fmt.Sprintf("%s: DestinationRule %q", file, dr.Name)
	warn, verr := validation.ValidateDestinationRule(cfg)
	for _, w := range errorList(warn) {
		warnings = append(warnings, describe(prefix, &dr.Spec, w.Error()))
	}
	if dr.Name == "" {
		verr = errors.Join(verr, errors.New("metadata.name is empty"))
	}
	problems := errorList(verr)
	var own []string // already formatted with their field and fix
	if errs := k8svalidation.IsDNS1123Subdomain(dr.Name); dr.Name != "" && len(errs) > 0 {
		own = append(own, fmt.Sprintf("%s: metadata.name %q is not a valid Kubernetes name (%s): use lower-case letters, digits, '-' and '.'", prefix, dr.Name, strings.Join(errs, "; ")))
	}
	if errs := k8svalidation.IsDNS1123Label(dr.Namespace); dr.Namespace != "" && len(errs) > 0 {
		own = append(own, fmt.Sprintf("%s: metadata.namespace %q is not a valid namespace (%s): use lower-case letters, digits and '-'", prefix, dr.Namespace, strings.Join(errs, "; ")))
	}
	for _, site := range lbSites(&dr.Spec) {
		for i, fp := range site.lb.GetFailoverPriority() {
			if msg := checkFailoverPriority(fp); msg != "" {
				own = append(own, fmt.Sprintf("%s: %s.failoverPriority[%d]: %q %s: write a label key (e.g. topology.kubernetes.io/zone) or key=value", prefix, site.path, i, fp, msg))
			}
		}
	}
	if len(problems) == 0 && len(own) == 0 {
		return warnings, nil
	}
	if len(problems) == 0 {
		return warnings, &ValidationError{File: file, Name: dr.Name, Problems: own}
	}
	if len(problems) == 0 {
		return warnings, nil
	}
	msgs := make([]string, 0, len(problems)+len(own))
	for _, p := range problems {
		msgs = append(msgs, describe(prefix, &dr.Spec, p.Error()))
	}
	msgs = append(msgs, own...)
	return warnings, &ValidationError{File: file, Name: dr.Name, Problems: msgs}
}

// ValidationError is the error Validate returns: every problem Istio found,
// each already formatted with file, rule name, field path, reason and hint.
// errors.Is(err, ErrInvalid) holds.
type ValidationError struct {
	File     string
	Name     string
	Problems []string
}

// Error joins the problems with "; ".
func (e *ValidationError) Error() string { return strings.Join(e.Problems, "; ") }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// describe formats one Istio message with its field path and a fix hint.
func describe(prefix string, spec *networkingapi.DestinationRule, msg string) string {
	path, hint := locate(spec, msg)
	s := prefix + ": "
	if path != "" {
		s += path + ": "
	}
	s += msg
	if hint != "" {
		s += ": " + hint
	}
	return s
}

// lbSite is one place a LocalityLoadBalancerSetting can appear.
type lbSite struct {
	path    string
	lb      *networkingapi.LocalityLoadBalancerSetting
	outlier *networkingapi.OutlierDetection
	odPath  string
}

func lbSites(spec *networkingapi.DestinationRule) []lbSite {
	var out []lbSite
	addPolicy := func(path string, tp *networkingapi.TrafficPolicy) {
		if tp == nil {
			return
		}
		if lb := tp.GetLoadBalancer().GetLocalityLbSetting(); lb != nil {
			out = append(out, lbSite{path + ".loadBalancer.localityLbSetting", lb, tp.GetOutlierDetection(), path + ".outlierDetection"})
		}
		for i, pls := range tp.GetPortLevelSettings() {
			if lb := pls.GetLoadBalancer().GetLocalityLbSetting(); lb != nil {
				p := fmt.Sprintf("%s.portLevelSettings[%d]", path, i)
				out = append(out, lbSite{p + ".loadBalancer.localityLbSetting", lb, pls.GetOutlierDetection(), p + ".outlierDetection"})
			}
		}
	}
	addPolicy("trafficPolicy", spec.GetTrafficPolicy())
	for i, ss := range spec.GetSubsets() {
		addPolicy(fmt.Sprintf("subsets[%d].trafficPolicy", i), ss.GetTrafficPolicy())
	}
	return out
}

// contains reports whether Istio's validation of one site yields msg.
func (s lbSite) yields(msg string) bool {
	v := agent.ValidateLocalityLbSetting(s.lb, s.outlier)
	for _, e := range append(errorList(v.Err), errorList(v.Warning)...) {
		if e.Error() == msg {
			return true
		}
	}
	return false
}

// bothLbSettings is the path of the first loadBalancer that sets both
// localityLbSetting and zoneAwareLbSetting ("" if none).
func bothLbSettings(spec *networkingapi.DestinationRule) string {
	both := func(lb *networkingapi.LoadBalancerSettings) bool {
		return lb.GetLocalityLbSetting() != nil && lb.GetZoneAwareLbSetting() != nil
	}
	check := func(path string, tp *networkingapi.TrafficPolicy) string {
		if both(tp.GetLoadBalancer()) {
			return path + ".loadBalancer"
		}
		for i, pls := range tp.GetPortLevelSettings() {
			if both(pls.GetLoadBalancer()) {
				return fmt.Sprintf("%s.portLevelSettings[%d].loadBalancer", path, i)
			}
		}
		return ""
	}
	if p := check("trafficPolicy", spec.GetTrafficPolicy()); p != "" {
		return p
	}
	for i, ss := range spec.GetSubsets() {
		if p := check(fmt.Sprintf("subsets[%d].trafficPolicy", i), ss.GetTrafficPolicy()); p != "" {
			return p
		}
	}
	return ""
}

// localityIn extracts X from Istio's "locality X ..." messages.
func localityIn(msg string) string {
	rest, ok := strings.CutPrefix(msg, "locality ")
	if !ok {
		return ""
	}
	x, _, _ := strings.Cut(rest, " ")
	return x
}

func sortedKeys(m map[string]uint32) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// locate finds the field path an Istio message is about, and a fix hint.
func locate(spec *networkingapi.DestinationRule, msg string) (path, hint string) {
	switch {
	case strings.HasPrefix(msg, "traffic policy must have at least one field"):
		return "trafficPolicy", "remove the empty trafficPolicy or set loadBalancer/outlierDetection"
	case strings.Contains(msg, "domain name") || strings.Contains(msg, "wildcard") && !strings.Contains(msg, "locality"):
		return "host", "set spec.host to the Service FQDN, e.g. helloworld.default.svc.cluster.local"
	case strings.HasPrefix(msg, "metadata.name"):
		return "", "set metadata.name"
	case strings.HasPrefix(msg, "only one of localityLbSetting and zoneAwareLbSetting"):
		// pkg/config/validation validateLoadBalancer
		return bothLbSettings(spec), "keep one: zoneAwareLbSetting (Envoy keeps traffic in the caller's zone as far as the callers' and upstreams' spread allows) or localityLbSetting (priorities or fixed weights by locality)"
	case strings.Contains(msg, "duration"):
		if p := durationField(spec); p != "" {
			return p, "use a duration of at least 1ms, e.g. 1s"
		}
	}
	var site *lbSite
	for _, s := range lbSites(spec) {
		if s.yields(msg) {
			site = &s
			break
		}
	}
	if site == nil {
		return "", ""
	}
	lb := site.lb
	p := site.path
	switch {
	case strings.HasPrefix(msg, "can not simultaneously specify 'distribute' and 'failover'"):
		return p, "use either distribute (fixed weights) or failover (priorities with outlierDetection), not both"
	case strings.HasPrefix(msg, "can not simultaneously set 'failover' and topology label"):
		for i, l := range lb.GetFailoverPriority() {
			if l == label.LabelTopologyRegion || l == label.LabelTopologyZone || l == label.LabelTopologySubzone {
				return fmt.Sprintf("%s.failoverPriority[%d]", p, i), "drop the topology label from failoverPriority or drop failover"
			}
		}
		return p + ".failoverPriority", "drop the topology labels from failoverPriority or drop failover"
	case msg == "locality weight must be in range [1, 100]":
		for i, d := range lb.GetDistribute() {
			for _, k := range sortedKeys(d.GetTo()) {
				if w := d.GetTo()[k]; w == 0 || w > 100 {
					return fmt.Sprintf("%s.distribute[%d].to[%q]", p, i, k), fmt.Sprintf("weight is %d: each weight must be 1-100 (remove a locality rather than giving it 0)", w)
				}
			}
			if sumTo(d.GetTo()) != 100 {
				break
			}
		}
		return p + ".distribute", "each weight must be 1-100"
	case strings.HasPrefix(msg, "total locality weight "):
		for i, d := range lb.GetDistribute() {
			if s := sumTo(d.GetTo()); s != 100 {
				return fmt.Sprintf("%s.distribute[%d].to", p, i), fmt.Sprintf("the weights of from %q must add up to exactly 100", d.GetFrom())
			}
		}
		return p + ".distribute", "the weights of each from must add up to exactly 100"
	case strings.HasPrefix(msg, "outlier detection policy must be provided for failover"):
		return site.odPath, "add outlierDetection (e.g. consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 1m); without it istiod does not fail over"
	case strings.HasPrefix(msg, "locality lb failover settings must specify different regions"):
		for i, f := range lb.GetFailover() {
			if f.GetFrom() == f.GetTo() {
				return fmt.Sprintf("%s.failover[%d]", p, i), fmt.Sprintf("from and to are both %q: fail over to another region", f.GetFrom())
			}
		}
	case strings.HasPrefix(msg, "locality lb failover only specify region"):
		for i, f := range lb.GetFailover() {
			switch {
			case strings.Contains(f.GetFrom(), "/"):
				return fmt.Sprintf("%s.failover[%d].from", p, i), fmt.Sprintf("%q is not a bare region: zones fail over implicitly, write only the region", f.GetFrom())
			case strings.Contains(f.GetTo(), "/"):
				return fmt.Sprintf("%s.failover[%d].to", p, i), fmt.Sprintf("%q is not a bare region: zones fail over implicitly, write only the region", f.GetTo())
			}
		}
	case strings.HasPrefix(msg, "locality lb failover region should not contain '*'"):
		for i, f := range lb.GetFailover() {
			switch {
			case strings.Contains(f.GetFrom(), "*"):
				return fmt.Sprintf("%s.failover[%d].from", p, i), "name one region, without '*'"
			case strings.Contains(f.GetTo(), "*"):
				return fmt.Sprintf("%s.failover[%d].to", p, i), "name one region, without '*'"
			}
		}
	case localityIn(msg) != "":
		x := localityIn(msg)
		hint = "write region[/zone[/subzone]] with at most one '*', only at the end, and no locality covered by another"
		if strings.Contains(msg, "overlap") {
			hint = "two localities select the same endpoints (e.g. kr and kr/a, or kr/a twice): keep one"
		}
		// Istio checks every distribute[i].to first, then all the froms.
		for i, d := range lb.GetDistribute() {
			if _, ok := d.GetTo()[x]; ok {
				one := &networkingapi.LocalityLoadBalancerSetting{Distribute: []*networkingapi.LocalityLoadBalancerSetting_Distribute{d}}
				if agent.ValidateLocalityLbSetting(one, site.outlier).Err != nil {
					return fmt.Sprintf("%s.distribute[%d].to[%q]", p, i, x), hint
				}
			}
		}
		idx := -1
		for i, d := range lb.GetDistribute() {
			if d.GetFrom() == x {
				idx = i
				if !strings.Contains(msg, "overlap") {
					break
				}
			}
		}
		if idx >= 0 {
			return fmt.Sprintf("%s.distribute[%d].from", p, idx), hint
		}
		return p + ".distribute", hint
	}
	return p, ""
}

func sumTo(m map[string]uint32) uint64 {
	var s uint64
	for _, w := range m {
		s += uint64(w)
	}
	return s
}

// durationField finds the first duration under 1ms of a traffic policy
// (Istio's "duration must be greater than 1ms" names no field).
func durationField(spec *networkingapi.DestinationRule) string {
	type policy struct {
		path string
		tp   interface {
			GetOutlierDetection() *networkingapi.OutlierDetection
			GetConnectionPool() *networkingapi.ConnectionPoolSettings
		}
	}
	var ps []policy
	add := func(path string, tp *networkingapi.TrafficPolicy) {
		if tp == nil {
			return
		}
		ps = append(ps, policy{path, tp})
		for i, pls := range tp.GetPortLevelSettings() {
			ps = append(ps, policy{fmt.Sprintf("%s.portLevelSettings[%d]", path, i), pls})
		}
	}
	add("trafficPolicy", spec.GetTrafficPolicy())
	for i, ss := range spec.GetSubsets() {
		add(fmt.Sprintf("subsets[%d].trafficPolicy", i), ss.GetTrafficPolicy())
	}
	short := func(d interface{ AsDuration() time.Duration }, set bool) bool {
		return set && d.AsDuration() < time.Millisecond
	}
	for _, p := range ps {
		od := p.tp.GetOutlierDetection()
		switch {
		case short(od.GetInterval(), od.GetInterval() != nil):
			return p.path + ".outlierDetection.interval"
		case short(od.GetBaseEjectionTime(), od.GetBaseEjectionTime() != nil):
			return p.path + ".outlierDetection.baseEjectionTime"
		}
		cp := p.tp.GetConnectionPool()
		switch {
		case short(cp.GetTcp().GetConnectTimeout(), cp.GetTcp().GetConnectTimeout() != nil):
			return p.path + ".connectionPool.tcp.connectTimeout"
		case short(cp.GetHttp().GetIdleTimeout(), cp.GetHttp().GetIdleTimeout() != nil):
			return p.path + ".connectionPool.http.idleTimeout"
		}
	}
	return ""
}
