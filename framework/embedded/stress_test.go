package embedded

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// stress scales helloworld-zone-a of three-zones 3→0→500, sends 100,000
// requests from netshoot-b, and scales it 500→0 (issue 14 items 1-3). It
// returns the peak heap in use, sampled every 10 ms.
func stress(tb testing.TB, seed uint64) (peak uint64) {
	tb.Helper()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var max atomic.Uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for !stop.Load() {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > max.Load() {
				max.Store(ms.HeapInuse)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	defer func() { stop.Store(true); wg.Wait(); peak = max.Load() }()

	ctx := context.Background()
	m, err := New(Options{Seed: seed}).Deploy(ctx, topology.ThreeZones())
	if err != nil {
		tb.Fatal(err)
	}
	defer m.Close(ctx)
	const w, n = "helloworld-zone-a", 100_000
	for _, r := range []int{0, 500} {
		if err := m.Scale(ctx, w, r); err != nil {
			tb.Fatalf("scale to %d: %v", r, err)
		}
	}
	b, err := m.Send(ctx, "netshoot-b", n)
	if err != nil {
		tb.Fatal(err)
	}
	if b.Len() != n || b.ByClass().Count(traffic.ClassOK) != n || len(b.Responses) > traffic.SampleSize {
		tb.Fatalf("batch: %d responses, %s, sample %d", b.Len(), b.ByClass(), len(b.Responses))
	}
	if got := len(b.ByPod().Buckets()); got < 400 {
		tb.Fatalf("100,000 requests reached only %d pods of 506", got)
	}
	if err := m.Scale(ctx, w, 0); err != nil {
		tb.Fatalf("scale to 0: %v", err)
	}
	if pods, _ := m.Pods(ctx); len(pods) != 7 { // 6 workload pods + the client
		tb.Fatalf("%d pods after scaling to 0", len(pods))
	}
	return 0
}

// TestStressScaleAndSend: issue 14's seeded stress test. Skipped in -short.
func TestStressScaleAndSend(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test: 0→500→0 pods and 100,000 requests")
	}
	before := listeners127(t)
	start := time.Now()
	peak := stress(t, 14)
	t.Logf("0→500→0 pods and 100,000 requests in %v, peak heap in use %d MiB", time.Since(start).Round(time.Millisecond), peak>>20)
	noNewListeners(t, before)
}

// BenchmarkStressScaleAndSend reports the stress path's peak heap bytes.
func BenchmarkStressScaleAndSend(b *testing.B) {
	var peak uint64
	for b.Loop() {
		peak = max(peak, stress(b, 14))
	}
	b.ReportMetric(float64(peak), "peak-bytes")
}
