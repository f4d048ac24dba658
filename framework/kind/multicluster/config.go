package multicluster

// The setup's configuration and shape. Multi-cluster meshes on kind: one kind cluster per declared
// topology.Cluster, all on kind's default Docker network "kind", each with
// its own pod and service subnets, Istio multi-primary in each (a shared
// root CA, remote secrets), and on several networks an east-west gateway
// per cluster with a MetalLB LoadBalancer address.
//
// The recipe is Istio's own kind provisioning for its multicluster
// integration tests, common/scripts/kind_provisioner.sh in istio/istio
// (read at commit 86c9f01fd735fb01d8192f5bcaf0d424afb7f14c):
// setup_kind_clusters (a kind config per cluster with
// networking.podSubnet/serviceSubnet, prow/config/topology/multicluster.json
// for the subnets), connect_kind_clusters (ip routes between the nodes of
// clusters on one network), install_metallb (LoadBalancer addresses taken
// from the kind Docker network), and Istio's multicluster guides
// (samples/multicluster/gen-eastwest-gateway.sh, expose-services.yaml,
// "Plug in CA certificates" with tools/certs). None of it has been run
// from this repository: it is unit-tested (rendered configs, exact argv,
// client-go fakes) only.

import (
	"fmt"
	"k8s.io/apimachinery/pkg/util/validation"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// Environment variables of the multi-cluster setup.
const (
	// EnvKubectl is the kubectl binary the multi-cluster setup runs
	// (MetalLB, remote secrets); "kubectl" on PATH by default.
	EnvKubectl = "KUBECTL"
	// EnvMetalLBManifest replaces the MetalLB manifest URL (e.g. a local
	// copy for an offline machine).
	EnvMetalLBManifest = "LOCALITY_E2E_METALLB_MANIFEST"
	// envKindNetwork is kind's own variable that moves its nodes to
	// another Docker network than "kind" (sigs.k8s.io/kind docker provider).
	envKindNetwork = "KIND_EXPERIMENTAL_DOCKER_NETWORK"
)

// Multi-cluster defaults.
const (
	// KindNetwork is kind's default Docker network: every node of every
	// cluster joins it, so nodes reach each other by their InternalIP.
	KindNetwork = "kind"
	// DefaultMeshID is values.global.meshID of every cluster (Istio's
	// multicluster guides use mesh1).
	DefaultMeshID = "mesh1"
	// DefaultMetalLBManifest is MetalLB's manifest at the version whose
	// images istio/istio's copy (common/scripts/metallb-native.yaml, read
	// at the commit above) runs: controller and speaker v0.14.3.
	DefaultMetalLBManifest = "https://raw.githubusercontent.com/metallb/metallb/v0.14.3/config/manifests/metallb-native.yaml"
	// DefaultCAKeyBits is the RSA size of the generated root and
	// intermediate CA keys (tools/certs/common.mk ROOTCA_KEYSZ,
	// INTERMEDIATE_KEYSZ).
	DefaultCAKeyBits = 4096
	// MaxClusters bounds the declared clusters: cluster i gets pod subnet
	// 10.<10(i+1)>.0.0/16, which must stay below 10.255 (the service
	// subnets' /16).
	MaxClusters = 24
	// MaxMultiNetworkClusters: install_metallb hands each cluster 20 of
	// the 100 addresses it takes from the kind network (one skipped).
	MaxMultiNetworkClusters = 4
	// apiServerPort is the port of a kind control plane's API server on
	// the kind network.
	apiServerPort = 6443
)

// Options are the multi-cluster setup's own settings, next to
// Config's (cluster name prefix, node image, istioctl, timeouts, ...).
type Options struct {
	Kubectl         string
	MetalLBManifest string
	MeshID          string
	CAKeyBits       int
	// Dir receives the rendered files (IstioOperators, MetalLB pool,
	// remote secrets). Empty: <TMPDIR>/locality-e2e-<prefix>-multicluster.
	Dir string
}

// DefaultOptions are the options without any environment.
func DefaultOptions() Options {
	return Options{Kubectl: "kubectl", MetalLBManifest: DefaultMetalLBManifest, MeshID: DefaultMeshID, CAKeyBits: DefaultCAKeyBits}
}

// Enabled reads EnvKindMultiCluster: false when unset, empty,
// 0 or false; true for 1, true, or the name of a topology (which selects
// the setup, see Select).
func Enabled() (bool, error) { return multiClusterEnabled(os.LookupEnv) }

func multiClusterEnabled(lookup func(string) (string, bool)) (bool, error) {
	on, _, err := multiClusterSelection(lookup)
	return on, err
}

// Selection is the topology name EnvKindMultiCluster names, ""
// for 1/true (the first multi-cluster topology of the suite).
func Selection() (string, error) {
	_, name, err := multiClusterSelection(os.LookupEnv)
	return name, err
}

func multiClusterSelection(lookup func(string) (string, bool)) (on bool, name string, err error) {
	v, ok := lookup(kind.EnvKindMultiCluster)
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return false, "", nil
	}
	if b, err := strconv.ParseBool(v); err == nil {
		return b, "", nil
	}
	if errs := validation.IsDNS1123Label(v); len(errs) > 0 {
		return false, "", fmt.Errorf("%s=%q is neither a boolean nor a topology name: use 1 (the suite's first multi-cluster topology), 0, or a topology name such as locality-task-multinetwork", kind.EnvKindMultiCluster, v)
	}
	return true, v, nil
}

