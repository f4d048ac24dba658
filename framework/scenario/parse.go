package scenario

// This file owns the entry points (Load, LoadDir, Parse) and the walk of
// a file's top level: name and labels here, then topology, rules and specs,
// each read by the file named after it (topology.go, rules.go, steps.go).

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/localitylb/locality-e2e/framework/boundedread"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// MaxFileSize bounds a scenario or rule file (the tools' one limit).
const MaxFileSize = boundedread.MaxSize

// Limits of the steps.
const (
	MaxRequests = 100_000
	MinWait     = time.Millisecond
	MaxWait     = time.Hour
)

// Load reads, parses and validates one scenario file. Rule files it names
// are read relative to its folder.
func Load(path string) (*Scenario, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// LoadDir loads every *.yaml and *.yml file of dir (not its subfolders),
// in name order. Rule files kept next to the scenarios must live in a
// subfolder (e.g. dir/rules/), or they would be read as scenarios. It
// fails on the first bad file, and when dir holds no scenario file.
func LoadDir(dir string) ([]*Scenario, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("scenario folder: %w", err)
	}
	var out []*Scenario
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		s, err := Load(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("scenario folder %s holds no .yaml or .yml file", dir)
	}
	return out, nil
}

// readFile reads a scenario or rule file through the tools' one bounded
// reader (size limit, regular files only).
func readFile(path string) ([]byte, error) {
	return boundedread.ReadFile(path)
}

// Parse parses and validates a scenario file's content. file labels
// errors, and its folder is where `file:` rule paths start.
func Parse(file string, data []byte) (s *Scenario, err error) {
	p := &parser{file: file, dir: filepath.Dir(file)}
	defer func() {
		// Guard against a bug in a validator turning bad input into a
		// crash of the whole suite.
		if r := recover(); r != nil {
			s, err = nil, &Error{File: file, Line: 1, Msg: fmt.Sprintf("internal error while parsing: %v", r), Fix: "report this file as a bug"}
		}
	}()
	return p.parse(data)
}

type parser struct {
	file, dir string
	topo      topology.Topology
	lines     struct{ workloads, clients, clusters []int }
	replicas  map[string]int
	// topology fields that Topology.Validate errors are reported at
	namespaceNode, lbNode, zaNode, clientsNode *yaml.Node
	// protoDoc is the reference page of the Istio message protoFields
	// is checking (for its unknown-field fix).
	protoDoc string
}

func (p *parser) parse(data []byte) (*Scenario, error) {
	root, err := p.document(data)
	if err != nil {
		return nil, err
	}
	top, err := p.mapping(root, "", "name", "labels", "topology", "rules", "specs")
	if err != nil {
		return nil, err
	}
	s := &Scenario{File: p.file}
	if s.Name, err = p.requiredString(root, top, "", "name", "name the scenario (the Ginkgo container's text)"); err != nil {
		return nil, err
	}
	if n := top["labels"]; n != nil {
		items, err := p.sequence(n, "labels")
		if err != nil {
			return nil, err
		}
		for i, it := range items {
			field := fmt.Sprintf("labels[%d]", i)
			l, err := p.str(it, field)
			if err != nil {
				return nil, err
			}
			if _, lerr := types.ValidateAndCleanupLabel(l, types.CodeLocation{}); lerr != nil || strings.TrimSpace(l) != l {
				return nil, p.err(it, field, fmt.Sprintf("%q is not a Ginkgo label", l), "use letters, digits, ':', '-', '_' and '.', without &|!,()/ or spaces at either end")
			}
			s.Labels = append(s.Labels, l)
		}
	}
	tn := top["topology"]
	if tn == nil {
		return nil, p.err(root, "topology", "is missing", "declare the workloads and clients (see framework/scenario's package doc)")
	}
	if err := p.topology(tn, strings.TrimSuffix(strings.TrimSuffix(filepath.Base(p.file), ".yaml"), ".yml")); err != nil {
		return nil, err
	}
	s.Topology = p.topo
	if n := top["rules"]; n != nil {
		items, err := p.sequence(n, "rules")
		if err != nil {
			return nil, err
		}
		for i, it := range items {
			r, err := p.rule(it, fmt.Sprintf("rules[%d]", i))
			if err != nil {
				return nil, err
			}
			s.Rules = append(s.Rules, *r)
		}
	}
	sn := top["specs"]
	if sn == nil {
		return nil, p.err(root, "specs", "is missing", "add at least one spec: - it: \"...\" with its steps")
	}
	items, err := p.sequence(sn, "specs")
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, p.err(sn, "specs", "is empty", "add at least one spec: - it: \"...\" with its steps")
	}
	p.replicas = map[string]int{}
	for _, w := range p.topo.Workloads {
		p.replicas[w.Name] = w.Replicas
	}
	seen := map[string]int{}
	for i, it := range items {
		sp, err := p.spec(it, fmt.Sprintf("specs[%d]", i))
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[sp.It]; dup {
			return nil, p.err(it, fmt.Sprintf("specs[%d].it", i), fmt.Sprintf("%q is also the text of specs[%d]", sp.It, prev), "give every spec its own text (reports and fingerprints key on it)")
		}
		seen[sp.It] = i
		s.Specs = append(s.Specs, *sp)
	}
	return s, nil
}
