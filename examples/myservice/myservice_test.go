// Package myservice is an example of using locality-e2e as a library from
// another module: its own topology (a checkout service in two zones of
// region eu), its own DestinationRule file (rules/checkout.yaml), and the
// framework's steps, run under Ginkgo on the embedded backend (no Docker).
//
//	cd examples/myservice && go test ./...
package myservice_test

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/embedded"
	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

func TestCheckout(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "checkout locality")
}

// checkout is this team's topology: two pods in each of eu/west and
// eu/east, and a client in eu/west.
func checkout() topology.Topology {
	return topology.Topology{
		Name:    "checkout",
		Service: "checkout",
		Port:    8080,
		Workloads: []topology.Workload{
			{Name: "checkout-west", Locality: locality.MustParse("eu/west"), Replicas: 2},
			{Name: "checkout-east", Locality: locality.MustParse("eu/east"), Replicas: 2},
		},
		Clients: []topology.Client{{Name: "frontend-west", Locality: locality.MustParse("eu/west")}},
	}.WithDefaults()
}

var backend mesh.Backend

var _ = BeforeSuite(func() {
	backend = embedded.New(embedded.Options{Seed: uint64(GinkgoRandomSeed()), Log: GinkgoWriter})
	DeferCleanup(func(ctx SpecContext) { Expect(backend.Close(ctx)).To(Succeed()) })
})

var _ = Describe("checkout's DestinationRule", Ordered, func() {
	const client = "frontend-west"
	var m mesh.Mesh

	BeforeAll(func(ctx SpecContext) {
		m = steps.Deploy(ctx, steps.DeployInput{Backend: backend, Topology: checkout()})
		// The team's own rule file, parsed strictly and validated with
		// Istio's validation, then aimed at the deployed Service.
		data, err := os.ReadFile("rules/checkout.yaml")
		Expect(err).NotTo(HaveOccurred())
		dr, err := destinationrule.Parse("rules/checkout.yaml", data)
		Expect(err).NotTo(HaveOccurred())
		_, err = destinationrule.Validate("rules/checkout.yaml", dr)
		Expect(err).NotTo(HaveOccurred())
		topo := m.Topology()
		steps.ApplyRule(ctx, m, destinationrule.ForTopology(dr, topo.Host(), topo.Namespace))
	})
	AfterEach(func(ctx SpecContext) { steps.Diagnose(ctx, m) })

	It("keeps ≈80% of eu/west's requests in eu/west and sends ≈20% to eu/east", func(ctx SpecContext) {
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"eu/west": steps.Row(0, 80, 2),
			"eu/east": steps.Row(0, 20, 2),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"eu/west": 0.8, "eu/east": 0.2}})
	})

	It("sends everything to eu/east once eu/west has no pods (distribute has no failover of its own, but a locality with no endpoints gets no weight)", func(ctx SpecContext) {
		steps.Scale(ctx, m, "checkout-west", 0)
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"eu/east": steps.Row(0, 20, 2),
		}})
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"eu/west": 0, "eu/east": 1}})
	})
})
