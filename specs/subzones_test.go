package specs

// Istio's pilot/pkg/xds/eds_test.go (LocalityPrioritizedEndpoints) and
// docs/locality-behavior.md §1 "Failover": with outlier detection, relative to a client in
// region1/zone1/subzone1, the same subzone is priority 0, the same zone 1,
// the same region 2 and another region 3.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Subzones: priorities 0/1/2/3", Label("locality:subzone"), Ordered, func() {
	const client = "sleep-r1-z1-s1"
	m := setUp(topology.Subzones(), "")

	It("without outlier detection puts every subzone at priority 0", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"region1/zone1/subzone1": steps.Row(0, steps.NoLocalityWeight, 2),
			"region1/zone1/subzone2": steps.Row(0, steps.NoLocalityWeight, 2),
			"region1/zone2/subzone1": steps.Row(0, steps.NoLocalityWeight, 2),
			"region2/zone1/subzone1": steps.Row(0, steps.NoLocalityWeight, 2),
		}})
	})

	It("with outlier detection ranks subzone, zone, region, other region as 0, 1, 2, 3", func(ctx SpecContext) {
		steps.ApplyDestinationRule(ctx, m, "outlier-only")
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"region1/zone1/subzone1": steps.Row(0, steps.NoLocalityWeight, 2),
			"region1/zone1/subzone2": steps.Row(1, steps.NoLocalityWeight, 2),
			"region1/zone2/subzone1": steps.Row(2, steps.NoLocalityWeight, 2),
			"region2/zone1/subzone1": steps.Row(3, steps.NoLocalityWeight, 2),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
			Expected: split.Expected{"region1/zone1/subzone1": 1}})
	})
})
