// Command fingerprint-diff compares two behaviour fingerprints written by
// the specs (reports/fingerprint.json) and prints, scenario by scenario,
// what changed. It exits 1 on a behavioural change, 0 when only sampling
// noise differs, 2 on bad usage.
//
//	go run ./cmd/fingerprint-diff [--only-common] OLD.json NEW.json
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/localitylb/locality-e2e/framework/fingerprint"
)

func main() {
	onlyCommon := flag.Bool("only-common", false, "ignore scenarios that ran in only one of the two runs")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: fingerprint-diff [--only-common] OLD.json NEW.json\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(flag.Arg(0), flag.Arg(1), *onlyCommon))
}

func run(oldPath, newPath string, onlyCommon bool) int {
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
	fmt.Printf("old: %s on %s (%d scenarios)\nnew: %s on %s (%d scenarios)\n",
		a.IstioVersion, a.Backend, len(a.Scenarios), b.IstioVersion, b.Backend, len(b.Scenarios))
	changes := fingerprint.Diff(a, b, fingerprint.DiffOptions{OnlyCommon: onlyCommon})
	fmt.Print(fingerprint.Format(changes))
	if len(changes) > 0 {
		return 1
	}
	return 0
}
