package embedded

import (
	"context"
	"fmt"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	. "github.com/onsi/gomega"
	"go.uber.org/goleak"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/topology"
)

func row(prio, weight, hosts int) endpoints.RowSummary {
	return endpoints.RowSummary{Priority: uint32(prio), Weight: uint32(weight), Hosts: hosts, Healthy: hosts}
}

func deployT(t *testing.T, topo topology.Topology) *Mesh {
	t.Helper()
	m, err := New(Options{Seed: 1}).Deploy(context.Background(), topo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m.(*Mesh)
}

func applyT(t *testing.T, m *Mesh, name string) {
	t.Helper()
	dr, err := destinationrule.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	topo := m.Topology()
	if err := m.ApplyDestinationRule(context.Background(), destinationrule.ForTopology(dr, topo.Host(), topo.Namespace)); err != nil {
		t.Fatal(err)
	}
}

// TestRawEndpointTables is istio-locality-behavior.md §3: for three-zones
// from netshoot-b, each DestinationRule gives exactly the raw (istiod)
// endpoint table and the CDS extras listed there.
func TestRawEndpointTables(t *testing.T) {
	cases := []struct {
		dr       string
		want     endpoints.Summary
		weighted bool // locality_weighted_lb_config
		outlier  bool
	}{
		{"", endpoints.Summary{"kr/a": row(0, 3, 3), "kr/b": row(0, 3, 3), "kr/c": row(0, 3, 3)}, false, false},
		{"distribute-local-zone", endpoints.Summary{"kr/a": row(0, 3, 0), "kr/b": row(0, 100, 3), "kr/c": row(0, 3, 0)}, true, false},
		{"distribute-90-10", endpoints.Summary{"kr/a": row(0, 90, 3), "kr/b": row(0, 3, 0), "kr/c": row(0, 10, 3)}, true, false},
		{"failover", endpoints.Summary{"kr/a": row(1, 3, 3), "kr/b": row(0, 3, 3), "kr/c": row(1, 3, 3)}, false, true},
	}
	for _, tc := range cases {
		name := tc.dr
		if name == "" {
			name = "no-dr"
		}
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			m := deployT(t, topology.ThreeZones())
			if tc.dr != "" {
				applyT(t, m, tc.dr)
			}
			tbl, err := m.Endpoints(context.Background(), "netshoot-b", endpoints.Raw)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(tbl.Summarize()).To(Equal(tc.want), tbl.String())

			cl, _, err := m.ClientConfig("netshoot-b")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cl.GetLbPolicy()).To(Equal(clusterv3.Cluster_LEAST_REQUEST))
			g.Expect(cl.GetCommonLbConfig().GetLocalityWeightedLbConfig() != nil).To(Equal(tc.weighted), "locality_weighted_lb_config")
			g.Expect(cl.GetOutlierDetection() != nil).To(Equal(tc.outlier), "outlier_detection")
			if tc.outlier {
				// Istio turns panic mode off when outlier detection is set.
				g.Expect(cl.GetCommonLbConfig().GetHealthyPanicThreshold().GetValue()).To(BeZero())
			}
		})
	}
}

// TestFailoverCompactsPriorities: with kr/b scaled to 0 under the failover
// rule, kr/a and kr/c become priority 0.
func TestFailoverCompactsPriorities(t *testing.T) {
	g := NewWithT(t)
	m := deployT(t, topology.ThreeZones())
	applyT(t, m, "failover")
	g.Expect(m.Scale(context.Background(), "helloworld-zone-b", 0)).To(Succeed())
	tbl, err := m.Endpoints(context.Background(), "netshoot-b", endpoints.Raw)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tbl.Summarize()).To(Equal(endpoints.Summary{"kr/a": row(0, 3, 3), "kr/c": row(0, 3, 3)}), tbl.String())
}

// TestEnvoyViewDropsEmptyLocalities: the Envoy view of a distribute rule
// shows only localities with hosts; the raw view keeps the emptied ones.
func TestEnvoyViewDropsEmptyLocalities(t *testing.T) {
	g := NewWithT(t)
	m := deployT(t, topology.ThreeZones())
	applyT(t, m, "distribute-local-zone")
	tbl, err := m.Endpoints(context.Background(), "netshoot-b", endpoints.Envoy)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tbl.Summarize()).To(Equal(endpoints.Summary{"kr/b": row(0, 100, 3)}))
	g.Expect(tbl.String()).To(ContainSubstring("helloworld-zone-b-"), "hosts are named by pod")
}

func TestPodsAnswerLikeHelloworld(t *testing.T) {
	g := NewWithT(t)
	m := deployT(t, topology.TwoRegions())
	b, err := m.Send(context.Background(), "my-shell-kr-a", 20)
	g.Expect(err).NotTo(HaveOccurred())
	pods, _ := m.Pods(context.Background())
	names := map[string]bool{}
	for _, p := range pods {
		names[p.Name] = true
		g.Expect(strings.HasPrefix(p.IP, "127.")).To(BeTrue(), "pod %s has a non-loopback address %s", p.Name, p.IP)
	}
	for _, r := range b.Responses {
		g.Expect(r.Status).To(Equal(200))
		g.Expect(r.Body).To(MatchRegexp(`^Hello version: v1, instance: helloworld-(kr|us)-[ab]-\w+-\w+\n$`))
		g.Expect(names).To(HaveKey(r.Pod))
	}
}

