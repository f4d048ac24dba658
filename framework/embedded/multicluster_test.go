package embedded

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// TestMultiNetworkGateway: from cluster1 (network1), region2/zone3 and
// region3/zone4 (network2) are reached through their clusters' east-west
// gateways: one gateway endpoint per remote locality, whose weight is the
// sum of the weights of the endpoints behind it (ep_filters.go
// EndpointsByNetworkFilter), and requests really cross the gateways.
func TestMultiNetworkGateway(t *testing.T) {
	g := NewWithT(t)
	topo := topology.LocalityTask(2, true)
	topo.Workloads[2].Replicas = 3
	m := deployT(t, topo)
	tbl, err := m.Endpoints(context.Background(), "curl", endpoints.Envoy)
	g.Expect(err).NotTo(HaveOccurred())
	t.Log(tbl.String())
	local, _ := tbl.Row("region1/zone1")
	g.Expect(local.Hosts).To(HaveLen(2))
	for _, h := range local.Hosts {
		g.Expect(h.Gateway).To(BeFalse())
		g.Expect(h.Cluster).To(Equal("cluster1"))
	}
	r23, _ := tbl.Row("region2/zone3")
	g.Expect(r23.Hosts).To(HaveLen(1), tbl.String())
	g.Expect(r23.Hosts[0].Gateway).To(BeTrue())
	g.Expect(r23.Hosts[0].Cluster).To(Equal("cluster3"))
	// istiod's view carries the weights: one endpoint weighs
	// local.Weight/2, the gateway of region2/zone3 stands for 3 of them.
	raw, err := m.Endpoints(context.Background(), "curl", endpoints.Raw)
	g.Expect(err).NotTo(HaveOccurred())
	rl, _ := raw.Row("region1/zone1")
	rr, _ := raw.Row("region2/zone3")
	g.Expect(rl.Weight).To(BeNumerically(">", 0), raw.String())
	g.Expect(rr.Weight).To(Equal(rl.Weight/2*3), raw.String())
	t.Log(raw.String())

	b, err := m.Send(context.Background(), "curl", 400)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(b.ByClass().Count(traffic.ClassOK)).To(Equal(400), b.ByClass().String())
	var crossed int64
	for _, gw := range m.gateways() {
		crossed += gw.forwarded.Load()
	}
	g.Expect(crossed).To(BeNumerically(">", 0), "no request crossed an east-west gateway")
}

// TestMultiNetworkRestartRemoteWorkload: pods of a remote cluster are
// replaced one by one in their own cluster (its API server, its
// EndpointSlice); the gateway's weight follows and every request is
// answered throughout.
func TestMultiNetworkRestartRemoteWorkload(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m := deployT(t, topology.LocalityTask(2, true))
	before, err := m.Pods(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(m.RestartWorkload(ctx, "helloworld-region2-zone3")).To(Succeed())
	after, err := m.Pods(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	old := map[string]bool{}
	for _, p := range before {
		old[p.Name] = true
	}
	n := 0
	for _, p := range after {
		if p.Workload == "helloworld-region2-zone3" {
			n++
			g.Expect(old[p.Name]).To(BeFalse(), "pod %s was not replaced", p.Name)
			g.Expect(p.Cluster).To(Equal("cluster3"))
			g.Expect(p.Network).To(Equal("network2"))
		}
	}
	g.Expect(n).To(Equal(2))
	raw, err := m.Endpoints(ctx, "curl", endpoints.Raw)
	g.Expect(err).NotTo(HaveOccurred())
	r, _ := raw.Row("region2/zone3")
	g.Expect(r.Weight).To(Equal(uint32(4)), raw.String())
	b, err := m.Send(ctx, "curl", 200)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(b.ByClass().Count(traffic.ClassOK)).To(Equal(200), b.ByClass().String())
}
