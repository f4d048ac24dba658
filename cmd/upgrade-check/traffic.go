package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/report"
	"github.com/localitylb/locality-e2e/framework/timeline"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// The scenario kept alive across the upgrade: three zones of kr, the
// client netshoot-b in kr/b, the failover rule (locality failover with
// outlier detection). kr/b keeps healthy pods throughout (its Deployment
// is restarted one pod at a time), so no request may leave kr/b.
const (
	trafficClient   = "netshoot-b"
	trafficRule     = "failover"
	trafficLocality = "kr/b"
	// TrafficMaxErrorFraction bounds the errors of the steady traffic
	// across the upgrade: a restarted pod keeps serving (preStop sleep,
	// then cmd/workload's drain) while its endpoint leaves every sidecar,
	// and Istio's default retries cover connect failures, so none are
	// expected; the bound allows one in 1000.
	TrafficMaxErrorFraction = 0.001
	// TimelineFile is the timeline's file in the report directory.
	TimelineFile = "timeline.txt"
)

// Phases of the steady traffic, one per step of the upgrade.
const (
	PhaseBefore   = "before upgrade"
	PhaseIstiod   = "istiod upgrade"
	PhaseRelabel  = "namespaces relabelled"
	PhaseSidecars = "sidecars restarted"
	PhaseAfter    = "after upgrade"
)

// steadyTraffic is the steady traffic of a running check.
type steadyTraffic struct {
	rec   *timeline.Recorder
	close func(ctx context.Context) error
}

// startTrafficKind deploys the scenario on the check's cluster through the
// kind backend (its environment, the cluster of Options) and starts steady
// traffic from the client; each slot notes the istiod and proxy versions
// that ran (kind.VersionsNote).
func startTrafficKind(ctx context.Context, o Options, kube kubernetes.Interface, log io.Writer) (*steadyTraffic, error) {
	cfg, err := kind.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	cfg.IstioVersion, cfg.IstioctlPath, cfg.ClusterName, cfg.Revision = o.From, o.IstioctlFrom, o.ClusterName, ""
	s := &kind.Setup{Kubeconfig: o.kubeconfig(), IstioVersion: o.From}
	if o.Kubeconfig == "" {
		s.ClusterName = o.ClusterName
	}
	b, err := kind.Connect(ctx, cfg, s, log)
	if err != nil {
		return nil, err
	}
	m, err := b.Deploy(ctx, topology.ThreeZones())
	if err != nil {
		return nil, err
	}
	dr, err := destinationrule.Load(trafficRule)
	if err == nil {
		topo := m.Topology()
		err = m.ApplyDestinationRule(ctx, destinationrule.ForTopology(dr, topo.Host(), topo.Namespace))
	}
	if err != nil {
		_ = m.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	ns := m.Topology().Namespace
	note := func(ctx context.Context) string { return kind.VersionsNote(ctx, kube, ns, trafficClient) }
	return &steadyTraffic{
		rec:   timeline.Start(ctx, m, trafficClient, PhaseBefore, timeline.Options{Note: note}),
		close: m.Close,
	}, nil
}

// trafficInvariants are what the timeline must show.
func trafficInvariants() timeline.Invariants {
	return timeline.Invariants{Stay: []string{trafficLocality}, MaxErrorFraction: TrafficMaxErrorFraction}
}

// finishTraffic stops the traffic, removes the scenario, prints the
// timeline, writes it into dir, and returns the invariants' violations.
func finishTraffic(ctx context.Context, t *steadyTraffic, dir string, out io.Writer) (timeline.Timeline, []string, error) {
	tl, err := t.rec.Stop()
	cerr := t.close(context.WithoutCancel(ctx))
	var violations []string
	if err != nil {
		violations = append(violations, "the steady traffic stopped: "+err.Error())
	}
	violations = append(violations, tl.Violations(trafficInvariants())...)
	// The traffic flowed before and after the upgrade (the phases in
	// between may be too short for a batch to start in them).
	violations = append(violations, tl.Violations(timeline.Invariants{Phases: []string{PhaseBefore, PhaseAfter}, MinBatches: 1, MaxErrorFraction: 1})...)
	text := tl.String()
	if len(violations) > 0 {
		text += "violations:\n  " + strings.Join(violations, "\n  ") + "\n"
	} else {
		text += fmt.Sprintf("no request left %s, errors ≤ %.1f‰ of requests, traffic before and after the upgrade\n", trafficLocality, 1000*TrafficMaxErrorFraction)
	}
	fmt.Fprint(out, text)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return tl, violations, err
	}
	if err := os.WriteFile(filepath.Join(dir, TimelineFile), []byte(text), 0o644); err != nil {
		return tl, violations, err
	}
	if cerr != nil {
		fmt.Fprintf(out, "upgrade: removing the traffic scenario: %v\n", cerr)
	}
	return tl, violations, nil
}

var _ timeline.Sender = mesh.Mesh(nil)

// pageTimeline is the steady traffic as the upgrade page's chart: 200 OK
// responses per batch by serving locality, errors per batch, and an event
// where each phase began.
func pageTimeline(tl timeline.Timeline) *report.Timeline {
	if len(tl.Slots) == 0 {
		return nil
	}
	out := &report.Timeline{
		Title:  fmt.Sprintf("steady traffic from %s during the upgrade", tl.Client),
		YLabel: fmt.Sprintf("responses per batch of %d", tl.Batch),
	}
	series := map[string]*report.Series{}
	var order []string
	add := func(name string, at time.Duration, v float64) {
		s, ok := series[name]
		if !ok {
			s = &report.Series{Name: name}
			series[name] = s
			order = append(order, name)
		}
		s.Points = append(s.Points, report.TimePoint{At: at, Value: v})
	}
	var locs []string
	seen := map[string]bool{}
	for _, sl := range tl.Slots {
		for l := range sl.ByLocality {
			if !seen[l] {
				seen[l] = true
				locs = append(locs, l)
			}
		}
	}
	sort.Strings(locs)
	phase := ""
	for _, sl := range tl.Slots {
		for _, l := range locs {
			add("200 OK from "+l, sl.Elapsed, float64(sl.ByLocality[l]))
		}
		add("errors", sl.Elapsed, float64(sl.ErrorCount()))
		if sl.Phase != phase {
			phase = sl.Phase
			out.Events = append(out.Events, report.Event{At: sl.Elapsed, Label: phase})
		}
	}
	for _, name := range order {
		out.Series = append(out.Series, *series[name])
	}
	return out
}
