package scenario

// This file owns rules (and the apply step's rule): a DestinationRule or
// VirtualService, from `file:` or inline, parsed and validated by
// framework/destinationrule and framework/virtualservice.

import (
	"fmt"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/virtualservice"
)

// rule reads a DestinationRule or VirtualService: `file: path` or the
// resource inline.
func (p *parser) rule(n *yaml.Node, field string) (*Rule, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.err(n, field, fmt.Sprintf("is %s, want a rule", kindName(n)), "write `file: path/to/rule.yaml` or the DestinationRule or VirtualService itself")
	}
	var kind string
	var fileNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "file":
			fileNode = n.Content[i+1]
		case "kind":
			kind = n.Content[i+1].Value
		}
	}
	var data []byte
	var label, where string
	if fileNode != nil {
		if _, err := p.mapping(n, field, "file"); err != nil {
			return nil, p.err(n, field, "has `file:` and other fields", "give either `file: path` alone or the rule inline")
		}
		path, err := p.str(fileNode, field+".file")
		if err != nil {
			return nil, err
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(p.dir, path)
		}
		data, err = readFile(path)
		if err != nil {
			return nil, p.err(fileNode, field+".file", err.Error(), "give a path relative to the scenario file's folder")
		}
		label, where = path, path
		var head struct {
			Kind string `yaml:"kind"`
		}
		if err := yaml.Unmarshal(data, &head); err != nil && strings.Contains(err.Error(), "exceeded max depth") {
			// yaml.v3 stops at 10000 levels (its max_nesting_depth) and
			// leaves kind empty; say so rather than "kind is \"\"".
			return nil, p.err(fileNode, field+".file", path+" is nested too deep for YAML (more than 10000 levels)", "write the rule flat, as a DestinationRule or VirtualService is")
		}
		kind = head.Kind
		field += ".file"
		n = fileNode
	} else {
		out, err := yaml.Marshal(n)
		if err != nil {
			return nil, p.err(n, field, err.Error(), "")
		}
		data = out
		where = fmt.Sprintf("%s:%d", p.file, n.Line)
		label = where
	}
	r := &Rule{Source: where}
	var err error
	switch kind {
	case "DestinationRule":
		dr, perr := destinationrule.Parse(label, data)
		if perr == nil {
			r.Warnings, perr = destinationrule.Validate(label, dr)
		}
		r.DestinationRule, err = dr, perr
	case "VirtualService":
		vs, perr := virtualservice.Parse(label, data)
		if perr == nil {
			r.Warnings, perr = virtualservice.Validate(label, vs)
		}
		r.VirtualService, err = vs, perr
	default:
		return nil, p.err(n, field, fmt.Sprintf("kind is %q", kind), "a rule is a networking.istio.io/v1 DestinationRule or VirtualService (or `file:` naming one)")
	}
	if err != nil {
		msg := err.Error()
		if fileNode == nil {
			// The inline rule's errors already start with file:line.
			msg = strings.TrimPrefix(strings.TrimPrefix(msg, label+": "), "invalid VirtualService: "+label+": ")
		}
		return nil, &Error{File: p.file, Line: n.Line, Field: field, Msg: msg}
	}
	return r, nil
}
