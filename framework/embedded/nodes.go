package embedded

// Named nodes (topology Workload.Node, Client.Node): a Node object per
// named node, labelled with its locality and kubernetes.io/hostname as a
// kubelet registers it, and the pods that name one scheduled onto it (the
// nodeSelector of the rendered manifests only carries the locality).
// istiod labels endpoints and proxies with their node's name
// (pilot/pkg/serviceregistry/util/label AugmentLabels, from
// pod.spec.nodeName and the proxy's NODE_NAME), which Service
// trafficDistribution PreferSameNode ranks by.

import (
	"fmt"

	"github.com/localitylb/locality-e2e/framework/topology"
)

// addNamedNodes adds the cluster's named nodes (topology.NamedNodes).
func (kc *kcluster) addNamedNodes(topo topology.Topology) error {
	for _, nn := range topo.NamedNodes() {
		if nn.Cluster != kc.name {
			continue
		}
		if _, ok := kc.nodeByName[nn.Name]; ok {
			return fmt.Errorf("node %s (named for a pod in %s) is the name the embedded backend gives a locality's node: name another node", nn.Name, nn.Locality)
		}
		n := nodeFor(nn.Locality)
		n.Name = nn.Name
		n.Labels["kubernetes.io/hostname"] = nn.Name
		kc.nodes = append(kc.nodes, n)
		kc.nodeByName[n.Name] = n
	}
	return nil
}

// namedNode is the node a workload's pods or a client names ("" if none).
func (m *Mesh) namedNode(workload, client string) string {
	if workload != "" {
		w, _ := m.topo.Workload(workload)
		return w.Node
	}
	for _, c := range m.topo.Clients {
		if c.Name == client {
			return c.Node
		}
	}
	return ""
}
