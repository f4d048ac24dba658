// Package timeline records steady traffic from one client while a mesh
// changes (a DestinationRule replaced, pods restarted, istiod and the
// sidecars upgraded): batches back to back, each one slot of a timeline
// (OK responses by the serving pod's locality, errors by class, the phase
// of the change), and checks invariants on it. It is backend-neutral and
// free of Ginkgo: the specs use it through framework/steps, the upgrade
// check directly.
package timeline

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// DefaultBatch is the size of each batch of steady traffic: small,
// so each batch shows the state of one moment (a batch picks from the
// sidecar's hosts as they are while it runs; on kind a 20-request curl
// exec takes ~0.2–0.3 s).
const DefaultBatch = 20

// Slot is one batch of steady traffic.
type Slot struct {
	Index   int
	Elapsed time.Duration // wall time from the start of the traffic to the batch's end
	Phase   string        // the phase when the batch started
	Note    string        // Options.Note at the batch's end, if set
	// ByLocality counts the 200 OK responses by the serving pod's locality.
	ByLocality map[string]int
	// Errors counts every other response, by class (traffic.Class*).
	Errors map[string]int
	Total  int
}

// ErrorCount is the number of responses other than 200 OK.
func (s Slot) ErrorCount() int {
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
	Slots  []Slot
	// Dropped counts the answered requests of the batch that Stop cut
	// short: it is no slot (a batch that did not run to its end shows no
	// moment), and its request in flight was no upstream result (Send
	// counts it nowhere, nor does the sidecar's outlier detection).
	Dropped int
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
		b.WriteString("  " + classCounts(errs))
	}
	for _, s := range t.Slots {
		line(fmt.Sprint(s.Index), s.Elapsed.Round(time.Millisecond).String(), s.Phase, s.ByLocality, s.Errors)
		if s.Note != "" {
			b.WriteString("  " + s.Note)
		}
		b.WriteString("\n")
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
		b.WriteString("\n")
	}
	if t.Dropped > 0 {
		fmt.Fprintf(&b, "stopped mid-batch: %d answered requests of the last batch left out\n", t.Dropped)
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

// Invariants are what steady traffic must show in the given phases
// (every phase when Phases is empty).
type Invariants struct {
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
func (t Timeline) Violations(inv Invariants) []string {
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

// Sender is what the recorder needs from a mesh (mesh.Mesh has both).
type Sender interface {
	Send(ctx context.Context, client string, n int) (traffic.Batch, error)
	Pods(ctx context.Context) ([]mesh.Pod, error)
}

// Recorder sends batches from one client back to back, in the background,
// until Stop. Each batch is one Slot of the Timeline, labelled with the
// phase current when it started (Phase) and, if Note is set, with what
// Note says at the batch's end (e.g. which istiod and sidecar versions
// served).
type Recorder struct {
	m      Sender
	client string
	batch  int
	note   func(context.Context) string
	start  time.Time
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	cond    *sync.Cond
	phase   string
	slots   []Slot
	byPhase map[string]int
	err     error
	dropped int               // answered requests of the batch Stop cut short
	podLoc  map[string]string // every pod seen, never forgotten: replaced pods still name their locality
}

// Options tune a Recorder.
type Options struct {
	Batch int                              // requests per batch; DefaultBatch if 0
	Note  func(ctx context.Context) string // optional note per slot
}

// Start starts steady traffic from client in phase.
func Start(ctx context.Context, m Sender, client, phase string, o Options) *Recorder {
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Recorder{m: m, client: client, batch: o.Batch, note: o.Note, start: time.Now(), cancel: cancel,
		done: make(chan struct{}), phase: phase, byPhase: map[string]int{}, podLoc: map[string]string{}}
	r.cond = sync.NewCond(&r.mu)
	r.refreshPods(ctx)
	go r.run(ctx)
	return r
}

func (r *Recorder) refreshPods(ctx context.Context) {
	pods, err := r.m.Pods(ctx)
	if err != nil {
		return // the next refresh may work; unknown pods are reported as such
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range pods {
		r.podLoc[p.Name] = p.Locality
	}
}

func (r *Recorder) run(ctx context.Context) {
	defer close(r.done)
	for i := 0; ctx.Err() == nil; i++ {
		r.mu.Lock()
		phase := r.phase
		r.mu.Unlock()
		b, err := r.m.Send(ctx, r.client, r.batch)
		if ctx.Err() != nil {
			// Stopped: the batch was cut short; it is not a slot.
			r.mu.Lock()
			r.dropped = b.Len()
			r.mu.Unlock()
			return
		}
		r.refreshPods(ctx)
		note := ""
		if r.note != nil && err == nil {
			note = r.note(ctx)
		}
		r.mu.Lock()
		if err != nil {
			r.err = fmt.Errorf("batch %d (%s): %w", i, phase, err)
			r.cond.Broadcast()
			r.mu.Unlock()
			return
		}
		slot := Slot{Index: i, Elapsed: time.Since(r.start), Phase: phase, Note: note,
			ByLocality: map[string]int{}, Errors: map[string]int{}, Total: b.Len()}
		d := b.ByLocality(r.podLoc)
		isLoc := map[string]bool{}
		for _, l := range r.podLoc {
			isLoc[l] = true
		}
		for _, k := range d.Buckets() {
			if isLoc[k] {
				slot.ByLocality[k] = d.Count(k)
			} else {
				slot.Errors[k] = d.Count(k)
			}
		}
		r.slots = append(r.slots, slot)
		r.byPhase[phase]++
		r.cond.Broadcast()
		r.mu.Unlock()
	}
}

// Phase labels the batches that start from now on.
func (r *Recorder) Phase(name string) {
	r.mu.Lock()
	r.phase = name
	r.mu.Unlock()
}

// Current is the current phase.
func (r *Recorder) Current() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.phase
}

// AwaitBatches blocks until n batches have completed in the current phase;
// it returns the traffic's error if a batch failed, or ctx's.
func (r *Recorder) AwaitBatches(ctx context.Context, n int) error {
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.byPhase[r.phase] < n && r.err == nil && ctx.Err() == nil {
		r.cond.Wait()
	}
	if r.err != nil {
		return r.err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("waiting for %d batches in phase %q: %w", n, r.phase, err)
	}
	return nil
}

// Stop ends the traffic (the batch in flight is cut short and dropped:
// Timeline.Dropped) and returns the timeline, with the error of a failed
// batch if one failed (the batches before it are in the timeline).
func (r *Recorder) Stop() (Timeline, error) {
	r.cancel()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return Timeline{Client: r.client, Batch: r.batch, Slots: append([]Slot(nil), r.slots...), Dropped: r.dropped}, r.err
}
