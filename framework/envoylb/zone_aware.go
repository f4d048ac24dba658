// Zone aware routing. Envoy counterpart:
// source/extensions/load_balancing_policies/common/load_balancer_impl.cc
// (ZoneAwareLoadBalancerBase: constructor / local_priority_set_,
// regenerateLocalityRoutingStructures, earlyExitNonLocalityRouting,
// tryChooseLocalLocalityHosts, hostSourceToUse, calculateLocalityPercentages).

package envoylb

import (
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/proto"
)

// SetLocalCluster feeds the sidecar's local_cluster endpoints (the
// ClusterLoadAssignment istiod serves over EDS for the bootstrap's
// cluster_manager.local_cluster_name; nil = no local cluster). Envoy builds
// the zone aware load balancer's local priority set from the local
// cluster's priority 0 hosts grouped by locality (ZoneAwareLoadBalancerBase
// constructor: local_priority_set_ with a member update callback that
// regenerates the locality routing structures). Hosts' health is counted
// as for any cluster (EDS health_status; host_set.go health).
func (lb *LB) SetLocalCluster(cla *endpointv3.ClusterLoadAssignment) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if cla == nil {
		lb.localCLA = nil
	} else {
		lb.localCLA = proto.Clone(cla).(*endpointv3.ClusterLoadAssignment)
	}
	return nil
}

// LocalCluster returns the local cluster's ClusterLoadAssignment last set
// with SetLocalCluster (nil when none).
func (lb *LB) LocalCluster() *endpointv3.ClusterLoadAssignment {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.localCLA
}
