package explain

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/scenario"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// ruleTopologies maps every rule of manifests/destinationrules to the
// topologies the specs (specs/*.go) apply it to.
var ruleTopologies = map[string][]string{
	"disabled":                   {"two-regions"},
	"distribute-90-10":           {"three-zones", "three-zones-every-client"},
	"distribute-local-zone":      {"three-zones"},
	"failover-cross-region":      {"two-regions"},
	"failover-gateway-errors":    {"three-zones"},
	"failover-max-ejection-100":  {"three-zones"},
	"failover-priority-override": {"three-zones-tiers"},
	"failover-priority-tier":     {"three-zones-tiers"},
	"failover-priority-topology": {"three-zones"},
	"failover-short-ejection":    {"three-zones"},
	"failover":                   {"three-zones"},
	"outlier-only":               {"two-regions", "subzones"},
	// The multi-cluster specs' rules, on the flat network: across networks
	// the prediction stops at the gateways (TestVerifyEveryScenarioFile).
	"locality-enabled":                        {"three-zones"},
	"locality-task-distribute":                {"locality-task"},
	"locality-task-failover":                  {"locality-task"},
	"locality-task-failover-max-ejection-100": {"locality-task"},
	"failover-priority-network":               {"locality-task"},
	"failover-priority-network-cluster":       {"locality-task"},
	"round-robin":                             {"locality-task"},
	"zone-aware":                              {"zone-aware-balanced", "zone-aware-uneven", "zone-aware-regions"},
	"zone-aware-disabled":                     {"zone-aware-uneven"},
	"zone-aware-failover":                     {"zone-aware-regions"},
	"zone-aware-failover-priority":            {"zone-aware-regions"},
	"zone-aware-min-cluster-size-8":           {"zone-aware-uneven"},
	"zone-aware-min-cluster-size-9":           {"zone-aware-uneven"},
}

