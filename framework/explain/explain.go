// Package explain predicts what a DestinationRule does to each client of a
// topology and, optionally, checks the prediction with real traffic. It
// deploys the topology on the embedded backend (the real istiod in
// process), applies the rule, reads each client's endpoint tables (istiod's
// view and the sidecar's Envoy view), and computes the expected split per
// locality from the Cluster and ClusterLoadAssignment the sidecar received,
// with the Envoy model's own code (envoylb.Predict: priority load ×
// locality weights × healthy hosts). Each row gets the reason for its
// priority and share; known traps of the rule are warnings.
package explain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/embedded"
	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/envoylb"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/scenario"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// Input is what to explain.
type Input struct {
	// Rule is the DestinationRule (nil: none, the mesh default). It is
	// aimed at the topology's Service (spec.host, namespace) before use.
	Rule *networkingv1.DestinationRule
	// Topology is where the rule is applied.
	Topology topology.Topology
	// Clients limits the explanation to these clients (default: all).
	Clients []string
	// Verify sends Requests requests from each client and checks the
	// prediction with the split matcher.
	Verify bool
	// Requests per client for Verify; 0: split.DefaultRequests, raised to
	// split.RequiredN where the predicted split needs more.
	Requests int
	// Seed for the embedded backend.
	Seed uint64
	// Scale sets workloads' replicas (by Deployment name) after the rule
	// is applied.
	Scale map[string]int
	// Fail makes the first n pods of each workload answer 503, then sends
	// WarmUp requests from each explained client so outlier detection
	// sees the failures before the tables are read.
	Fail map[string]int
}

// WarmUp is the number of requests each client sends after Input.Fail.
const WarmUp = 100

// Row is one locality of a client's prediction.
type Row struct {
	Locality string // the bucket: pod locality, or traffic.ClassNoHealthyUpstream
	Priority uint32
	Weight   uint32 // EDS locality weight (Envoy view; 0 without locality_weighted_lb_config)
	Hosts    int
	Healthy  int
	Share    float64
	Reason   string
}

// Client is the explanation for one client.
type Client struct {
	Name     string
	Locality string
	Istiod   endpoints.Table
	Envoy    endpoints.Table
	// Prediction is the model's prediction from the sidecar's Cluster and
	// ClusterLoadAssignment.
	Prediction envoylb.Prediction
	Rows       []Row
	// ZoneAware says what Envoy's zone aware routing does for this client
	// ("" when it plays no part), see zoneaware.go.
	ZoneAware string
	Expected  split.Expected
	// Verified is set by Verify: the split table of the batch.
	Verified *split.Table
	// VerifyError is why a batch could not be checked.
	VerifyError string
}

// Result is the explanation of one rule on one topology.
type Result struct {
	Rule     string // rule name ("" for none)
	Topology string
	Host     string
	Notes    []string
	Warnings []string
	Clients  []Client
}

// Agree reports whether every verified client's traffic matched its
// prediction (true when nothing was verified).
func (r Result) Agree() bool {
	for _, c := range r.Clients {
		if c.VerifyError != "" || (c.Verified != nil && !c.Verified.OK()) {
			return false
		}
	}
	return true
}

// ErrBadInput wraps errors in the input (rule, topology, client names).
var ErrBadInput = errors.New("bad input")

