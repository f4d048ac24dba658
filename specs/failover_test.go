package specs

// Seed §1.3, docs/locality-behavior.md §3 (b4, b5): locality load balancing with outlier
// detection (consecutive5xxErrors 1, interval 1s, baseEjectionTime 1m). From
// netshoot-b, kr/b is priority 0 and kr/a, kr/c priority 1.
//
// b4: traffic stays in kr/b while it has pods, even one; at 0 replicas the
// priorities are compacted, kr/a and kr/c become priority 0 and share ≈50/50.
//
// b5: kr/b pods alive but failing. With 9 hosts and Envoy's default
// max_ejection_percent 10, Envoy ≥ 1.28 ejects a host only if
// (ejected+1)/total ≤ 10%, so none is ejected: no failover, the errors reach
// the client (istio/istio#34605). With maxEjectionPercent 100 all three
// local hosts are ejected and traffic fails over to kr/a and kr/c.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

var _ = Describe("Failover with outlier detection: scaling the local zone down", Label("locality:failover"), Ordered, func() {
	const client = "netshoot-b"
	m := setUp(topology.ThreeZones(), "failover")

	It("b4: keeps every request in kr/b while it has 3 pods", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.Row(0, steps.NoLocalityWeight, 3),
			"kr/a": steps.Row(1, steps.NoLocalityWeight, 3),
			"kr/c": steps.Row(1, steps.NoLocalityWeight, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/b": 1}})
	})

	It("b4: still keeps every request in kr/b at 1 pod (fewer hosts is not less healthy)", func(ctx SpecContext) {
		steps.Scale(ctx, m, "helloworld-zone-b", 1)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.Row(0, steps.NoLocalityWeight, 1),
			"kr/a": steps.Row(1, steps.NoLocalityWeight, 3),
			"kr/c": steps.Row(1, steps.NoLocalityWeight, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/b": 1}})
	})

	It("b4: fails over to kr/a and kr/c (priority 0 after compaction, ≈50/50) at 0 pods", func(ctx SpecContext) {
		steps.Scale(ctx, m, "helloworld-zone-b", 0)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/a": steps.Row(0, steps.NoLocalityWeight, 3),
			"kr/c": steps.Row(0, steps.NoLocalityWeight, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/a": 0.5, "kr/b": 0, "kr/c": 0.5}})
	})
})

// breakLocalZone makes every kr/b pod answer 503 and returns the
// response class the client then sees.
func breakLocalZone(ctx SpecContext, m mesh.Mesh) string {
	breakPods(ctx, m, "helloworld-zone-b", -1, mesh.Fail5xx)
	return traffic.ClassServerError
}

// breakPods gives the first n pods of a workload a fault that answers 5xx.
// Both backends' default workload (cmd/workload) can; the seed's
// helloworld image on kind cannot, and the spec is skipped there.
func breakPods(ctx SpecContext, m mesh.Mesh, workload string, n int, f mesh.Fault) {
	if !m.Capabilities().Fault5xx {
		Skip("this backend's workload image cannot answer 5xx (the seed's helloworld image); run with the default workload image")
	}
	steps.Break(ctx, m, workload, n, f)
}

var _ = Describe("Failover with outlier detection: failing local pods, default maxEjectionPercent", Label("locality:failover"), Ordered, func() {
	const client = "netshoot-b"
	m := setUp(topology.ThreeZones(), "failover")

	It("b5: ejects no host (1/9 > 10%), so the local errors reach the client", func(ctx SpecContext) {
		class := breakLocalZone(ctx, m)
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByClass,
			Expected: split.Expected{class: 1}})
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.Row(0, steps.NoLocalityWeight, 3),
			"kr/a": steps.Row(1, steps.NoLocalityWeight, 3),
			"kr/c": steps.Row(1, steps.NoLocalityWeight, 3),
		}})
	})
})

var _ = Describe("Failover with outlier detection: failing local pods, maxEjectionPercent 100", Label("locality:failover"), Ordered, func() {
	const client = "netshoot-b"
	m := setUp(topology.ThreeZones(), "failover-max-ejection-100")

	It("b5: ejects all three kr/b hosts and fails over to kr/a and kr/c (≈50/50)", func(ctx SpecContext) {
		ejectLocalZone(ctx, m, client)
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/a": 0.5, "kr/b": 0, "kr/c": 0.5}})
	})
})

// ejectLocalZone breaks every kr/b pod, sends a warm-up batch so outlier
// detection sees the failures, and gates on all three kr/b hosts being
// ejected (kr/a and kr/c healthy at priority 1).
func ejectLocalZone(ctx SpecContext, m mesh.Mesh, client string) {
	breakLocalZone(ctx, m)
	steps.Warm(ctx, m, client, 50)
	steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
		"kr/b": steps.RowHealthy(0, steps.NoLocalityWeight, 3, 0),
		"kr/a": steps.Row(1, steps.NoLocalityWeight, 3),
		"kr/c": steps.Row(1, steps.NoLocalityWeight, 3),
	}})
}
