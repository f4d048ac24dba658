package kind

// Named nodes (topology Workload.Node, Client.Node) on kind: not
// implemented. kind names its workers itself (<cluster>-worker, -worker2,
// ...) and one worker stands for each locality (topology.Nodes), so a
// topology that places pods on named nodes is refused as unsupported and
// its specs skip.

import (
	"fmt"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// checkNamedNodes refuses a topology with named nodes.
func checkNamedNodes(topo topology.Topology) error {
	if nn := topo.NamedNodes(); len(nn) > 0 {
		return fmt.Errorf("topology %q places pods on named nodes (%s, ...): the kind backend has one worker per locality and cannot place pods by node name; run it on the embedded backend: %w", topo.Name, nn[0].Name, mesh.ErrTopologyUnsupported)
	}
	return nil
}