// Run deploys the topology on the embedded backend, applies the rule and
// explains it for each client.
func Run(ctx context.Context, in Input) (Result, error) {
	topo := in.Topology.WithDefaults()
	if err := topo.Validate(); err != nil {
		return Result{}, fmt.Errorf("%w: topology: %v", ErrBadInput, err)
	}
	res := Result{Topology: topo.Name, Host: topo.Host()}
	var dr *networkingv1.DestinationRule
	if in.Rule != nil {
		dr = destinationrule.ForTopology(in.Rule, topo.Host(), topo.Namespace)
		res.Rule = dr.Name
		if in.Rule.Spec.Host != "" && in.Rule.Spec.Host != topo.Host() {
			res.Notes = append(res.Notes, fmt.Sprintf("spec.host %s is aimed at the topology's Service %s", in.Rule.Spec.Host, topo.Host()))
		}
		if _, err := destinationrule.Validate(dr.Name, dr); err != nil {
			return Result{}, fmt.Errorf("%w: %v", ErrBadInput, err)
		}
	}
	clients := in.Clients
	if len(clients) == 0 {
		for _, c := range topo.Clients {
			clients = append(clients, c.Name)
		}
	}
	for _, c := range clients {
		if _, err := topo.Client(c); err != nil {
			return Result{}, fmt.Errorf("%w: --client: %v", ErrBadInput, err)
		}
	}
	if err := checkCounts(topo, in.Scale, in.Fail); err != nil {
		return Result{}, err
	}
	res.Warnings = Traps(dr, topo)

	b := embedded.New(embedded.Options{Seed: in.Seed})
	defer func() { _ = b.Close(context.WithoutCancel(ctx)) }()
	mm, err := b.Deploy(ctx, topo)
	if err != nil {
		return Result{}, fmt.Errorf("deploy topology %s: %w", topo.Name, err)
	}
	m := mm.(*embedded.Mesh)
	if dr != nil {
		if err := m.ApplyDestinationRule(ctx, dr); err != nil {
			return Result{}, fmt.Errorf("%w: apply DestinationRule %s: %v", ErrBadInput, dr.Name, err)
		}
	}
	for _, w := range sortedKeys(in.Scale) {
		if _, err := topo.Workload(w); err != nil {
			return Result{}, fmt.Errorf("%w: --scale %s=%d: %v", ErrBadInput, w, in.Scale[w], err)
		}
		if err := m.Scale(ctx, w, in.Scale[w]); err != nil {
			return Result{}, fmt.Errorf("%w: --scale %s=%d: %v", ErrBadInput, w, in.Scale[w], err)
		}
		res.Notes = append(res.Notes, fmt.Sprintf("%s scaled to %d", w, in.Scale[w]))
	}
	for _, w := range sortedKeys(in.Fail) {
		if _, err := topo.Workload(w); err != nil {
			return Result{}, fmt.Errorf("%w: --fail %s=%d: %v", ErrBadInput, w, in.Fail[w], err)
		}
		if err := m.SetFault(ctx, w, in.Fail[w], mesh.Fail5xx); err != nil {
			return Result{}, fmt.Errorf("%w: --fail %s=%d: %v", ErrBadInput, w, in.Fail[w], err)
		}
		res.Notes = append(res.Notes, fmt.Sprintf("%d pods of %s answer 503", in.Fail[w], w))
	}
	if len(in.Fail) > 0 {
		for _, name := range clients {
			if _, err := m.Send(ctx, name, WarmUp); err != nil {
				return Result{}, fmt.Errorf("warm-up from %s: %w", name, err)
			}
		}
		res.Notes = append(res.Notes, fmt.Sprintf("each client sent %d warm-up requests so outlier detection sees the failures", WarmUp))
	}
	pods, err := m.Pods(ctx)
	if err != nil {
		return Result{}, err
	}
	podLoc := map[string]string{}
	ipLoc := map[string]string{}
	failing := map[string]bool{}
	for _, p := range pods {
		podLoc[p.Name] = p.Locality
		ipLoc[p.IP] = p.Locality
		failing[p.IP] = p.Fault != mesh.NoFault
	}
	for _, name := range clients {
		c, err := explainClient(ctx, m, topo, dr, name, ipLoc, failing)
		if err != nil {
			return Result{}, err
		}
		if in.Verify {
			verify(ctx, m, &c, in.Requests, podLoc)
		}
		res.Clients = append(res.Clients, c)
	}
	return res, nil
}

