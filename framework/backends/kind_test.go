package backends

import (
	"context"
	"strings"
	"testing"

	"github.com/localitylb/locality-e2e/framework/kind"
)

// TestKindMultiClusterSelectedByEnv: LOCALITY_E2E_KIND_MULTICLUSTER=1
// routes Prepare to the multi-cluster setup, which stops before Docker
// when no suite topology declares Clusters; a bad value names the variable.
func TestKindMultiClusterSelectedByEnv(t *testing.T) {
	t.Setenv(kind.EnvKindMultiCluster, "1")
	_, err := Prepare(context.Background(), Options{Name: "kind"})
	if err == nil || !strings.Contains(err.Error(), "Topology.Clusters") || !strings.Contains(err.Error(), kind.EnvKindMultiCluster) {
		t.Fatalf("got %v", err)
	}
	t.Setenv(kind.EnvKindMultiCluster, "maybe")
	if _, err := Prepare(context.Background(), Options{Name: "kind"}); err == nil || !strings.Contains(err.Error(), kind.EnvKindMultiCluster) {
		t.Fatalf("bad value: %v", err)
	}
	t.Setenv(kind.EnvKindMultiCluster, "true")
	if _, err := Connect(context.Background(), Options{Name: "kind"}, []byte(`{"clusters":[]}`)); err == nil || !strings.Contains(err.Error(), "PrepareMultiCluster") {
		t.Fatalf("connect: %v", err)
	}
}