// Select picks, among topos, those one multi-cluster kind
// setup serves: the Clusters of the topology named want, or of the first
// multi-cluster topology when want is "", and every topology that declares
// the same Clusters, whatever its mesh settings (applied at Deploy). The
// others are
// returned in skipped: on this setup their Deploy is refused with
// mesh.ErrTopologyUnsupported and the specs skip them (run the suite again
// with EnvKindMultiCluster naming one of them).
func Select(topos []topology.Topology, want string) (selected []topology.Topology, skipped []string, err error) {
	var ref *topology.Topology
	for i, t := range topos {
		if t.MultiCluster() && (want == "" || t.Name == want) {
			ref = &topos[i]
			break
		}
	}
	if ref == nil {
		var names []string
		for _, t := range topos {
			if t.MultiCluster() {
				names = append(names, t.Name)
			}
		}
		if want != "" {
			return nil, nil, fmt.Errorf("%s=%s: no multi-cluster topology of that name: use one of %v", kind.EnvKindMultiCluster, want, names)
		}
		return nil, nil, fmt.Errorf("multi-cluster kind setup: no topology declares more than one cluster (Topology.Clusters): declare Clusters in the topology, or unset %s for the single kind cluster", kind.EnvKindMultiCluster)
	}
	for _, t := range topos {
		if t.MultiCluster() && sameClusters(t.Clusters, ref.Clusters) {
			selected = append(selected, t)
		} else if t.MultiCluster() {
			skipped = append(skipped, t.Name)
		}
	}
	return selected, skipped, nil
}

// OptionsFromEnv is DefaultOptions overridden by
// EnvKubectl and EnvMetalLBManifest.
func OptionsFromEnv() Options {
	return multiClusterOptionsFrom(os.LookupEnv)
}

func multiClusterOptionsFrom(lookup func(string) (string, bool)) Options {
	o := DefaultOptions()
	if v, ok := lookup(EnvKubectl); ok && strings.TrimSpace(v) != "" {
		o.Kubectl = strings.TrimSpace(v)
	}
	if v, ok := lookup(EnvMetalLBManifest); ok && strings.TrimSpace(v) != "" {
		o.MetalLBManifest = strings.TrimSpace(v)
	}
	return o
}

// KindClusterName is the kind cluster of a declared cluster:
// "<Config.ClusterName>-<cluster>", e.g. locality-e2e-cluster1.
func KindClusterName(prefix, cluster string) string { return prefix + "-" + cluster }

// ClusterSubnets are a cluster's pod and service subnets: cluster i
// (0-based, in declaration order) gets 10.<10(i+1)>.0.0/16 and
// 10.255.<10(i+1)>.0/24, as prow/config/topology/multicluster.json gives
// its clusters (10.10.0.0/16 and 10.255.10.0/24, then 10.20..., 10.30...).
// kind's defaults (10.244.0.0/16, 10.96.0.0/16) would be the same in
// every cluster, and routes between them would clash.
func ClusterSubnets(i int) (pod, service string) {
	n := 10 * (i + 1)
	return fmt.Sprintf("10.%d.0.0/16", n), fmt.Sprintf("10.255.%d.0/24", n)
}

