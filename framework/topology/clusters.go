package topology

import (
	"fmt"
	"strings"

	meshconfig "istio.io/api/mesh/v1alpha1"
	networkingapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"istio.io/istio/pkg/config/validation/agent"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/localitylb/locality-e2e/manifests"
)

// DefaultCluster is the cluster ID of a topology that declares no
// Clusters: istiod's own default (pkg/config/constants.DefaultClusterName),
// what a single-cluster install reports as the endpoints' cluster.
const DefaultCluster = "Kubernetes"

// LabelNetwork is the label that puts a pod, or the east-west gateway
// Service of a network, on a network (Istio's label.TopologyNetwork). The
// sidecar injector adds it to every pod of a cluster installed with
// values.global.network; istiod reads it on pods and on gateway Services.
const LabelNetwork = "topology.istio.io/network"

// EastWestGatewayPort is the mTLS port of an east-west gateway (istiod's
// DefaultNetworkGatewayPort, pilot/pkg/serviceregistry/kube/controller):
// gateway endpoints in EDS carry it.
const EastWestGatewayPort = 15443

// Cluster is one Kubernetes cluster of a multi-cluster mesh (multi-primary:
// each runs istiod and reads the others' endpoints through remote secrets).
type Cluster struct {
	// Name is the cluster ID, as istiod reports it on endpoints
	// (values.global.multiCluster.clusterName); on kind also the kind
	// cluster's name.
	Name string
	// Network is the cluster's network (values.global.network). Clusters on
	// one network reach each other's pods directly; a pod on another
	// network is reached through that cluster's east-west gateway. Either
	// every cluster names a network or none does.
	Network string
}

// MeshSettings are mesh-wide settings a scenario declares (MeshConfig).
type MeshSettings struct {
	// LocalityLbSetting is meshConfig.localityLbSetting: the mesh-wide
	// default that a DestinationRule's localityLbSetting replaces whole
	// (pilot/pkg/networking/core/loadbalancer GetLocalityLbSetting). nil:
	// Istio's default ({enabled: true}).
	LocalityLbSetting *networkingapi.LocalityLoadBalancerSetting
	// ZoneAwareLbSetting is meshConfig.zoneAwareLbSetting: mesh-wide zone
	// aware routing. It applies where a DestinationRule sets neither
	// zoneAwareLbSetting nor localityLbSetting (and no Service
	// trafficDistribution applies), and takes precedence over the mesh's
	// LocalityLbSetting (loadbalancer.go GetEffectiveLbSetting).
	ZoneAwareLbSetting *networkingapi.ZoneAwareLoadBalancerSetting
	// ClusterLocal makes the topology's Service cluster-local
	// (meshConfig.serviceSettings[{settings: {clusterLocal: true},
	// hosts: [<Service FQDN>]}]): a client reaches only the endpoints of its
	// own cluster, whatever the locality rules say.
	ClusterLocal bool
}

// IsZero reports whether no mesh setting is declared.
func (s MeshSettings) IsZero() bool {
	return s.LocalityLbSetting == nil && s.ZoneAwareLbSetting == nil && !s.ClusterLocal
}

// MeshConfigOverlay returns the MeshConfig fields the topology sets, to
// merge over the installed mesh config (embedded: Istio's
// mesh.DefaultMeshConfig; kind: the istio ConfigMap). nil when none.
func (t Topology) MeshConfigOverlay() *meshconfig.MeshConfig {
	if t.Mesh.IsZero() {
		return nil
	}
	mc := &meshconfig.MeshConfig{LocalityLbSetting: t.Mesh.LocalityLbSetting, ZoneAwareLbSetting: t.Mesh.ZoneAwareLbSetting}
	if t.Mesh.ClusterLocal {
		mc.ServiceSettings = []*meshconfig.MeshConfig_ServiceSettings{{
			Settings: &meshconfig.MeshConfig_ServiceSettings_Settings{ClusterLocal: true},
			Hosts:    []string{t.Host()},
		}}
	}
	return mc
}

