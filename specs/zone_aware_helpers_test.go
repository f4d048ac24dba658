package specs

// Shared by the zone-aware specs (specs/zone_aware_*_test.go): the skip
// for backends whose istiod has no zone aware routing, and the formula
// every expected figure of those specs is derived from.
//
// Envoy's zone aware routing (source/extensions/load_balancing_policies/
// common/load_balancer_impl.cc, ZoneAwareLoadBalancerBase), in units of
// 1/10000 with integer division, over priority 0 only:
//
//   - earlyExitNonLocalityRouting: no zone aware routing (hosts picked
//     over the whole priority) when priority 0 has < 2 upstream
//     localities, the local cluster < 2 localities or no host in the
//     sidecar's zone, or priority 0 has fewer healthy hosts than
//     min_cluster_size (lb_zone_cluster_too_small; default 6);
//   - calculateLocalityPercentages: local[z] = 10000 × callers in z /
//     callers (the local_cluster: the caller Service's pods in the
//     caller's region), upstream[z] = 10000 × healthy upstream hosts in
//     z / healthy upstream hosts at priority 0;
//   - regenerateLocalityRoutingStructures: upstream[own] ≥ local[own] →
//     LocalityDirect, every request stays in the caller's zone;
//     otherwise LocalityResidual: local_percent_to_route =
//     upstream[own] × 10000 / local[own] stay, and the rest goes to the
//     other zones in proportion to their residual capacity
//     max(0, upstream[z] − local[z]);
//   - within the chosen zone the load balancer (LEAST_REQUEST, istiod's
//     default) picks among its hosts alike.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/mesh"
)

// requireZoneAware skips the spec when the backend's istiod does not turn
// a zoneAwareLbSetting into zone_aware_lb_config or the backend cannot
// give sidecars self-discovery.
func requireZoneAware(m mesh.Mesh) {
	if !m.Capabilities().ZoneAwareRouting {
		Skip("this backend's istiod or sidecars have no zone aware routing (zoneAwareLbSetting with proxy self-discovery): see mesh.Capabilities.ZoneAwareRouting")
	}
}