func explainClient(ctx context.Context, m *embedded.Mesh, topo topology.Topology, dr *networkingv1.DestinationRule, name string, ipLoc map[string]string, failing map[string]bool) (Client, error) {
	tc, _ := topo.Client(name)
	c := Client{Name: name, Locality: tc.Locality.String()}
	var err error
	if c.Istiod, err = m.Endpoints(ctx, name, endpoints.Raw); err != nil {
		return c, fmt.Errorf("istiod view of %s: %w", name, err)
	}
	if c.Envoy, err = m.Endpoints(ctx, name, endpoints.Envoy); err != nil {
		return c, fmt.Errorf("envoy view of %s: %w", name, err)
	}
	cl, cla, err := m.ClientConfig(name)
	if err != nil {
		return c, err
	}
	local := tc.Locality.Region + "/" + tc.Locality.Zone + "/" + tc.Locality.Subzone
	// Hosts the sidecar has ejected (outlier detection) are unhealthy.
	ejected := map[string]bool{}
	for _, r := range c.Envoy.Rows {
		for _, h := range r.Hosts {
			if h.Health == endpoints.Ejected {
				ejected[envoylb.Host{Address: h.Address, Port: h.Port}.Key()] = true
			}
		}
	}
	// The sidecar's local_cluster (zone aware routing), when it has one.
	localCLA, err := localClusterOf(m, name)
	if err != nil {
		return c, fmt.Errorf("local_cluster of %s: %w", name, err)
	}
	if c.Prediction, err = envoylb.Predict(cl, cla, envoylb.PredictOptions{LocalLocality: local, Ejected: ejected, LocalCluster: localCLA}); err != nil {
		return c, fmt.Errorf("predict for %s: %w", name, err)
	}
	c.ZoneAware = zoneSummary(c.Prediction)
	c.Expected = split.Expected{}
	for _, l := range topo.Localities() {
		c.Expected[l] = 0
	}
	rowAt := map[string]*Row{}
	for _, pp := range c.Prediction.Priorities {
		for _, ls := range pp.Localities {
			key := bucket(ls.Locality)
			for _, h := range c.Prediction.Hosts {
				if h.Locality == ls.Locality && h.Priority == pp.Priority {
					if l := ipLoc[h.Address]; l != "" {
						key = l
					}
					break
				}
			}
			c.Expected[key] += ls.Share
			r := Row{Locality: key, Priority: pp.Priority, Hosts: ls.Hosts, Healthy: ls.Healthy, Share: ls.Share}
			if c.Prediction.LocalityWeighted {
				r.Weight = ls.Weight
			}
			r.Reason = reason(dr, tc, topo, c.Prediction, pp, ls)
			c.Rows = append(c.Rows, r)
			rowAt[key] = &c.Rows[len(c.Rows)-1]
		}
	}
	// Localities istiod lists but Envoy does not hold (emptied by distribute).
	for _, r := range c.Istiod.Rows {
		if len(r.Hosts) > 0 {
			continue
		}
		if _, ok := c.Expected[r.Locality]; !ok {
			c.Expected[r.Locality] = 0
		}
		c.Rows = append(c.Rows, Row{Locality: r.Locality, Priority: r.Priority, Reason: "istiod sends this locality with no endpoints (a distribute rule gives it no share): it gets nothing"})
	}
	// Picks of a failing pod that is not ejected answer 503 from the pod
	// (Istio's default retry policy does not retry a 503 response).
	fail := 0.0
	for _, h := range c.Prediction.Hosts {
		if failing[h.Address] && h.Share > 0 {
			fail += h.Share
			c.Expected[ipLoc[h.Address]] -= h.Share
		}
	}
	if fail > 0 {
		c.Expected[traffic.ClassServerError] = fail
		c.Rows = append(c.Rows, Row{Locality: traffic.ClassServerError, Share: fail, Priority: ^uint32(0),
			Reason: "picks of failing pods that are not ejected: the pod's 503 reaches the client (Istio's default retries do not retry a 503 response)"})
	}
	if nhu := c.Prediction.NoHealthyUpstream; nhu > 0 {
		c.Expected[traffic.ClassNoHealthyUpstream] = nhu
		c.Rows = append(c.Rows, Row{Locality: traffic.ClassNoHealthyUpstream, Share: nhu, Priority: ^uint32(0),
			Reason: "Envoy finds no host to pick (no healthy endpoint and panic mode off, or none at all): every such request gets 503 no healthy upstream; distribute never fails over"})
	}
	// Shares that are float sums of exact fractions: clean the last bits so
	// that 0 and 1 stay exact for the matcher.
	for k, v := range c.Expected {
		if math.Abs(v) < 1e-12 {
			c.Expected[k] = 0
		} else if math.Abs(v-1) < 1e-12 {
			c.Expected[k] = 1
		}
	}
	sort.SliceStable(c.Rows, func(i, j int) bool {
		if c.Rows[i].Priority != c.Rows[j].Priority {
			return c.Rows[i].Priority < c.Rows[j].Priority
		}
		return c.Rows[i].Locality < c.Rows[j].Locality
	})
	return c, nil
}

