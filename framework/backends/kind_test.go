package backends

import (
	"context"
	"strings"
	"testing"

	"github.com/localitylb/locality-e2e/framework/kind"
)

// TestKindMultiClusterSelectedByEnv: LOCALITY_E2E_KIND_MULTICLUSTER
// routes Prepare to the multi-cluster setup, which selects the suite
// topology it names before touching Docker; a bad value names the variable.
func TestKindMultiClusterSelectedByEnv(t *testing.T) {
	t.Setenv(kind.EnvKindMultiCluster, "no-such-topology")
	_, err := Prepare(context.Background(), Options{Name: "kind"})
	if err == nil || !strings.Contains(err.Error(), "no multi-cluster topology of that name") || !strings.Contains(err.Error(), "locality-task-multinetwork") {
		t.Fatalf("got %v", err)
	}
	t.Setenv(kind.EnvKindMultiCluster, "Not A Name!")
	if _, err := Prepare(context.Background(), Options{Name: "kind"}); err == nil || !strings.Contains(err.Error(), kind.EnvKindMultiCluster) {
		t.Fatalf("bad value: %v", err)
	}
	t.Setenv(kind.EnvKindMultiCluster, "true")
	if _, err := Connect(context.Background(), Options{Name: "kind"}, []byte(`{"clusters":[]}`)); err == nil || !strings.Contains(err.Error(), "multicluster.Prepare") {
		t.Fatalf("connect: %v", err)
	}
}