func load(t *testing.T, name string) *networkingv1.DestinationRule {
	t.Helper()
	dr, err := destinationrule.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return dr
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func mustRun(t *testing.T, in Input) Result {
	t.Helper()
	res, err := Run(ctx(t), in)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func checkVerified(t *testing.T, res Result) {
	t.Helper()
	var out bytes.Buffer
	res.Write(&out)
	for _, c := range res.Clients {
		if c.Verified == nil {
			t.Errorf("client %s not verified (%s):\n%s", c.Name, c.VerifyError, out.String())
			continue
		}
		if !c.Verified.OK() {
			t.Errorf("client %s: prediction and traffic disagree:\n%s", c.Name, out.String())
		}
	}
	if !res.Agree() {
		t.Errorf("Agree() is false:\n%s", out.String())
	}
}

// TestVerifyEveryRule runs explain --verify for every DestinationRule of
// manifests/destinationrules on each topology the specs use it with, and
// with no rule on every built-in topology: the predictions hold.
func TestVerifyEveryRule(t *testing.T) {
	for _, name := range destinationrule.Names() {
		topos, ok := ruleTopologies[name]
		if !ok {
			t.Errorf("rule %s has no topology in ruleTopologies: add the topologies its specs use", name)
			continue
		}
		for _, topo := range topos {
			t.Run(name+"/"+topo, func(t *testing.T) {
				checkVerified(t, mustRun(t, Input{Rule: load(t, name), Topology: Topologies[topo](), Verify: true, Seed: 3}))
			})
		}
	}
	for topo, mk := range Topologies {
		t.Run("no-rule/"+topo, func(t *testing.T) {
			checkVerified(t, mustRun(t, Input{Topology: mk(), Verify: true, Seed: 3}))
		})
	}
	td := topology.ThreeZones()
	td.TrafficDistribution = "PreferClose"
	t.Run("no-rule/three-zones-PreferClose", func(t *testing.T) {
		checkVerified(t, mustRun(t, Input{Topology: td, Verify: true, Seed: 3}))
	})
}

// TestVerifyStates runs explain --verify after scaling and breaking pods
// (the seed's b2, b4, b5 and partial health).
func TestVerifyStates(t *testing.T) {
	for _, tc := range []struct {
		name, rule  string
		scale, fail map[string]int
		want        map[string]float64
	}{
		{"b2 distribute local, kr/b at 0", "distribute-local-zone", map[string]int{"helloworld-zone-b": 0}, nil,
			map[string]float64{traffic.ClassNoHealthyUpstream: 1, "kr/a": 0, "kr/c": 0}},
		{"b4 failover, kr/b at 1", "failover", map[string]int{"helloworld-zone-b": 1}, nil,
			map[string]float64{"kr/b": 1, "kr/a": 0, "kr/c": 0}},
		{"b4 failover, kr/b at 0", "failover", map[string]int{"helloworld-zone-b": 0}, nil,
			map[string]float64{"kr/b": 0, "kr/a": 0.5, "kr/c": 0.5}},
		{"b5 failing kr/b, default maxEjectionPercent", "failover", nil, map[string]int{"helloworld-zone-b": 3},
			map[string]float64{traffic.ClassServerError: 1, "kr/a": 0, "kr/c": 0}},
		{"b5 failing kr/b, maxEjectionPercent 100", "failover-max-ejection-100", nil, map[string]int{"helloworld-zone-b": 3},
			map[string]float64{"kr/b": 0, "kr/a": 0.5, "kr/c": 0.5}},
		{"partial health 1 of 3 ejected", "failover-max-ejection-100", nil, map[string]int{"helloworld-zone-b": 1},
			map[string]float64{"kr/b": 0.93, "kr/a": 0.035, "kr/c": 0.035}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := mustRun(t, Input{Rule: load(t, tc.rule), Topology: topology.ThreeZones(), Verify: true, Seed: 5, Scale: tc.scale, Fail: tc.fail})
			checkVerified(t, res)
			expectShares(t, res.Clients[0], tc.want)
		})
	}
}

func expectShares(t *testing.T, c Client, want map[string]float64) {
	t.Helper()
	for b, w := range want {
		if got := c.Expected[b]; math.Abs(got-w) > 1e-9 {
			t.Errorf("%s: predicted %s %.4f, want %.4f (prediction %v)", c.Name, b, got, w, c.Expected)
		}
	}
}

func client(t *testing.T, res Result, name string) Client {
	t.Helper()
	for _, c := range res.Clients {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no client %s in %+v", name, res.Clients)
	return Client{}
}

func row(t *testing.T, c Client, loc string) Row {
	t.Helper()
	for _, r := range c.Rows {
		if r.Locality == loc {
			return r
		}
	}
	t.Fatalf("%s: no row %s in %+v", c.Name, loc, c.Rows)
	return Row{}
}

// TestKnownPredictions checks a few predictions and reasons (no traffic).
func TestKnownPredictions(t *testing.T) {
	t.Run("distribute-90-10 from netshoot-b", func(t *testing.T) {
		res := mustRun(t, Input{Rule: load(t, "distribute-90-10"), Topology: topology.ThreeZones()})
		c := client(t, res, "netshoot-b")
		expectShares(t, c, map[string]float64{"kr/a": 0.9, "kr/c": 0.1, "kr/b": 0})
		if r := row(t, c, "kr/a"); r.Weight != 90 || !strings.Contains(r.Reason, `distribute from "kr/b/*"`) {
			t.Errorf("kr/a row: %+v", r)
		}
		if r := row(t, c, "kr/b"); !strings.Contains(r.Reason, "no endpoints") {
			t.Errorf("kr/b row: %+v", r)
		}
		if !c.Prediction.LocalityWeighted {
			t.Error("distribute without locality_weighted_lb_config")
		}
	})
	t.Run("distribute-90-10 from every zone", func(t *testing.T) {
		res := mustRun(t, Input{Rule: load(t, "distribute-90-10"), Topology: topology.ThreeZonesEveryClient()})
		expectShares(t, client(t, res, "netshoot-a"), map[string]float64{"kr/b": 0.9, "kr/c": 0.1, "kr/a": 0})
		expectShares(t, client(t, res, "netshoot-c"), map[string]float64{"kr/a": 0.9, "kr/b": 0.1, "kr/c": 0})
		if len(res.Warnings) != 0 {
			t.Errorf("warnings for a rule whose every from matches a client: %v", res.Warnings)
		}
	})
	t.Run("failover from netshoot-b", func(t *testing.T) {
		res := mustRun(t, Input{Rule: load(t, "failover"), Topology: topology.ThreeZones()})
		c := client(t, res, "netshoot-b")
		expectShares(t, c, map[string]float64{"kr/b": 1, "kr/a": 0, "kr/c": 0})
		r := row(t, c, "kr/a")
		if r.Priority != 1 || !strings.Contains(r.Reason, "priority 1: same region") || !strings.Contains(r.Reason, "priority 0 health < 71%") {
			t.Errorf("kr/a row: %+v", r)
		}
		if r := row(t, c, "kr/b"); r.Priority != 0 || !strings.Contains(r.Reason, "same locality as the client") {
			t.Errorf("kr/b row: %+v", r)
		}
		if !hasWarning(res, "maxEjectionPercent is unset") {
			t.Errorf("no maxEjectionPercent warning: %v", res.Warnings)
		}
	})
	t.Run("cross-region", func(t *testing.T) {
		res := mustRun(t, Input{Rule: load(t, "failover-cross-region"), Topology: topology.TwoRegions()})
		c := client(t, res, "my-shell-kr-a")
		expectShares(t, c, map[string]float64{"kr/a": 1, "kr/b": 0, "us/a": 0, "us/b": 0})
		if r := row(t, c, "us/a"); r.Priority != 2 || !strings.Contains(r.Reason, "failover target of kr → us") {
			t.Errorf("us/a row: %+v", r)
		}
	})
	t.Run("no rule: uniform over pods", func(t *testing.T) {
		res := mustRun(t, Input{Topology: topology.TwoRegions()})
		expectShares(t, res.Clients[0], map[string]float64{"kr/a": 0.25, "kr/b": 0.25, "us/a": 0.25, "us/b": 0.25})
		if len(res.Warnings) != 0 {
			t.Errorf("warnings without a rule: %v", res.Warnings)
		}
		if r := row(t, res.Clients[0], "us/b"); r.Priority != 0 || !strings.Contains(r.Reason, "no outlierDetection") {
			t.Errorf("us/b row: %+v", r)
		}
	})
	t.Run("failoverPriority tier", func(t *testing.T) {
		res := mustRun(t, Input{Rule: load(t, "failover-priority-tier"), Topology: topology.ThreeZonesTiers()})
		c := res.Clients[0]
		expectShares(t, c, map[string]float64{"kr/a": 0.5, "kr/c": 0.5, "kr/b": 0})
		if r := row(t, c, "kr/b"); r.Priority != 1 || !strings.Contains(r.Reason, "no failoverPriority label") {
			t.Errorf("kr/b row: %+v", r)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		res := mustRun(t, Input{Rule: load(t, "disabled"), Topology: topology.TwoRegions()})
		expectShares(t, res.Clients[0], map[string]float64{"kr/a": 0.25, "kr/b": 0.25, "us/a": 0.25, "us/b": 0.25})
		if !hasWarning(res, "enabled is false") {
			t.Errorf("no enabled: false warning: %v", res.Warnings)
		}
	})
	t.Run("Write prints both views, the split and reasons", func(t *testing.T) {
		res := mustRun(t, Input{Rule: load(t, "failover"), Topology: topology.ThreeZones()})
		var out bytes.Buffer
		res.Write(&out)
		for _, want := range []string{"(istiod view)", "(envoy view)", "-- predicted split", "same region, other zone", "WARNING: "} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})
}

func hasWarning(res Result, sub string) bool {
	for _, w := range res.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// TestRunBadInput: input errors wrap ErrBadInput.
func TestRunBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Input
		want string
	}{
		{"unknown client", Input{Topology: topology.ThreeZones(), Clients: []string{"nope"}}, `unknown client "nope"`},
		{"invalid topology", Input{Topology: topology.Topology{Name: "x"}}, "topology"},
		{"unknown workload to scale", Input{Topology: topology.ThreeZones(), Scale: map[string]int{"nope": 1}}, "--scale nope=1"},
		{"unknown workload to fail", Input{Topology: topology.ThreeZones(), Fail: map[string]int{"nope": 1}}, "--fail nope=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(ctx(t), tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !isBadInput(err) {
				t.Errorf("err %v, want bad input with %q", err, tc.want)
			}
		})
	}
}

