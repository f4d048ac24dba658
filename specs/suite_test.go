// Package specs encodes every scenario of the reference document as
// executable expectations. Run with `ginkgo ./specs` (embedded backend) or
// `ginkgo ./specs -- --backend=kind`.
package specs

import (
	"flag"
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/backends"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/report"
)

var (
	backendName = flag.String("backend", envOr("LOCALITY_E2E_BACKEND", "embedded"),
		"backend to run the specs on: embedded (in-process istiod, no Docker) or kind (env LOCALITY_E2E_BACKEND)")
	istioLogs = flag.Bool("istio-logs", os.Getenv("LOCALITY_E2E_ISTIO_LOGS") != "",
		"embedded: keep istiod's own logging (env LOCALITY_E2E_ISTIO_LOGS)")
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func TestSpecs(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "locality-e2e")
}

// backend is this process's connection to the backend chosen by --backend.
var backend mesh.Backend

func options() backends.Options {
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
	report.PrintSummary(os.Stdout, r)
})
