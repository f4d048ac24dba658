package timeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

func slot(i int, phase string, by map[string]int, errs map[string]int) Slot {
	n := 0
	for _, c := range by {
		n += c
	}
	for _, c := range errs {
		n += c
	}
	return Slot{Index: i, Elapsed: time.Duration(i) * time.Second, Phase: phase, ByLocality: by, Errors: errs, Total: n}
}

func TestTimelineViolations(t *testing.T) {
	tl := Timeline{Client: "netshoot-b", Batch: 20, Slots: []Slot{
		slot(0, "before", map[string]int{"kr/b": 20}, nil),
		slot(1, "restart", map[string]int{"kr/b": 18, "kr/a": 1}, map[string]int{"503 upstream connect error": 1}),
		slot(2, "restart", map[string]int{"kr/b": 20}, nil),
		slot(3, "after", map[string]int{"kr/b": 20}, nil),
	}}
	ok := Invariants{Phases: []string{"before", "after"}, Stay: []string{"kr/b"}, MinBatches: 1}
	if v := tl.Violations(ok); len(v) != 0 {
		t.Errorf("phases before/after: %v", v)
	}
	v := tl.Violations(Invariants{Stay: []string{"kr/b"}, MaxErrorFraction: 0.001, MinBatches: 2})
	want := []string{
		"batch 1 (restart, 1s): kr/a 1 left kr/b",
		`phase "before": 1 batches, want at least 2 (traffic did not flow during it)`,
		`phase "after": 1 batches, want at least 2 (traffic did not flow during it)`,
		"1 errors in 80 requests (1.25%), bound 0.10%",
	}
	if strings.Join(v, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations\n%s\nwant\n%s", strings.Join(v, "\n"), strings.Join(want, "\n"))
	}
	// A 2% bound accepts the one error.
	if v := tl.Violations(Invariants{MaxErrorFraction: 0.02}); len(v) != 0 {
		t.Errorf("bound 2%%: %v", v)
	}
	s := tl.String()
	for _, w := range []string{"steady traffic from netshoot-b, batches of 20", "restart", "503 upstream connect error 1", "Σ"} {
		if !strings.Contains(s, w) {
			t.Errorf("timeline lacks %q:\n%s", w, s)
		}
	}
	if got := tl.Phases(); strings.Join(got, ",") != "before,restart,after" {
		t.Errorf("phases %v", got)
	}
}

// fakeSender answers every batch from the pods it currently has, in turn;
// swap replaces them (a restart), fail makes Send fail.
type fakeSender struct {
	mu   sync.Mutex
	pods []mesh.Pod
	fail error
	n    int
}

func (f *fakeSender) Send(ctx context.Context, client string, n int) (traffic.Batch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return traffic.Batch{}, f.fail
	}
	b := traffic.Batch{Client: client}
	for i := 0; i < n; i++ {
		p := f.pods[f.n%len(f.pods)]
		f.n++
		if p.Fault == mesh.Fail5xx {
			b.Add(traffic.Response{Status: 503, Body: "boom"})
			continue
		}
		b.Add(traffic.Response{Status: 200, Body: traffic.HelloBody(p.Name), Pod: p.Name})
	}
	return b, nil
}

func (f *fakeSender) Pods(context.Context) ([]mesh.Pod, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mesh.Pod(nil), f.pods...), nil
}

func TestRecorder(t *testing.T) {
	ctx := context.Background()
	f := &fakeSender{pods: []mesh.Pod{{Name: "b-1", Locality: "kr/b"}, {Name: "b-2", Locality: "kr/b"}}}
	r := Start(ctx, f, "netshoot-b", "before", Options{Batch: 4, Note: func(context.Context) string { return "istiod 1.32.0" }})
	if err := r.AwaitBatches(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// The phase and the pods change together (Send holds f.mu for a whole
	// batch): every "restart" batch sees the new pods.
	f.mu.Lock()
	r.Phase("restart")
	f.pods = []mesh.Pod{{Name: "b-3", Locality: "kr/b"}, {Name: "a-1", Locality: "kr/a"}, {Name: "x", Locality: "kr/b", Fault: mesh.Fail5xx}}
	f.mu.Unlock()
	if err := r.AwaitBatches(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if r.Current() != "restart" {
		t.Errorf("phase %q", r.Current())
	}
	tl, err := r.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Slots) < 4 || tl.Slots[0].Phase != "before" || tl.Slots[0].ByLocality["kr/b"] != 4 || tl.Slots[0].Note != "istiod 1.32.0" {
		t.Fatalf("timeline:\n%s", tl)
	}
	v := tl.Violations(Invariants{Phases: []string{"restart"}, Stay: []string{"kr/b"}})
	if len(v) == 0 || !strings.Contains(strings.Join(v, "\n"), "kr/a") || !strings.Contains(strings.Join(v, "\n"), "errors in") {
		t.Errorf("violations %v\n%s", v, tl)
	}
	// The first two batches ran before the change.
	early := Timeline{Slots: tl.Slots[:2]}
	if v := early.Violations(Invariants{Stay: []string{"kr/b"}, MinBatches: 2}); len(v) != 0 {
		t.Errorf("before: %v", v)
	}
	// A failing batch stops the traffic and is reported.
	f2 := &fakeSender{pods: f.pods, fail: errors.New("exec: connection refused")}
	r2 := Start(ctx, f2, "netshoot-b", "p", Options{})
	if err := r2.AwaitBatches(ctx, 1); err == nil || !strings.Contains(err.Error(), "batch 0 (p): exec: connection refused") {
		t.Errorf("AwaitBatches: %v", err)
	}
	if _, err := r2.Stop(); err == nil {
		t.Error("Stop: no error")
	}
	// AwaitBatches gives up with its context.
	r3 := Start(ctx, &fakeSender{pods: f.pods}, "c", "p", Options{})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := r3.AwaitBatches(cctx, 1_000_000); err == nil {
		t.Error("cancelled AwaitBatches returned nil")
	}
	_, _ = r3.Stop()
}

// cutSender answers three requests, then waits for the batch's context to
// end and returns the partial batch as Send does: cut short, the request
// in flight counted nowhere.
type cutSender struct {
	fakeSender
	sending chan struct{} // closed when the first batch has its answers
}

func (c *cutSender) Send(ctx context.Context, client string, n int) (traffic.Batch, error) {
	b := traffic.Batch{Client: client}
	for range 3 {
		b.Add(traffic.Response{Status: 200, Body: traffic.HelloBody("b-1"), Pod: "b-1"})
	}
	close(c.sending)
	<-ctx.Done()
	b.CutShort = true
	return b, ctx.Err()
}

// TestStopDropsTheBatchInFlight: Stop cuts the batch in flight short; it
// is no slot, and the timeline says how many answers it left out.
func TestStopDropsTheBatchInFlight(t *testing.T) {
	c := &cutSender{fakeSender{pods: []mesh.Pod{{Name: "b-1", Locality: "kr/b"}}}, make(chan struct{})}
	r := Start(context.Background(), c, "netshoot-b", "p", Options{})
	<-c.sending
	tl, err := r.Stop()
	if err != nil || len(tl.Slots) != 0 || tl.Dropped != 3 {
		t.Fatalf("Stop: %v, %d slots, %d dropped; want no error, no slot, 3 dropped", err, len(tl.Slots), tl.Dropped)
	}
	if s := tl.String(); !strings.Contains(s, "stopped mid-batch: 3 answered requests of the last batch left out\n") {
		t.Errorf("timeline:\n%s", s)
	}
}
