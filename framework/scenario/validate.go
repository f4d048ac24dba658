package scenario

// This file owns where an error points (file:line and field path, with
// Topology.Validate's errors placed at the workload, client or cluster
// they name) and the checks of a name against the topology declared
// above it: workloads, clients, clusters, localities and the pods a step
// leaves them.

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/localitylb/locality-e2e/framework/topology"
)

// err is an Error at n's line (line 1 when n is nil or has none).
func (p *parser) err(n *yaml.Node, field, msg, fix string) *Error {
	line := 1
	if n != nil && n.Line > 0 {
		line = n.Line
	}
	return &Error{File: p.file, Line: line, Field: field, Msg: msg, Fix: fix}
}

var topoIndex = regexp.MustCompile(`(Workloads|Clients|Clusters)\[(\d+)\]`)

// topologyError places an error of Topology.Validate at the line and
// field it comes from: the workload, client or cluster it names by index,
// the mesh setting or namespace it names, else topology itself (n).
func (p *parser) topologyError(n *yaml.Node, err error) error {
	const f = "topology"
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

func clusterNames(cs []topology.Cluster) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
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
