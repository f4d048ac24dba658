package embedded

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"istio.io/istio/pkg/config/schema/gvk"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// TestApplyUnreachableDestinationRule: issue 23 item 6. A rule no client
// sidecar can ever get (another host, a namespace istiod does not look in
// for the clients, an exportTo without the clients' namespace, a
// workloadSelector matching no client) is refused at once, from istiod's
// push context, and nothing stays applied. Before, each waited 30 s and
// returned "timed out waiting for istiod to push DestinationRule ...".
func TestApplyUnreachableDestinationRule(t *testing.T) {
	ctx := context.Background()
	m, err := New(Options{Seed: 23}).Deploy(ctx, topology.ThreeZones())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	em := m.(*Mesh)
	const good = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: x\nspec:\n  host: helloworld-svc.default.svc.cluster.local\n  trafficPolicy:\n    loadBalancer:\n      simple: ROUND_ROBIN\n"
	apply := func(edit func(string) string) error {
		dr, err := destinationrule.Parse("dr.yaml", []byte(edit(good)))
		if err != nil {
			t.Fatal(err)
		}
		return em.ApplyDestinationRule(ctx, dr)
	}
	repl := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("test bug: %q", old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	cases := []struct {
		name string
		edit func(string) string
		want string
	}{
		{"another host", repl("host: helloworld-svc.default", "host: y.default"),
			"ApplyDestinationRule: DestinationRule default/x selects host y.default.svc.cluster.local, which no client of this topology calls: set spec.host to helloworld-svc.default.svc.cluster.local (nothing was applied)"},
		{"short host in another namespace", func(s string) string {
			return repl("name: x\n", "name: x\n  namespace: shop\n")(repl("host: helloworld-svc.default.svc.cluster.local", "host: helloworld-svc")(s))
		}, "ApplyDestinationRule: DestinationRule shop/x selects host helloworld-svc.shop.svc.cluster.local, which no client of this topology calls: set spec.host to helloworld-svc.default.svc.cluster.local (nothing was applied)"},
		{"namespace istiod does not look in", repl("name: x\n", "name: x\n  namespace: shop\n"),
			"ApplyDestinationRule: DestinationRule shop/x selects host helloworld-svc.default.svc.cluster.local, but istiod gives it to no client: a sidecar takes rules from its own namespace, the service's namespace (both default here) and the root namespace (istio-system), never from namespace shop: apply it in namespace default (nothing was applied)"},
		{"root namespace, not exported", func(s string) string {
			return repl("name: x\n", "name: x\n  namespace: istio-system\n")(repl("spec:\n", "spec:\n  exportTo: [\".\"]\n")(s))
		}, `ApplyDestinationRule: DestinationRule istio-system/x selects host helloworld-svc.default.svc.cluster.local, but istiod gives it to no client: its exportTo ["."] does not include the clients' namespace default: add "default" or "*" (nothing was applied)`},
		{"workloadSelector matching no client", repl("spec:\n", "spec:\n  workloadSelector:\n    matchLabels:\n      app: nobody\n"),
			"ApplyDestinationRule: DestinationRule default/x selects host helloworld-svc.default.svc.cluster.local, but its spec.workloadSelector map[app:nobody] matches no client pod of this topology: drop it or match a client's labels (nothing was applied)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := apply(tc.edit)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v: the answer must not wait for a push", took)
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got  %v\nwant %s", err, tc.want)
			}
			if drs, _ := em.DestinationRules(ctx); len(drs) != 0 {
				t.Fatalf("a refused rule stayed applied: %v", drs)
			}
			if cfgs := em.fake.Store().List(gvk.DestinationRule, ""); len(cfgs) != 0 {
				t.Fatalf("a refused rule stayed in istiod's store: %d", len(cfgs))
			}
		})
	}
	// A reachable rule applies; a refused update of it leaves it in force.
	if err := apply(func(s string) string { return s }); err != nil {
		t.Fatal(err)
	}
	if err := apply(repl("host: helloworld-svc.default", "host: y.default")); err == nil {
		t.Fatal("update to another host accepted")
	}
	drs, _ := em.DestinationRules(ctx)
	if len(drs) != 1 || drs[0].Spec.Host != "helloworld-svc.default.svc.cluster.local" {
		t.Fatalf("after the refused update: %v", drs)
	}
	if cfgs := em.fake.Store().List(gvk.DestinationRule, ""); len(cfgs) != 1 || !strings.HasPrefix(cfgs[0].Spec.(interface{ GetHost() string }).GetHost(), "helloworld-svc.default") {
		t.Fatalf("istiod's store after the refused update: %v", cfgs)
	}
	// With default/x in force, a rule in a namespace istiod never reads for
	// the clients is still refused (it is not merely shadowed), while an
	// exported rule of the root namespace, which default/x takes
	// precedence over, is applied.
	err = apply(repl("name: x\n", "name: x\n  namespace: shop\n"))
	if err == nil || !strings.Contains(err.Error(), "DestinationRule shop/x selects host helloworld-svc.default.svc.cluster.local, but istiod gives it to no client: a sidecar takes rules from its own namespace") {
		t.Fatalf("shop/x beside default/x: %v", err)
	}
	if err := apply(repl("name: x\n", "name: x\n  namespace: istio-system\n")); err != nil {
		t.Fatalf("istio-system/x beside default/x: %v", err)
	}
	if drs, _ := em.DestinationRules(ctx); len(drs) != 2 {
		t.Fatalf("applied: %v", drs)
	}
}

// TestCloseDuringWait: a change waiting for istiod holds only the read
// lock (Pods answers meanwhile) and stops at once when Close starts, so
// Close does not wait out the sync timeout (issue 23 item 6: Close used to
// wait 30 s behind a stuck ApplyDestinationRule).
func TestCloseDuringWait(t *testing.T) {
	ctx := context.Background()
	m, err := New(Options{Seed: 24}).Deploy(ctx, topology.ThreeZones())
	if err != nil {
		t.Fatal(err)
	}
	em := m.(*Mesh)
	waiting := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		l := em.lockChange()
		defer l.unlock()
		l.waiting()
		close(waiting)
		done <- em.poll(ctx, "a push that never comes", func() bool { return false })
	}()
	<-waiting
	if _, err := m.Pods(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close took %v behind a change waiting for istiod", took)
	}
	err = <-done
	if !errors.Is(err, errClosedWhileWaiting) || err.Error() != "embedded: stopped waiting for a push that never comes: the mesh was closed" {
		t.Fatalf("the wait returned %v", err)
	}
}
