package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	localitye2e "github.com/localitylb/locality-e2e"
	"github.com/localitylb/locality-e2e/framework/explain"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/topology"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeRule(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tooManyClients is a scenario file with topology.MaxClients+1 clients
// (from line 7).
func tooManyClients() string {
	s := "name: x\ntopology:\n  service: helloworld-svc\n  workloads:\n  - {name: zone-a, locality: kr/a, replicas: 3}\n  clients:\n"
	for i := 0; i <= topology.MaxClients; i++ {
		s += fmt.Sprintf("  - {name: client-%d, locality: kr/a}\n", i)
	}
	return s + "specs:\n- it: x\n  steps:\n  - send: {client: client-0, expect: {kr/a: 1}}\n"
}

const head = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: r\nspec:\n  host: helloworld-svc.default.svc.cluster.local\n"

// TestExplainVerify runs the command end to end on a rule file.
func TestExplainVerify(t *testing.T) {
	rule := writeRule(t, "ninety-ten.yaml", head+`  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        distribute:
        - from: "kr/b/*"
          to:
            "kr/a/*": 90
            "kr/c/*": 10
`)
	code, out, errs := runCLI(t, "explain", "--rule="+rule, "--topology=three-zones", "--verify")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s\n%s", code, errs, out)
	}
	for _, want := range []string{"== client netshoot-b in kr/b", "(istiod view)", "(envoy view)", "-- predicted split",
		"90.0%", "10.0%", `distribute from "kr/b/*" gives it locality weight 90`, "-- verify: prediction holds"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A built-in rule by name, one client, scaled.
	code, out, errs = runCLI(t, "explain", "--rule=failover", "--topology=three-zones", "--client=netshoot-b", "--scale=helloworld-zone-b=0", "--verify", "--requests=3000")
	if code != exitOK || !strings.Contains(out, "helloworld-zone-b scaled to 0") || !strings.Contains(out, "50.0%") {
		t.Fatalf("exit %d, stderr %s\n%s", code, errs, out)
	}
}

// TestExplainDisagree: a verified split outside its range exits 1.
func TestExplainDisagree(t *testing.T) {
	defer func(f func(context.Context, explain.Input) (explain.Result, error)) { runExplain = f }(runExplain)
	runExplain = func(ctx context.Context, in explain.Input) (explain.Result, error) {
		res, err := explain.Run(ctx, in)
		if err != nil {
			return res, err
		}
		// Traffic as if the rule had been 50/50.
		tbl, err := split.Report(*split.DistributionOf(map[string]int{"kr/a": 1500, "kr/c": 1500}), res.Clients[0].Expected, split.WithN(3000))
		if err != nil {
			t.Fatal(err)
		}
		res.Clients[0].Verified = &tbl
		return res, nil
	}
	code, out, errs := runCLI(t, "explain", "--rule=distribute-90-10", "--topology=three-zones", "--verify")
	if code != exitDisagree || !strings.Contains(out, "PREDICTION AND TRAFFIC DISAGREE") || !strings.Contains(errs, "disagree") {
		t.Fatalf("exit %d, stderr %s\n%s", code, errs, out)
	}
}

