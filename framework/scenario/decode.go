package scenario

// This file owns decoding: strict YAML (one document, plain tags, no
// anchors or aliases) and the node readers every part uses (mapping with
// its unknown-field suggestions, list, string, number, share, boolean,
// locality, labels, and Istio API messages through protojson).

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/localitylb/locality-e2e/framework/locality"
)

var yamlLine = regexp.MustCompile(`line (\d+)`)

// document decodes data as exactly one YAML document of plain YAML (see
// plainYAML) and returns its root node.
func (p *parser) document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, &Error{File: p.file, Line: 1, Msg: "empty file", Fix: "write a scenario: name, topology, rules, specs"}
		}
		line := 1
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		return nil, &Error{File: p.file, Line: line, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Fix: "fix the YAML syntax"}
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != io.EOF {
		line := 1
		if err == nil {
			line = next.Line
			if len(next.Content) > 0 {
				line = next.Content[0].Line
			}
		}
		return nil, &Error{File: p.file, Line: line, Msg: "a second YAML document", Fix: "put one scenario per file"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &Error{File: p.file, Line: 1, Msg: "empty file", Fix: "write a scenario: name, topology, rules, specs"}
	}
	if err := noAliases(p, doc.Content[0]); err != nil {
		return nil, err
	}
	return doc.Content[0], nil
}

func noAliases(p *parser, n *yaml.Node) error {
	return plainYAML(p, n, "")
}

// plainTags are the tags plain YAML resolves to; an explicit tag such as
// !!binary or !custom would make a value mean something else than it reads
// (yaml.v3 decodes !!binary into its bytes), so it is refused by name.
var plainTags = map[string]bool{"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true, "!!map": true, "!!seq": true, "": true}

// plainYAML refuses anchors, aliases and explicit non-plain tags anywhere
// in n; field is n's path, as the other errors name it.
func plainYAML(p *parser, n *yaml.Node, field string) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return p.err(n, "", "YAML anchors and aliases are not supported", "write the value out")
	}
	if n.Style&yaml.TaggedStyle != 0 && !plainTags[n.Tag] {
		return p.err(n, field, fmt.Sprintf("the YAML tag %s is not supported", n.Tag), "write the value as plain YAML (strings, numbers, booleans, lists and mappings, without tags)")
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if err := plainYAML(p, k, field); err != nil {
				return err
			}
			if err := plainYAML(p, v, join(field, k.Value)); err != nil {
				return err
			}
		}
		return nil
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := plainYAML(p, c, fmt.Sprintf("%s[%d]", field, i)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range n.Content {
		if err := plainYAML(p, c, field); err != nil {
			return err
		}
	}
	return nil
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "empty"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		}
		return fmt.Sprintf("the string %q", n.Value)
	}
	return "not a value"
}

// mapping checks that n is a mapping whose keys are all allowed.
func (p *parser) mapping(n *yaml.Node, field string, allowed ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		what := field
		if what == "" {
			what = "the file"
		}
		return nil, p.err(n, field, fmt.Sprintf("is %s, want a mapping", kindName(n)), "write "+what+" as key: value lines")
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			return nil, p.err(k, field, "has a key that is not a plain name", "use plain field names")
		}
		if !contains(allowed, k.Value) {
			return nil, p.err(k, join(field, k.Value), "unknown field", suggest(k.Value, allowed))
		}
		if _, dup := out[k.Value]; dup {
			return nil, p.err(k, join(field, k.Value), "is given twice", "give each field once")
		}
		out[k.Value] = v
	}
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func suggest(got string, allowed []string) string {
	for _, a := range allowed {
		if strings.EqualFold(a, got) || strings.EqualFold(strings.ReplaceAll(a, "_", ""), strings.ReplaceAll(got, "_", "")) {
			return fmt.Sprintf("did you mean %s? (fields are case-sensitive)", a)
		}
	}
	return "use one of: " + strings.Join(allowed, ", ")
}

func (p *parser) sequence(n *yaml.Node, field string) ([]*yaml.Node, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.err(n, field, fmt.Sprintf("is %s, want a list", kindName(n)), "write it as a list of '- ' items")
	}
	return n.Content, nil
}

func (p *parser) str(n *yaml.Node, field string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return "", p.err(n, field, fmt.Sprintf("is %s, want a string", kindName(n)), "quote it if it is meant as text")
	}
	return n.Value, nil
}

func (p *parser) requiredString(parent *yaml.Node, m map[string]*yaml.Node, field, key, fix string) (string, error) {
	n := m[key]
	if n == nil {
		return "", p.err(parent, join(field, key), "is missing", fix)
	}
	v, err := p.str(n, join(field, key))
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(v) == "" {
		return "", p.err(n, join(field, key), "is empty", fix)
	}
	return v, nil
}

