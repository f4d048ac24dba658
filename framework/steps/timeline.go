package steps

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/mesh"
)

// DefaultSteadyBatch is the size of each batch of steady traffic: small,
// so each batch shows the state of one moment (a batch picks from the
// sidecar's hosts as they are while it runs; on kind a 20-request curl
// exec takes ~0.2–0.3 s).
const DefaultSteadyBatch = 20

// TimelineSlot is one batch of steady traffic.
type TimelineSlot struct {
	Index   int
	Elapsed time.Duration // wall time from the start of the traffic to the batch's end
	Phase   string        // the phase when the batch started
	// ByLocality counts the 200 OK responses by the serving pod's locality.
	ByLocality map[string]int
	// Errors counts every other response, by class (traffic.Class*).
	Errors map[string]int
	Total  int
}

// ErrorCount is the number of responses other than 200 OK.
func (s TimelineSlot) ErrorCount() int {
	n := 0
	for _, c := range s.Errors {
		n += c
	}
	return n
}

// Timeline is the record of steady traffic from one client.
type Timeline struct {
	Client string
	Batch  int
	Slots  []TimelineSlot
}

// Phases lists the phases in the order they started.
func (t Timeline) Phases() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range t.Slots {
		if !seen[s.Phase] {
			seen[s.Phase] = true
			out = append(out, s.Phase)
		}
	}
	return out
}

// String renders the timeline: one line per batch (elapsed time, phase,
// OK responses per locality, errors per class), then a total per phase.
func (t Timeline) String() string {
	locs := map[string]bool{}
	for _, s := range t.Slots {
		for l := range s.ByLocality {
			locs[l] = true
		}
	}
	cols := make([]string, 0, len(locs))
	for l := range locs {
		cols = append(cols, l)
	}
	sort.Strings(cols)
	var b strings.Builder
	fmt.Fprintf(&b, "steady traffic from %s, batches of %d\n", t.Client, t.Batch)
	fmt.Fprintf(&b, "%-5s %-9s %-28s", "batch", "elapsed", "phase")
	for _, l := range cols {
		fmt.Fprintf(&b, " %7s", l)
	}
	b.WriteString("  errors\n")
	line := func(idx, elapsed, phase string, by map[string]int, errs map[string]int) {
		fmt.Fprintf(&b, "%-5s %-9s %-28s", idx, elapsed, phase)
		for _, l := range cols {
			fmt.Fprintf(&b, " %7d", by[l])
		}
		b.WriteString("  " + classCounts(errs) + "\n")
	}
	for _, s := range t.Slots {
		line(fmt.Sprint(s.Index), s.Elapsed.Round(time.Millisecond).String(), s.Phase, s.ByLocality, s.Errors)
	}
	for _, p := range t.Phases() {
		by, errs := map[string]int{}, map[string]int{}
		for _, s := range t.Slots {
			if s.Phase != p {
				continue
			}
			for l, c := range s.ByLocality {
				by[l] += c
			}
			for k, c := range s.Errors {
				errs[k] += c
			}
		}
		line("Σ", "", p, by, errs)
	}
	return b.String()
}