// bucket turns a model locality "r/z/s" into the table form "r/z[/s]".
func bucket(l string) string { return strings.TrimRight(l, "/") }

func verify(ctx context.Context, m mesh.Mesh, c *Client, n int, podLoc map[string]string) {
	if err := c.Expected.Validate(); err != nil {
		c.VerifyError = "prediction is not a split: " + err.Error()
		return
	}
	if n <= 0 {
		n = max(split.DefaultRequests, split.RequiredN(c.Expected, split.DefaultShift, split.DefaultPower, split.DefaultConfidence))
	}
	opts := []split.Option{split.WithN(n)}
	if w := m.Capabilities().ScheduleWorkers; w > 0 && steps.IsLocalitySchedule(c.Envoy.Summarize(), c.Expected) {
		opts = append(opts, split.WithSchedule(w))
	}
	batch, err := m.Send(ctx, c.Name, n)
	if err != nil {
		c.VerifyError = err.Error()
		return
	}
	after, err := m.Endpoints(ctx, c.Name, endpoints.Envoy)
	if err != nil {
		c.VerifyError = err.Error()
		return
	}
	if changed := steps.TableChange(c.Envoy, after); changed != "" {
		c.VerifyError = changed
		return
	}
	d := batch.ByLocality(podLoc)
	t, err := split.Report(*d, c.Expected, opts...)
	if err != nil {
		c.VerifyError = err.Error()
		return
	}
	c.Verified = &t
}

// Write prints the result: per client both endpoint tables and the
// predicted split with reasons, then the verification when done.
func (r Result) Write(w io.Writer) {
	rule := r.Rule
	if rule == "" {
		rule = "(no DestinationRule: mesh default)"
	}
	fmt.Fprintf(w, "DestinationRule %s on topology %s (Service %s)\n", rule, r.Topology, r.Host)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, x := range r.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", x)
	}
	for _, c := range r.Clients {
		fmt.Fprintf(w, "\n== client %s in %s\n", c.Name, c.Locality)
		fmt.Fprintf(w, "-- istiod view\n%s", c.Istiod)
		fmt.Fprintf(w, "-- envoy view\n%s", c.Envoy)
		pol := fmt.Sprintf("lb policy %s", c.Prediction.Policy)
		if c.Prediction.LocalityWeighted {
			pol += ", locality_weighted_lb_config"
		}
		fmt.Fprintf(w, "-- predicted split (%s, priority load %v, panic threshold %d%%)\n", pol, c.Prediction.HealthyLoad, c.Prediction.PanicThreshold)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "locality\tpriority\tweight\thealthy/hosts\tshare\treason")
		for _, row := range c.Rows {
			if row.Priority == ^uint32(0) { // a response class, not a locality
				fmt.Fprintf(tw, "%s\t-\t-\t-\t%.1f%%\t%s\n", row.Locality, 100*row.Share, row.Reason)
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d/%d\t%.1f%%\t%s\n", row.Locality, row.Priority, row.Weight, row.Healthy, row.Hosts, 100*row.Share, row.Reason)
		}
		_ = tw.Flush()
		if c.ZoneAware != "" {
			fmt.Fprintf(w, "-- %s\n", c.ZoneAware)
		}
		if c.Prediction.Approximate {
			fmt.Fprintln(w, "note: unequal endpoint weights under LEAST_REQUEST: host shares are approximate")
		}
		switch {
		case c.VerifyError != "":
			fmt.Fprintf(w, "-- verify: could not check: %s\n", c.VerifyError)
		case c.Verified != nil:
			verdict := "prediction holds"
			if !c.Verified.OK() {
				verdict = "PREDICTION AND TRAFFIC DISAGREE"
			}
			fmt.Fprintf(w, "-- verify: %s\n%s", verdict, c.Verified)
		}
	}
}