// ClusterNames lists the cluster IDs: the declared ones in order, or
// DefaultCluster.
func (t Topology) ClusterNames() []string {
	if len(t.Clusters) == 0 {
		return []string{DefaultCluster}
	}
	out := make([]string, len(t.Clusters))
	for i, c := range t.Clusters {
		out[i] = c.Name
	}
	return out
}

// MultiCluster reports whether the topology declares more than one cluster.
func (t Topology) MultiCluster() bool { return len(t.Clusters) > 1 }

// MultiNetwork reports whether the clusters span more than one network.
func (t Topology) MultiNetwork() bool {
	seen := map[string]bool{}
	for _, c := range t.Clusters {
		seen[c.Network] = true
	}
	return len(seen) > 1
}

// ClusterOfWorkload is the cluster a workload runs in: its Cluster, or the
// first cluster.
func (t Topology) ClusterOfWorkload(w Workload) string {
	if w.Cluster != "" {
		return w.Cluster
	}
	return t.ClusterNames()[0]
}

// ClusterOfClient is the cluster a client pod runs in.
func (t Topology) ClusterOfClient(c Client) string {
	if c.Cluster != "" {
		return c.Cluster
	}
	return t.ClusterNames()[0]
}

// NetworkOf is a cluster's network ("" when none is declared).
func (t Topology) NetworkOf(cluster string) string {
	for _, c := range t.Clusters {
		if c.Name == cluster {
			return c.Network
		}
	}
	return ""
}

// Placement is where a pod runs: its cluster and network.
type Placement struct {
	Cluster string
	Network string
}

// String is "cluster" or "cluster/network".
func (p Placement) String() string {
	if p.Network == "" {
		return p.Cluster
	}
	return p.Cluster + "/" + p.Network
}

// WorkloadPlacement is where a workload's pods run.
func (t Topology) WorkloadPlacement(name string) (Placement, error) {
	w, err := t.Workload(name)
	if err != nil {
		return Placement{}, err
	}
	c := t.ClusterOfWorkload(w)
	return Placement{Cluster: c, Network: t.NetworkOf(c)}, nil
}

// validateClusters checks Clusters, the workloads' and clients' Cluster
// fields and Mesh.
func (t Topology) validateClusters(prefix string) error {
	known := map[string]bool{}
	networks := 0
	for i, c := range t.Clusters {
		if c.Name == "" {
			return fmt.Errorf("%s: Clusters[%d].Name is empty: name every cluster (e.g. cluster1)", prefix, i)
		}
		if err := dns1123Label(fmt.Sprintf("%s: Clusters[%d].Name", prefix, i), c.Name); err != nil {
			return err
		}
		if known[c.Name] {
			return fmt.Errorf("%s: Clusters[%d].Name %q is used twice: cluster names must be unique", prefix, i, c.Name)
		}
		known[c.Name] = true
		if c.Network != "" {
			networks++
			if errs := validation.IsValidLabelValue(c.Network); len(errs) > 0 {
				return fmt.Errorf("%s: Clusters[%d] (%s).Network %q is not a valid label value (%s): it becomes the %s label", prefix, i, c.Name, c.Network, strings.Join(errs, "; "), LabelNetwork)
			}
		}
	}
	if networks != 0 && networks != len(t.Clusters) {
		return fmt.Errorf("%s: only %d of %d Clusters name a Network: name a network for every cluster, or for none (one flat network)", prefix, networks, len(t.Clusters))
	}
	check := func(field, cluster string) error {
		if cluster == "" {
			return nil
		}
		if len(t.Clusters) == 0 {
			return fmt.Errorf("%s: %s is %q but the topology declares no Clusters: declare it in Clusters, or leave the field empty for a single cluster", prefix, field, cluster)
		}
		if !known[cluster] {
			return fmt.Errorf("%s: %s %q is not a declared cluster: use one of %v", prefix, field, cluster, t.ClusterNames())
		}
		return nil
	}
	for i, w := range t.Workloads {
		if err := check(fmt.Sprintf("Workloads[%d] (%s).Cluster", i, w.Name), w.Cluster); err != nil {
			return err
		}
	}
	for i, c := range t.Clients {
		if err := check(fmt.Sprintf("Clients[%d] (%s).Cluster", i, c.Name), c.Cluster); err != nil {
			return err
		}
	}
	if lb := t.Mesh.LocalityLbSetting; lb != nil {
		// Istio's own check of meshConfig.localityLbSetting (ValidateMeshConfig
		// passes an empty outlier detection, so failover is not warned about).
		if v := agent.ValidateLocalityLbSetting(lb, &networkingapi.OutlierDetection{}); v.Err != nil {
			return fmt.Errorf("%s: Mesh.LocalityLbSetting (meshConfig.localityLbSetting): %v: fix it as you would a DestinationRule's localityLbSetting", prefix, v.Err)
		}
	}
	if za := t.Mesh.ZoneAwareLbSetting; za != nil {
		// Istio's ValidateMeshConfig check of meshConfig.zoneAwareLbSetting
		// (again with an empty outlier detection).
		// (istiod_zoneaware.go: the pinned istiod's, none before it).
		if err := validateZoneAwareLbSetting(za); err != nil {
			return fmt.Errorf("%s: Mesh.ZoneAwareLbSetting (meshConfig.zoneAwareLbSetting): %v: fix it as you would a DestinationRule's zoneAwareLbSetting", prefix, err)
		}
	}
	return nil
}

