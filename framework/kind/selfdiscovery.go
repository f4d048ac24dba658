package kind

// Zone aware routing on kind: which Istio can run a topology whose clients
// use proxy self-discovery (topology Client.SelfDiscovery) or a mesh-wide
// zoneAwareLbSetting, and the client Services the sidecars' local_cluster
// is built from. The self-discovery itself is in the rendered client pods
// (topology.SelfDiscoveryProxyConfig, the proxy.istio.io/config
// annotation the injector turns into the istio-proxy environment).

import (
	"context"
	"fmt"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// selfDiscoveryMinor is the first Istio minor release with
// zoneAwareLbSetting (DestinationRule and MeshConfig) and pilot-agent's
// ISTIO_META_ENABLE_SELF_DISCOVERY local_cluster: Istio 1.31.0 (its change
// notes, Traffic Management: "Added support for Envoy's zone aware load
// balancing via the new zoneAwareLbSetting field ... requires
// ISTIO_META_ENABLE_SELF_DISCOVERY: "true" in proxyMetadata").
const selfDiscoveryMinor = 31

// zoneAwareUnsupported says why Istio istioVersion cannot run zone aware
// routing, "" when it can.
func zoneAwareUnsupported(istioVersion string) string {
	major, minor, ok := versionMinor(istioVersion)
	switch {
	case !ok:
		return fmt.Sprintf("Istio version %q is not a release version (MAJOR.MINOR.PATCH), so whether it has zone aware routing (1.%d+) is unknown", istioVersion, selfDiscoveryMinor)
	case major < 1 || major == 1 && minor < selfDiscoveryMinor:
		return fmt.Sprintf("Istio %s has no zone aware routing: zoneAwareLbSetting and proxy self-discovery (ISTIO_META_ENABLE_SELF_DISCOVERY) came in Istio 1.%d.0", istioVersion, selfDiscoveryMinor)
	}
	return ""
}

// checkZoneAware refuses, with mesh.ErrTopologyUnsupported and the reason,
// a topology that needs zone aware routing (a self-discovering client or a
// mesh-wide zoneAwareLbSetting) on an Istio without it: its sidecars would
// silently get no local_cluster (older pilot-agents ignore the metadata),
// or the mesh config would carry a field istiod does not know.
func checkZoneAware(topo topology.Topology, istioVersion string) error {
	var what string
	switch {
	case topo.SelfDiscovery():
		what = "clients with SelfDiscovery"
	case topo.Mesh.ZoneAwareLbSetting != nil:
		what = "Mesh.ZoneAwareLbSetting"
	default:
		return nil
	}
	if why := zoneAwareUnsupported(istioVersion); why != "" {
		return fmt.Errorf("topology %q has %s: %s; set %s to 1.%d.0 or later: %w", topo.Name, what, why, EnvIstioVersion, selfDiscoveryMinor, mesh.ErrTopologyUnsupported)
	}
	return nil
}

// createClientServices creates the topology's client Services in ns
// (topology.RenderClientServices).
func (b *backend) createClientServices(ctx context.Context, topo topology.Topology, ns string) error {
	svcs, err := topology.RenderClientServices(topo)
	if err != nil {
		return err
	}
	for _, s := range svcs {
		s.SetNamespace(ns)
		if err := b.create(ctx, s); err != nil {
			return fmt.Errorf("create client Service %s: %w", s.Name, err)
		}
	}
	return nil
}