// TestVerifyEveryScenarioFile runs explain --verify for every scenario file
// of scenarios/: its topology with each DestinationRule it applies (and
// with none when it starts without one).
func TestVerifyEveryScenarioFile(t *testing.T) {
	all, err := scenario.LoadDir("../../scenarios")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no scenario files in scenarios/")
	}
	for _, s := range all {
		rules, sources := ScenarioRules(s)
		if len(s.Rules) == 0 {
			rules, sources = append([]*networkingv1.DestinationRule{nil}, rules...), append([]string{"no-rule"}, sources...)
		}
		for i, dr := range rules {
			t.Run(filepath.Base(s.File)+"/"+filepath.Base(strings.Fields(sources[i])[0]), func(t *testing.T) {
				res := mustRun(t, Input{Rule: dr, Topology: s.Topology, Verify: true, Seed: 9})
				if s.Topology.MultiNetwork() {
					// The prediction covers the share sent to each east-west
					// gateway; the gateway picks the pod (docs §6). Explain
					// must say so, and verify shows what crossed.
					checkGatewayCaveat(t, res)
					return
				}
				checkVerified(t, res)
			})
		}
	}
}

// checkGatewayCaveat: on a multi-network topology explain warns that the
// prediction stops at the gateway, and verify still ran and counted every
// request.
func checkGatewayCaveat(t *testing.T, res Result) {
	t.Helper()
	var out bytes.Buffer
	res.Write(&out)
	if !strings.Contains(out.String(), "spans several networks") {
		t.Errorf("no multi-network warning:\n%s", out.String())
	}
	for _, c := range res.Clients {
		if c.Verified == nil {
			t.Errorf("client %s not verified (%s):\n%s", c.Name, c.VerifyError, out.String())
		}
	}
}
