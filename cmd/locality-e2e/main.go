// Command locality-e2e explains what a DestinationRule does to the clients
// of a topology, on the embedded backend (the real istiod in process).
//
//	locality-e2e explain [--rule=FILE] (--topology=NAME | --scenario=FILE) [--client=NAME]... [--scale=WORKLOAD=N]... [--fail=WORKLOAD=N]... [--verify] [--requests=N] [--seed=N]
//
// For each client it prints istiod's endpoint table, the sidecar's Envoy
// view, and the predicted split per locality computed from the Cluster and
// ClusterLoadAssignment the sidecar received (priority load × locality
// weights × healthy hosts), each row with its reason, and warns about rule
// shapes that do not do what they seem to. --verify sends the requests and
// checks the prediction with the split matcher.
//
// Exit codes: 0 ok, 1 prediction and traffic disagree, 2 bad input (flag,
// rule file, topology, client), 3 the mesh could not be run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	localitye2e "github.com/localitylb/locality-e2e"
	"github.com/localitylb/locality-e2e/framework/boundedread"
	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/explain"
	"github.com/localitylb/locality-e2e/framework/scenario"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// Exit codes.
const (
	exitOK       = 0
	exitDisagree = 1
	exitBadInput = 2
	exitFailed   = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: locality-e2e explain [--rule=FILE] (--topology=NAME | --scenario=FILE) [--client=NAME]... [--scale=WORKLOAD=N]... [--fail=WORKLOAD=N]... [--verify] [--requests=N] [--seed=N]

       locality-e2e kind-plan

       locality-e2e --version

       locality-e2e run [--backend=embedded|kind] [--label-filter=EXPR] [--focus=REGEXP] [-v] [--seed=N] FILE|DIR...

Commands:
  explain   predict (and with --verify check) what a DestinationRule does to each client
  run       run scenario files (framework/scenario) under Ginkgo; exit 1 when a spec fails
  kind-plan print every step of the multi-cluster kind setup for the suite (runs nothing);
            LOCALITY_E2E_KIND_MULTICLUSTER=<topology> picks which setup

Exit codes: 0 ok, 1 prediction and traffic disagree, 2 bad input, 3 the mesh could not be run.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitBadInput
	}
	switch args[0] {
	case "explain":
		return explainCmd(ctx, args[1:], stdout, stderr)
	case "run":
		return runCmd(ctx, args[1:], stdout, stderr)
	case "kind-plan":
		return kindPlanCmd(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "--version", "-version", "version":
		fmt.Fprintln(stdout, versionLine())
		return exitOK
	}
	fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], usage)
	return exitBadInput
}

// parseExit is the exit code of a failed flag parse: 0 for -h/--help (the
// flag package has printed the command's flags), 2 for a bad flag.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitBadInput
}

// versionLine names this build (its module version, "(devel)" when built
// from a checkout) and the istiod code it embeds (go.mod's istio.io/istio).
func versionLine() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	istio := localitye2e.ModuleVersion("istio.io/istio")
	if istio == "" {
		istio = "(unknown version)"
	}
	return fmt.Sprintf("locality-e2e %s\nistiod: istio.io/istio %s", v, istio)
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// runExplain is explain.Run (a variable for the exit code tests).
var runExplain = explain.Run

// counts parses WORKLOAD=N flag values.
func counts(flagName string, vs []string) (map[string]int, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	out := map[string]int{}
	for _, v := range vs {
		name, n, ok := strings.Cut(v, "=")
		k, err := strconv.Atoi(n)
		if !ok || name == "" || err != nil || k < 0 {
			return nil, fmt.Errorf("--%s %q: want WORKLOAD=N with N ≥ 0 (e.g. --%s=helloworld-zone-b=0)", flagName, v, flagName)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--%s: workload %s given twice", flagName, name)
		}
		out[name] = k
	}
	return out, nil
}

func explainCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rule := fs.String("rule", "", "DestinationRule YAML file (or the name of one in manifests/destinationrules); empty: no rule, the mesh default")
	topo := fs.String("topology", "", "built-in topology: "+explain.TopologyNames())
	scen := fs.String("scenario", "", "scenario file (framework/scenario): its topology, and its first DestinationRule unless --rule is given (instead of --topology)")
	var clients multi
	fs.Var(&clients, "client", "explain only this client (repeatable; default: every client of the topology)")
	var scale, fail multi
	fs.Var(&scale, "scale", "WORKLOAD=N: scale a workload (Deployment name) to N replicas after the rule is applied (repeatable)")
	fs.Var(&fail, "fail", "WORKLOAD=N: make the first N pods of a workload answer 503, then warm up so outlier detection sees it (repeatable)")
	verify := fs.Bool("verify", false, "send requests from each client and check the prediction with the split matcher")
	requests := fs.Int("requests", 0, "requests per client for --verify (default: split.DefaultRequests, more where the split needs it)")
	seed := fs.Uint64("seed", 1, "seed of the embedded backend")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "explain: unexpected argument %q: pass the rule with --rule=FILE\n", fs.Arg(0))
		return exitBadInput
	}
	var (
		tp    topology.Topology
		dr    *networkingv1.DestinationRule
		notes []string
	)
	switch {
	case *topo != "" && *scen != "":
		fmt.Fprintln(stderr, "explain: give --topology or --scenario, not both")
		return exitBadInput
	case *scen != "":
		s, err := scenario.Load(*scen)
		if err != nil {
			fmt.Fprintf(stderr, "explain: --scenario: %v\n", err)
			return exitBadInput
		}
		tp = s.Topology
		rules, sources := explain.ScenarioRules(s)
		if len(rules) > 0 && *rule == "" {
			dr = rules[0]
			notes = append(notes, "rule from the scenario: "+sources[0])
			for _, src := range sources[1:] {
				notes = append(notes, "not explained (pass it with --rule): "+src)
			}
		}
	case *topo == "":
		fmt.Fprintf(stderr, "explain: --topology (or --scenario) is required: one of %s\n", explain.TopologyNames())
		return exitBadInput
	default:
		mk, ok := explain.Topologies[*topo]
		if !ok {
			fmt.Fprintf(stderr, "explain: --topology %q is unknown: use one of %s\n", *topo, explain.TopologyNames())
			return exitBadInput
		}
		tp = mk()
	}
	if *requests < 0 || (*requests > 0 && !*verify) {
		fmt.Fprintf(stderr, "explain: --requests=%d: must be positive and needs --verify\n", *requests)
		return exitBadInput
	}
	if *requests > 0 {
		if err := traffic.CheckRequests(*requests); err != nil {
			fmt.Fprintf(stderr, "explain: --requests: %v\n", err)
			return exitBadInput
		}
	}
	scales, err := counts("scale", scale)
	if err != nil {
		fmt.Fprintf(stderr, "explain: %v\n", err)
		return exitBadInput
	}
	fails, err := counts("fail", fail)
	if err != nil {
		fmt.Fprintf(stderr, "explain: %v\n", err)
		return exitBadInput
	}
	if *rule != "" {
		var err error
		if dr, err = loadRule(*rule); err != nil {
			fmt.Fprintf(stderr, "explain: --rule: %v\n", err)
			return exitBadInput
		}
	}
	res, err := runExplain(ctx, explain.Input{Rule: dr, Topology: tp, Clients: clients, Verify: *verify, Requests: *requests, Seed: *seed, Scale: scales, Fail: fails})
	if err != nil {
		fmt.Fprintf(stderr, "explain: %v\n", err)
		if errors.Is(err, explain.ErrBadInput) {
			return exitBadInput
		}
		return exitFailed
	}
	res.Notes = append(notes, res.Notes...)
	res.Write(stdout)
	if !res.Agree() {
		fmt.Fprintln(stderr, "explain: prediction and traffic disagree")
		return exitDisagree
	}
	return exitOK
}

// loadRule reads a DestinationRule file, parsed strictly and validated with
// Istio's validation; a name without a path separator or .yaml that is not
// a file is looked up in manifests/destinationrules.
func loadRule(path string) (*networkingv1.DestinationRule, error) {
	data, err := boundedread.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(path, `/\`) && !strings.HasSuffix(path, ".yaml") {
			for _, n := range destinationrule.Names() {
				if n == path {
					return destinationrule.Load(n)
				}
			}
			return nil, fmt.Errorf("%s: no such file, nor a rule in manifests/destinationrules (%s)", path, strings.Join(destinationrule.Names(), ", "))
		}
		return nil, err
	}
	dr, err := destinationrule.Parse(path, data)
	if err != nil {
		return nil, err
	}
	if _, err := destinationrule.Validate(path, dr); err != nil {
		return nil, err
	}
	return dr, nil
}
