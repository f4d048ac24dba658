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

// TestSingleClusterBackendRefusesClusters: the one-cluster kind backend
// names Clusters and the multi-cluster setup; mesh settings are no longer
// refused (they are applied at Deploy: TestMeshSettings*).
func TestSingleClusterBackendRefusesClusters(t *testing.T) {
	f, b := newFakeCluster(t)
	_, err := b.Deploy(context.Background(), topology.ThreeZonesTwoClusters("", ""))
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
