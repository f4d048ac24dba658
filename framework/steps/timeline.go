package steps

import (
	"context"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/timeline"
)

// SteadyTraffic is steady traffic from one client while the mesh changes
// (framework/timeline), narrated with By and reported with AddReportEntry.
type SteadyTraffic struct {
	r      *timeline.Recorder
	client string
}

// StartSteadyTraffic starts steady traffic from client in phase (batches
// of batch requests; timeline.DefaultBatch if 0). Stop it with Stop.
func StartSteadyTraffic(ctx context.Context, m mesh.Mesh, client string, batch int, phase string) *SteadyTraffic {
	if batch <= 0 {
		batch = timeline.DefaultBatch
	}
	By(fmt.Sprintf("starting steady traffic from %s (batches of %d), phase %q", client, batch, phase))
	return &SteadyTraffic{r: timeline.Start(ctx, m, client, phase, timeline.Options{Batch: batch}), client: client}
}

// Phase labels the batches that start from now on.
func (s *SteadyTraffic) Phase(name string) {
	By(fmt.Sprintf("steady traffic: phase %q", name))
	s.r.Phase(name)
}

// AwaitBatches blocks until n batches have completed in the current phase,
// so a phase is known to have seen traffic.
func (s *SteadyTraffic) AwaitBatches(ctx context.Context, n int) {
	Expect(s.r.AwaitBatches(ctx, n)).To(Succeed(), "steady traffic from %s", s.client)
}

// Stop ends the traffic, adds the timeline to the report and returns it. A
// failed batch fails the spec.
func (s *SteadyTraffic) Stop() timeline.Timeline {
	t, err := s.r.Stop()
	AddReportEntry("timeline of steady traffic from "+s.client, t.String())
	Expect(err).NotTo(HaveOccurred(), "steady traffic from %s", s.client)
	return t
}

// ExpectTimeline asserts the invariants on the timeline, printing it with
// every violation.
func ExpectTimeline(t timeline.Timeline, inv timeline.Invariants) {
	By(fmt.Sprintf("checking the timeline: phases %v stay in %v, errors ≤ %.2f%%, ≥ %d batches each", inv.Phases, inv.Stay, 100*inv.MaxErrorFraction, inv.MinBatches))
	if v := t.Violations(inv); len(v) > 0 {
		Fail(fmt.Sprintf("steady traffic broke its invariants:\n  %s\n%s", strings.Join(v, "\n  "), t))
	}
}

// RestartWorkload replaces a workload's pods one by one (a rolling
// restart) and waits until every pod is new and ready.
func RestartWorkload(ctx context.Context, m mesh.Mesh, workload string) {
	By(fmt.Sprintf("restarting %s: its pods replaced one by one", workload))
	Expect(m.RestartWorkload(ctx, workload)).To(Succeed())
}
