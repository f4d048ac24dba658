// Command fingerprint-diff compares two behaviour fingerprints written by
// the specs (reports/fingerprint.json) and prints, scenario by scenario,
// what changed: results, endpoint tables and splits, each always reported;
// split counts are compared between the runs by two-sample tests at a
// family-wise false-change rate (default 1% per diff, --alpha). Its header
// states the tests and their power at the N used. It exits 1 on a
// behavioural change, 0 when only sampling noise differs, 2 on bad usage
// or input (a file that is not a fingerprint, one with no scenarios, or one
// larger than fingerprint.MaxFileSize, a FIFO or device, or a split with
// more requests than one Send can make).
//
//	go run ./cmd/fingerprint-diff [--only-common] [--alpha=0.01] OLD.json NEW.json
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/localitylb/locality-e2e/framework/fingerprint"
)

func main() {
	onlyCommon := flag.Bool("only-common", false, "ignore scenarios that ran in only one of the two runs")
	alpha := flag.Float64("alpha", fingerprint.DefaultFamilyWiseRate, "family-wise false-change rate of the count comparisons, over all random splits (Bonferroni)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: fingerprint-diff [--only-common] [--alpha=0.01] OLD.json NEW.json\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 || !(*alpha > 0 && *alpha < 1) {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(os.Stdout, flag.Arg(0), flag.Arg(1), fingerprint.DiffOptions{OnlyCommon: *onlyCommon, FamilyWiseRate: *alpha}))
}

func run(out io.Writer, oldPath, newPath string, opts fingerprint.DiffOptions) int {
	a, err := fingerprint.Read(oldPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	b, err := fingerprint.Read(newPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Fprintf(out, "old: %s on %s (%d scenarios)\nnew: %s on %s (%d scenarios)\n",
		a.IstioVersion, a.Backend, len(a.Scenarios), b.IstioVersion, b.Backend, len(b.Scenarios))
	fmt.Fprint(out, fingerprint.Header(a, b, opts))
	changes := fingerprint.Diff(a, b, opts)
	fmt.Fprint(out, fingerprint.Format(changes))
	fmt.Fprint(out, fingerprint.FormatNotComparable(fingerprint.NotComparable(a, b, opts)))
	if len(changes) > 0 {
		return 1
	}
	return 0
}
