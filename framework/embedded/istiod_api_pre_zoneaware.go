//go:build istiod_pre_zoneaware

package embedded

// istiod_api.go's surface for an istio.io/istio without self-discovery and
// zone aware routing (e.g. v0.0.0-20260423205519-b01690e6db7d: no
// util.SelfDiscoveryCluster, NodeMetadata.EnableSelfDiscovery,
// Proxy.LocalService or loadbalancer.GetEffectiveLbSetting). Built only by
// the embedded upgrade check (cmd/upgrade-check embedded,
// -tags=istiod_pre_zoneaware). Such an istiod never sends a local_cluster
// and ignores zoneAwareLbSetting; Capabilities.ZoneAwareRouting is false,
// so the zone-aware specs skip themselves with that reason.

import "istio.io/istio/pilot/pkg/model"

// localClusterName is the bootstrap cluster pilot-agent names local_cluster
// in later Istio versions; no sidecar asks for it here.
const localClusterName = "local_cluster"

// setSelfDiscovery: this istiod's NodeMetadata has no ENABLE_SELF_DISCOVERY.
func setSelfDiscovery(*model.NodeMetadata, bool) {}

func selfDiscoveryEnabled(*model.NodeMetadata) bool { return false }

func localService(*model.Proxy) (string, int) { return "", 0 }

func zoneAwareRouting() bool { return false }
