package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/kind/multicluster"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// kindPlanCmd prints, without running anything, every step the
// multi-cluster kind setup would run for the suite's topologies: the
// setup LOCALITY_E2E_KIND_MULTICLUSTER selects (a topology name; 1 or
// unset: the first multi-cluster topology). Addresses that exist only once
// the clusters do are shown as <placeholders>.
func kindPlanCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kind-plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	cfg, err := kind.ConfigFromEnv()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitBadInput
	}
	want, err := multicluster.Selection()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitBadInput
	}
	topos := cfg.Topologies
	if len(topos) == 0 {
		topos = kind.SuiteTopologies()
	}
	topos, skipped, err := multicluster.Select(topos, want)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitBadInput
	}
	in, err := multicluster.Input(cfg, multicluster.OptionsFromEnv(), topos)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitBadInput
	}
	steps, err := multicluster.Plan(in)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitBadInput
	}
	fmt.Fprintf(stdout, "# multi-cluster kind setup for %v (%s=%q); not served by it: %v\n", names(topos), kind.EnvKindMultiCluster, want, skipped)
	fmt.Fprint(stdout, multicluster.FormatPlan(steps))
	return exitOK
}

func names(topos []topology.Topology) []string {
	out := make([]string, 0, len(topos))
	for _, t := range topos {
		out = append(out, t.Name)
	}
	return out
}
