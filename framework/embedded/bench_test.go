package embedded

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// BenchmarkMeshStart: deploy three-zones (istiod in process, 9 pods) and
// close it. Goal ≤ 1 s.
func BenchmarkMeshStart(b *testing.B) {
	ctx := context.Background()
	be := New(Options{Seed: 1})
	for b.Loop() {
		m, err := be.Deploy(ctx, topology.ThreeZones())
		if err != nil {
			b.Fatal(err)
		}
		_ = m.Close(ctx)
	}
}

// BenchmarkApplyDR: apply a DestinationRule until istiod has pushed it and
// the client's config is regenerated. Goal ≤ 200 ms.
func BenchmarkApplyDR(b *testing.B) {
	ctx := context.Background()
	m, err := New(Options{Seed: 1}).Deploy(ctx, topology.ThreeZones())
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(ctx)
	topo := m.Topology()
	// Alternate two rules so every apply is a real change.
	rules := []string{"distribute-local-zone", "distribute-90-10"}
	i := 0
	for b.Loop() {
		dr, err := destinationrule.Load(rules[i%len(rules)])
		if err != nil {
			b.Fatal(err)
		}
		if err := m.ApplyDestinationRule(ctx, destinationrule.ForTopology(dr, topo.Host(), topo.Namespace)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSend: requests per second through the Envoy model to loopback
// pods (three-zones, no DR: LEAST_REQUEST over 9 pods).
func BenchmarkSend(b *testing.B) {
	ctx := context.Background()
	m, err := New(Options{Seed: 1}).Deploy(ctx, topology.ThreeZones())
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(ctx)
	b.ResetTimer()
	if _, err := m.Send(ctx, "netshoot-b", b.N); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkPlainHTTP is the baseline for BenchmarkSend: plain net/http GETs
// against one loopback pod. Goal: BenchmarkSend ≥ 0.8 × this rate.
func BenchmarkPlainHTTP(b *testing.B) {
	p, err := startPod("baseline-pod", 5000)
	if err != nil {
		b.Fatal(err)
	}
	defer p.stop()
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	url := fmt.Sprintf("http://%s/hello", p.addr())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkMeshStartMultiNetwork: deploy istio.io's locality task on four
// clusters and two networks (one istiod, four fake API servers, four
// east-west gateways with their own ADS streams) and close it.
func BenchmarkMeshStartMultiNetwork(b *testing.B) {
	ctx := context.Background()
	be := New(Options{Seed: 1})
	for b.Loop() {
		m, err := be.Deploy(ctx, topology.LocalityTask(1, true))
		if err != nil {
			b.Fatal(err)
		}
		_ = m.Close(ctx)
	}
}

// BenchmarkSendThroughGateway: requests per second when every request
// crosses an east-west gateway (region1 scaled to 0, so curl's traffic
// fails over to network2: sidecar model → gateway listener → gateway model
// → pod, a new connection to the gateway per request).
func BenchmarkSendThroughGateway(b *testing.B) {
	ctx := context.Background()
	m, err := New(Options{Seed: 1}).Deploy(ctx, topology.LocalityTask(1, true))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(ctx)
	for _, w := range []string{"helloworld-region1-zone1", "helloworld-region1-zone2"} {
		if err := m.Scale(ctx, w, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	batch, err := m.Send(ctx, "curl", b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if ok := batch.ByClass().Count("200 OK"); ok != b.N {
		b.Fatalf("%d of %d requests answered 200 OK: %s", ok, b.N, batch.ByClass())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
