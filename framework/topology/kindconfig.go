package topology

import (
	"fmt"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// KindConfig returns a kind cluster config for t: one control-plane node
// and one worker per NodeSpec (see Topology.Nodes), each worker labelled
// with its locality. nodeImage, when not empty, is set on every node.
func KindConfig(t Topology, nodeImage string) *v1alpha4.Cluster {
	c := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     t.Name,
	}
	c.Nodes = append(c.Nodes, v1alpha4.Node{Role: v1alpha4.ControlPlaneRole, Image: nodeImage})
	for _, n := range t.Nodes() {
		labels := make(map[string]string, len(n.Labels))
		for k, v := range n.Labels {
			labels[k] = v
		}
		c.Nodes = append(c.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole, Image: nodeImage, Labels: labels})
	}
	return c
}

// KindConfigYAML is KindConfig marshalled as YAML (kind create cluster
// --config). Validate's error is returned for an invalid topology.
func KindConfigYAML(t Topology, nodeImage string) ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	b, err := yaml.Marshal(KindConfig(t, nodeImage))
	if err != nil {
		return nil, fmt.Errorf("topology %q: marshal kind config: %w", t.Name, err)
	}
	return b, nil
}
