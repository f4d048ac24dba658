// Package destinationrule loads, parses, validates and retargets the
// DestinationRules the specs apply. Validation is Istio's own
// (istio.io/istio/pkg/config/validation.ValidateDestinationRule), so a rule
// istiod would reject is rejected here, with Istio's reason, before it
// touches a cluster; the error also names the file, the rule and the field.
package destinationrule

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	networkingapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	networkingv1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/localitylb/locality-e2e/manifests"
)

// Names lists the DestinationRules embedded in manifests/destinationrules/.
func Names() []string { return manifests.DestinationRuleNames() }

// Load reads manifests/destinationrules/<name>.yaml (name without .yaml),
// parses it and validates it with Istio's validation; warnings are dropped
// (call Validate to see them). The error lists the available names when
// the rule does not exist.
func Load(name string) (*networkingv1.DestinationRule, error) {
	data, err := manifests.DestinationRule(name)
	if err != nil {
		return nil, err
	}
	file := "manifests/" + manifests.DestinationRulePath(strings.TrimSuffix(name, ".yaml"))
	dr, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	if _, err := Validate(file, dr); err != nil {
		return nil, err
	}
	return dr, nil
}

var decoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		networkingv1.AddToScheme, networkingv1beta1.AddToScheme, networkingv1alpha3.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err) // static registration; cannot fail at run time
		}
	}
	return serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
}()

// Parse decodes one DestinationRule document (YAML or JSON) into the
// client-go v1 type. networking.istio.io/v1beta1 and v1alpha3 (the seed's
// version) are accepted and converted. Any other kind is rejected, and so
// is an unknown field anywhere, the error naming its path (e.g.
// spec.trafficPolicy.loadBalancer.localityLbSettings). file only labels
// errors.
func Parse(file string, data []byte) (*networkingv1.DestinationRule, error) {
	jsonData, err := DocumentJSON(file, data)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(jsonData)) == 0 || string(bytes.TrimSpace(jsonData)) == "null" {
		return nil, fmt.Errorf("%s: empty document: want one networking.istio.io/v1 DestinationRule", file)
	}
	var raw map[string]any
	if err := json.Unmarshal(jsonData, &raw); err != nil {
		return nil, fmt.Errorf("%s: want a YAML mapping (one DestinationRule): %w", file, err)
	}
	kind, _ := raw["kind"].(string)
	apiVersion, _ := raw["apiVersion"].(string)
	if kind != "DestinationRule" {
		return nil, fmt.Errorf("%s: kind is %q (apiVersion %q), want DestinationRule (networking.istio.io/v1)", file, kind, apiVersion)
	}
	// The spec is decoded by Istio's jsonpb unmarshaler, which ignores
	// unknown fields; check them against the proto descriptor first.
	if spec, ok := raw["spec"]; ok {
		if err := checkFields("spec", spec, (&networkingapi.DestinationRule{}).ProtoReflect().Descriptor()); err != nil {
			return nil, fmt.Errorf("%s: %w: fix the spelling or remove it (see https://istio.io/latest/docs/reference/config/networking/destination-rule/)", file, err)
		}
	}
	obj, _, err := decoder.Decode(jsonData, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: decode DestinationRule: %w", file, err)
	}
	var dr *networkingv1.DestinationRule
	switch o := obj.(type) {
	case *networkingv1.DestinationRule:
		dr = o
	case *networkingv1beta1.DestinationRule:
		dr = &networkingv1.DestinationRule{ObjectMeta: o.ObjectMeta}
		o.Spec.DeepCopyInto(&dr.Spec)
	case *networkingv1alpha3.DestinationRule:
		dr = &networkingv1.DestinationRule{ObjectMeta: o.ObjectMeta}
		o.Spec.DeepCopyInto(&dr.Spec)
	default:
		return nil, fmt.Errorf("%s: decoded %T, want a DestinationRule", file, obj)
	}
	dr.APIVersion = networkingv1.SchemeGroupVersion.String()
	dr.Kind = "DestinationRule"
	return dr, nil
}

// DocumentJSON converts one YAML (or JSON) document to JSON as the API
// server would take it: a stream of more than one document is refused
// (the rest would be silently dropped) and so is a key given twice
// (YAML keeps only the last). file only labels errors.
func DocumentJSON(file string, data []byte) ([]byte, error) {
	if err := plainYAML(file, data); err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	docs := 0
	for {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: not valid YAML: %w", file, err)
		}
		if j, err := yaml.YAMLToJSON(doc); err == nil && len(bytes.TrimSpace(j)) > 0 && string(bytes.TrimSpace(j)) != "null" {
			docs++
		}
	}
	if docs > 1 {
		return nil, fmt.Errorf("%s: holds %d YAML documents: want exactly one per file (the others would be ignored); split them into separate files", file, docs)
	}
	jsonData, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not valid YAML: %w: give each key once", file, err)
	}
	return jsonData, nil
}

