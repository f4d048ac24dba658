// Refusals: configuration the model does not implement. Envoy counterparts
// are named per field; each error names the Envoy field, the Istio
// DestinationRule (or mesh) field that produces it, and the fix.

package envoylb

import (
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

func unsupported(envoyField, istioField, fix string) error {
	return fmt.Errorf("envoylb: %s is not modelled (produced by %s); %s", envoyField, istioField, fix)
}

// checkSupported refuses what would make the model's traffic split silently
// wrong.
func checkSupported(c *clusterv3.Cluster, cla *endpointv3.ClusterLoadAssignment) error {
	switch c.GetLbPolicy() {
	case clusterv3.Cluster_ROUND_ROBIN, clusterv3.Cluster_LEAST_REQUEST, clusterv3.Cluster_RANDOM:
	case clusterv3.Cluster_RING_HASH, clusterv3.Cluster_MAGLEV:
		return unsupported(fmt.Sprintf("lb_policy %s (ring_hash_lb.cc / maglev_lb.cc)", c.GetLbPolicy()),
			"DestinationRule trafficPolicy.loadBalancer.consistentHash",
			"use loadBalancer.simple ROUND_ROBIN, LEAST_REQUEST or RANDOM")
	default:
		return unsupported(fmt.Sprintf("lb_policy %s", c.GetLbPolicy()),
			"Istio's ORIGINAL_DST passthrough clusters (CLUSTER_PROVIDED) or its typed load_balancing_policy clusters (override-host / waypoint / inference pools)",
			"model only EDS service clusters with loadBalancer.simple ROUND_ROBIN, LEAST_REQUEST or RANDOM")
	}
	if c.GetLoadBalancingPolicy() != nil {
		return unsupported("cluster load_balancing_policy (typed LB extensions)",
			"Istio's override-host / waypoint clusters", "use a plain sidecar cluster with loadBalancer.simple")
	}
	// Slow start is enabled when slow_start_window > 0
	// (EdfLoadBalancerBase::isSlowStartEnabled).
	if c.GetRoundRobinLbConfig().GetSlowStartConfig().GetSlowStartWindow().AsDuration() > 0 ||
		c.GetLeastRequestLbConfig().GetSlowStartConfig().GetSlowStartWindow().AsDuration() > 0 {
		return unsupported("slow_start_config (load_balancer_impl.cc applySlowStartFactor)",
			"DestinationRule trafficPolicy.loadBalancer.warmupDurationSecs / warmup",
			"remove the warmup setting")
	}
	if c.GetLbSubsetConfig() != nil && len(c.GetLbSubsetConfig().GetSubsetSelectors()) > 0 {
		return unsupported("lb_subset_config (subset_lb.cc)", "Istio subset load balancing",
			"route to per-subset clusters instead")
	}
	// common_lb_config.zone_aware_lb_config is modelled whole: the Cluster
	// proto has routing_enabled, min_cluster_size and fail_traffic_on_panic
	// (zone_aware.go). force_locality_direct_routing and locality_basis exist
	// only in the typed LocalityLbConfig of load_balancing_policy, refused
	// above.
	if cla.GetPolicy().GetDropOverloads() != nil {
		return unsupported("ClusterLoadAssignment.policy.drop_overloads", "istiod does not set it", "remove it")
	}
	od := c.GetOutlierDetection()
	if od == nil {
		return nil
	}
	if len(od.GetMonitors()) > 0 {
		return unsupported("outlier_detection.monitors (outlier detection extensions)",
			"nothing: Istio does not set it", "remove the monitors")
	}
	return nil
}
