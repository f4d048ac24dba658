// Package virtualservice loads, validates and retargets the
// VirtualServices specs apply to set a route's retries and timeouts. Like
// framework/destinationrule it rejects what istiod would reject, with
// Istio's own validation (pkg/config/validation ValidateVirtualService),
// before a rule reaches a mesh.
package virtualservice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"strings"

	networkingapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/gvk"
	"istio.io/istio/pkg/config/validation"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/manifests"
)

// ErrInvalid is wrapped by every error for a VirtualService Istio rejects.
var ErrInvalid = errors.New("invalid VirtualService")

// Names lists the VirtualServices embedded in manifests/virtualservices/.
func Names() []string { return manifests.VirtualServiceNames() }

// Load reads manifests/virtualservices/<name>.yaml, parses it strictly and
// validates it with Istio's validation.
func Load(name string) (*networkingv1.VirtualService, error) {
	data, err := manifests.VirtualService(name)
	if err != nil {
		return nil, err
	}
	file := "manifests/" + manifests.VirtualServicePath(strings.TrimSuffix(name, ".yaml"))
	vs, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	if _, err := Validate(file, vs); err != nil {
		return nil, err
	}
	return vs, nil
}

// Parse decodes one networking.istio.io/v1 VirtualService (YAML or JSON).
// An unknown field anywhere is an error naming it.
func Parse(file string, data []byte) (*networkingv1.VirtualService, error) {
	jsonData, err := destinationrule.DocumentJSON(file, data)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(jsonData); len(t) == 0 || string(t) == "null" {
		return nil, fmt.Errorf("%s: empty document: want one networking.istio.io/v1 VirtualService", file)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       any    `json:"spec"`
	}
	if err := json.Unmarshal(jsonData, &head); err != nil {
		return nil, fmt.Errorf("%s: want a YAML mapping (one VirtualService): %w", file, err)
	}
	// Istio's JSON unmarshaler drops unknown spec fields; check them
	// against the proto descriptor first.
	if head.Spec != nil {
		if err := destinationrule.CheckFields("spec", head.Spec, (&networkingapi.VirtualService{}).ProtoReflect().Descriptor()); err != nil {
			return nil, fmt.Errorf("%s: %w: fix the spelling or remove it (see https://istio.io/latest/docs/reference/config/networking/virtual-service/)", file, err)
		}
	}
	if head.Kind != "VirtualService" || !strings.HasPrefix(head.APIVersion, "networking.istio.io/") {
		return nil, fmt.Errorf("%s: kind is %q (apiVersion %q), want VirtualService (networking.istio.io/v1)", file, head.Kind, head.APIVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(jsonData))
	dec.DisallowUnknownFields()
	var vs networkingv1.VirtualService
	if err := dec.Decode(&vs); err != nil {
		return nil, fmt.Errorf("%s: decode VirtualService: %w: fix the field (see https://istio.io/latest/docs/reference/config/networking/virtual-service/)", file, err)
	}
	vs.APIVersion = networkingv1.SchemeGroupVersion.String()
	vs.Kind = "VirtualService"
	return &vs, nil
}

// Validate runs Istio's ValidateVirtualService. Errors read
// "<file>: VirtualService "<name>": <Istio's reason>"; warnings come back
// separately and do not fail.
func Validate(file string, vs *networkingv1.VirtualService) (warnings []string, err error) {
	if vs == nil {
		return nil, fmt.Errorf("%s: %w: no VirtualService", file, ErrInvalid)
	}
	ns := vs.Namespace
	if ns == "" {
		ns = "default"
	}
	cfg := config.Config{
		Meta: config.Meta{GroupVersionKind: gvk.VirtualService, Name: vs.Name, Namespace: ns},
		Spec: &vs.Spec,
	}
	prefix := fmt.Sprintf("%s: VirtualService %q", file, vs.Name)
	warn, verr := validation.ValidateVirtualService(cfg)
	for _, w := range flatten(warn) {
		warnings = append(warnings, prefix+": "+w.Error())
	}
	if vs.Name == "" {
		verr = errors.Join(verr, errors.New("metadata.name is empty: name the VirtualService"))
	} else if errs := k8svalidation.IsDNS1123Subdomain(vs.Name); len(errs) > 0 {
		verr = errors.Join(verr, fmt.Errorf("metadata.name %q is not a valid Kubernetes name (%s): use lower-case letters, digits, '-' and '.'", vs.Name, strings.Join(errs, "; ")))
	}
	if errs := k8svalidation.IsDNS1123Label(vs.Namespace); vs.Namespace != "" && len(errs) > 0 {
		verr = errors.Join(verr, fmt.Errorf("metadata.namespace %q is not a valid namespace (%s): use lower-case letters, digits and '-'", vs.Namespace, strings.Join(errs, "; ")))
	}
	var msgs []string
	for _, p := range flatten(verr) {
		msgs = append(msgs, prefix+": "+p.Error())
	}
	if len(msgs) > 0 {
		return warnings, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(msgs, "; "))
	}
	return warnings, nil
}

// ForTopology returns a copy of vs aimed at a topology's Service: its
// hosts, every route destination's host and the namespace replaced, and
// its name set to name (the topology's own VirtualService, which it
// replaces: istiod uses one VirtualService per host for sidecars).
func ForTopology(vs *networkingv1.VirtualService, name, host, namespace string, port int) *networkingv1.VirtualService {
	if vs == nil {
		return nil
	}
	out := vs.DeepCopy()
	out.Name = name
	out.Namespace = namespace
	out.Spec.Hosts = []string{host}
	for _, r := range out.Spec.Http {
		for _, d := range r.Route {
			if d.Destination == nil {
				d.Destination = &networkingapi.Destination{}
			}
			d.Destination.Host = host
			if port > 0 {
				d.Destination.Port = &networkingapi.PortSelector{Number: uint32(port)}
			}
		}
	}
	return out
}

func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if u, ok := err.(interface{ WrappedErrors() []error }); ok {
		var out []error
		for _, e := range u.WrappedErrors() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range u.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}
