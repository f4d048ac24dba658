package specs

// Ejection by consecutiveGatewayErrors (Envoy's consecutive_gateway_failure:
// 502, 503, 504 and connection failures; outlier_detection_impl.cc). Rule:
// failover-gateway-errors (consecutive5xxErrors 0, consecutiveGatewayErrors
// 1, maxEjectionPercent 100). A pod answering 500 is not a gateway error and
// stays in; pods answering 503 are ejected and traffic fails over.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

var _ = Describe("Ejection by consecutiveGatewayErrors", Label("locality:gateway-errors"), Ordered, func() {
	const client = "netshoot-b"
	m := setUp(topology.ThreeZones(), "failover-gateway-errors")

	It("does not eject pods answering 500: the errors reach the client", func(ctx SpecContext) {
		breakPods(ctx, m, "helloworld-zone-b", -1, mesh.Fail500)
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByClass,
			Expected: split.Expected{traffic.ClassServerError: 1}})
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.Row(0, steps.NoLocalityWeight, 3),
			"kr/a": steps.Row(1, steps.NoLocalityWeight, 3),
			"kr/c": steps.Row(1, steps.NoLocalityWeight, 3),
		}})
	})

	It("ejects pods answering 503 and fails over to kr/a and kr/c (≈50/50)", func(ctx SpecContext) {
		breakPods(ctx, m, "helloworld-zone-b", -1, mesh.Fail5xx)
		steps.Warm(ctx, m, client, 50)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.RowHealthy(0, steps.NoLocalityWeight, 3, 0),
			"kr/a": steps.Row(1, steps.NoLocalityWeight, 3),
			"kr/c": steps.Row(1, steps.NoLocalityWeight, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/a": 0.5, "kr/b": 0, "kr/c": 0.5}})
	})
})
