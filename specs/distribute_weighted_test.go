package specs

// Seed §1.2 (File 3), docs/locality-behavior.md §3 (b3): from kr/b, 90% to kr/a and 10% to
// kr/c. The split is ≈90/10, not exact, and kr/b, which no `to` key names,
// gets exactly nothing.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Weighted distribute (kr/b → kr/a 90, kr/c 10)", Label("locality:distribute"), Ordered, func() {
	const client = "netshoot-b"
	m := setUp(topology.ThreeZones(), "")

	It("b3: splits ≈90/10 between kr/a and kr/c and sends nothing to kr/b", func(ctx SpecContext) {
		steps.ApplyDestinationRule(ctx, m, "distribute-90-10")
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/a": steps.Row(0, 90, 3),
			"kr/c": steps.Row(0, 10, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/a": 0.9, "kr/b": 0, "kr/c": 0.1}})
	})
})
