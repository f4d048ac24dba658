// Package steps holds the reusable, backend-neutral Ginkgo steps of a
// locality scenario, each taking an input struct and narrating itself with
// By: deploy a topology, apply a DestinationRule, scale or break pods, gate
// on the client's endpoint table, send a batch once and assert its split.
// Every step records what it saw with AddReportEntry, so reports show the
// endpoint and split tables of passing specs as well as failing ones.
package steps

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
	"github.com/localitylb/locality-e2e/framework/virtualservice"
)

// Intervals for the convergence gate. Configurable by the suite.
var (
	EndpointsTimeout  = 60 * time.Second
	EndpointsInterval = 50 * time.Millisecond
)

// DeployInput is the input of Deploy.
type DeployInput struct {
	Backend  mesh.Backend
	Topology topology.Topology
}

// Deploy deploys the topology into a new isolated mesh and registers its
// teardown with DeferCleanup.
func Deploy(ctx context.Context, in DeployInput) mesh.Mesh {
	Expect(in.Backend).NotTo(BeNil(), "DeployInput.Backend is nil: the suite must create a backend first")
	By(fmt.Sprintf("deploying topology %s on %s: %s", in.Topology.Name, in.Backend.Name(), describeTopology(in.Topology)))
	m, err := in.Backend.Deploy(ctx, in.Topology)
	if errors.Is(err, mesh.ErrTopologyUnsupported) {
		Skip(fmt.Sprintf("backend %s cannot deploy topology %s: %v", in.Backend.Name(), in.Topology.Name, err))
	}
	Expect(err).NotTo(HaveOccurred(), "deploy topology %s", in.Topology.Name)
	DeferCleanup(func(ctx SpecContext) {
		By("tearing down topology " + in.Topology.Name)
		Expect(m.Close(ctx)).To(Succeed())
	})
	return m
}

func describeTopology(t topology.Topology) string {
	var parts []string
	where := func(cluster string) string {
		if !t.MultiCluster() {
			return ""
		}
		return " (" + topology.Placement{Cluster: cluster, Network: t.NetworkOf(cluster)}.String() + ")"
	}
	for _, w := range t.Workloads {
		parts = append(parts, fmt.Sprintf("%s×%d in %s%s", w.Name, w.Replicas, w.Locality, where(t.ClusterOfWorkload(w))))
	}
	for _, c := range t.Clients {
		parts = append(parts, fmt.Sprintf("client %s in %s%s", c.Name, c.Locality, where(t.ClusterOfClient(c))))
	}
	if !t.Mesh.IsZero() {
		parts = append(parts, fmt.Sprintf("meshConfig %v", t.MeshConfigOverlay()))
	}
	return strings.Join(parts, ", ")
}

// ApplyDestinationRule loads a rule from manifests/destinationrules by name,
// retargets it at the mesh's Service, applies it, and returns it.
func ApplyDestinationRule(ctx context.Context, m mesh.Mesh, name string) *networkingv1.DestinationRule {
	dr, err := destinationrule.Load(name)
	Expect(err).NotTo(HaveOccurred())
	topo := m.Topology()
	dr = destinationrule.ForTopology(dr, topo.Host(), topo.Namespace)
	ApplyRule(ctx, m, dr)
	return dr
}

// ApplyRule applies a rule built in code.
func ApplyRule(ctx context.Context, m mesh.Mesh, dr *networkingv1.DestinationRule) {
	data, _ := yaml.Marshal(dr.Spec.DeepCopy())
	By(fmt.Sprintf("applying DestinationRule %s", dr.Name))
	AddReportEntry("DestinationRule "+dr.Name, string(data), ReportEntryVisibilityFailureOrVerbose)
	Expect(m.ApplyDestinationRule(ctx, dr)).To(Succeed())
}

