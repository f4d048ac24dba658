package manifests

import (
	"strings"
	"testing"
)

func TestTemplatesEmbedded(t *testing.T) {
	for _, n := range []string{DeploymentTemplate, ServiceTemplate, VirtualServiceTemplate, ClientPodTemplate} {
		s, err := Template(n)
		if err != nil || !strings.Contains(s, "{{ .Name }}") {
			t.Errorf("%s: %v", n, err)
		}
	}
	if _, err := Template("workloads/nope.yaml.tmpl"); err == nil {
		t.Error("missing template read")
	}
}

func TestDestinationRules(t *testing.T) {
	// The seed's rules and those of the beyond-the-seed scenarios.
	want := "disabled,distribute-90-10,distribute-local-zone,failover,failover-cross-region,failover-gateway-errors,failover-max-ejection-100," +
		"failover-priority-network,failover-priority-network-cluster,failover-priority-override,failover-priority-tier,failover-priority-topology,failover-short-ejection,locality-enabled," +
		"locality-task-distribute,locality-task-failover,locality-task-failover-max-ejection-100,outlier-only,round-robin,zone-aware," +
		"zone-aware-disabled,zone-aware-failover,zone-aware-failover-priority,zone-aware-min-cluster-size-8,zone-aware-min-cluster-size-9"
	if got := strings.Join(DestinationRuleNames(), ","); got != want {
		t.Fatalf("names %s, want %s", got, want)
	}
	for _, n := range DestinationRuleNames() {
		b, err := DestinationRule(n + ".yaml")
		if err != nil || !strings.Contains(string(b), "name: helloworld-dr") ||
			!strings.Contains(string(b), "host: helloworld-svc.default.svc.cluster.local") ||
			!strings.Contains(string(b), "apiVersion: networking.istio.io/v1\n") {
			t.Errorf("%s: %v\n%s", n, err, b)
		}
	}
	for _, bad := range []string{"nope", "", "../workloads/deployment"} {
		if _, err := DestinationRule(bad); err == nil || !strings.Contains(err.Error(), "failover-max-ejection-100") {
			t.Errorf("DestinationRule(%q) error %v does not list the names", bad, err)
		}
	}
}

func TestVirtualServices(t *testing.T) {
	// The retry policies the retry specs apply.
	want := "retry-5xx,retry-remote-localities,retry-remote-localities-once"
	if got := strings.Join(VirtualServiceNames(), ","); got != want {
		t.Fatalf("names %s, want %s", got, want)
	}
	for _, n := range VirtualServiceNames() {
		b, err := VirtualService(n)
		if err != nil || !strings.Contains(string(b), "kind: VirtualService") || !strings.Contains(string(b), "retries:") {
			t.Errorf("%s: %v\n%s", n, err, b)
		}
	}
	for _, bad := range []string{"nope", "", "../destinationrules/failover"} {
		if _, err := VirtualService(bad); err == nil || !strings.Contains(err.Error(), "retry-5xx") {
			t.Errorf("VirtualService(%q) error %v does not list the names", bad, err)
		}
	}
}