// CheckFields reports the first JSON key of v (decoded JSON) that is not a
// field of md; Istio's JSON unmarshaler would silently drop it. Other
// Istio resources (VirtualServices) use it too.
func CheckFields(path string, v any, md protoreflect.MessageDescriptor) error {
	return checkFields(path, v, md)
}

// checkFields reports the first JSON key (sorted order) that is not a field
// of md, walking nested messages, lists and maps.
func checkFields(path string, v any, md protoreflect.MessageDescriptor) error {
	switch md.FullName() {
	case "google.protobuf.Duration", "google.protobuf.Timestamp", "google.protobuf.Struct",
		"google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Any":
		return nil
	}
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") && strings.HasSuffix(string(md.FullName()), "Value") {
		return nil // wrappers are written as scalars
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil // type errors are the decoder's
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := md.Fields()
	for _, k := range keys {
		fd := fields.ByJSONName(k)
		if fd == nil {
			if byName := fields.ByName(protoreflect.Name(k)); byName != nil {
				// Istio's jsonpb takes proto names, the API server's CRD
				// schema does not: kubectl apply would reject the rule.
				return fmt.Errorf("unknown field %q (Kubernetes takes only the JSON name: write %s)", path+"."+k, byName.JSONName())
			}
			return fmt.Errorf("unknown field %q", path+"."+k)
		}
		p := path + "." + k
		switch {
		case fd.IsMap():
			if fd.MapValue().Kind() != protoreflect.MessageKind {
				continue
			}
			entries, _ := m[k].(map[string]any)
			for ek, ev := range entries {
				if err := checkFields(fmt.Sprintf("%s[%q]", p, ek), ev, fd.MapValue().Message()); err != nil {
					return err
				}
			}
		case fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind:
		case fd.IsList():
			items, _ := m[k].([]any)
			for i, it := range items {
				if err := checkFields(fmt.Sprintf("%s[%d]", p, i), it, fd.Message()); err != nil {
					return err
				}
			}
		default:
			if err := checkFields(p, m[k], fd.Message()); err != nil {
				return err
			}
		}
	}
	return nil
}

// ForTopology returns a deep copy of dr aimed at a topology: spec.host set
// to host (e.g. Topology.Host()) and metadata.namespace to namespace.
func ForTopology(dr *networkingv1.DestinationRule, host, namespace string) *networkingv1.DestinationRule {
	if dr == nil {
		return nil
	}
	out := dr.DeepCopy()
	out.Spec.Host = host
	out.Namespace = namespace
	return out
}

// errorList flattens an Istio validation error (a multierror) into its parts.
func errorList(err error) []error {
	if err == nil {
		return nil
	}
	if u, ok := err.(interface{ WrappedErrors() []error }); ok {
		var out []error
		for _, e := range u.WrappedErrors() {
			out = append(out, errorList(e)...)
		}
		return out
	}
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range u.Unwrap() {
			out = append(out, errorList(e)...)
		}
		return out
	}
	return []error{err}
}

// ErrInvalid is wrapped by every error Validate returns for a rule Istio
// rejects.
var ErrInvalid = errors.New("invalid DestinationRule")

// plainTags are the tags plain YAML resolves to. An explicit other tag
// (!!binary, !custom) would make a value mean something else than it
// reads: sigs.k8s.io/yaml decodes `name: !!binary aGVsbG8=` as "hello".
var plainTags = map[string]bool{"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true, "!!map": true, "!!seq": true, "": true}

// plainYAML refuses what the JSON conversion would report misleadingly or
// not at all: a document nested deeper than yaml.v3's limit of 10000
// levels, and explicit tags other than the plain ones. Syntax errors are
// left to the conversion, which names them.
func plainYAML(file string, data []byte) error {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	for {
		var doc yamlv3.Node
		err := dec.Decode(&doc)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if strings.Contains(err.Error(), "exceeded max depth") {
				return fmt.Errorf("%s is nested too deep for YAML (more than 10000 levels): write the rule flat, as a DestinationRule or VirtualService is", file)
			}
			return nil
		}
		if err := plainTagsOnly(file, &doc); err != nil {
			return err
		}
	}
}

func plainTagsOnly(file string, n *yamlv3.Node) error {
	if n.Style&yamlv3.TaggedStyle != 0 && !plainTags[n.Tag] {
		return fmt.Errorf("%s:%d: the YAML tag %s is not supported: write the value as plain YAML (strings, numbers, booleans, lists and mappings, without tags)", file, n.Line, n.Tag)
	}
	for _, c := range n.Content {
		if err := plainTagsOnly(file, c); err != nil {
			return err
		}
	}
	return nil
}
