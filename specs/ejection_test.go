package specs

// docs/locality-behavior.md §2 "Outlier detection", istio/istio#34605 and #20135: local pods
// answering 5xx are ejected only when max_ejection_percent allows it, and
// ejected hosts come back after base_ejection_time × times ejected (checked
// on the detector's interval tick). Rule: failover-short-ejection
// (consecutive5xxErrors 1, interval 1s, baseEjectionTime 5s,
// maxEjectionPercent 100). The b5 specs in failover_test.go cover the
// default cap (no ejection, errors reach the client).

import (
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Ejected hosts return after baseEjectionTime", Label("locality:ejection"), Ordered, func() {
	const client = "netshoot-b"
	m := setUp(topology.ThreeZones(), "failover-short-ejection")

	It("ejects the failing kr/b hosts and fails over while they are out", func(ctx SpecContext) {
		ejectLocalZone(ctx, m, client)
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/a": 0.5, "kr/b": 0, "kr/c": 0.5}})
	})

	It("takes the healed kr/b hosts back after the ejection time and serves locally again", func(ctx SpecContext) {
		steps.Break(ctx, m, "helloworld-zone-b", -1, mesh.NoFault)
		// baseEjectionTime (5 s) × 1 ejection, checked on the detector's
		// 1 s interval tick (outlier_detection_impl.cc, checkHostForUneject).
		steps.Wait(ctx, m, 6*time.Second)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.Row(0, steps.NoLocalityWeight, 3),
			"kr/a": steps.Row(1, steps.NoLocalityWeight, 3),
			"kr/c": steps.Row(1, steps.NoLocalityWeight, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/b": 1}})
	})
})
