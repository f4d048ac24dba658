package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/localitylb/locality-e2e/framework/kind"
)

// TestKindPlan: kind-plan prints the plan of the setup the env selects,
// runs nothing, and names the topologies that setup does not serve.
func TestKindPlan(t *testing.T) {
	t.Setenv(kind.EnvKindMultiCluster, "locality-task-multinetwork")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"kind-plan"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{
		"not served by it: [locality-task]",
		"[cluster4] create kind cluster locality-e2e-cluster4",
		"[cluster3] install the east-west gateway of network2",
		"[cluster1] create Gateway istio-system/cross-network-gateway",
		"route cluster2's pods",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if strings.Contains(s, "route cluster3's pods on locality-e2e-cluster3-control-plane to locality-e2e-cluster1") {
		t.Error("clusters on different networks must not get routes to each other")
	}
	t.Setenv(kind.EnvKindMultiCluster, "no-such-topology")
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"kind-plan"}, &out, &errb); code != exitBadInput || !strings.Contains(errb.String(), "no multi-cluster topology of that name") {
		t.Fatalf("unknown topology: exit %d: %s", code, errb.String())
	}
}