// ApplyVirtualService loads a VirtualService from
// manifests/virtualservices by name, aims it at the mesh's Service (it
// replaces the topology's own VirtualService, whose name it takes),
// applies it and returns it.
func ApplyVirtualService(ctx context.Context, m mesh.Mesh, name string) *networkingv1.VirtualService {
	vs, err := virtualservice.Load(name)
	Expect(err).NotTo(HaveOccurred())
	topo := m.Topology()
	vs = virtualservice.ForTopology(vs, topo.Service, topo.Host(), topo.Namespace, topo.Port)
	data, _ := yaml.Marshal(vs.Spec.DeepCopy())
	By(fmt.Sprintf("applying VirtualService %s as %s", name, vs.Name))
	AddReportEntry("VirtualService "+name, string(data), ReportEntryVisibilityFailureOrVerbose)
	Expect(m.ApplyVirtualService(ctx, vs)).To(Succeed())
	return vs
}

// Wait lets d pass for the sidecars: a real wait on kind, a clock advance
// on embedded. Use it for outlier detection intervals and ejection times,
// never time.Sleep.
func Wait(ctx context.Context, m mesh.Mesh, d time.Duration) {
	By(fmt.Sprintf("letting %v pass for the sidecars", d))
	Expect(m.Wait(ctx, d)).To(Succeed())
}

// Scale scales a workload and waits for it.
func Scale(ctx context.Context, m mesh.Mesh, workload string, replicas int) {
	By(fmt.Sprintf("scaling %s to %d replicas", workload, replicas))
	Expect(m.Scale(ctx, workload, replicas)).To(Succeed())
}

// Break makes the first n pods of a workload misbehave (n < 0: all).
func Break(ctx context.Context, m mesh.Mesh, workload string, n int, f mesh.Fault) {
	what := fmt.Sprintf("%d", n)
	if n < 0 {
		what = "all"
	}
	By(fmt.Sprintf("breaking %s pods of %s: %s", what, workload, f))
	Expect(m.SetFault(ctx, workload, n, f)).To(Succeed())
}

// EndpointsInput is the input of ExpectEndpoints.
type EndpointsInput struct {
	Mesh     mesh.Mesh
	Client   string
	View     endpoints.View // default endpoints.Envoy
	Expected endpoints.Summary
}

// ExpectEndpoints is the convergence gate and an assertion: it waits until
// the client's endpoint table (per locality: priority, weight, hosts,
// healthy hosts) equals the expected one, and reports the table.
func ExpectEndpoints(ctx context.Context, in EndpointsInput) endpoints.Table {
	if in.View == "" {
		in.View = endpoints.Envoy
	}
	By(fmt.Sprintf("waiting until %s's %s endpoint view is:\n%s", in.Client, in.View, in.Expected))
	var last endpoints.Table
	recorded := false
	title := fmt.Sprintf("endpoints of %s (%s view)", in.Client, in.View)
	defer func() {
		// A wait that fails records the last table it saw as well: the
		// fingerprint, and so an upgrade check's diff, then shows the
		// priorities the client had, not only that the check failed.
		if !recorded && len(last.Rows) > 0 {
			AddReportEntry(title, last, ReportEntryVisibilityFailureOrVerbose)
		}
	}()
	Eventually(ctx, func(g Gomega) endpoints.Summary {
		t, err := in.Mesh.Endpoints(ctx, in.Client, in.View)
		g.Expect(err).NotTo(HaveOccurred())
		last = t
		return t.Summarize()
	}).WithTimeout(EndpointsTimeout).WithPolling(EndpointsInterval).Should(Equal(in.Expected),
		func() string { return "endpoint table of " + in.Client + ":\n" + last.String() })
	AddReportEntry(title, last, ReportEntryVisibilityFailureOrVerbose)
	recorded = true
	return last
}

// Bucketing says how responses are counted.
type Bucketing string

const (
	ByLocality Bucketing = "locality"
	ByPod      Bucketing = "pod"
	ByClass    Bucketing = "response class"
	// ByCluster counts by the cluster of the serving pod (multi-cluster
	// topologies).
	ByCluster Bucketing = "cluster"
)

// MinRequests is the fewest requests SendAndExpectSplit sends in any
// split (0: each split's own N). The suite's --min-requests sets it; the
// embedded upgrade check raises it so that its two-sample diff has the
// power to see a 5-point shift.
var MinRequests int

