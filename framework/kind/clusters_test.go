package kind

// What the single-cluster backend does with a topology that declares
// several Clusters (the multi-cluster setup is framework/kind/multicluster).

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// twoClusters is ThreeZones split over two clusters: kr/a and kr/b (and
// the client) in cluster1, kr/c in cluster2; networks when given (as in
// framework/kind/multicluster's tests).
func twoClusters(net1, net2 string) topology.Topology {
	t := topology.ThreeZones()
	t.Name = "three-zones-mc"
	t.Clusters = []topology.Cluster{{Name: "cluster1", Network: net1}, {Name: "cluster2", Network: net2}}
	for i := range t.Workloads {
		if t.Workloads[i].Locality.Zone == "c" {
			t.Workloads[i].Cluster = "cluster2"
		}
	}
	return t
}

// TestSingleClusterBackendRefusesClusters: the one-cluster kind backend
// names Clusters and the multi-cluster setup; mesh settings are no longer
// refused (they are applied at Deploy: TestMeshSettings*).
func TestSingleClusterBackendRefusesClusters(t *testing.T) {
	f, b := newFakeCluster(t)
	_, err := b.Deploy(context.Background(), twoClusters("", ""))
	if err == nil || !strings.Contains(err.Error(), "Clusters") || !strings.Contains(err.Error(), EnvKindMultiCluster+"=1") || !errors.Is(err, mesh.ErrTopologyUnsupported) {
		t.Fatalf("got %v", err)
	}
	f.withIstiod(t, "")
	withMesh := topology.ThreeZones()
	withMesh.Mesh.ClusterLocal = true
	m, err := b.Deploy(context.Background(), withMesh)
	if err != nil {
		t.Fatalf("mesh settings on the single-cluster backend: %v\n%s", err, f.log.String())
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
