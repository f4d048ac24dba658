// Package specs encodes every scenario of docs/locality-behavior.md as
// executable expectations. Run with `ginkgo ./specs` (embedded backend) or
// `ginkgo ./specs -- --backend=kind`.
package specs

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/backends"
	"github.com/localitylb/locality-e2e/framework/fingerprint"
	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/report"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
)

var (
	backendName = flag.String("backend", envOr("LOCALITY_E2E_BACKEND", "embedded"),
		"backend to run the specs on: embedded (in-process istiod, no Docker) or kind (env LOCALITY_E2E_BACKEND)")
	reportDir = flag.String("report-dir", os.Getenv("LOCALITY_E2E_REPORT_DIR"),
		"folder to write the behaviour fingerprint (fingerprint.json) into; empty: none (env LOCALITY_E2E_REPORT_DIR)")
	goldenPath = flag.String("golden", "../fixtures/fingerprints/embedded.json",
		"embedded: fingerprint the run must match (behavioural changes fail the suite); empty: no check")
	updateGolden = flag.Bool("update-golden", false, "embedded: rewrite the --golden file from this run (make golden)")
	istioLogs    = flag.Bool("istio-logs", os.Getenv("LOCALITY_E2E_ISTIO_LOGS") != "",
		"embedded: keep istiod's own logging (env LOCALITY_E2E_ISTIO_LOGS)")
	endpointsTimeout = flag.Duration("endpoints-timeout", steps.EndpointsTimeout,
		"bound of every endpoint table wait (steps.ExpectEndpoints); the embedded upgrade check shortens it, since a wait that fails there is a changed table")
	workloadImage = flag.String("workload-image", "",
		"kind: image of the workload pods: workload (built from cmd/workload and loaded into the nodes; the default), "+
			"helloworld (the seed's image: ~0.1 s CPU per request, cannot answer 5xx) or a pushed cmd/workload image "+
			"(env "+kind.EnvWorkloadImage+")")
	minRequests = flag.String("min-requests", os.Getenv("LOCALITY_E2E_MIN_REQUESTS"),
		"send at least this many requests in every split (more power, e.g. for an upgrade check); empty or 0: each split's own N (env LOCALITY_E2E_MIN_REQUESTS)")
)

// goldenFalseChangeRate is the golden check's share of the run's
// false-failure budget: 0.03%, next to the 0.068% the specs' own split
// assertions spend (TestSuiteFalseFailureRate), within the 0.1% of
// split.RunFalseFailureBudget.
const goldenFalseChangeRate = split.RunFalseFailureBudget * 0.3

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func TestSpecs(t *testing.T) {
	if err := checkReportDir(*reportDir); err != nil {
		t.Fatal(err)
	}
	n, err := steps.ParseMinRequests(*minRequests)
	if err != nil {
		t.Fatal("--min-requests (or LOCALITY_E2E_MIN_REQUESTS): ", err)
	}
	steps.MinRequests = n
	if *endpointsTimeout <= 0 {
		t.Fatalf("--endpoints-timeout=%s: a positive duration, e.g. 60s", *endpointsTimeout)
	}
	steps.EndpointsTimeout = *endpointsTimeout
	RegisterFailHandler(Fail)
	RunSpecs(t, "locality-e2e")
}

// backend is this process's connection to the backend chosen by --backend.
var backend mesh.Backend

func options() backends.Options {
	if *workloadImage != "" {
		// The kind backend reads its configuration from the environment.
		_ = os.Setenv(kind.EnvWorkloadImage, *workloadImage)
	}
	return backends.Options{
		Name:      *backendName,
		Seed:      uint64(GinkgoRandomSeed()),
		IstioLogs: *istioLogs,
		Log:       GinkgoWriter,
	}
}

// The first process prepares what is shared (a kind cluster with Istio);
// every process then connects to it. Embedded needs nothing shared.
var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	shared, err := backends.Prepare(ctx, options())
	Expect(err).NotTo(HaveOccurred())
	return shared
}, func(ctx SpecContext, shared []byte) {
	var err error
	backend, err = backends.Connect(ctx, options(), shared)
	Expect(err).NotTo(HaveOccurred())
})

var _ = SynchronizedAfterSuite(func(ctx SpecContext) {
	if backend != nil {
		Expect(backend.Close(ctx)).To(Succeed())
	}
}, func(ctx SpecContext) {
	Expect(backends.Teardown(ctx, options())).To(Succeed())
})

// The summary table (scenario → result → split) and the behaviour
// fingerprint are written from the whole suite's report.
var _ = ReportAfterSuite("summary", func(r Report) {
	fp, err := fingerprint.FromReport(r, *backendName, backends.IstioVersion(context.Background(), options()))
	Expect(err).NotTo(HaveOccurred())
	fingerprint.PrintSummary(os.Stdout, fp)
	if *reportDir != "" {
		path, err := fingerprint.Write(*reportDir, fp)
		Expect(err).NotTo(HaveOccurred())
		fmt.Fprintf(os.Stdout, "fingerprint written to %s\n", path)
		page, err := report.FromReport(r, fp.Backend, fp.IstioVersion)
		Expect(err).NotTo(HaveOccurred())
		path, err = report.Write(*reportDir, page)
		Expect(err).NotTo(HaveOccurred())
		fmt.Fprintf(os.Stdout, "report page written to %s (open it in a browser)\n", path)
	}
	if *backendName != "embedded" || *goldenPath == "" {
		return
	}
	if *updateGolden {
		Expect(canUpdateGolden(r, fp)).To(Succeed())
		Expect(fingerprint.WriteFile(*goldenPath, fp)).To(Succeed())
		fmt.Fprintf(os.Stdout, "golden fingerprint %s updated: review it with git diff\n", *goldenPath)
		return
	}
	if why := interruption(r); why != "" {
		fmt.Fprintf(os.Stdout, "run interrupted (%s): not compared with the golden fingerprint\n", why)
		return
	}
	golden, err := fingerprint.Read(*goldenPath)
	Expect(err).NotTo(HaveOccurred(), "read the golden fingerprint (make golden writes it)")
	Expect(checkGolden(*goldenPath, golden)).To(Succeed())
	// Only scenarios that ran are compared, so label filters still work.
	// The golden check runs on every commit, so its false-change rate comes
	// out of the run's false-failure budget (split.RunFalseFailureBudget,
	// 0.1%: the specs' own assertions spend 0.068%, TestSuiteFalseFailureRate),
	// not the 1% of a one-off upgrade diff.
	changes := fingerprint.Diff(golden, fp, fingerprint.DiffOptions{OnlyCommon: true, FamilyWiseRate: goldenFalseChangeRate})
	Expect(changes).To(BeEmpty(), "the pinned istio.io/istio behaves differently from %s:\n%s\nIf this is expected, run make golden and review the diff.",
		*goldenPath, fingerprint.Format(changes))
})
