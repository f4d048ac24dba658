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

// throughGateways schedules a container whose traffic crosses east-west
// gateways before the others in a parallel run (ginkgo -p). Every request
// through a gateway opens a new connection (framework/embedded, Mesh.get),
// which makes these containers the suite's longest, 0.5 to 2 s against
// 0.1 to 0.5 s for most (docs/performance.md); one of them started last
// would leave the other processes idle at the end. Longest first.
var throughGateways = SpecPriority(1)

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
