// Package fixturerun is the report's browser test fixture: a small Ginkgo
// suite on the embedded backend (real istiod, real Envoy model, real pods)
// whose ReportAfterSuite writes the report page with the real writer
// (report.FromReport, report.Write). Its second spec expects a split the
// mesh does not produce (everything in kr/a with no DestinationRule), so
// the run without a label filter is red, with real failure text,
// diagnostics and chart; with --ginkgo.label-filter='!fixture:wrong' it is
// green. framework/report's browser test builds and runs it; it lives
// under testdata so `go test ./...` does not run it by itself.
package fixturerun

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/backends"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/report"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var reportDir = flag.String("report-dir", "", "folder to write index.html into")

func TestFixtureRun(t *testing.T) {
	if *reportDir == "" {
		t.Fatal("--report-dir is required: the folder the fixture run writes its report page into")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "report fixture run")
}

func options() backends.Options {
	return backends.Options{Name: "embedded", Seed: uint64(GinkgoRandomSeed()), Log: GinkgoWriter}
}

var backend mesh.Backend

var _ = BeforeSuite(func(ctx SpecContext) {
	shared, err := backends.Prepare(ctx, options())
	Expect(err).NotTo(HaveOccurred())
	backend, err = backends.Connect(ctx, options(), shared)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { Expect(backend.Close(ctx)).To(Succeed()) })
})

var _ = Describe("Fixture: two regions, no DestinationRule", Label("locality:fixture"), Ordered, func() {
	const client = "my-shell-kr-a"
	var m mesh.Mesh
	BeforeAll(func(ctx SpecContext) {
		m = steps.Deploy(ctx, steps.DeployInput{Backend: backend, Topology: topology.TwoRegions()})
	})
	AfterEach(func(ctx SpecContext) { steps.Diagnose(ctx, m) })

	It("spreads requests evenly over the four localities", func(ctx SpecContext) {
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/a": 0.25, "kr/b": 0.25, "us/a": 0.25, "us/b": 0.25}})
	})

	It("keeps every request in kr/a (wrong on purpose: no outlier detection, so no failover priority)", Label("fixture:wrong"), func(ctx SpecContext) {
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/a": 1}})
	})
})

var _ = Describe("Fixture: pods of one locality", Label("mesh-config:fixture"), Ordered, func() {
	const client = "my-shell-kr-a"
	var m mesh.Mesh
	BeforeAll(func(ctx SpecContext) {
		m = steps.Deploy(ctx, steps.DeployInput{Backend: backend, Topology: topology.TwoRegions()})
	})
	AfterEach(func(ctx SpecContext) { steps.Diagnose(ctx, m) })

	It("spreads requests evenly over the eight pods", func(ctx SpecContext) {
		exp := split.Expected{}
		for name, loc := range steps.PodLocalities(ctx, m) {
			if loc != "" && name != client {
				exp[name] = 1.0 / 8
			}
		}
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByPod, Expected: exp})
	})
})

var _ = ReportAfterSuite("report page", func(r Report) {
	page, err := report.FromReport(r, "embedded", backends.IstioVersion(context.Background(), options()))
	Expect(err).NotTo(HaveOccurred())
	path, err := report.Write(*reportDir, page)
	Expect(err).NotTo(HaveOccurred())
	fmt.Fprintf(os.Stdout, "report page written to %s\n", path)
})