// TestExplainBadInput: every bad input exits 2 with a message naming the
// flag or field.
func TestExplainBadInput(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unknownField := file("unknown-field.yaml", head+"  trafficPolicy:\n    loadBalancer:\n      localityLbSettings:\n        enabled: true\n")
	badSum := file("bad-sum.yaml", head+"  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n        distribute:\n        - from: kr/b/*\n          to:\n            \"kr/a/*\": 80\n")
	notDR := file("vs.yaml", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: v\nspec:\n  hosts: [x]\n")
	notYAML := file("garbage.yaml", "{{{ not yaml")
	empty := file("empty.yaml", "")
	twoDocs := file("two.yaml", head+"---\n"+head)
	both := file("both.yaml", head+"  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n        distribute:\n        - from: kr/b/*\n          to:\n            \"kr/a/*\": 100\n        failover:\n        - from: kr\n          to: us\n")
	deep := file("deep.yaml", "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: x}\nspec: "+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+"\n")
	binary := file("binary.yaml", "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: !!binary aGVsbG8=}\nspec: {host: x}\n")
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	clients := file("clients.yaml", tooManyClients())
	badFP := file("bad-fp.yaml", head+"  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n        failoverPriority:\n        - \"=gold\"\n    outlierDetection:\n      consecutive5xxErrors: 1\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage"},
		{"unknown command", []string{"explian"}, `unknown command "explian"`},
		{"unknown flag", []string{"explain", "--topolgy=three-zones"}, "topolgy"},
		{"no topology", []string{"explain", "--rule=failover"}, "--topology (or --scenario) is required"},
		{"unknown topology", []string{"explain", "--topology=four-zones"}, `--topology "four-zones" is unknown`},
		{"positional argument", []string{"explain", "--topology=three-zones", "rule.yaml"}, `unexpected argument "rule.yaml"`},
		{"missing rule file", []string{"explain", "--topology=three-zones", "--rule=" + filepath.Join(dir, "nope.yaml")}, "--rule"},
		{"unknown built-in rule", []string{"explain", "--topology=three-zones", "--rule=failovr"}, "nor a rule in manifests/destinationrules"},
		{"unknown field", []string{"explain", "--topology=three-zones", "--rule=" + unknownField}, "localityLbSettings"},
		{"weights not summing to 100", []string{"explain", "--topology=three-zones", "--rule=" + badSum}, "distribute[0]"},
		{"not a DestinationRule", []string{"explain", "--topology=three-zones", "--rule=" + notDR}, "want DestinationRule"},
		{"not YAML", []string{"explain", "--topology=three-zones", "--rule=" + notYAML}, "--rule"},
		{"empty file", []string{"explain", "--topology=three-zones", "--rule=" + empty}, "empty"},
		{"two documents", []string{"explain", "--topology=three-zones", "--rule=" + twoDocs}, "--rule"},
		{"distribute with failover", []string{"explain", "--topology=three-zones", "--rule=" + both}, "--rule"},
		{"bad failoverPriority", []string{"explain", "--topology=three-zones", "--rule=" + badFP}, "failoverPriority[0]"},
		{"unknown client", []string{"explain", "--topology=three-zones", "--client=netshoot-z"}, `unknown client "netshoot-z"`},
		{"scale without =", []string{"explain", "--topology=three-zones", "--scale=helloworld-zone-b"}, "--scale"},
		{"scale negative", []string{"explain", "--topology=three-zones", "--scale=helloworld-zone-b=-1"}, "N ≥ 0"},
		{"scale twice", []string{"explain", "--topology=three-zones", "--scale=helloworld-zone-b=1", "--scale=helloworld-zone-b=2"}, "given twice"},
		{"scale unknown workload", []string{"explain", "--topology=three-zones", "--scale=helloworld-zone-z=1"}, "--scale helloworld-zone-z=1"},
		{"fail unknown workload", []string{"explain", "--topology=three-zones", "--fail=nope=1"}, "--fail nope=1"},
		{"requests without verify", []string{"explain", "--topology=three-zones", "--requests=100"}, "needs --verify"},
		{"requests negative", []string{"explain", "--topology=three-zones", "--verify", "--requests=-5"}, "--requests"},
		{"requests too many", []string{"explain", "--topology=three-zones", "--verify", "--requests=100000000"}, "--requests"},
		{"rule nested 20,000 levels deep", []string{"explain", "--topology=three-zones", "--rule=" + deep}, "explain: --rule: " + deep + " is nested too deep for YAML (more than 10000 levels): write the rule flat, as a DestinationRule or VirtualService is\n"},
		{"rule with a !!binary tag", []string{"explain", "--topology=three-zones", "--rule=" + binary}, "explain: --rule: " + binary + ":3: the YAML tag !!binary is not supported: write the value as plain YAML (strings, numbers, booleans, lists and mappings, without tags)\n"},
		{"rule is /dev/zero", []string{"explain", "--topology=three-zones", "--rule=/dev/zero"}, "explain: --rule: /dev/zero is a device, not a regular file: give the path of a file\n"},
		{"rule is a FIFO", []string{"explain", "--topology=three-zones", "--rule=" + fifo}, "explain: --rule: " + fifo + " is a named pipe (FIFO), not a regular file: give the path of a file\n"},
		{"rule is a folder", []string{"explain", "--topology=three-zones", "--rule=" + dir}, "explain: --rule: " + dir + " is a directory, not a regular file: give the path of a file\n"},
		{"fail more pods than the workload has", []string{"explain", "--topology=three-zones", "--fail=helloworld-zone-b=99999"}, "explain: bad input: --fail helloworld-zone-b=99999: out of range: helloworld-zone-b has 3 pods, give N from 0 to 3\n"},
		{"fail more pods than left after scale", []string{"explain", "--topology=three-zones", "--scale=helloworld-zone-b=1", "--fail=helloworld-zone-b=2"}, "explain: bad input: --fail helloworld-zone-b=2: out of range: helloworld-zone-b has 1 pods, give N from 0 to 1\n"},
		{"scale above the replica cap", []string{"explain", "--topology=three-zones", "--scale=helloworld-zone-b=99999"}, "explain: bad input: --scale helloworld-zone-b=99999: out of range: give N from 0 to 1000\n"},
		{"scenario with more clients than the cap", []string{"explain", "--scenario=" + clients}, "explain: --scenario: " + clients + `:7: topology.clients: topology "clients": Clients has 51 client pods: at most topology.MaxClients (50) are supported; use one client per locality you send from` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.args...)
			if code != exitBadInput {
				t.Fatalf("exit %d, want %d; stderr %s\n%s", code, exitBadInput, errs, out)
			}
			if !strings.Contains(errs, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, errs)
			}
			if strings.Contains(errs, "panic") {
				t.Errorf("panic: %s", errs)
			}
		})
	}
}

