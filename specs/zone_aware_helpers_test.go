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

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/steps"
)

// requireZoneAware skips the spec when the backend's istiod does not turn
// a zoneAwareLbSetting into zone_aware_lb_config or the backend cannot
// give sidecars self-discovery.
func requireZoneAware(m mesh.Mesh) {
	if !m.Capabilities().ZoneAwareRouting {
		Skip("this backend's istiod or sidecars have no zone aware routing (zoneAwareLbSetting with proxy self-discovery): see mesh.Capabilities.ZoneAwareRouting")
	}
}

// unevenTable is topology.ZoneAwareUneven's endpoint table while no rule
// sets priorities and every pod runs: kr/a 2 hosts, kr/b and kr/c 3, all at
// priority 0. In istiod's view (endpoints.Raw) each locality weighs its
// pods; in Envoy's view (endpoints.Envoy) the sidecar keeps no locality
// weights, since zone aware routing does not use them.
func unevenTable(view endpoints.View) endpoints.Summary {
	weight := func(pods int) int {
		if view == endpoints.Raw {
			return pods
		}
		return steps.NoLocalityWeight
	}
	return endpoints.Summary{
		"kr/a": steps.Row(0, weight(2), 2),
		"kr/b": steps.Row(0, weight(3), 3),
		"kr/c": steps.Row(0, weight(3), 3),
	}
}
