package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/backends"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/scenario"
)

// failT is the testing.T stand-in Ginkgo reports an overall failure to.
type failT struct{ failed bool }

func (t *failT) Fail() { t.failed = true }

// runCmd runs scenario files (framework/scenario) under Ginkgo, one
// Ordered container per file, as `ginkgo ./specs -- --scenarios=DIR` does.
// Ginkgo runs once per process, so run takes every file at once.
func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	backendName := fs.String("backend", "embedded", "backend: embedded (in-process istiod, no Docker) or kind")
	labelFilter := fs.String("label-filter", "", "Ginkgo label filter (e.g. locality:failover)")
	focus := fs.String("focus", "", "run only specs whose text matches this regular expression")
	verbose := fs.Bool("v", false, "verbose Ginkgo output (steps, endpoint tables, splits)")
	seed := fs.Int64("seed", 1, "random seed (pod names, load balancer choices)")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	// Ginkgo compiles the filters only inside RunSpecs, where a bad regexp
	// panics and a bad label filter fails the suite (exit 1, "a spec
	// failed"): check them here, as bad input.
	if _, err := regexp.Compile(*focus); err != nil {
		fmt.Fprintf(stderr, "run: --focus %q is not a regular expression: %v: escape ( ) [ ] . * + ? with \\ or fix the expression\n", *focus, err)
		return exitBadInput
	}
	if _, err := types.ParseLabelFilter(*labelFilter); err != nil {
		msg := err.Error()
		var ge types.GinkgoError
		if errors.As(err, &ge) {
			// The last line of Message says what is wrong; Error() and the
			// lines above carry terminal colour markup around the position.
			lines := strings.Split(strings.TrimSpace(ge.Message), "\n")
			msg = strings.TrimSpace(lines[len(lines)-1])
		}
		fmt.Fprintf(stderr, "run: --label-filter %q is not a Ginkgo label filter: %s: combine labels with &&, ||, ! and parentheses, e.g. 'locality:failover && !multicluster'\n", *labelFilter, msg)
		return exitBadInput
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "run: name at least one scenario file or folder (e.g. locality-e2e run scenarios/)")
		return exitBadInput
	}
	var all []*scenario.Scenario
	for _, p := range fs.Args() {
		st, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(stderr, "run: %v\n", err)
			return exitBadInput
		}
		if st.IsDir() {
			ss, err := scenario.LoadDir(p)
			if err != nil {
				fmt.Fprintf(stderr, "run: %v\n", err)
				return exitBadInput
			}
			all = append(all, ss...)
			continue
		}
		s, err := scenario.Load(p)
		if err != nil {
			fmt.Fprintf(stderr, "run: %v\n", err)
			return exitBadInput
		}
		all = append(all, s)
	}
	opts := backends.Options{Name: *backendName, Seed: uint64(*seed), Log: ginkgo.GinkgoWriter}
	if !slices.Contains(backends.Names, *backendName) {
		fmt.Fprintf(stderr, "run: --backend %q is unknown: use %s\n", *backendName, strings.Join(backends.Names, " or "))
		return exitBadInput
	}
	var backend mesh.Backend
	ginkgo.BeforeSuite(func(ctx ginkgo.SpecContext) {
		shared, err := backends.Prepare(ctx, opts)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		backend, err = backends.Connect(ctx, opts, shared)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
	})
	ginkgo.AfterSuite(func(ctx ginkgo.SpecContext) {
		if backend != nil {
			gomega.Expect(backend.Close(ctx)).To(gomega.Succeed())
		}
		gomega.Expect(backends.Teardown(ctx, opts)).To(gomega.Succeed())
	})
	for _, s := range all {
		scenario.Register(s, func() mesh.Backend { return backend })
	}
	suite, reporter := ginkgo.GinkgoConfiguration()
	suite.LabelFilter = *labelFilter
	if *focus != "" {
		suite.FocusStrings = []string{*focus}
	}
	suite.RandomSeed = *seed
	reporter.Verbose = *verbose
	if st, err := os.Stdout.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		reporter.NoColor = true // not a terminal
	}
	gomega.RegisterFailHandler(ginkgo.Fail)
	t := &failT{}
	if !ginkgo.RunSpecs(t, "locality-e2e run", suite, reporter) || t.failed {
		return exitDisagree
	}
	return exitOK
}
