package specs

// A DestinationRule setting both localityLbSetting and zoneAwareLbSetting
// is rejected by Istio's validation (pkg/config/validation validation.go,
// validateLoadBalancer: "only one of localityLbSetting and
// zoneAwareLbSetting can be set"), which kubectl apply shows through
// istiod's validating webhook and the embedded backend through the same
// function. Nothing changes: the rule already applied stays in force.

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networkingapi "istio.io/api/networking/v1alpha3"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

var _ = Describe("Zone aware routing: localityLbSetting and zoneAwareLbSetting together", Label("zone-aware:validation"), Ordered, func() {
	const client = "sleep-b"
	m := setUp(topology.ZoneAwareUneven(), "zone-aware")
	BeforeEach(func() { requireZoneAware(m) })

	It("is refused with Istio's validation error, and the zone aware rule stays in force", func(ctx SpecContext) {
		dr, err := destinationrule.Load("zone-aware")
		Expect(err).NotTo(HaveOccurred())
		topo := m.Topology()
		dr = destinationrule.ForTopology(dr, topo.Host(), topo.Namespace)
		dr.Spec.TrafficPolicy.LoadBalancer.LocalityLbSetting = &networkingapi.LocalityLoadBalancerSetting{Enabled: wrapperspb.Bool(true)}
		By("applying a DestinationRule with both localityLbSetting and zoneAwareLbSetting")
		err = m.ApplyDestinationRule(ctx, dr)
		Expect(err).To(MatchError(ContainSubstring("only one of localityLbSetting and zoneAwareLbSetting can be set")))
		AddReportEntry("error as the user sees it", err.Error())

		// Still zone aware routing: sleep-b keeps 100% in kr/b
		// (zone_aware_uneven_test.go: upstream 3750 ≥ local 2500).
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: unevenTable(endpoints.Envoy)})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client,
			Expected: split.Expected{"kr/a": 0, "kr/b": 1, "kr/c": 0}})
	})
})