// Namespace is the namespace a topology is deployed into in
// every cluster (Istio's namespace sameness: a Service is one service
// across clusters only under the same name and namespace). It is fixed,
// not random as on one cluster: the clusters are created for the run, so
// nothing else uses it, and the Service's host (named by a cluster-local
// Service's serviceSettings) is known before Deploy.
func Namespace(topo string) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, topo)
	if max := 63 - len("le2e-"); len(name) > max {
		name = name[:max]
	}
	name = strings.Trim(name, "-")
	if name == "" {
		name = "topology"
	}
	return "le2e-" + name
}

// Topology merges the topologies that declare more than one
// cluster (Topology.MultiCluster) into the one the setup is built for:
// their common Clusters, and their workloads and clients (for the nodes
// each cluster needs), named name. They must declare the same Clusters in
// the same order; their Mesh settings may differ (applied per scenario at
// Deploy). Topologies of one cluster are skipped. The error names the
// field and the fix.
func Topology(name string, topos []topology.Topology) (topology.Topology, []topology.Topology, error) {
	var mc []topology.Topology
	for _, t := range topos {
		if t.MultiCluster() {
			mc = append(mc, t)
		}
	}
	if len(mc) == 0 {
		return topology.Topology{}, nil, fmt.Errorf("multi-cluster kind setup: no topology declares more than one cluster (Topology.Clusters): declare Clusters in the topology, or unset %s for the single kind cluster", kind.EnvKindMultiCluster)
	}
	first := mc[0]
	u := topology.Topology{Name: name, Service: "nodes", Clusters: first.Clusters}
	for _, t := range mc {
		if !sameClusters(t.Clusters, first.Clusters) {
			return topology.Topology{}, nil, fmt.Errorf("multi-cluster kind setup: topology %q declares Clusters %v but %q declares %v: one setup serves one set of clusters; give every multi-cluster topology the same Clusters (or prepare them separately)",
				t.Name, t.Clusters, first.Name, first.Clusters)
		}
		for _, w := range t.Workloads {
			w.Cluster = t.ClusterOfWorkload(w)
			w.Name = fmt.Sprintf("node-%d", len(u.Workloads)+1)
			w.Replicas, w.Labels = 1, nil
			u.Workloads = append(u.Workloads, w)
		}
		for _, c := range t.Clients {
			u.Workloads = append(u.Workloads, topology.Workload{Name: fmt.Sprintf("node-%d", len(u.Workloads)+1), Locality: c.Locality, Replicas: 1, Cluster: t.ClusterOfClient(c)})
		}
	}
	return u.WithDefaults(), mc, nil
}