// ByCluster splits rendered objects (Render's output) by the cluster they
// are applied to: a workload's Deployment to its cluster, a client Pod to
// its cluster, and the Service and VirtualService to every cluster (the
// same Service exists in every cluster of the mesh, as Istio's
// multi-cluster guides deploy it; each primary reads its own cluster's
// Istio config).
func (t Topology) ByCluster(objs []client.Object) map[string][]client.Object {
	out := map[string][]client.Object{}
	workloads := map[string]string{}
	for _, w := range t.Workloads {
		workloads[w.Name] = t.ClusterOfWorkload(w)
	}
	clients := map[string]string{}
	for _, c := range t.Clients {
		clients[c.Name] = t.ClusterOfClient(c)
	}
	for _, o := range objs {
		switch o.(type) {
		case *appsv1.Deployment:
			out[workloads[o.GetName()]] = append(out[workloads[o.GetName()]], o)
			continue
		case *corev1.Pod:
			out[clients[o.GetName()]] = append(out[clients[o.GetName()]], o)
			continue
		}
		for _, c := range t.ClusterNames() {
			out[c] = append(out[c], o)
		}
	}
	return out
}

// InCluster is the topology restricted to the workloads and clients
// placed in one cluster (everything else unchanged).
func (t Topology) InCluster(cluster string) Topology {
	sub := t
	sub.Workloads, sub.Clients = nil, nil
	for _, w := range t.Workloads {
		if t.ClusterOfWorkload(w) == cluster {
			sub.Workloads = append(sub.Workloads, w)
		}
	}
	for _, c := range t.Clients {
		if t.ClusterOfClient(c) == cluster {
			sub.Clients = append(sub.Clients, c)
		}
	}
	return sub
}

// NodesIn returns the worker nodes (Nodes) of one cluster: one per
// distinct locality of the workloads and clients placed in it.
func (t Topology) NodesIn(cluster string) []NodeSpec {
	return t.InCluster(cluster).Nodes()
}

// CrossNetworkGateway is Istio's samples/multicluster/expose-services.yaml
// (manifests.ExposeServices): the Gateway cross-network-gateway in
// istio-system, AUTO_PASSTHROUGH on 15443 for *.local, which every cluster
// of a multi-network mesh applies so that its east-west gateway passes
// mTLS traffic through by SNI. Both backends apply this one object.
func CrossNetworkGateway() (*networkingv1.Gateway, error) {
	b, err := manifests.FS.ReadFile(manifests.ExposeServices)
	if err != nil {
		return nil, err
	}
	obj, _, err := decoder.Decode(b, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manifests.ExposeServices, err)
	}
	gw, ok := obj.(*networkingv1.Gateway)
	if !ok {
		return nil, fmt.Errorf("%s decodes to %T, not a Gateway", manifests.ExposeServices, obj)
	}
	return gw, nil
}
