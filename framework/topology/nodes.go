package topology

// Named nodes: Workload.Node and Client.Node place pods on a Kubernetes
// node of their locality by name, for Service trafficDistribution
// PreferSameNode (istiod's failoverPriority ends with kubernetes.io/
// hostname, the label it gives endpoints and proxies from the pod's node,
// pilot/pkg/serviceregistry/util/label AugmentLabels). Without a name a
// pod runs on its locality's node, as before.

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/localitylb/locality-e2e/framework/locality"
)

// NamedNode is a node a workload or client names: its name, locality and
// cluster.
type NamedNode struct {
	Name     string
	Locality locality.Locality
	Cluster  string
}

// NamedNodes lists the nodes named by Workload.Node and Client.Node, by
// name.
func (t Topology) NamedNodes() []NamedNode {
	byName := map[string]NamedNode{}
	for _, w := range t.Workloads {
		if w.Node != "" {
			byName[w.Node] = NamedNode{Name: w.Node, Locality: w.Locality, Cluster: t.ClusterOfWorkload(w)}
		}
	}
	for _, c := range t.Clients {
		if c.Node != "" {
			byName[c.Node] = NamedNode{Name: c.Node, Locality: c.Locality, Cluster: t.ClusterOfClient(c)}
		}
	}
	out := make([]NamedNode, 0, len(byName))
	for _, n := range byName {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// validateNodes checks the node names: Kubernetes node names (DNS-1123
// subdomains), one locality and one cluster per node.
func (t Topology) validateNodes(prefix string) error {
	type use struct {
		what    string
		loc     locality.Locality
		cluster string
	}
	first := map[string]use{}
	check := func(what, node string, loc locality.Locality, cluster string) error {
		if node == "" {
			return nil
		}
		if errs := validation.IsDNS1123Subdomain(node); len(errs) > 0 {
			return fmt.Errorf("%s: %s.Node %q is not a valid node name (%s): use lower-case letters, digits, '-' and '.'", prefix, what, node, strings.Join(errs, "; "))
		}
		if u, ok := first[node]; ok && (u.loc != loc || u.cluster != cluster) {
			return fmt.Errorf("%s: %s.Node %q is also the node of %s in %s (cluster %s): a node has one locality and one cluster; name another node", prefix, what, node, u.what, u.loc, u.cluster)
		} else if !ok {
			first[node] = use{what, loc, cluster}
		}
		return nil
	}
	for i, w := range t.Workloads {
		if err := check(fmt.Sprintf("Workloads[%d] (%s)", i, w.Name), w.Node, w.Locality, t.ClusterOfWorkload(w)); err != nil {
			return err
		}
	}
	for i, c := range t.Clients {
		if err := check(fmt.Sprintf("Clients[%d] (%s)", i, c.Name), c.Node, c.Locality, t.ClusterOfClient(c)); err != nil {
			return err
		}
	}
	return nil
}