func sameClusters(a, b []topology.Cluster) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// validateMultiCluster checks what the multi-cluster setup needs beyond
// Config.Validate, naming the field and the fix.
func validateMultiCluster(cfg kind.Config, o Options, topo topology.Topology, lookup func(string) (string, bool)) error {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if err := cfg.Validate(); err != nil {
		add("%v", err)
	}
	if err := topo.Validate(); err != nil {
		add("%v", err)
	}
	if !topo.MultiCluster() {
		add("topology %q declares %d cluster(s) in Clusters: the multi-cluster setup needs at least two; use the single kind cluster (unset %s) otherwise", topo.Name, len(topo.Clusters), kind.EnvKindMultiCluster)
	}
	if len(topo.Clusters) > MaxClusters {
		add("topology %q declares %d Clusters: at most %d (pod subnets 10.10.0.0/16 to 10.%d.0.0/16)", topo.Name, len(topo.Clusters), MaxClusters, 10*MaxClusters)
	}
	if topo.MultiNetwork() && len(topo.Clusters) > MaxMultiNetworkClusters {
		add("topology %q declares %d Clusters on several networks: at most %d, each gets 20 of the 100 MetalLB addresses taken from the kind network (kind_provisioner.sh install_metallb)", topo.Name, len(topo.Clusters), MaxMultiNetworkClusters)
	}
	for _, c := range topo.Clusters {
		if n := KindClusterName(cfg.ClusterName, c.Name); !kind.ValidClusterName(n) {
			add("Clusters name %q with ClusterName (%s) %q makes kind cluster %q, not a valid kind cluster name (lower-case letters, digits and '-', at most 50): shorten %s or the cluster name", c.Name, kind.EnvClusterName, cfg.ClusterName, n, kind.EnvClusterName)
		}
	}
	if cfg.Kubeconfig != "" {
		add("Kubeconfig (%s) with %s: the multi-cluster setup creates its own kind clusters; unset %s", kind.EnvKubeconfig, kind.EnvKindMultiCluster, kind.EnvKubeconfig)
	}
	if cfg.ReuseCluster {
		add("ReuseCluster (%s) with %s: the multi-cluster setup always creates its clusters (routes, CA and remote secrets are set up once); unset %s and delete the old clusters (kind delete clusters --all)", kind.EnvReuseCluster, kind.EnvKindMultiCluster, kind.EnvReuseCluster)
	}
	if cfg.Revision != "" {
		add("Revision (%s) with %s: revisioned control planes are not supported on the multi-cluster setup; unset %s", kind.EnvIstioRevision, kind.EnvKindMultiCluster, kind.EnvIstioRevision)
	}
	if cfg.PreloadImages {
		add("PreloadImages (%s) with %s: not supported on the multi-cluster setup (the built-in workload image is always loaded); unset %s", kind.EnvPreloadImages, kind.EnvKindMultiCluster, kind.EnvPreloadImages)
	}
	if v, ok := lookup(envKindNetwork); ok && v != "" && v != KindNetwork {
		add("%s=%q moves kind's nodes off the Docker network %q the multi-cluster setup routes and takes MetalLB addresses on: unset it", envKindNetwork, v, KindNetwork)
	}
	if o.Kubectl == "" {
		add("Kubectl (%s) is empty: point it at kubectl", EnvKubectl)
	}
	if o.MetalLBManifest == "" && topo.MultiNetwork() {
		add("MetalLBManifest (%s) is empty: use %s", EnvMetalLBManifest, DefaultMetalLBManifest)
	}
	if o.MeshID == "" {
		add("MeshID is empty: use %s", DefaultMeshID)
	}
	if o.CAKeyBits < 2048 {
		add("CAKeyBits is %d: use at least 2048 (tools/certs uses %d)", o.CAKeyBits, DefaultCAKeyBits)
	}
	if len(errs) > 0 {
		return fmt.Errorf("multi-cluster kind setup: %s", strings.Join(errs, "; "))
	}
	return nil
}

// KindConfigs are the kind configs, one per declared cluster
// in order: a control plane and one worker per locality placed in the
// cluster (topology.KindConfig of the cluster's nodes, Topology.NodesIn),
// with ClusterSubnets(i) as networking.podSubnet and serviceSubnet
// (setup_kind_clusters' deploy_kind appends exactly these two fields to
// the default cluster YAML).
func KindConfigs(cfg kind.Config, topo topology.Topology) []*v1alpha4.Cluster {
	out := make([]*v1alpha4.Cluster, 0, len(topo.Clusters))
	for i, c := range topo.Clusters {
		sub := topology.Topology{Name: KindClusterName(cfg.ClusterName, c.Name), Service: "nodes"}
		for j, n := range topo.NodesIn(c.Name) {
			sub.Workloads = append(sub.Workloads, topology.Workload{Name: fmt.Sprintf("node-%d", j+1), Locality: n.Locality, Replicas: 1})
		}
		kc := topology.KindConfig(sub, cfg.NodeImage)
		kc.Name = sub.Name
		kc.Networking.PodSubnet, kc.Networking.ServiceSubnet = ClusterSubnets(i)
		out = append(out, kc)
	}
	return out
}

// kindNodeNames are the node (container) names kind gives a cluster of
// one control plane and workers workers: <name>-control-plane,
// <name>-worker, <name>-worker2, ...
func kindNodeNames(name string, workers int) []string {
	out := []string{name + "-control-plane"}
	for i := 1; i <= workers; i++ {
		if i == 1 {
			out = append(out, name+"-worker")
		} else {
			out = append(out, fmt.Sprintf("%s-worker%d", name, i))
		}
	}
	return out
}

// NodeFact is what the setup reads of a node once its cluster exists:
// its InternalIP (on kind, the node container's address on the kind
// network) and the pod CIDR the controller manager gave it.
type NodeFact struct {
	Name         string
	IP           string
	PodCIDR      string
	ControlPlane bool
}