// Topologies are the built-in fixtures by name (framework/topology).
var Topologies = map[string]func() topology.Topology{
	"two-regions":              topology.TwoRegions,
	"three-zones":              topology.ThreeZones,
	"three-zones-every-client": topology.ThreeZonesEveryClient,
	"three-zones-tiers":        topology.ThreeZonesTiers,
	"subzones":                 topology.Subzones,
	// istio.io's locality tasks: four clusters, one pod per locality.
	"locality-task":              func() topology.Topology { return topology.LocalityTask(1, false) },
	"locality-task-multinetwork": func() topology.Topology { return topology.LocalityTask(1, true) },
	// Zone aware routing: callers of Service sleep with self-discovery.
	"zone-aware-balanced": topology.ZoneAwareBalanced,
	"zone-aware-uneven":   topology.ZoneAwareUneven,
	"zone-aware-regions":  topology.ZoneAwareRegions,
}

// TopologyNames lists Topologies, sorted.
func TopologyNames() string {
	var ns []string
	for n := range Topologies {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ScenarioRules returns the DestinationRules a scenario file applies, in
// order: its top-level rules, then those of `apply` steps, each with where
// it comes from. VirtualServices are left out: the prediction counts picks,
// which routes do not change.
func ScenarioRules(s *scenario.Scenario) (rules []*networkingv1.DestinationRule, sources []string) {
	for _, r := range s.Rules {
		if r.DestinationRule != nil {
			rules = append(rules, r.DestinationRule)
			sources = append(sources, r.Source)
		}
	}
	for _, sp := range s.Specs {
		for _, st := range sp.Steps {
			if st.Kind == scenario.StepApply && st.Rule != nil && st.Rule.DestinationRule != nil {
				rules = append(rules, st.Rule.DestinationRule)
				sources = append(sources, fmt.Sprintf("%s (apply step of %q, line %d)", st.Rule.Source, sp.It, st.Line))
			}
		}
	}
	return rules, sources
}

// checkCounts applies the same rule to --scale and --fail before anything
// is deployed: a known workload and a count in range (scale: 0 to
// topology.MaxReplicas; fail: 0 to the pods the workload has after
// --scale), so a typo never fails every pod or starts a long deploy.
func checkCounts(topo topology.Topology, scale, fail map[string]int) error {
	pods := map[string]int{}
	for _, w := range topo.Workloads {
		pods[w.Name] = w.Replicas
	}
	for _, w := range sortedKeys(scale) {
		if _, err := topo.Workload(w); err != nil {
			return fmt.Errorf("%w: --scale %s=%d: %v", ErrBadInput, w, scale[w], err)
		}
		if n := scale[w]; n < 0 || n > topology.MaxReplicas {
			return fmt.Errorf("%w: --scale %s=%d: out of range: give N from 0 to %d", ErrBadInput, w, n, topology.MaxReplicas)
		}
		pods[w] = scale[w]
	}
	for _, w := range sortedKeys(fail) {
		if _, err := topo.Workload(w); err != nil {
			return fmt.Errorf("%w: --fail %s=%d: %v", ErrBadInput, w, fail[w], err)
		}
		if n := fail[w]; n < 0 || n > pods[w] {
			return fmt.Errorf("%w: --fail %s=%d: out of range: %s has %d pods, give N from 0 to %d", ErrBadInput, w, n, w, pods[w], pods[w])
		}
	}
	return nil
}