// ParseMinRequests reads a --min-requests value: empty or 0 to
// traffic.MaxRequests.
func ParseMinRequests(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > traffic.MaxRequests {
		return 0, fmt.Errorf("%q is not a request count: use 0 to %d", v, traffic.MaxRequests)
	}
	return n, nil
}

// SplitInput is the input of SendAndExpectSplit.
type SplitInput struct {
	Mesh   mesh.Mesh
	Client string
	// Requests is the batch size; default split.DefaultRequests, raised to
	// split.RequiredN where the split needs more for the power guard.
	Requests int
	By       Bucketing
	Expected split.Expected
	// Options replace the automatic choice of a schedule check
	// (split.WithSchedule) when given.
	Options []split.Option
}

// SendAndExpectSplit sends the batch once and asserts its split: each bucket
// within its exact binomial interval (or, for a weighted locality schedule
// on a backend whose schedule is deterministic, within the schedule's
// bound), 0 meaning exactly 0, nothing outside the declared buckets, the
// total equal to the requests sent. It reads the client's Envoy endpoint
// table (locality, priority, weight, health and ejections) right before and
// right after the batch: a table that changed during the batch fails the
// spec as such, with both tables, before the split is looked at.
func SendAndExpectSplit(ctx context.Context, in SplitInput) (traffic.Batch, *split.Distribution) {
	Expect(in.Expected.Validate()).To(Succeed(), "SplitInput.Expected")
	if in.Requests == 0 {
		in.Requests = max(split.DefaultRequests, split.RequiredN(in.Expected, split.DefaultShift, split.DefaultPower, split.DefaultConfidence))
	}
	in.Requests = max(in.Requests, MinRequests)
	if in.By == "" {
		in.By = ByLocality
	}
	before, err := in.Mesh.Endpoints(ctx, in.Client, endpoints.Envoy)
	Expect(err).NotTo(HaveOccurred(), "read %s's endpoint table before the batch", in.Client)
	opts := []split.Option{split.WithN(in.Requests)}
	check := "binomial"
	if len(in.Options) > 0 {
		opts = append(opts, in.Options...)
		check = "as given"
	} else if w := in.Mesh.Capabilities().ScheduleWorkers; w > 0 && in.By == ByLocality && IsLocalitySchedule(before.Summarize(), in.Expected) {
		opts = append(opts, split.WithSchedule(w))
		check = fmt.Sprintf("deterministic schedule of %d workers", w)
	}
	By(fmt.Sprintf("sending %d requests from %s, expecting by %s %s (%s check)", in.Requests, in.Client, in.By, in.Expected, check))
	batch, err := in.Mesh.Send(ctx, in.Client, in.Requests)
	Expect(err).NotTo(HaveOccurred())
	after, err := in.Mesh.Endpoints(ctx, in.Client, endpoints.Envoy)
	Expect(err).NotTo(HaveOccurred(), "read %s's endpoint table after the batch", in.Client)
	var d *split.Distribution
	switch in.By {
	case ByLocality:
		d = batch.ByLocality(PodLocalities(ctx, in.Mesh))
	case ByCluster:
		d = batch.ByLocality(PodClusters(ctx, in.Mesh))
	case ByPod:
		d = batch.ByPod()
	case ByClass:
		d = batch.ByClass()
	default:
		Fail(fmt.Sprintf("SplitInput.By %q is unknown: use ByLocality, ByCluster, ByPod or ByClass", in.By))
	}
	if tbl, err := split.Report(*d, in.Expected, opts...); err == nil {
		AddReportEntry(fmt.Sprintf("split by %s from %s", in.By, in.Client), tbl, ReportEntryVisibilityFailureOrVerbose)
	}
	if changed := TableChange(before, after); changed != "" {
		AddReportEntry(fmt.Sprintf("endpoint table of %s after the batch", in.Client), after, ReportEntryVisibilityFailureOrVerbose)
		Fail(changed)
	}
	Expect(*d).To(split.MatchSplit(in.Expected, opts...))
	return batch, d
}