// Facts are the addresses only known once the clusters exist.
type Facts struct {
	// Nodes by declared cluster name, control plane first.
	Nodes map[string][]NodeFact
	// KindSubnets are the subnets of the Docker network "kind" (IPv4 and
	// IPv6), read by DockerNetworkSubnetsArgs.
	KindSubnets []string
}

// placeholderFacts stand for the facts in a printed plan: node names are
// kind's, addresses are <...> placeholders.
func placeholderFacts(cfg kind.Config, topo topology.Topology) *Facts {
	f := &Facts{Nodes: map[string][]NodeFact{}}
	for i, kc := range KindConfigs(cfg, topo) {
		for j, n := range kindNodeNames(kc.Name, len(kc.Nodes)-1) {
			f.Nodes[topo.Clusters[i].Name] = append(f.Nodes[topo.Clusters[i].Name], NodeFact{
				Name: n, IP: "<InternalIP of " + n + ">", PodCIDR: "<podCIDR of " + n + ">", ControlPlane: j == 0,
			})
		}
	}
	return f
}

// DockerNetworkSubnetsArgs prints the subnets of the kind network, one
// per line (install_metallb reads .IPAM.Config[].Subnet with jq).
func DockerNetworkSubnetsArgs() []string {
	return []string{"docker", "network", "inspect", KindNetwork, "--format", "{{range .IPAM.Config}}{{println .Subnet}}{{end}}"}
}

// ParseSubnets parses DockerNetworkSubnetsArgs' output.
func ParseSubnets(out string) ([]string, error) {
	var subs []string
	for _, f := range strings.Fields(out) {
		if _, err := netip.ParsePrefix(f); err != nil {
			return nil, fmt.Errorf("docker network %s: subnet %q: %v", KindNetwork, f, err)
		}
		subs = append(subs, f)
	}
	if len(subs) == 0 {
		return nil, fmt.Errorf("docker network %s has no subnet (output %q): is kind's network there? (docker network inspect %s)", KindNetwork, out, KindNetwork)
	}
	return subs, nil
}

// MetalLBAddresses are the LoadBalancer addresses of the cluster with
// index i (0-based) as kind_provisioner.sh's install_metallb gives them:
// from the kind network's IPv4 subnet, cidr_to_ips lists hosts 1000 to
// 1999 (or the last quarter of a small subnet), keeps the last 100, and
// each cluster in turn takes 20 of them after skipping one, each as /32.
func MetalLBAddresses(subnets []string, i int) ([]string, error) {
	var v4 netip.Prefix
	for _, s := range subnets {
		p, err := netip.ParsePrefix(s)
		if err == nil && p.Addr().Is4() {
			v4 = p.Masked()
			break
		}
	}
	if !v4.IsValid() {
		return nil, fmt.Errorf("the Docker network %s has no IPv4 subnet (%v): MetalLB needs one", KindNetwork, subnets)
	}
	bits := 32 - v4.Bits()
	if bits < 2 {
		return nil, fmt.Errorf("the Docker network %s's subnet %s is too small for MetalLB", KindNetwork, v4)
	}
	netLen := 1 << bits
	start, end := netLen/4*3, netLen
	if netLen > 2000 {
		start, end = 1000, 2000
	}
	hosts := netLen - 2 // Python's ip_network.hosts(): no network, no broadcast
	end = min(end, hosts)
	var ips []netip.Addr
	base := v4.Addr().As4()
	first := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	for k := start; k < end; k++ {
		n := first + 1 + uint32(k)
		ips = append(ips, netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}))
	}
	if len(ips) > 100 {
		ips = ips[len(ips)-100:]
	}
	lo, hi := 1+20*i, 20+20*i
	if hi >= len(ips) {
		return nil, fmt.Errorf("the Docker network %s's subnet %s leaves %d MetalLB addresses: too few for cluster %d (20 each)", KindNetwork, v4, len(ips), i+1)
	}
	out := make([]string, 0, 20)
	for _, ip := range ips[lo : hi+1] {
		out = append(out, ip.String()+"/32")
	}
	return out, nil
}

// multiClusterDir is where the setup's rendered files go.
func multiClusterDir(cfg kind.Config, o Options) string {
	if o.Dir != "" {
		return o.Dir
	}
	return filepath.Join(os.TempDir(), "locality-e2e-"+cfg.ClusterName+"-multicluster")
}
