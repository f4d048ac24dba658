package specs

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// scenario is the mesh of one Ordered container. It is a mesh.Mesh whose
// calls go to the mesh BeforeAll deployed.
type scenario struct{ mesh.Mesh }

// setUp declares, inside an Ordered container, the scenario's mesh: the
// topology deployed on the suite's backend before the first spec (with the
// DestinationRule `rule` applied, unless empty), diagnostics added to every
// failed spec, and teardown after the last.
func setUp(topo topology.Topology, rule string) *scenario {
	s := &scenario{}
	BeforeAll(func(ctx SpecContext) {
		s.Mesh = steps.Deploy(ctx, steps.DeployInput{Backend: backend, Topology: topo})
		if rule != "" {
			steps.ApplyDestinationRule(ctx, s.Mesh, rule)
		}
	})
	AfterEach(func(ctx SpecContext) { steps.Diagnose(ctx, s.Mesh) })
	return s
}