func TestMisuseIsAnError(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m := deployT(t, topology.ThreeZones())
	_, err := m.Send(ctx, "nobody", 10)
	g.Expect(err).To(MatchError(ContainSubstring(`unknown client "nobody"`)))
	_, err = m.Send(ctx, "netshoot-b", 0)
	g.Expect(err).To(MatchError(ContainSubstring("n is 0")))
	g.Expect(m.Scale(ctx, "helloworld-zone-z", 1)).To(MatchError(ContainSubstring(`unknown workload "helloworld-zone-z"`)))
	g.Expect(m.Scale(ctx, "helloworld-zone-a", -1)).To(MatchError(ContainSubstring("cannot be negative")))
	g.Expect(m.SetFault(ctx, "helloworld-zone-a", 1, mesh.Fault("melt"))).To(MatchError(ContainSubstring(`unknown fault "melt"`)))
	_, err = m.Endpoints(ctx, "netshoot-b", endpoints.View("sideways"))
	g.Expect(err).To(MatchError(ContainSubstring("unknown view")))
	bad := topology.ThreeZones()
	bad.Clients[0].Locality.Region = ""
	_, err = New(Options{}).Deploy(ctx, bad)
	g.Expect(err).To(MatchError(ContainSubstring("Clients[0] (netshoot-b).Locality has no region")))
}

func TestRefusedConnectionsAreRetriedElsewhere(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m := deployT(t, topology.ThreeZones())
	applyT(t, m, "failover")
	// One of three local pods refuses connections: Istio's default retry
	// (connect-failure, previous hosts) sends those requests to another pod.
	g.Expect(m.SetFault(ctx, "helloworld-zone-b", 1, mesh.RefuseConnections)).To(Succeed())
	b, err := m.Send(ctx, "netshoot-b", 60)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(b.ByClass().Count("200 OK")).To(Equal(60))
	// Healing makes the pod serve again on the same address.
	g.Expect(m.SetFault(ctx, "helloworld-zone-b", -1, mesh.NoFault)).To(Succeed())
}

// TestCloseLeavesNothingBehind: no goroutine or listener survives Close.
func TestCloseLeavesNothingBehind(t *testing.T) {
	// istiod's packages start a few process-wide goroutines on first use;
	// start and close one mesh first so only what a mesh leaks remains.
	warm, err := New(Options{Seed: 2}).Deploy(context.Background(), topology.TwoRegions())
	if err != nil {
		t.Fatal(err)
	}
	_ = warm.Close(context.Background())
	opts := goleak.IgnoreCurrent()
	defer goleak.VerifyNone(t, opts)

	m, err := New(Options{Seed: 3}).Deploy(context.Background(), topology.ThreeZones())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := m.Send(ctx, "netshoot-b", 50); err != nil {
		t.Fatal(err)
	}
	pods, _ := m.Pods(ctx)
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Every pod's address refuses connections after Close.
	for _, p := range pods {
		if p.Workload == "" {
			continue
		}
		if _, err := dialOnce(p.IP); err == nil {
			t.Errorf("pod %s still listens on %s:5000 after Close", p.Name, p.IP)
		}
	}
}

// TestWrongExpectationFails: expecting 80/20 of the 90/10 rule fails, and
// the message shows each bucket's accepted range and observed count.
func TestWrongExpectationFails(t *testing.T) {
	g := NewWithT(t)
	m := deployT(t, topology.ThreeZones())
	applyT(t, m, "distribute-90-10")
	b, err := m.Send(context.Background(), "netshoot-b", split.DefaultRequests)
	g.Expect(err).NotTo(HaveOccurred())
	pods, _ := m.Pods(context.Background())
	loc := map[string]string{}
	for _, p := range pods {
		loc[p.Name] = p.Locality
	}
	d := b.ByLocality(loc)
	matcher := split.MatchSplit(split.Expected{"kr/a": 0.8, "kr/b": 0, "kr/c": 0.2}, split.WithN(split.DefaultRequests))
	ok, err := matcher.Match(*d)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeFalse(), "80/20 must not accept the 90/10 rule's traffic: %s", d)
	msg := matcher.FailureMessage(*d)
	t.Log("\n" + msg)
	g.Expect(msg).To(ContainSubstring("accepted"))
	g.Expect(msg).To(MatchRegexp(`kr/a\s+80\.0%\s+\[\d+, \d+\]`))
	g.Expect(msg).To(MatchRegexp(`kr/c\s+20\.0%\s+\[\d+, \d+\]`))
	g.Expect(msg).To(ContainSubstring(fmt.Sprintf("%d (", d.Count("kr/a"))))
}