// IsLocalitySchedule reports whether a split by locality comes from the
// weighted round-robin over localities of one priority: every bucket with
// 0<p<1 is a locality of the table with a locality weight (the Envoy view
// shows weights only under locality_weighted_lb_config), all at the same
// priority. Splits between priorities (priority load) or over hosts are
// random.
func IsLocalitySchedule(t endpoints.Summary, exp split.Expected) bool {
	prio, n := uint32(0), 0
	for b, p := range exp {
		if !(p > 0 && p < 1) {
			continue
		}
		row, ok := t[b]
		if !ok || row.Weight == 0 || row.Healthy == 0 || (n > 0 && row.Priority != prio) {
			return false
		}
		prio = row.Priority
		n++
	}
	return n >= 2
}

// TableChange returns "" when the endpoint tables read before and after a
// batch agree (per locality: priority, weight, hosts, healthy hosts, which
// includes outlier ejections), and otherwise the failure message: the
// change, then both tables.
func TableChange(before, after endpoints.Table) string {
	bs, as := before.Summarize(), after.Summarize()
	if reflect.DeepEqual(bs, as) {
		return ""
	}
	var diffs []string
	union := maps.Clone(bs)
	maps.Copy(union, as)
	for _, loc := range slices.Sorted(maps.Keys(union)) {
		rb, okB := bs[loc]
		ra, okA := as[loc]
		switch {
		case !okA:
			diffs = append(diffs, fmt.Sprintf("%s vanished (was %v)", loc, rb))
		case !okB:
			diffs = append(diffs, fmt.Sprintf("%s appeared (%v)", loc, ra))
		case rb != ra:
			diffs = append(diffs, fmt.Sprintf("%s: %v → %v", loc, rb, ra))
		}
	}
	return fmt.Sprintf("endpoint table changed during the batch: %s\nbefore the batch:\n%s\nafter the batch:\n%s",
		strings.Join(diffs, "; "), before, after)
}

// PodLocalities maps pod name → locality.
func PodLocalities(ctx context.Context, m mesh.Mesh) map[string]string {
	pods, err := m.Pods(ctx)
	Expect(err).NotTo(HaveOccurred())
	out := map[string]string{}
	for _, p := range pods {
		out[p.Name] = p.Locality
	}
	return out
}

// PodClusters maps pod name → cluster.
func PodClusters(ctx context.Context, m mesh.Mesh) map[string]string {
	pods, err := m.Pods(ctx)
	Expect(err).NotTo(HaveOccurred())
	out := map[string]string{}
	for _, p := range pods {
		out[p.Name] = p.Cluster
	}
	return out
}

// Diagnose adds, when the current spec failed, both endpoint views of every
// client, the applied DestinationRules and the pods to the report. Call it
// from an AfterEach (or JustAfterEach) of a scenario.
func Diagnose(ctx context.Context, m mesh.Mesh) {
	if m == nil || !CurrentSpecReport().Failed() {
		return
	}
	var b strings.Builder
	topo := m.Topology()
	for _, c := range topo.Clients {
		for _, v := range []endpoints.View{endpoints.Envoy, endpoints.Raw} {
			t, err := m.Endpoints(ctx, c.Name, v)
			if err != nil {
				fmt.Fprintf(&b, "endpoints of %s (%s view): %v\n", c.Name, v, err)
				continue
			}
			fmt.Fprintf(&b, "endpoints of %s:\n%s\n", c.Name, t)
		}
	}
	if drs, err := m.DestinationRules(ctx); err == nil {
		if len(drs) == 0 {
			b.WriteString("DestinationRules: none\n")
		}
		for _, dr := range drs {
			data, _ := yaml.Marshal(dr.Spec.DeepCopy())
			fmt.Fprintf(&b, "DestinationRule %s/%s:\n%s\n", dr.Namespace, dr.Name, data)
		}
	}
	if pods, err := m.Pods(ctx); err == nil {
		sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
		b.WriteString("pods:\n")
		for _, p := range pods {
			fault := string(p.Fault)
			if fault == "" {
				fault = "-"
			}
			where := ""
			if topo.MultiCluster() {
				where = " " + topology.Placement{Cluster: p.Cluster, Network: p.Network}.String()
			}
			fmt.Fprintf(&b, "  %-45s %-8s %-16s ready=%v fault=%s%s\n", p.Name, p.Locality, p.IP, p.Ready, fault, where)
		}
	}
	if lc, ok := m.(mesh.LogCollector); ok {
		if where, err := lc.CollectLogs(ctx, LogsDir); err != nil {
			fmt.Fprintf(&b, "logs: %v\n", err)
		} else {
			fmt.Fprintf(&b, "logs saved in %s\n", where)
		}
	}
	AddReportEntry("diagnostics", b.String(), ReportEntryVisibilityFailureOrVerbose)
}

