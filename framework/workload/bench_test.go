package workload

import (
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// BenchmarkServe measures one pod's workload through a real loopback
// listener with net/http keep-alive clients: sequential (one connection,
// like one sidecar connection) and with traffic-like concurrency (8
// connections). The figure is req/s (also reported as ns/op).
func BenchmarkServe(b *testing.B) {
	s := NewServer("helloworld-kr-a-5d8f9c7b6d-4kq2x")
	if err := s.Listen("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	url := "http://" + s.Addr() + HelloPath
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 5 * time.Second}
	get := func(b *testing.B) {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	report := func(b *testing.B, start time.Time) {
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	}
	b.Run("sequential", func(b *testing.B) {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			get(b)
		}
		report(b, start)
	})
	b.Run("concurrency-8", func(b *testing.B) {
		b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0))) // 8 clients in all
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				get(b)
			}
		})
		report(b, start)
	})
}
