package scenario

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	networkingapi "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/localitylb/locality-e2e/framework/boundedread"
	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
	"github.com/localitylb/locality-e2e/framework/virtualservice"
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

func (p *parser) err(n *yaml.Node, field, msg, fix string) *Error {
	line := 1
	if n != nil && n.Line > 0 {
		line = n.Line
	}
	return &Error{File: p.file, Line: line, Field: field, Msg: msg, Fix: fix}
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func (p *parser) parse(data []byte) (*Scenario, error) {
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
	top, err := p.mapping(doc.Content[0], "", "name", "labels", "topology", "rules", "specs")
	if err != nil {
		return nil, err
	}
	s := &Scenario{File: p.file}
	if s.Name, err = p.requiredString(doc.Content[0], top, "", "name", "name the scenario (the Ginkgo container's text)"); err != nil {
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
		return nil, p.err(doc.Content[0], "topology", "is missing", "declare the workloads and clients (see framework/scenario's package doc)")
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
		return nil, p.err(doc.Content[0], "specs", "is missing", "add at least one spec: - it: \"...\" with its steps")
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

var topoIndex = regexp.MustCompile(`(Workloads|Clients|Clusters)\[(\d+)\]`)

func (p *parser) topology(n *yaml.Node, defName string) error {
	const f = "topology"
	m, err := p.mapping(n, f, "name", "namespace", "service", "port", "trafficDistribution", "clusters", "mesh", "workloads", "clients")
	if err != nil {
		return err
	}
	t := topology.Topology{Name: defName, Service: "helloworld", Port: 5000}
	if v := m["name"]; v != nil {
		if t.Name, err = p.str(v, f+".name"); err != nil {
			return err
		}
	}
	if v := m["namespace"]; v != nil {
		if t.Namespace, err = p.str(v, f+".namespace"); err != nil {
			return err
		}
		p.namespaceNode = v
	}
	if v := m["service"]; v != nil {
		if t.Service, err = p.str(v, f+".service"); err != nil {
			return err
		}
	}
	if v := m["port"]; v != nil {
		if t.Port, err = p.integer(v, f+".port", 1, 65535); err != nil {
			return err
		}
	}
	if v := m["trafficDistribution"]; v != nil {
		if t.TrafficDistribution, err = p.str(v, f+".trafficDistribution"); err != nil {
			return err
		}
		switch t.TrafficDistribution {
		case "PreferClose", "PreferSameZone", "PreferSameNode":
		default:
			return p.err(v, f+".trafficDistribution", fmt.Sprintf("%q is unknown", t.TrafficDistribution), "use PreferClose, PreferSameZone or PreferSameNode, or leave it out")
		}
	}
	if v := m["clusters"]; v != nil {
		if t.Clusters, err = p.clusters(v, f+".clusters"); err != nil {
			return err
		}
	}
	if v := m["mesh"]; v != nil {
		if t.Mesh, err = p.mesh(v, f+".mesh"); err != nil {
			return err
		}
	}
	wn := m["workloads"]
	if wn == nil {
		return p.err(n, f+".workloads", "is missing", "add at least one workload: - {name: ..., locality: kr/a, replicas: 3}")
	}
	ws, err := p.sequence(wn, f+".workloads")
	if err != nil {
		return err
	}
	if len(ws) == 0 {
		return p.err(wn, f+".workloads", "is empty", "add at least one workload: - {name: ..., locality: kr/a, replicas: 3}")
	}
	for i, wnode := range ws {
		wf := fmt.Sprintf("%s.workloads[%d]", f, i)
		wm, err := p.mapping(wnode, wf, "name", "locality", "replicas", "labels", "cluster", "node")
		if err != nil {
			return err
		}
		var w topology.Workload
		if w.Name, err = p.requiredString(wnode, wm, wf, "name", "name the Deployment, e.g. helloworld-zone-a"); err != nil {
			return err
		}
		if wm["locality"] == nil {
			return p.err(wnode, wf+".locality", "is missing", "place the workload in a locality, e.g. locality: kr/a")
		}
		if w.Locality, err = p.locality(wm["locality"], wf+".locality"); err != nil {
			return err
		}
		if wm["replicas"] == nil {
			return p.err(wnode, wf+".replicas", "is missing", "set the number of pods, e.g. replicas: 3")
		}
		if w.Replicas, err = p.integer(wm["replicas"], wf+".replicas", 0, topology.MaxReplicas); err != nil {
			return err
		}
		if v := wm["labels"]; v != nil {
			if w.Labels, err = p.labels(v, wf+".labels"); err != nil {
				return err
			}
		}
		if v := wm["cluster"]; v != nil {
			if w.Cluster, err = p.placement(v, wf+".cluster", t.Clusters); err != nil {
				return err
			}
		}
		if v := wm["node"]; v != nil {
			if w.Node, err = p.str(v, wf+".node"); err != nil {
				return err
			}
		}
		t.Workloads = append(t.Workloads, w)
		p.lines.workloads = append(p.lines.workloads, wnode.Line)
	}
	if cn := m["clients"]; cn != nil {
		cs, err := p.sequence(cn, f+".clients")
		if err != nil {
			return err
		}
		p.clientsNode = cn
		for i, cnode := range cs {
			cf := fmt.Sprintf("%s.clients[%d]", f, i)
			cm, err := p.mapping(cnode, cf, "name", "locality", "labels", "cluster", "service", "selfDiscovery", "node")
			if err != nil {
				return err
			}
			var c topology.Client
			if c.Name, err = p.requiredString(cnode, cm, cf, "name", "name the client pod, e.g. netshoot-b"); err != nil {
				return err
			}
			if cm["locality"] == nil {
				return p.err(cnode, cf+".locality", "is missing", "place the client in a locality, e.g. locality: kr/b")
			}
			if c.Locality, err = p.locality(cm["locality"], cf+".locality"); err != nil {
				return err
			}
			if v := cm["labels"]; v != nil {
				if c.Labels, err = p.labels(v, cf+".labels"); err != nil {
					return err
				}
			}
			if v := cm["cluster"]; v != nil {
				if c.Cluster, err = p.placement(v, cf+".cluster", t.Clusters); err != nil {
					return err
				}
			}
			if v := cm["service"]; v != nil {
				if c.Service, err = p.str(v, cf+".service"); err != nil {
					return err
				}
			}
			if v := cm["node"]; v != nil {
				if c.Node, err = p.str(v, cf+".node"); err != nil {
					return err
				}
			}
			if v := cm["selfDiscovery"]; v != nil {
				if c.SelfDiscovery, err = p.boolean(v, cf+".selfDiscovery", "write selfDiscovery: true to give the client's sidecar its local_cluster (zone aware routing; needs service)"); err != nil {
					return err
				}
			}
			t.Clients = append(t.Clients, c)
			p.lines.clients = append(p.lines.clients, cnode.Line)
		}
	}
	if len(t.Clients) == 0 {
		return p.err(n, f+".clients", "is missing", "add a client that sends the requests: - {name: netshoot-b, locality: kr/b}")
	}
	t = t.WithDefaults()
	if err := t.Validate(); err != nil {
		line, field := n.Line, f
		if mm := topoIndex.FindStringSubmatch(err.Error()); mm != nil {
			i, _ := strconv.Atoi(mm[2])
			if mm[1] == "Workloads" && i < len(p.lines.workloads) {
				line, field = p.lines.workloads[i], fmt.Sprintf("%s.workloads[%d]", f, i)
			} else if mm[1] == "Clients" && i < len(p.lines.clients) {
				line, field = p.lines.clients[i], fmt.Sprintf("%s.clients[%d]", f, i)
			} else if mm[1] == "Clusters" && i < len(p.lines.clusters) {
				line, field = p.lines.clusters[i], fmt.Sprintf("%s.clusters[%d]", f, i)
			}
		} else if strings.Contains(err.Error(), ": Mesh.LocalityLbSetting ") && p.lbNode != nil {
			line, field = p.lbNode.Line, f+".mesh.localityLbSetting"
		} else if strings.Contains(err.Error(), ": Mesh.ZoneAwareLbSetting ") && p.zaNode != nil {
			line, field = p.zaNode.Line, f+".mesh.zoneAwareLbSetting"
		} else if strings.Contains(err.Error(), ": Namespace ") && p.namespaceNode != nil {
			line, field = p.namespaceNode.Line, f+".namespace"
		} else if strings.Contains(err.Error(), ": Clients has ") && p.clientsNode != nil {
			line, field = p.clientsNode.Line, f+".clients"
		}
		return &Error{File: p.file, Line: line, Field: field, Msg: err.Error()}
	}
	p.topo = t
	return nil
}

// clusters reads topology.clusters: the clusters of a multi-cluster mesh,
// each {name, network}; a network on every cluster or on none.
func (p *parser) clusters(n *yaml.Node, field string) ([]topology.Cluster, error) {
	items, err := p.sequence(n, field)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, p.err(n, field, "is empty", "declare the clusters, e.g. - {name: cluster1, network: network1}, or leave clusters out for one cluster")
	}
	var out []topology.Cluster
	withNetwork := -1
	for i, it := range items {
		cf := fmt.Sprintf("%s[%d]", field, i)
		cm, err := p.mapping(it, cf, "name", "network")
		if err != nil {
			return nil, err
		}
		var c topology.Cluster
		if c.Name, err = p.requiredString(it, cm, cf, "name", "name the cluster by its cluster ID, e.g. name: cluster1"); err != nil {
			return nil, err
		}
		// Checked here, not only by Topology.Validate: the workloads and
		// clients that name a cluster are checked against these names.
		if errs := validation.IsDNS1123Label(c.Name); len(errs) > 0 {
			return nil, p.err(cm["name"], cf+".name", fmt.Sprintf("%q is not a valid cluster name (%s)", c.Name, strings.Join(errs, "; ")), "use lower-case letters, digits and '-', at most 63 characters, e.g. cluster1")
		}
		for j, prev := range out {
			if prev.Name == c.Name {
				return nil, p.err(cm["name"], cf+".name", fmt.Sprintf("%q is also the name of %s[%d]", c.Name, field, j), "give every cluster its own name")
			}
		}
		if cm["network"] != nil {
			if c.Network, err = p.requiredString(it, cm, cf, "network", "name the cluster's network, e.g. network: network1, or leave network out on every cluster"); err != nil {
				return nil, err
			}
			withNetwork = i
		}
		out = append(out, c)
		p.lines.clusters = append(p.lines.clusters, it.Line)
	}
	if withNetwork >= 0 {
		for i, c := range out {
			if c.Network == "" {
				return nil, p.err(items[i], fmt.Sprintf("%s[%d].network", field, i), fmt.Sprintf("is missing while %s[%d] (%s) is on network %q", field, withNetwork, out[withNetwork].Name, out[withNetwork].Network), "name a network for every cluster, or for none (one flat network)")
			}
		}
	}
	return out, nil
}

func clusterNames(cs []topology.Cluster) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// placement reads a workload's or client's cluster, one of clusters.
func (p *parser) placement(n *yaml.Node, field string, clusters []topology.Cluster) (string, error) {
	name, err := p.str(n, field)
	if err != nil {
		return "", err
	}
	if len(clusters) == 0 {
		return "", p.err(n, field, fmt.Sprintf("is %q but topology.clusters declares no clusters", name), "declare the clusters in topology.clusters, or leave cluster out for one cluster")
	}
	if !contains(clusterNames(clusters), name) {
		return "", p.err(n, field, fmt.Sprintf("unknown cluster %q", name), "use one of the topology's clusters: "+strings.Join(clusterNames(clusters), ", "))
	}
	return name, nil
}

// mesh reads topology.mesh: meshConfig's localityLbSetting and
// zoneAwareLbSetting, and a cluster-local Service.
func (p *parser) mesh(n *yaml.Node, field string) (topology.MeshSettings, error) {
	var ms topology.MeshSettings
	m, err := p.mapping(n, field, "localityLbSetting", "zoneAwareLbSetting", "clusterLocal")
	if err != nil {
		return ms, err
	}
	if v := m["localityLbSetting"]; v != nil {
		if ms.LocalityLbSetting, err = p.localityLbSetting(v, field+".localityLbSetting"); err != nil {
			return ms, err
		}
		p.lbNode = v
	}
	if v := m["zoneAwareLbSetting"]; v != nil {
		ms.ZoneAwareLbSetting = &networkingapi.ZoneAwareLoadBalancerSetting{}
		if err := p.protoSetting(v, field+".zoneAwareLbSetting", ms.ZoneAwareLbSetting, zoneAwareLbSettingDoc,
			"write it as a DestinationRule's trafficPolicy.loadBalancer.zoneAwareLbSetting, e.g. {enabled: true, minClusterSize: 6}"); err != nil {
			return ms, err
		}
		p.zaNode = v
	}
	if v := m["clusterLocal"]; v != nil {
		if ms.ClusterLocal, err = p.boolean(v, field+".clusterLocal", "write clusterLocal: true to keep every client's traffic in its own cluster"); err != nil {
			return ms, err
		}
	}
	return ms, nil
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

const (
	localityLbSettingDoc  = "https://istio.io/latest/docs/reference/config/networking/destination-rule/#LocalityLoadBalancerSetting"
	zoneAwareLbSettingDoc = "https://istio.io/latest/docs/reference/config/networking/destination-rule/#ZoneAwareLoadBalancerSetting"
)

var protojsonPrefix = regexp.MustCompile(`^proto:[\s\x{00a0}]*(\(line \d+:\d+\):\s*)?`)

// localityLbSetting decodes a LocalityLoadBalancerSetting written as in a
// DestinationRule (camelCase YAML) with Istio's own type: its fields are
// checked against the proto descriptor (so an unknown one is reported at
// its line), then the YAML goes through sigs.k8s.io/yaml to JSON and
// protojson, which refuses unknown fields and wrong types. Istio's
// validation runs later, in Topology.Validate.
func (p *parser) localityLbSetting(n *yaml.Node, field string) (*networkingapi.LocalityLoadBalancerSetting, error) {
	lb := &networkingapi.LocalityLoadBalancerSetting{}
	if err := p.protoSetting(n, field, lb, localityLbSettingDoc,
		"write it as a DestinationRule's trafficPolicy.loadBalancer.localityLbSetting, e.g. {enabled: true, failover: [{from: kr, to: us}]}"); err != nil {
		return nil, err
	}
	return lb, nil
}

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

func (p *parser) spec(n *yaml.Node, field string) (*Spec, error) {
	m, err := p.mapping(n, field, "it", "steps")
	if err != nil {
		return nil, err
	}
	sp := &Spec{Line: n.Line}
	if sp.It, err = p.requiredString(n, m, field, "it", "describe what the spec proves, e.g. it: \"keeps every request in kr/b\""); err != nil {
		return nil, err
	}
	sn := m["steps"]
	if sn == nil {
		return nil, p.err(n, field+".steps", "is missing", "list the spec's steps (scale, break, heal, wait, warm, apply, expectEndpoints, send)")
	}
	items, err := p.sequence(sn, field+".steps")
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, p.err(sn, field+".steps", "is empty", "list the spec's steps (scale, break, heal, wait, warm, apply, expectEndpoints, send)")
	}
	for i, it := range items {
		st, err := p.step(it, fmt.Sprintf("%s.steps[%d]", field, i))
		if err != nil {
			return nil, err
		}
		sp.Steps = append(sp.Steps, *st)
	}
	return sp, nil
}

var stepKinds = []string{string(StepScale), string(StepBreak), string(StepHeal), string(StepWait), string(StepWarm), string(StepApply), string(StepExpectEndpoints), string(StepSend)}

func (p *parser) step(n *yaml.Node, field string) (*Step, error) {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return nil, p.err(n, field, "is not a step", "write one step per item, e.g. - scale: {workload: helloworld-zone-b, replicas: 0}; steps are "+strings.Join(stepKinds, ", "))
	}
	if _, err := p.mapping(n, field, stepKinds...); err != nil {
		return nil, err
	}
	kind, v := n.Content[0].Value, n.Content[1]
	field = join(field, kind)
	st := &Step{Kind: StepKind(kind), Line: n.Line}
	var err error
	switch st.Kind {
	case StepScale:
		m, err := p.mapping(v, field, "workload", "replicas")
		if err != nil {
			return nil, err
		}
		if st.Workload, err = p.workload(v, m, field); err != nil {
			return nil, err
		}
		if m["replicas"] == nil {
			return nil, p.err(v, field+".replicas", "is missing", "set the new number of pods, e.g. replicas: 0")
		}
		if st.Replicas, err = p.integer(m["replicas"], field+".replicas", 0, topology.MaxReplicas); err != nil {
			return nil, err
		}
		// The cap is on all workloads together, as Topology.Validate and
		// the embedded Mesh.Scale enforce it: refuse here, before a run
		// deploys the mesh only to fail at this step.
		total := st.Replicas
		for w, n := range p.replicas {
			if w != st.Workload {
				total += n
			}
		}
		if total > topology.MaxReplicas {
			return nil, p.err(m["replicas"], field+".replicas", fmt.Sprintf("%d brings the topology to %d workload pods: at most topology.MaxReplicas (%d) are supported", st.Replicas, total, topology.MaxReplicas), "scale other workloads down first")
		}
		p.replicas[st.Workload] = st.Replicas
	case StepBreak, StepHeal:
		allowed := []string{"workload", "pods"}
		if st.Kind == StepBreak {
			allowed = append(allowed, "fault")
		}
		m, err := p.mapping(v, field, allowed...)
		if err != nil {
			return nil, err
		}
		if st.Workload, err = p.workload(v, m, field); err != nil {
			return nil, err
		}
		st.Pods = -1
		if m["pods"] != nil {
			if st.Pods, err = p.integer(m["pods"], field+".pods", 1, topology.MaxReplicas); err != nil {
				return nil, err
			}
		}
		if st.Kind == StepBreak {
			if m["fault"] == nil {
				return nil, p.err(v, field+".fault", "is missing", "set fault: 5xx (503), 500 or refuse")
			}
			fn := m["fault"]
			if fn.Kind != yaml.ScalarNode || fn.Tag == "!!null" {
				return nil, p.err(fn, field+".fault", fmt.Sprintf("is %s", kindName(fn)), "set fault: 5xx (503), 500 or refuse")
			}
			switch mesh.Fault(fn.Value) {
			case mesh.Fail5xx, mesh.Fail500, mesh.RefuseConnections:
				st.Fault = mesh.Fault(fn.Value)
			default:
				return nil, p.err(fn, field+".fault", fmt.Sprintf("%q is not a fault", fn.Value), "use 5xx (answer 503), 500 or refuse (refuse connections); heal undoes it")
			}
		}
	case StepWait:
		s, err := p.str(v, field)
		if err == nil {
			st.Duration, err = time.ParseDuration(s)
			if err != nil || st.Duration < MinWait || st.Duration > MaxWait {
				err = p.err(v, field, fmt.Sprintf("%q is not a duration from %v to %v", s, MinWait, MaxWait), "write a Go duration such as 61s, 1m30s or 500ms")
			}
		} else {
			err = p.err(v, field, fmt.Sprintf("is %s, want a duration", kindName(v)), "write a Go duration such as 61s, 1m30s or 500ms (a bare number has no unit)")
		}
		if err != nil {
			return nil, err
		}
	case StepApply:
		if st.Rule, err = p.rule(v, field); err != nil {
			return nil, err
		}
	case StepWarm:
		m, err := p.mapping(v, field, "client", "requests")
		if err != nil {
			return nil, err
		}
		if st.Client, err = p.client(v, m, field); err != nil {
			return nil, err
		}
		if m["requests"] == nil {
			return nil, p.err(v, field+".requests", "is missing", "set how many warm-up requests to send, e.g. requests: 50")
		}
		if st.Requests, err = p.integer(m["requests"], field+".requests", 1, MaxRequests); err != nil {
			return nil, err
		}
	case StepExpectEndpoints:
		if err := p.expectEndpoints(v, field, st); err != nil {
			return nil, err
		}
	case StepSend:
		if err := p.send(v, field, st); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (p *parser) workloadNames() []string {
	var out []string
	for _, w := range p.topo.Workloads {
		out = append(out, w.Name)
	}
	return out
}

func (p *parser) workload(parent *yaml.Node, m map[string]*yaml.Node, field string) (string, error) {
	name, err := p.requiredString(parent, m, field, "workload", "name a workload of the topology: "+strings.Join(p.workloadNames(), ", "))
	if err != nil {
		return "", err
	}
	if _, ok := p.replicas[name]; !ok {
		return "", p.err(m["workload"], field+".workload", fmt.Sprintf("unknown workload %q", name), "use one of the topology's workloads: "+strings.Join(p.workloadNames(), ", "))
	}
	return name, nil
}

func (p *parser) client(parent *yaml.Node, m map[string]*yaml.Node, field string) (string, error) {
	var names []string
	for _, c := range p.topo.Clients {
		names = append(names, c.Name)
	}
	n := m["client"]
	if n == nil {
		if len(names) == 1 {
			return names[0], nil
		}
		return "", p.err(parent, field+".client", fmt.Sprintf("is missing and the topology has %d clients", len(names)), "name one of: "+strings.Join(names, ", "))
	}
	name, err := p.str(n, field+".client")
	if err != nil {
		return "", err
	}
	if !contains(names, name) {
		return "", p.err(n, field+".client", fmt.Sprintf("unknown client %q", name), "use one of the topology's clients: "+strings.Join(names, ", "))
	}
	return name, nil
}

// clusterPods is how many workload pods the cluster has at this step.
func (p *parser) clusterPods(cluster string) int {
	n := 0
	for _, w := range p.topo.Workloads {
		if p.topo.ClusterOfWorkload(w) == cluster {
			n += p.replicas[w.Name]
		}
	}
	return n
}

func (p *parser) localities() []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range p.topo.Workloads {
		if l := w.Locality.String(); !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// workloadLocality reads a locality key that must be some workload's.
func (p *parser) workloadLocality(k *yaml.Node, field string) (string, error) {
	l, err := p.locality(k, field)
	if err != nil {
		return "", err
	}
	if !contains(p.localities(), l.String()) {
		return "", p.err(k, field, fmt.Sprintf("no workload of the topology is in locality %q", l.String()), "use one of: "+strings.Join(p.localities(), ", "))
	}
	return l.String(), nil
}

func (p *parser) expectEndpoints(v *yaml.Node, field string, st *Step) error {
	m, err := p.mapping(v, field, "client", "view", "rows")
	if err != nil {
		return err
	}
	if st.Client, err = p.client(v, m, field); err != nil {
		return err
	}
	st.View = endpoints.Envoy
	if n := m["view"]; n != nil {
		s, err := p.str(n, field+".view")
		if err != nil {
			return err
		}
		switch endpoints.View(s) {
		case endpoints.Envoy, endpoints.Raw:
			st.View = endpoints.View(s)
		default:
			return p.err(n, field+".view", fmt.Sprintf("%q is not a view", s), "use envoy (the client sidecar's table) or istiod (istiod's /debug/edsz)")
		}
	}
	rn := m["rows"]
	if rn == nil {
		return p.err(v, field+".rows", "is missing", "give the expected table, locality: {priority, weight, hosts, healthy}; rows: {} expects no endpoints")
	}
	if rn.Kind != yaml.MappingNode {
		return p.err(rn, field+".rows", fmt.Sprintf("is %s, want a mapping", kindName(rn)), "write locality: {priority: 0, hosts: 3} lines; rows: {} expects no endpoints")
	}
	st.Rows = endpoints.Summary{}
	for i := 0; i+1 < len(rn.Content); i += 2 {
		k, rv := rn.Content[i], rn.Content[i+1]
		rf := field + ".rows"
		loc, err := p.workloadLocality(k, rf)
		if err != nil {
			return err
		}
		rf += "." + loc
		if _, dup := st.Rows[loc]; dup {
			return p.err(k, rf, "is given twice", "give each locality once")
		}
		rm, err := p.mapping(rv, rf, "priority", "weight", "hosts", "healthy")
		if err != nil {
			return err
		}
		if rm["priority"] == nil {
			return p.err(rv, rf+".priority", "is missing", "set the locality's priority, e.g. priority: 0")
		}
		if rm["hosts"] == nil {
			return p.err(rv, rf+".hosts", "is missing", "set the number of endpoints, e.g. hosts: 3")
		}
		prio, err := p.integer(rm["priority"], rf+".priority", 0, 127)
		if err != nil {
			return err
		}
		hosts, err := p.integer(rm["hosts"], rf+".hosts", 0, topology.MaxReplicas)
		if err != nil {
			return err
		}
		weight, healthy := steps.NoLocalityWeight, hosts
		if n := rm["weight"]; n != nil {
			if weight, err = p.integer(n, rf+".weight", 0, 1<<24); err != nil {
				return err
			}
		}
		if n := rm["healthy"]; n != nil {
			if healthy, err = p.integer(n, rf+".healthy", 0, hosts); err != nil {
				return err
			}
		}
		st.Rows[loc] = steps.RowHealthy(prio, weight, hosts, healthy)
	}
	return nil
}

// classes maps the names a scenario file may use for a response class.
var classes = map[string]string{
	"ok": traffic.ClassOK, "no-healthy-upstream": traffic.ClassNoHealthyUpstream,
	"connect-failure": traffic.ClassConnectFailure, "server-error": traffic.ClassServerError,
	"client-error": traffic.ClassClientError, "other": traffic.ClassOther,
}

func classNames() []string {
	var out []string
	for k := range classes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (p *parser) send(v *yaml.Node, field string, st *Step) error {
	m, err := p.mapping(v, field, "client", "requests", "by", "expect")
	if err != nil {
		return err
	}
	if st.Client, err = p.client(v, m, field); err != nil {
		return err
	}
	if n := m["requests"]; n != nil {
		if st.Requests, err = p.integer(n, field+".requests", 1, MaxRequests); err != nil {
			return err
		}
	}
	st.By = steps.ByLocality
	if n := m["by"]; n != nil {
		s, err := p.str(n, field+".by")
		if err != nil {
			return err
		}
		switch s {
		case "locality":
			st.By = steps.ByLocality
		case "pod":
			st.By = steps.ByPod
		case "class":
			st.By = steps.ByClass
		case "cluster":
			st.By = steps.ByCluster
			if len(p.topo.Clusters) == 0 {
				return p.err(n, field+".by", "is cluster but topology.clusters declares no clusters", "declare the clusters in topology.clusters, or use by: locality")
			}
		default:
			return p.err(n, field+".by", fmt.Sprintf("%q is not a bucketing", s), "use locality, pod (keys are workloads, each share spread over its pods), class or cluster")
		}
	}
	en := m["expect"]
	if en == nil {
		return p.err(v, field+".expect", "is missing", "give the expected split, bucket: share, shares summing to 1")
	}
	if en.Kind != yaml.MappingNode || len(en.Content) == 0 {
		return p.err(en, field+".expect", fmt.Sprintf("is %s, want a mapping of bucket: share", kindName(en)), "e.g. expect: {kr/a: 0.9, kr/c: 0.1}")
	}
	st.Expect = split.Expected{}
	sum := 0.0
	for i := 0; i+1 < len(en.Content); i += 2 {
		k, sv := en.Content[i], en.Content[i+1]
		ef := field + ".expect"
		var bucket string
		switch st.By {
		case steps.ByLocality:
			if bucket, err = p.workloadLocality(k, ef); err != nil {
				return err
			}
		case steps.ByPod:
			if bucket, err = p.str(k, ef); err != nil {
				return err
			}
			if _, ok := p.replicas[bucket]; !ok {
				return p.err(k, ef, fmt.Sprintf("unknown workload %q", bucket), "by: pod takes workload names (each share spread evenly over its pods): "+strings.Join(p.workloadNames(), ", "))
			}
		case steps.ByClass:
			name, err := p.str(k, ef)
			if err != nil {
				return err
			}
			c, ok := classes[name]
			if !ok {
				return p.err(k, ef, fmt.Sprintf("%q is not a response class", name), "use one of: "+strings.Join(classNames(), ", "))
			}
			bucket = c
		case steps.ByCluster:
			if bucket, err = p.str(k, ef); err != nil {
				return err
			}
			if !contains(clusterNames(p.topo.Clusters), bucket) {
				return p.err(k, ef, fmt.Sprintf("unknown cluster %q", bucket), "by: cluster takes the topology's clusters: "+strings.Join(clusterNames(p.topo.Clusters), ", "))
			}
		}
		ef += "." + k.Value
		if _, dup := st.Expect[bucket]; dup {
			return p.err(k, ef, "is given twice", "give each bucket once")
		}
		share, err := p.share(sv, ef)
		if err != nil {
			return err
		}
		if st.By == steps.ByPod && share > 0 && p.replicas[bucket] == 0 {
			return p.err(k, ef, fmt.Sprintf("workload %q has 0 pods at this step but is expected to get %v", bucket, share), "expect 0 for it, or scale it up first")
		}
		if st.By == steps.ByCluster && share > 0 && p.clusterPods(bucket) == 0 {
			return p.err(k, ef, fmt.Sprintf("cluster %q has no workload pods at this step but is expected to get %v", bucket, share), "expect 0 for it, or place a workload there (cluster: "+bucket+") or scale one up first")
		}
		st.Expect[bucket] = share
		sum += share
	}
	if math.Abs(sum-1) > 1e-9 {
		return p.err(en, field+".expect", fmt.Sprintf("shares sum to %s, not 1", strconv.FormatFloat(sum, 'f', -1, 64)), "fix the shares so they add up to 1 (100%)")
	}
	return nil
}
