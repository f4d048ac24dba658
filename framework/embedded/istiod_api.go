//go:build !istiod_pre_zoneaware

package embedded

// The istiod API this backend uses that older istio.io/istio versions lack
// (self-discovery and zone aware routing), for the pinned istiod and every
// later one. istiod_api_pre_zoneaware.go is the same surface for an istiod
// without it; the embedded upgrade check (cmd/upgrade-check embedded)
// builds with -tags=istiod_pre_zoneaware when the istio.io/istio version
// under test has no util.SelfDiscoveryCluster. Keep this surface small:
// only what differs between supported istiod versions goes here.

import (
	"sync"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	networkingapi "istio.io/api/networking/v1alpha3"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/networking/core/loadbalancer"
	"istio.io/istio/pilot/pkg/networking/util"
)

// localClusterName is the bootstrap's local cluster (istiod's
// util.SelfDiscoveryCluster).
const localClusterName = util.SelfDiscoveryCluster

// setSelfDiscovery sets the ENABLE_SELF_DISCOVERY node metadata
// (pkg/model/proxy.go NodeMetadata.EnableSelfDiscovery).
func setSelfDiscovery(md *model.NodeMetadata, on bool) {
	md.EnableSelfDiscovery = model.StringBool(on)
}

// selfDiscoveryEnabled reads it back; false for nil metadata.
func selfDiscoveryEnabled(md *model.NodeMetadata) bool {
	return md != nil && bool(md.EnableSelfDiscovery)
}

// localService is the proxy's LocalService (model.Proxy.SetServiceTargets):
// the Service whose endpoints istiod sends as its local_cluster.
func localService(p *model.Proxy) (name string, port int) {
	return p.LocalService.Name, p.LocalService.Port
}

// zoneAwareRouting detects whether the istiod in process emits
// zone_aware_lb_config for a zoneAwareLbSetting: it runs istiod's own
// cluster generation step (loadbalancer.GetEffectiveLbSetting and
// ApplyToCluster, as cluster_traffic_policy.go applyLoadBalancer does for
// every outbound cluster) on a probe Cluster and looks at the result.
var zoneAwareRouting = sync.OnceValue(func() bool {
	c := &clusterv3.Cluster{Name: "outbound|5000||probe.default.svc.cluster.local", CommonLbConfig: &clusterv3.Cluster_CommonLbConfig{}}
	lb := &networkingapi.LoadBalancerSettings{ZoneAwareLbSetting: &networkingapi.ZoneAwareLoadBalancerSetting{}}
	s := loadbalancer.GetEffectiveLbSetting(nil, nil, lb, nil)
	if s == nil || !s.IsZoneAware() {
		return false
	}
	s.ApplyToCluster(c, nil, &corev3.Locality{Region: "r", Zone: "z"}, nil, false, "probe.default", true)
	return c.GetCommonLbConfig().GetZoneAwareLbConfig() != nil
})
