package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// listeners127 returns the TCP sockets of this process listening on
// 127.0.0.0/8 (from /proc/net/tcp, kept to the socket inodes among
// /proc/self/fd: go test runs other packages' meshes in parallel
// processes), as "ip:port".
func listeners127(t testing.TB) map[string]bool {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	mine := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	for _, fd := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || f[3] != "0A" || !mine[f[9]] { // LISTEN, ours
			continue
		}
		var ip uint32
		var port int
		if _, err := fmt.Sscanf(f[1], "%8X:%X", &ip, &port); err != nil {
			continue
		}
		// /proc prints the address in host (little-endian) byte order.
		a, b, c, d := ip&0xff, ip>>8&0xff, ip>>16&0xff, ip>>24
		if a == 127 {
			out[fmt.Sprintf("%d.%d.%d.%d:%d", a, b, c, d, port)] = true
		}
	}
	return out
}

// noNewListeners fails if a socket listening on 127.x appeared since before.
func noNewListeners(t testing.TB, before map[string]bool) {
	t.Helper()
	var extra []string
	for l := range listeners127(t) {
		if !before[l] {
			extra = append(extra, l)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("%d listeners left on 127.x: %v", len(extra), extra[:min(len(extra), 10)])
	}
}

// Item 1: seed 2721 repeated a 5-character suffix within 152 replicas and
// istio's fake client panicked (pods "…" already exists).
func TestPodNamesUniqueByConstruction(t *testing.T) {
	n := newPodNamer(rngFor(2721))
	seen := map[string]bool{}
	for i := 0; i < 200_000; i++ {
		s, err := n.next()
		if err != nil {
			t.Fatal(err)
		}
		if seen[s] {
			t.Fatalf("suffix %q repeated after %d names", s, i)
		}
		seen[s] = true
	}
	topo := topology.ThreeZones()
	topo.Workloads = topo.Workloads[:1]
	topo.Workloads[0].Replicas = 152
	before := listeners127(t)
	m, err := New(Options{Seed: 2721}).Deploy(context.Background(), topo)
	if err != nil {
		t.Fatal(err)
	}
	pods, _ := m.Pods(context.Background())
	names := map[string]bool{}
	for _, p := range pods {
		if names[p.Name] {
			t.Errorf("pod name %s used twice", p.Name)
		}
		names[p.Name] = true
	}
	if err := m.Scale(context.Background(), topo.Workloads[0].Name, 300); err != nil {
		t.Fatal(err)
	}
	_ = m.Close(context.Background())
	noNewListeners(t, before)
}

// Item 6: rules of the same name in two namespaces are two rules. The
// second namespace is the root namespace, which istiod reads rules from
// for every client: a rule of a namespace it never reads for them is
// refused (issue 23 item 6, TestApplyUnreachableDestinationRule).
func TestDestinationRulesKeyedByNamespace(t *testing.T) {
	m := deployT(t, topology.ThreeZones())
	ctx := context.Background()
	topo := m.Topology()
	dr, err := destinationrule.Load("distribute-90-10")
	if err != nil {
		t.Fatal(err)
	}
	a := destinationrule.ForTopology(dr, topo.Host(), "default")
	a.Name = "helloworld-dr"
	b := destinationrule.ForTopology(dr, topo.Host(), "istio-system")
	b.Name = "helloworld-dr"
	if err := m.ApplyDestinationRule(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyDestinationRule(ctx, b); err != nil {
		t.Fatal(err)
	}
	list, _ := m.DestinationRules(ctx)
	var got []string
	for _, r := range list {
		got = append(got, r.Namespace+"/"+r.Name)
	}
	if fmt.Sprint(got) != "[default/helloworld-dr istio-system/helloworld-dr]" {
		t.Fatalf("DestinationRules() = %v, want both", got)
	}
	if err := m.DeleteDestinationRule(ctx, "helloworld-dr"); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Fatalf("bare ambiguous name: err = %v, want ambiguous", err)
	}
	for _, k := range []string{"default/helloworld-dr", "istio-system/helloworld-dr"} {
		if err := m.DeleteDestinationRule(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if list, _ := m.DestinationRules(ctx); len(list) != 0 {
		t.Fatalf("rules left: %v", list)
	}
	cl, _, err := m.ClientConfig("netshoot-b")
	if err != nil {
		t.Fatal(err)
	}
	if cl.GetCommonLbConfig().GetLocalityWeightedLbConfig() != nil {
		t.Fatal("a deleted rule still shapes the client's cluster")
	}
}

// Item 9: a Send racing Close returned err=nil and made-up 503s.
func TestSendRacingCloseFails(t *testing.T) {
	m := deployT(t, topology.ThreeZones())
	ctx := context.Background()
	var wg sync.WaitGroup
	var b traffic.Batch
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		b, err = m.Send(ctx, "netshoot-b", 200_000)
	}()
	time.Sleep(50 * time.Millisecond)
	_ = m.Close(ctx)
	wg.Wait()
	if err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Send racing Close: err = %v, want an error saying the mesh closed", err)
	}
	if c := b.ByClass().Count(traffic.ClassOK); c != b.Len() {
		t.Fatalf("batch of a closing mesh counted %d non-OK responses: %s", b.Len()-c, b.ByClass())
	}
	if _, err := m.Send(ctx, "netshoot-b", 1); err == nil {
		t.Fatal("Send after Close succeeded")
	}
}

// Item 3: n is capped with a clear error before anything is allocated.
func TestSendCapsN(t *testing.T) {
	m := deployT(t, topology.ThreeZones())
	for _, n := range []int{0, -1, traffic.MaxRequests + 1, 1_000_000_000} {
		_, err := m.Send(context.Background(), "netshoot-b", n)
		if err == nil || !strings.Contains(err.Error(), "n is") {
			t.Errorf("Send(%d): err = %v, want the n and the limit", n, err)
		}
	}
}

// Item 13: a cancelled context changes nothing and says "cancelled".
func TestCancelledContextChangesNothing(t *testing.T) {
	m := deployT(t, topology.ThreeZones())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	topo := m.Topology()
	dr, _ := destinationrule.Load("distribute-90-10")
	checks := map[string]error{
		"Scale":                 m.Scale(ctx, "helloworld-zone-a", 0),
		"ApplyDestinationRule":  m.ApplyDestinationRule(ctx, destinationrule.ForTopology(dr, topo.Host(), topo.Namespace)),
		"DeleteVirtualService":  m.DeleteVirtualService(ctx, topo.Service),
		"DeleteDestinationRule": m.DeleteDestinationRule(ctx, "x"),
	}
	_, err := New(Options{}).Deploy(ctx, topology.ThreeZones())
	checks["Deploy"] = err
	_, err = m.Send(ctx, "netshoot-b", 10)
	checks["Send"] = err
	for op, err := range checks {
		if err == nil || !strings.Contains(err.Error(), "cancelled") || !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want \"cancelled\" wrapping context.Canceled", op, err)
		}
	}
	if w, _ := m.Topology().Workload("helloworld-zone-a"); w.Replicas != 3 || len(m.pods["helloworld-zone-a"]) != 3 {
		t.Errorf("cancelled Scale changed replicas to %d", w.Replicas)
	}
	if drs, _ := m.DestinationRules(context.Background()); len(drs) != 0 {
		t.Errorf("cancelled ApplyDestinationRule applied %d rules", len(drs))
	}
}