// TestRunScenarios runs scenario files through Ginkgo (once per process:
// the only test that reaches RunSpecs).
func TestRunScenarios(t *testing.T) {
	code, _, errs := runCLI(t, "run", "../../scenarios/distribute-weighted.yaml", "../../scenarios/failover-scale-down.yaml")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
}

func TestRunBadInput(t *testing.T) {
	bad := writeRule(t, "bad.yaml", "name: x\ntopology:\n  workloads: []\nbogus: 1\n")
	clients := writeRule(t, "clients.yaml", tooManyClients())
	fifoDir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifoDir, "x.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no files", []string{"run"}, "name at least one scenario file"},
		{"missing file", []string{"run", "nope.yaml"}, "nope.yaml"},
		{"bad scenario", []string{"run", bad}, "bad.yaml"},
		{"unknown backend", []string{"run", "--backend=docker", "../../scenarios"}, `--backend "docker" is unknown`},
		{"unknown flag", []string{"run", "--labels=x", "../../scenarios"}, "labels"},
		{"focus not a regexp", []string{"run", "--focus=(", "../../scenarios"}, "run: --focus \"(\" is not a regular expression: error parsing regexp: missing closing ): `(`: escape ( ) [ ] . * + ? with \\ or fix the expression\n"},
		{"label filter not an expression", []string{"run", "--label-filter=&&", "../../scenarios"}, "run: --label-filter \"&&\" is not a Ginkgo label filter: Operator '&&' missing left hand operand.: combine labels with &&, ||, ! and parentheses, e.g. 'locality:failover && !multicluster'\n"},
		{"FIFO in a scenario folder", []string{"run", fifoDir}, "run: " + filepath.Join(fifoDir, "x.yaml") + " is a named pipe (FIFO), not a regular file: give the path of a file\n"},
		{"more clients than the cap", []string{"run", clients}, "run: " + clients + `:7: topology.clients: topology "clients": Clients has 51 client pods: at most topology.MaxClients (50) are supported; use one client per locality you send from` + "\n"},
		{"FIFO as scenario file", []string{"run", filepath.Join(fifoDir, "x.yaml")}, "run: " + filepath.Join(fifoDir, "x.yaml") + " is a named pipe (FIFO), not a regular file: give the path of a file\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runCLI(t, tc.args...)
			if code != exitBadInput || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d with %q", code, errs, exitBadInput, tc.want)
			}
		})
	}
}

// TestExplainScenario explains a scenario file: its topology and rule.
func TestExplainScenario(t *testing.T) {
	code, out, errs := runCLI(t, "explain", "--scenario=../../scenarios/failover-scale-down.yaml", "--verify")
	if code != exitOK || !strings.Contains(out, "rule from the scenario: ") || !strings.Contains(out, "prediction holds") {
		t.Fatalf("exit %d, stderr %s\n%s", code, errs, out)
	}
	bad := writeRule(t, "bad-scenario.yaml", "name: x\nbogus: 1\n")
	for _, args := range [][]string{
		{"explain", "--scenario=" + bad},
		{"explain", "--scenario=../../scenarios/baseline.yaml", "--topology=three-zones"},
		{"explain", "--scenario=nope.yaml"},
	} {
		if code, _, errs := runCLI(t, args...); code != exitBadInput || !strings.Contains(errs, "--") {
			t.Errorf("%v: exit %d, stderr %s", args, code, errs)
		}
	}
}

// TestExplainRunFailure: a mesh that cannot run (not bad input) exits 3.
func TestExplainRunFailure(t *testing.T) {
	defer func(f func(context.Context, explain.Input) (explain.Result, error)) { runExplain = f }(runExplain)
	runExplain = func(context.Context, explain.Input) (explain.Result, error) {
		return explain.Result{}, errors.New("deploy topology three-zones: istiod did not start")
	}
	if code, _, errs := runCLI(t, "explain", "--topology=three-zones"); code != exitFailed || !strings.Contains(errs, "istiod did not start") {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
}

// TestHelpAndVersion: help of every command exits 0 on stdout; --version
// names this module's version and the istiod it embeds.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"explain", "--help"}, {"explain", "-h"}, {"run", "--help"}, {"kind-plan", "--help"}} {
		code, out, errs := runCLI(t, args...)
		if code != exitOK || !strings.Contains(out+errs, "usage") && !strings.Contains(out+errs, "Usage") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 with the usage", args, code, out, errs)
		}
	}
	code, out, errs := runCLI(t, "--version")
	want := "istiod: istio.io/istio " + localitye2e.ModuleVersion("istio.io/istio")
	if code != exitOK || !strings.HasPrefix(out, "locality-e2e ") || !strings.Contains(out, want) {
		t.Errorf("--version: exit %d, stdout %q, stderr %q; want 0 with %q", code, out, errs, want)
	}
}
