package specs

// Seed §1.2 (File 2), docs/locality-behavior.md §3 (b1, b2): distribute each zone's traffic
// to the same zone, 100%. From netshoot-b in kr/b every request stays in
// kr/b. Scaled to 0, kr/b has no endpoints and distribute never fails over
// (istio/istio#33470, #48197): every request gets Envoy's 503 "no healthy
// upstream". (The seed writes "--replicas 3" for that step; the output it
// shows is that of 0 replicas.)

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

var _ = Describe("Distribute to the local zone (kr/b → kr/b 100)", Label("locality:distribute"), Ordered, func() {
	const client = "netshoot-b"
	m := setUp(topology.ThreeZones(), "distribute-local-zone")

	It("b1: sends every request to kr/b", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.Row(0, 100, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/b": 1}})
	})

	It("b2: with kr/b scaled to 0, answers every request with 503 no healthy upstream (no failover)", func(ctx SpecContext) {
		steps.Scale(ctx, m, "helloworld-zone-b", 0)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByClass,
			Expected: split.Expected{traffic.ClassNoHealthyUpstream: 1}})
	})
})
