package topology

import (
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

func workerLocalities(t *testing.T, c *v1alpha4.Cluster, image string) []string {
	t.Helper()
	if len(c.Nodes) == 0 || c.Nodes[0].Role != v1alpha4.ControlPlaneRole {
		t.Fatalf("first node is not the control plane: %+v", c.Nodes)
	}
	var out []string
	for i, n := range c.Nodes {
		if n.Image != image {
			t.Errorf("node %d image %q, want %q", i, n.Image, image)
		}
		if i == 0 {
			continue
		}
		if n.Role != v1alpha4.WorkerRole {
			t.Errorf("node %d role %s", i, n.Role)
		}
		s := n.Labels[LabelRegion]
		if z := n.Labels[LabelZone]; z != "" {
			s += "/" + z
		}
		out = append(out, s)
	}
	return out
}

func TestKindConfigTwoRegions(t *testing.T) {
	c := KindConfig(TwoRegions(), "")
	if got := workerLocalities(t, c, ""); strings.Join(got, ",") != "kr/a,kr/b,us/a,us/b" {
		t.Fatalf("workers %v", got)
	}
}

func TestKindConfigThreeZones(t *testing.T) {
	const img = "kindest/node:v1.36.0"
	c := KindConfig(ThreeZones(), img)
	// The client's locality kr/b already has a worker.
	if got := workerLocalities(t, c, img); strings.Join(got, ",") != "kr/a,kr/b,kr/c" {
		t.Fatalf("workers %v", got)
	}
}

func TestKindConfigYAML(t *testing.T) {
	b, err := KindConfigYAML(TwoRegions(), "kindest/node:v1.36.0")
	if err != nil {
		t.Fatal(err)
	}
	var back v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(b, &back); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if back.Kind != "Cluster" || back.APIVersion != "kind.x-k8s.io/v1alpha4" || len(back.Nodes) != 5 {
		t.Fatalf("round trip: %+v", back)
	}
	if back.Nodes[4].Labels[LabelRegion] != "us" || back.Nodes[4].Labels[LabelZone] != "b" {
		t.Errorf("last worker labels %v", back.Nodes[4].Labels)
	}
	bad := TwoRegions()
	bad.Service = ""
	if _, err := KindConfigYAML(bad, ""); err == nil || !strings.Contains(err.Error(), "Service is empty") {
		t.Errorf("err %v", err)
	}
}
