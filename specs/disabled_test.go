package specs

// docs/locality-behavior.md §1 "Which setting applies": `enabled: false` turns locality load
// balancing off, even with outlier detection: every endpoint is priority 0
// and requests spread over all pods regardless of locality.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Locality load balancing disabled (enabled: false)", Label("locality:disabled"), Ordered, func() {
	const client = "my-shell-kr-a"
	m := setUp(topology.TwoRegions(), "disabled")

	It("spreads requests over every locality despite outlier detection", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/a": steps.Row(0, steps.NoLocalityWeight, 2),
			"kr/b": steps.Row(0, steps.NoLocalityWeight, 2),
			"us/a": steps.Row(0, steps.NoLocalityWeight, 2),
			"us/b": steps.Row(0, steps.NoLocalityWeight, 2),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
			Expected: split.Expected{"kr/a": 0.25, "kr/b": 0.25, "us/a": 0.25, "us/b": 0.25}})
	})
})