func classCounts(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// TimelineInvariants are what steady traffic must show in the given phases
// (every phase when Phases is empty).
type TimelineInvariants struct {
	Phases []string
	// Stay: every OK response comes from one of these localities (the
	// client's own, while it has healthy pods).
	Stay []string
	// MaxErrorFraction bounds the share of non-OK responses over the
	// phases' requests (0: none at all).
	MaxErrorFraction float64
	// MinBatches: at least this many batches ran in each phase, so the
	// traffic did flow during the change.
	MinBatches int
}

// Violations lists every breach of the invariants, empty if none.
func (t Timeline) Violations(inv TimelineInvariants) []string {
	in := map[string]bool{}
	for _, p := range inv.Phases {
		in[p] = true
	}
	stay := map[string]bool{}
	for _, l := range inv.Stay {
		stay[l] = true
	}
	var out []string
	batches := map[string]int{}
	total, errs := 0, 0
	for _, s := range t.Slots {
		if len(in) > 0 && !in[s.Phase] {
			continue
		}
		batches[s.Phase]++
		total += s.Total
		errs += s.ErrorCount()
		if len(stay) == 0 {
			continue
		}
		var left []string
		for l, c := range s.ByLocality {
			if !stay[l] && c > 0 {
				left = append(left, fmt.Sprintf("%s %d", l, c))
			}
		}
		if len(left) > 0 {
			sort.Strings(left)
			out = append(out, fmt.Sprintf("batch %d (%s, %v): %s left %s", s.Index, s.Phase, s.Elapsed.Round(time.Millisecond), strings.Join(left, ", "), strings.Join(inv.Stay, "/")))
		}
	}
	phases := inv.Phases
	if len(phases) == 0 {
		phases = t.Phases()
	}
	for _, p := range phases {
		if batches[p] < inv.MinBatches {
			out = append(out, fmt.Sprintf("phase %q: %d batches, want at least %d (traffic did not flow during it)", p, batches[p], inv.MinBatches))
		}
	}
	if total > 0 && float64(errs) > inv.MaxErrorFraction*float64(total) {
		out = append(out, fmt.Sprintf("%d errors in %d requests (%.2f%%), bound %.2f%%", errs, total, 100*float64(errs)/float64(total), 100*inv.MaxErrorFraction))
	}
	return out
}

// SteadyTraffic sends batches from one client back to back, in the
// background, until Stop. Each batch is one slot of the Timeline, labelled
// with the phase current when it started (Phase).
type SteadyTraffic struct {
	m      mesh.Mesh
	client string
	batch  int
	start  time.Time
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	cond    *sync.Cond
	phase   string
	slots   []TimelineSlot
	byPhase map[string]int
	err     error
	podLoc  map[string]string // every pod seen, never forgotten: replaced pods still name their locality
}

// StartSteadyTraffic starts steady traffic from client in phase (batches
// of batch requests; DefaultSteadyBatch if 0). Stop it with Stop.
func StartSteadyTraffic(ctx context.Context, m mesh.Mesh, client string, batch int, phase string) *SteadyTraffic {
	if batch <= 0 {
		batch = DefaultSteadyBatch
	}
	By(fmt.Sprintf("starting steady traffic from %s (batches of %d), phase %q", client, batch, phase))
	ctx, cancel := context.WithCancel(ctx)
	s := &SteadyTraffic{m: m, client: client, batch: batch, start: time.Now(), cancel: cancel,
		done: make(chan struct{}), phase: phase, byPhase: map[string]int{}, podLoc: map[string]string{}}
	s.cond = sync.NewCond(&s.mu)
	s.refreshPods(ctx)
	go s.run(ctx)
	return s
}

func (s *SteadyTraffic) refreshPods(ctx context.Context) {
	pods, err := s.m.Pods(ctx)
	if err != nil {
		return // the next refresh may work; unknown pods are reported as such
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range pods {
		s.podLoc[p.Name] = p.Locality
	}
}

func (s *SteadyTraffic) run(ctx context.Context) {
	defer close(s.done)
	for i := 0; ctx.Err() == nil; i++ {
		s.mu.Lock()
		phase := s.phase
		s.mu.Unlock()
		b, err := s.m.Send(ctx, s.client, s.batch)
		if ctx.Err() != nil {
			return // stopped: a cut-short batch is not recorded
		}
		s.refreshPods(ctx)
		s.mu.Lock()
		if err != nil {
			s.err = fmt.Errorf("batch %d (%s): %w", i, phase, err)
			s.cond.Broadcast()
			s.mu.Unlock()
			return
		}
		slot := TimelineSlot{Index: i, Elapsed: time.Since(s.start), Phase: phase,
			ByLocality: map[string]int{}, Errors: map[string]int{}, Total: b.Len()}
		d := b.ByLocality(s.podLoc)
		isLoc := map[string]bool{}
		for _, l := range s.podLoc {
			isLoc[l] = true
		}
		for _, k := range d.Buckets() {
			if isLoc[k] {
				slot.ByLocality[k] = d.Count(k)
			} else {
				slot.Errors[k] = d.Count(k)
			}
		}
		s.slots = append(s.slots, slot)
		s.byPhase[phase]++
		s.cond.Broadcast()
		s.mu.Unlock()
	}
}

// Phase labels the batches that start from now on.
func (s *SteadyTraffic) Phase(name string) {
	By(fmt.Sprintf("steady traffic: phase %q", name))
	s.mu.Lock()
	s.phase = name
	s.mu.Unlock()
}

// AwaitBatches blocks until n batches have completed in the current phase
// (or the traffic failed), so a phase is known to have seen traffic.
func (s *SteadyTraffic) AwaitBatches(ctx context.Context, n int) {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.byPhase[s.phase] < n && s.err == nil && ctx.Err() == nil {
		s.cond.Wait()
	}
	Expect(s.err).NotTo(HaveOccurred(), "steady traffic from %s", s.client)
	Expect(ctx.Err()).NotTo(HaveOccurred(), "waiting for %d batches in phase %q", n, s.phase)
}

// Stop ends the traffic (the batch in flight is cut short and dropped),
// adds the timeline to the report and returns it. A failed Send fails the
// spec.
func (s *SteadyTraffic) Stop() Timeline {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	t := Timeline{Client: s.client, Batch: s.batch, Slots: append([]TimelineSlot(nil), s.slots...)}
	AddReportEntry("timeline of steady traffic from "+s.client, t.String())
	Expect(s.err).NotTo(HaveOccurred(), "steady traffic from %s", s.client)
	return t
}

// ExpectTimeline asserts the invariants on the timeline, printing it with
// every violation.
func ExpectTimeline(t Timeline, inv TimelineInvariants) {
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
