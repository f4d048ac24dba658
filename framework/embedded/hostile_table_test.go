package embedded

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	eps "github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
	"github.com/localitylb/locality-e2e/framework/virtualservice"
	"github.com/localitylb/locality-e2e/framework/workload"
)

const goodDR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: helloworld-dr
spec:
  host: helloworld-svc.default.svc.cluster.local
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 1m
    loadBalancer:
      localityLbSetting:
        enabled: true
        failoverPriority:
        - topology.kubernetes.io/zone
`

// TestHostileInputs is issue 14's table: bad inputs across topologies,
// DestinationRules, VirtualServices, mesh calls and the workload CLI, each
// answered with an error naming the field (and the fix), never a panic,
// with no goroutine or listener left behind.
func TestHostileInputs(t *testing.T) {
	// istiod starts process-wide goroutines on first use.
	warm, err := New(Options{Seed: 2}).Deploy(context.Background(), topology.TwoRegions())
	if err != nil {
		t.Fatal(err)
	}
	_ = warm.Close(context.Background())
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	before := listeners127(t)
	defer noNewListeners(t, before)

	ctx := context.Background()
	be := New(Options{Seed: 14})
	m, err := be.Deploy(ctx, topology.ThreeZones())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	em := m.(*Mesh)

	topo := func(f func(*topology.Topology)) func() error {
		return func() error {
			tp := topology.ThreeZones()
			f(&tp)
			_, err := be.Deploy(ctx, tp) // Validate's error, before anything starts
			return err
		}
	}
	drText := func(text string) func() error {
		return func() error {
			dr, err := destinationrule.Parse("dr.yaml", []byte(text))
			if err != nil {
				return err
			}
			return em.ApplyDestinationRule(ctx, dr)
		}
	}
	drEdit := func(old, new string) func() error {
		if !strings.Contains(goodDR, old) {
			panic("test bug: " + old)
		}
		return drText(strings.Replace(goodDR, old, new, 1))
	}
	cli := func(args ...string) func() error {
		return func() error {
			var out, errb bytes.Buffer
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if code := workload.Main(cctx, args, func(string) string { return "" }, &out, &errb); code == 0 {
				return nil
			}
			return &cliError{errb.String()}
		}
	}
	vsText := func(text string) func() error {
		return func() error {
			_, err := virtualservice.Parse("vs.yaml", []byte(text))
			return err
		}
	}
	cases := []struct {
		name string
		run  func() error
		want string // in the error
	}{
		// Topologies (items 4, 5, 8, 2).
		{"subzone without zone", topo(func(t *topology.Topology) { t.Workloads[0].Locality = locality.Locality{Region: "kr", Subzone: "s1"} }), "Zone"},
		{"region with slashes", topo(func(t *topology.Topology) { t.Workloads[0].Locality = locality.Locality{Region: "kr/a/b/c"} }), "Region"},
		{"region with a space", topo(func(t *topology.Topology) { t.Workloads[0].Locality.Region = "k r" }), "Region"},
		{"zone *", topo(func(t *topology.Topology) { t.Workloads[0].Locality.Zone = "*" }), "Zone"},
		{"non-ASCII zone", topo(func(t *topology.Topology) { t.Workloads[0].Locality.Zone = "zoné" }), "Zone"},
		{"client subzone without zone", topo(func(t *topology.Topology) { t.Clients[0].Locality = locality.Locality{Region: "kr", Subzone: "s"} }), "Clients[0]"},
		{"image with a newline", topo(func(t *topology.Topology) {
			t.Image = "docker.io/x:1\n        securityContext:\n          privileged: true"
		}), "Image"},
		{"image with a comment", topo(func(t *topology.Topology) { t.Image = "docker.io/x:1 #x" }), "Image"},
		{"client image injection", topo(func(t *topology.Topology) { t.ClientImage = "curl\n    privileged: true" }), "ClientImage"},
		{"app with a comment", topo(func(t *topology.Topology) { t.App = "helloworld #x" }), "App"},
		{"workload name with a comment", topo(func(t *topology.Topology) { t.Workloads[2].Name = "helloworld-zone-c #x" }), "Workloads[2].Name"},
		{"workload name upper case", topo(func(t *topology.Topology) { t.Workloads[0].Name = "Bad_Name" }), "Workloads[0].Name"},
		{"workload name too long", topo(func(t *topology.Topology) { t.Workloads[0].Name = strings.Repeat("a", 64) }), "Workloads[0].Name"},
		{"service name", topo(func(t *topology.Topology) { t.Service = "Helloworld" }), "Service"},
		{"service starting with a digit", topo(func(t *topology.Topology) { t.Service = "1svc" }), "Service"},
		{"namespace", topo(func(t *topology.Topology) { t.Namespace = "Not A Namespace" }), "Namespace"},
		{"topology name", topo(func(t *topology.Topology) { t.Name = "bad name" }), "Name"},
		{"label key", topo(func(t *topology.Topology) { t.Workloads[0].Labels = map[string]string{"not a key!": "x"} }), "Labels"},
		{"label value", topo(func(t *topology.Topology) { t.Workloads[0].Labels = map[string]string{"tier": "a b"} }), "Labels"},
		{"label value injection", topo(func(t *topology.Topology) { t.Clients[0].Labels = map[string]string{"tier": "x\"\n  evil: \"y"} }), "Labels"},
		{"istio-locality on a workload", topo(func(t *topology.Topology) { t.Workloads[0].Labels = map[string]string{"istio-locality": "us.b"} }), "istio-locality"},
		{"istio-locality on a client", topo(func(t *topology.Topology) { t.Clients[0].Labels = map[string]string{"istio-locality": "us.b"} }), "istio-locality"},
		{"pod-template-hash label", topo(func(t *topology.Topology) { t.Workloads[0].Labels = map[string]string{"pod-template-hash": "x"} }), "pod-template-hash"},
		{"client name", topo(func(t *topology.Topology) { t.Clients[0].Name = "client\nx" }), "Clients[0].Name"},
		{"replicas above the maximum", topo(func(t *topology.Topology) { t.Workloads[0].Replicas = topology.MaxReplicas + 1 }), "MaxReplicas"},
		{"total replicas above the maximum", topo(func(t *topology.Topology) { t.Workloads[0].Replicas, t.Workloads[1].Replicas = 600, 600 }), "MaxReplicas"},
		{"clients above the maximum", topo(func(t *topology.Topology) {
			for i := len(t.Clients); i <= topology.MaxClients; i++ {
				t.Clients = append(t.Clients, topology.Client{Name: fmt.Sprintf("extra-%d", i), Locality: t.Clients[0].Locality})
			}
		}), `topology "three-zones": Clients has 51 client pods: at most topology.MaxClients (50) are supported; use one client per locality you send from`},
		{"negative replicas", topo(func(t *topology.Topology) { t.Workloads[0].Replicas = -1 }), "Replicas"},
		{"port out of range", topo(func(t *topology.Topology) { t.Port = 70000 }), "Port"},
		// DestinationRules (item 11).
		{"snake_case field", drEdit("trafficPolicy:", "traffic_policy:"), "trafficPolicy"},
		{"duplicate key", drEdit("  host: helloworld-svc.default.svc.cluster.local\n", "  host: helloworld-svc.default.svc.cluster.local\n  host: other.default.svc.cluster.local\n"), "once"},
		{"second document", drText(goodDR + "---\n" + goodDR), "2 YAML documents"},
		{"failoverPriority empty entry", drEdit("- topology.kubernetes.io/zone", `- ""`), "failoverPriority[0]"},
		{"failoverPriority not a label", drEdit("- topology.kubernetes.io/zone", `- "not a label!!"`), "failoverPriority[0]"},
		{"failoverPriority =gold", drEdit("- topology.kubernetes.io/zone", `- "=gold"`), "failoverPriority[0]"},
		{"DR name with a path", drEdit("name: helloworld-dr", `name: "Bad_DR/../x"`), "metadata.name"},
		{"DR namespace", drEdit("name: helloworld-dr", "name: helloworld-dr\n  namespace: Not A Namespace"), "metadata.namespace"},
		{"interval 0s", drEdit("interval: 1s", "interval: 0s"), "outlierDetection.interval"},
		{"unknown field", drEdit("enabled: true", "enabeld: true"), "enabeld"},
		{"wrong kind", drEdit("kind: DestinationRule", "kind: VirtualService"), "kind"},
		{"empty document", drText(""), "empty"},
		// Rules no client sidecar can get (issue 23 item 6): at once, not after 30 s.
		{"DR for a host no client calls", drEdit("host: helloworld-svc.default.svc.cluster.local", "host: y.default.svc.cluster.local"),
			"ApplyDestinationRule: DestinationRule default/helloworld-dr selects host y.default.svc.cluster.local, which no client of this topology calls: set spec.host to helloworld-svc.default.svc.cluster.local (nothing was applied)"},
		{"DR in a namespace the clients do not see", drEdit("name: helloworld-dr", "name: helloworld-dr\n  namespace: shop"),
			"ApplyDestinationRule: DestinationRule shop/helloworld-dr selects host helloworld-svc.default.svc.cluster.local, but istiod gives it to no client: a sidecar takes rules from its own namespace, the service's namespace (both default here) and the root namespace (istio-system), never from namespace shop: apply it in namespace default (nothing was applied)"},
		// VirtualServices.
		{"VS snake_case", vsText("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: v\nspec:\n  hosts: [a]\n  http:\n  - retries:\n      per_try_timeout: 1s\n"), "perTryTimeout"},
		{"VS duplicate key", vsText("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: v\n  name: w\nspec:\n  hosts: [a]\n"), "once"},
		// Mesh calls (items 3, 6, 13 and misuse).
		{"Send 0", func() error { _, err := m.Send(ctx, "netshoot-b", 0); return err }, "n is 0"},
		{"Send 1e9", func() error { _, err := m.Send(ctx, "netshoot-b", 1_000_000_000); return err }, "MaxRequests"},
		{"Send unknown client", func() error { _, err := m.Send(ctx, "nobody", 1); return err }, "nobody"},
		{"Send cut short (item 8)", func() error {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
			defer cancel()
			b, err := m.Send(cctx, "netshoot-b", traffic.MaxRequests)
			if err != nil && !b.CutShort {
				return fmt.Errorf("batch not marked cut short: %w", err)
			}
			return err
		}, " of 1000000 requests (the request in flight is not counted): context deadline exceeded"},
		{"Scale negative", func() error { return m.Scale(ctx, "helloworld-zone-a", -1) }, "negative"},
		{"Scale above the maximum", func() error { return m.Scale(ctx, "helloworld-zone-a", topology.MaxReplicas) }, "MaxReplicas"},
		{"Scale unknown workload", func() error { return m.Scale(ctx, "nope", 1) }, "nope"},
		{"apply nil DR", func() error { return m.ApplyDestinationRule(ctx, nil) }, "nil"},
		{"apply DR with a bad name", func() error {
			return m.ApplyDestinationRule(ctx, &networkingv1.DestinationRule{})
		}, "metadata.name"},
		{"delete unknown DR", func() error { return m.DeleteDestinationRule(ctx, "ghost") }, "ghost"},
		{"delete unknown VS", func() error { return m.DeleteVirtualService(ctx, "ghost") }, "ghost"},
		{"unknown fault", func() error { return m.SetFault(ctx, "helloworld-zone-a", 1, mesh.Fault("melt")) }, "melt"},
		{"unknown view", func() error { _, err := m.Endpoints(ctx, "netshoot-b", eps.View("x")); return err }, "view"},
		{"negative wait", func() error { return m.Wait(ctx, -time.Second) }, "negative"},
		// The workload CLI.
		{"CLI unknown command", cli("bogus"), "bogus"},
		{"CLI unknown fault", cli("fault", "nonsense"), "nonsense"},
		{"CLI bad status", cli("fault", "status", "abc"), "abc"},
		// Issue 23 item 11: the drain period.
		{"CLI negative drain", cli("serve", "--pod=p", "--drain=-1s"), "workload serve: --drain: drain period -1s: want 0 (stop at once) to 5m0s\n"},
		{"CLI drain not a duration", cli("serve", "--pod=p", "--drain=forever"), "workload serve: --drain \"forever\": not a duration: write it like 5s or 1500ms (0 stops at once)\n"},
		{"drain above the maximum", func() error {
			_, err := New(Options{Drain: time.Hour}).Deploy(ctx, topology.ThreeZones())
			return err
		}, "embedded.Options.Drain is 1h0m0s: at most workload.MaxDrain (5m0s); 0 is the default (5s), negative stops removed pods at once"},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v", p)
					}
				}()
				err = tc.run()
			}()
			if err == nil {
				t.Fatalf("accepted; want an error mentioning %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	// The mesh is untouched by all of it.
	b, err := m.Send(ctx, "netshoot-b", 100)
	if err != nil || b.ByClass().Count(traffic.ClassOK) != 100 {
		t.Fatalf("after the bad inputs: %v %v", err, b.ByClass())
	}
	if drs, _ := m.DestinationRules(ctx); len(drs) != 0 {
		t.Fatalf("bad rules were applied: %d", len(drs))
	}
}

type cliError struct{ stderr string }

func (e *cliError) Error() string { return "exit status non-zero: " + e.stderr }
