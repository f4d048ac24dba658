package embedded

import (
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/localitylb/locality-e2e/framework/topology"
)

func BenchmarkXSendVsPlainMeshPods(b *testing.B) {
	ctx := context.Background()
	m, err := New(Options{Seed: 1}).Deploy(ctx, topology.ThreeZones())
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(ctx)
	tr := newPodTransport()
	c := &http.Client{Transport: tr}
	var cls []*plainClient
	for _, p := range m.(*Mesh).allPods() {
		pc := newPlainClient(p.server)
		pc.tr, pc.c = tr, c
		cls = append(cls, pc)
	}
	const chunk = 200
	var ratios []float64
	for b.Loop() {
		t0 := time.Now()
		for i := 0; i < chunk; i++ {
			_ = cls[i%len(cls)].send(1)
		}
		dp := time.Since(t0)
		t0 = time.Now()
		_, _ = m.Send(ctx, "netshoot-b", chunk)
		ds := time.Since(t0)
		ratios = append(ratios, dp.Seconds()/ds.Seconds())
	}
	sort.Float64s(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "send/plain9")
	b.ReportMetric(float64(len(cls)), "pods")
}
