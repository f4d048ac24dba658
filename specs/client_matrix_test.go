package specs

// docs/locality-behavior.md §1 "distribute": only the first `from` matching the client
// applies, so one rule gives every client its own table. The seed's 90/10
// rule seen from a client in each zone of three-zones.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Client matrix: the 90/10 distribute rule from every zone", Label("locality:client-matrix"), Ordered, func() {
	m := setUp(topology.ThreeZonesEveryClient(), "distribute-90-10")

	DescribeTable("each client gets the split its `from` entry declares",
		func(ctx SpecContext, client string, table endpoints.Summary, want split.Expected) {
			steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: table})
			steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, Expected: want})
		},
		Entry("from kr/a: kr/b 90, kr/c 10", "netshoot-a",
			endpoints.Summary{"kr/b": steps.Row(0, 90, 3), "kr/c": steps.Row(0, 10, 3)},
			split.Expected{"kr/a": 0, "kr/b": 0.9, "kr/c": 0.1}),
		Entry("from kr/b: kr/a 90, kr/c 10", "netshoot-b",
			endpoints.Summary{"kr/a": steps.Row(0, 90, 3), "kr/c": steps.Row(0, 10, 3)},
			split.Expected{"kr/a": 0.9, "kr/b": 0, "kr/c": 0.1}),
		Entry("from kr/c: kr/a 90, kr/b 10", "netshoot-c",
			endpoints.Summary{"kr/a": steps.Row(0, 90, 3), "kr/b": steps.Row(0, 10, 3)},
			split.Expected{"kr/a": 0.9, "kr/b": 0.1, "kr/c": 0}),
	)
})
