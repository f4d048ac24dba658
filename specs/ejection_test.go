package specs

// docs/locality-behavior.md §2 "Outlier detection", istio/istio#34605 and #20135: local pods
// answering 5xx are ejected only when max_ejection_percent allows it, and
// ejected hosts come back after base_ejection_time × times ejected (checked
// on the detector's interval tick). Rule: failover-short-ejection
// (consecutive5xxErrors 1, interval 1s, baseEjectionTime 60s,
// maxEjectionPercent 100). 60 s, not 5 s: on kind the failover batch runs
// on the wall clock and must end before the hosts come back (the first
// spec checks it did); steps.Wait then really waits on kind and advances
// the sidecars' virtual clock on embedded. The b5 specs in failover_test.go cover the
// default cap (no ejection, errors reach the client).

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// baseEjectionTime is failover-short-ejection's.
const baseEjectionTime = 60 * time.Second

var _ = Describe("Ejected hosts return after baseEjectionTime", Label("locality:ejection"), Ordered, func() {
	const client = "netshoot-b"
	m := setUp(topology.ThreeZones(), "failover-short-ejection")

	It("ejects the failing kr/b hosts and fails over while they are out", func(ctx SpecContext) {
		dr, err := destinationrule.Load("failover-short-ejection")
		Expect(err).NotTo(HaveOccurred())
		Expect(dr.Spec.GetTrafficPolicy().GetOutlierDetection().GetBaseEjectionTime().AsDuration()).To(Equal(baseEjectionTime),
			"baseEjectionTime here and in failover-short-ejection.yaml")
		start := time.Now()
		ejectLocalZone(ctx, m, client)
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/a": 0.5, "kr/b": 0, "kr/c": 0.5}})
		// On kind the ejection runs on the wall clock: a batch that ended
		// after baseEjectionTime may have seen the hosts return (and fail
		// again), so its split would not be the one asserted.
		Expect(time.Since(start)).To(BeNumerically("<", baseEjectionTime),
			"ejection, endpoint gate and batch took longer than baseEjectionTime: the kr/b hosts may have returned mid-batch; raise baseEjectionTime in failover-short-ejection.yaml")
	})

	It("takes the healed kr/b hosts back after the ejection time and serves locally again", func(ctx SpecContext) {
		steps.Break(ctx, m, "helloworld-zone-b", -1, mesh.NoFault)
		// baseEjectionTime × 1 ejection, checked on the detector's 1 s
		// interval tick (outlier_detection_impl.cc, checkHostForUneject);
		// counted from the heal, which comes after the ejection.
		steps.Wait(ctx, m, baseEjectionTime+time.Second)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.Row(0, steps.NoLocalityWeight, 3),
			"kr/a": steps.Row(1, steps.NoLocalityWeight, 3),
			"kr/c": steps.Row(1, steps.NoLocalityWeight, 3),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/b": 1}})
	})
})
