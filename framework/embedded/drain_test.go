package embedded

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/localitylb/locality-e2e/framework/timeline"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// scaleUnderTraffic scales three-zones' kr/b 3 → 0 → 3 while netshoot-b
// (kr/b, failover rule) sends steady traffic, and returns the timeline.
// The scale-down's push reaches the sidecar only after two more batches
// (the test holds it, as a busy istiod's debounce would), so requests
// certainly go to the removed pods meanwhile, as they do on a cluster
// until the push arrives.
func scaleUnderTraffic(t *testing.T, drain time.Duration) timeline.Timeline {
	t.Helper()
	ctx := context.Background()
	m, err := New(Options{Seed: 23, Drain: drain}).Deploy(ctx, topology.ThreeZones())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	em := m.(*Mesh)
	applyT(t, em, "failover")
	r := timeline.Start(ctx, m, "netshoot-b", "before", timeline.Options{Batch: 200})
	await := func(n int) {
		t.Helper()
		if err := r.AwaitBatches(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	await(2)

	r.Phase("kr/b 3 → 0, push held")
	side := em.clients["netshoot-b"].side
	side.pushGate.Lock()
	scaled := make(chan error, 1)
	go func() { scaled <- m.Scale(ctx, "helloworld-zone-b", 0) }()
	// The pods are told to stop and leave the EndpointSlice (Scale then
	// waits for the push, holding only the read lock).
	for {
		em.mu.RLock()
		n := len(em.pods["helloworld-zone-b"])
		em.mu.RUnlock()
		if n == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	await(2)
	r.Phase("kr/b 3 → 0, push applied")
	side.pushGate.Unlock()
	if err := <-scaled; err != nil {
		t.Fatal(err)
	}
	await(2)

	r.Phase("kr/b 0 → 3")
	if err := m.Scale(ctx, "helloworld-zone-b", 3); err != nil {
		t.Fatal(err)
	}
	r.Phase("after")
	await(2)
	tl, err := r.Stop()
	if err != nil {
		t.Fatal(err)
	}
	// The traffic left kr/b and came back.
	last := tl.Slots[len(tl.Slots)-1]
	if last.ByLocality["kr/b"] != last.Total-last.ErrorCount() {
		t.Errorf("after scaling back to 3: %v, want every OK answer from kr/b", last.ByLocality)
	}
	return tl
}

func errorsOf(tl timeline.Timeline) (errs, total int, detail string) {
	for _, s := range tl.Slots {
		errs += s.ErrorCount()
		total += s.Total
		if s.ErrorCount() > 0 {
			detail += fmt.Sprintf(" [slot %d %q: %v]", s.Index, s.Phase, s.Errors)
		}
	}
	return errs, total, detail
}

// TestScaleDownDrains is issue 23 item 11: scaling kr/b 3 → 0 → 3 under
// steady traffic costs no request, because the removed pods serve for
// their drain period while istiod's push reaches the sidecar.
func TestScaleDownDrains(t *testing.T) {
	tl := scaleUnderTraffic(t, 0)
	errs, total, detail := errorsOf(tl)
	if errs != 0 {
		t.Errorf("%d errors in %d requests while scaling with the default drain:%s", errs, total, detail)
	}
	t.Logf("default drain: %d requests in %d batches, %d errors", total, len(tl.Slots), errs)
}

// TestScaleDownWithoutDrainFails is the same without a drain period: the
// pods stop while the sidecar still holds them, and requests fail, so
// the drain is what makes TestScaleDownDrains pass.
func TestScaleDownWithoutDrainFails(t *testing.T) {
	tl := scaleUnderTraffic(t, -1)
	errs, total, detail := errorsOf(tl)
	if errs == 0 {
		t.Errorf("no error in %d requests while scaling without a drain: the test cannot show the drain matters", total)
	}
	t.Logf("no drain: %d requests, %d errors:%s", total, errs, detail)
}