func (p *parser) integer(n *yaml.Node, field string, lo, hi int) (int, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, p.err(n, field, fmt.Sprintf("is %s, want a whole number", kindName(n)), fmt.Sprintf("write a number from %d to %d", lo, hi))
	}
	v, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil || v < int64(lo) || v > int64(hi) {
		return 0, p.err(n, field, fmt.Sprintf("%s is out of range", n.Value), fmt.Sprintf("write a number from %d to %d", lo, hi))
	}
	return int(v), nil
}

func (p *parser) share(n *yaml.Node, field string) (float64, error) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		return 0, p.err(n, field, fmt.Sprintf("is %s, want a share", kindName(n)), "write a share from 0 to 1 (0.25 means 25%)")
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1 {
		return 0, p.err(n, field, fmt.Sprintf("share %s is outside [0, 1]", n.Value), "write a share from 0 to 1 (0.25 means 25%, not 25)")
	}
	return v, nil
}

// boolean reads a YAML true or false.
func (p *parser) boolean(v *yaml.Node, field, fix string) (bool, error) {
	var b bool
	if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
		return false, p.err(v, field, fmt.Sprintf("is %s, want true or false", kindName(v)), fix)
	}
	if err := v.Decode(&b); err != nil {
		return false, p.err(v, field, err.Error(), "write true or false")
	}
	return b, nil
}

func (p *parser) locality(n *yaml.Node, field string) (locality.Locality, error) {
	s, err := p.str(n, field)
	if err != nil {
		return locality.Locality{}, err
	}
	l, err := locality.Parse(s)
	if err == nil {
		err = l.Validate()
	}
	if err != nil {
		return l, p.err(n, field, err.Error(), "write region/zone[/subzone], each part a Kubernetes label value, e.g. kr/a")
	}
	return l, nil
}

func (p *parser) labels(n *yaml.Node, field string) (map[string]string, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.err(n, field, fmt.Sprintf("is %s, want a mapping", kindName(n)), "write labels as key: value lines")
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, p.err(k, field, "has a key that is not a string", "use label keys such as tier")
		}
		val, err := p.str(v, field+"."+k.Value)
		if err != nil {
			return nil, err
		}
		out[k.Value] = val
	}
	return out, nil
}

var protojsonPrefix = regexp.MustCompile(`^proto:[\s\x{00a0}]*(\(line \d+:\d+\):\s*)?`)

// protoSetting decodes a mapping into msg (an Istio API message) the way
// localityLbSetting does; doc is the message's reference page, shape the
// fix for a value that is not a mapping.
func (p *parser) protoSetting(n *yaml.Node, field string, msg proto.Message, doc, shape string) error {
	if n.Kind != yaml.MappingNode {
		return p.err(n, field, fmt.Sprintf("is %s, want a mapping", kindName(n)), shape)
	}
	p.protoDoc = doc
	if err := p.protoFields(n, field, msg.ProtoReflect().Descriptor()); err != nil {
		return err
	}
	y, err := yaml.Marshal(n)
	if err == nil {
		var j []byte
		if j, err = sigsyaml.YAMLToJSON(y); err == nil {
			err = protojson.Unmarshal(j, msg)
		}
	}
	if err != nil {
		return p.err(n, field, protojsonPrefix.ReplaceAllString(err.Error(), ""), "write the values as in a DestinationRule (see "+doc+")")
	}
	return nil
}

// protoFields checks the keys of a YAML mapping, and of the messages in
// it, against a proto message's fields (JSON or proto names, as protojson
// takes them). Values are left to protojson.
func (p *parser) protoFields(n *yaml.Node, field string, md protoreflect.MessageDescriptor) error {
	if n.Kind != yaml.MappingNode || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return nil
	}
	fields := md.Fields()
	var names []string
	for i := 0; i < fields.Len(); i++ {
		names = append(names, fields.Get(i).JSONName())
	}
	seen := map[protoreflect.FullName]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return p.err(k, field, "has a key that is not a plain name", "use plain field names")
		}
		kf := join(field, k.Value)
		fd := fields.ByJSONName(k.Value)
		if fd == nil {
			fd = fields.ByTextName(k.Value)
		}
		if fd == nil {
			return p.err(k, kf, "unknown field", suggest(k.Value, names)+" (see "+p.protoDoc+")")
		}
		if seen[fd.FullName()] {
			return p.err(k, kf, "is given twice", "give each field once")
		}
		seen[fd.FullName()] = true
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil && v.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(v.Content); j += 2 {
					if err := p.protoFields(v.Content[j+1], kf+"."+v.Content[j].Value, fd.MapValue().Message()); err != nil {
						return err
					}
				}
			}
		case fd.Message() != nil && fd.IsList():
			if v.Kind == yaml.SequenceNode {
				for j, item := range v.Content {
					if err := p.protoFields(item, fmt.Sprintf("%s[%d]", kf, j), fd.Message()); err != nil {
						return err
					}
				}
			}
		case fd.Message() != nil:
			if err := p.protoFields(v, kf, fd.Message()); err != nil {
				return err
			}
		}
	}
	return nil
}
