package steps

// ExpectEndpoints inside a real Ginkgo run: a wait that fails still
// records the last table it saw as the spec's report entry (what the
// fingerprint, and so the upgrade check's diff, reads). The suite runs
// against a recording GinkgoTestingT, so its deliberate failure does not
// fail this test.

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
)

// tableMesh is a mesh.Mesh whose only method in use is Endpoints, which
// always returns the same table.
type tableMesh struct {
	mesh.Mesh
	t endpoints.Table
}

func (m tableMesh) Endpoints(context.Context, string, endpoints.View) (endpoints.Table, error) {
	return m.t, nil
}

type recordingT struct{ failed bool }

func (r *recordingT) Fail() { r.failed = true }

var specReports []types.SpecReport

var _ = Describe("ExpectEndpoints", func() {
	m := tableMesh{t: table(row("kr/b", 0, endpoints.Healthy), row("kr/a", 1, endpoints.Healthy))}

	It("records the table it waited for", func(ctx SpecContext) {
		ExpectEndpoints(ctx, EndpointsInput{Mesh: m, Client: "c", Expected: endpoints.Summary{
			"kr/b": Row(0, 0, 1), "kr/a": Row(1, 0, 1)}})
	})

	It("records the last table it saw when the wait fails", func(ctx SpecContext) {
		ExpectEndpoints(ctx, EndpointsInput{Mesh: m, Client: "c", Expected: endpoints.Summary{
			"kr/b": Row(0, 0, 1), "kr/a": Row(0, 0, 1)}})
	})

	ReportAfterEach(func(r SpecReport) { specReports = append(specReports, r) })
})

func TestExpectEndpointsRecordsTheTable(t *testing.T) {
	timeout := EndpointsTimeout
	EndpointsTimeout = 300 * time.Millisecond
	defer func() { EndpointsTimeout = timeout }()
	RegisterFailHandler(Fail)
	rt := &recordingT{}
	RunSpecs(rt, "steps")
	if !rt.failed {
		t.Error("the suite passed: the second spec's wait must fail")
	}
	if len(specReports) != 2 {
		t.Fatalf("%d spec reports, want 2", len(specReports))
	}
	for i, want := range []types.SpecState{types.SpecStatePassed, types.SpecStateFailed} {
		r := specReports[i]
		if r.State != want {
			t.Errorf("%s: state %s, want %s", r.FullText(), r.State, want)
		}
		var entries []string
		for _, e := range r.ReportEntries {
			entries = append(entries, e.Name)
		}
		if len(entries) != 1 || entries[0] != "endpoints of c (envoy view)" {
			t.Errorf("%s: report entries %q, want the one table", r.FullText(), entries)
		}
	}
}