// LogsDir is where Diagnose asks backends that keep logs (kind) to save
// them; empty lets the backend choose (LOCALITY_E2E_LOGS_DIR).
var LogsDir string

// NoLocalityWeight is the weight an Envoy view row shows when the Cluster
// has no locality_weighted_lb_config: Envoy then keeps no locality weights
// and its admin API prints none (config_dump_handler.cc dumps
// load_balancing_weight only from the host set's locality weights).
// istiod (1.24+) sets locality_weighted_lb_config only for distribute, or
// for outlier detection with failover or failoverPriority; the istiod view
// keeps istiod's weights either way.
const NoLocalityWeight = 0

// Row is one expected locality row whose hosts are all healthy.
func Row(priority, weight, hosts int) endpoints.RowSummary {
	return endpoints.RowSummary{Priority: uint32(priority), Weight: uint32(weight), Hosts: hosts, Healthy: hosts}
}

// RowHealthy is an expected row with only some hosts healthy (ejected or
// failing health checks).
func RowHealthy(priority, weight, hosts, healthy int) endpoints.RowSummary {
	return endpoints.RowSummary{Priority: uint32(priority), Weight: uint32(weight), Hosts: hosts, Healthy: healthy}
}

// Warm sends n requests whose outcome is not asserted, to let the sidecar
// react to failures (outlier detection ejects hosts on traffic only). The
// endpoint gate that follows asserts what the warm-up must have caused.
func Warm(ctx context.Context, m mesh.Mesh, client string, n int) {
	By(fmt.Sprintf("sending %d warm-up requests from %s so outlier detection sees the failures", n, client))
	b, err := m.Send(ctx, client, n)
	Expect(err).NotTo(HaveOccurred())
	AddReportEntry("warm-up from "+client, b.ByClass().String(), ReportEntryVisibilityFailureOrVerbose)
}

// FewErrorsInput is the input of SendAndExpectFewErrors.
type FewErrorsInput struct {
	Mesh     mesh.Mesh
	Client   string
	Requests int // default split.DefaultRequests
	// From is the locality every 200 OK must come from.
	From string
	// MaxErrors is how many responses other than 200 OK are allowed: for a
	// rate that is small but not 0 by Envoy's rules (e.g. a retry may land
	// on the failing host again once previous_hosts' reselections run
	// out), with the bound derived in the spec.
	MaxErrors int
}

// SendAndExpectFewErrors sends the batch once and asserts that every 200
// OK came from in.From and at most in.MaxErrors responses were something
// else.
func SendAndExpectFewErrors(ctx context.Context, in FewErrorsInput) traffic.Batch {
	if in.Requests == 0 {
		in.Requests = split.DefaultRequests
	}
	By(fmt.Sprintf("sending %d requests from %s, expecting every 200 OK from %s and at most %d other responses", in.Requests, in.Client, in.From, in.MaxErrors))
	b, err := in.Mesh.Send(ctx, in.Client, in.Requests)
	Expect(err).NotTo(HaveOccurred())
	byLoc := b.ByLocality(PodLocalities(ctx, in.Mesh))
	AddReportEntry("responses from "+in.Client, byLoc.String(), ReportEntryVisibilityFailureOrVerbose)
	errors := b.Len() - b.ByClass().Count(traffic.ClassOK)
	Expect(b.Len()).To(Equal(in.Requests), "responses received")
	Expect(byLoc.Count(in.From)).To(Equal(b.Len()-errors), "every 200 OK comes from %s:\n%s", in.From, byLoc)
	Expect(errors).To(BeNumerically("<=", in.MaxErrors), "responses other than 200 OK:\n%s", b.ByClass())
	return b
}
