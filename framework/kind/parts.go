package kind

// What a backend composed of several kind clusters builds on
// (framework/kind/multicluster): one connected cluster (Cluster), the mesh
// of one topology part in it (ClusterMesh), and the kind helpers a
// single-cluster setup also uses.

import (
	"context"
	"io"
	"time"

	meshconfig "istio.io/api/mesh/v1alpha1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// Cluster is one connected cluster: its clients, exec and logs. Unlike a
// Connect backend it tracks no meshes: its caller does.
type Cluster struct{ b *backend }

// ConnectCluster connects to the API server of kubeconfig (kind cluster
// kindCluster, for its node logs when a deploy fails).
func ConnectCluster(ctx context.Context, cfg Config, kubeconfig, kindCluster string, log io.Writer) (*Cluster, error) {
	b := &backend{cfg: cfg, log: log, meshes: map[*kindMesh]bool{}}
	if err := b.connectKubeconfig(ctx, kubeconfig); err != nil {
		return nil, err
	}
	b.cl = &cluster{name: kindCluster, kubeconfig: kubeconfig, provider: NewProvider(log)}
	return &Cluster{b}, nil
}

// Config is the configuration the cluster was connected with.
func (c *Cluster) Config() Config { return c.b.cfg }

// Kube is the cluster's Kubernetes client.
func (c *Cluster) Kube() kubernetes.Interface { return c.b.kube }

// Deployable is the topology as Deploy renders it on this cluster
// (workload image, Service options the API server serves).
func (c *Cluster) Deployable(topo topology.Topology) topology.Topology { return c.b.deployable(topo) }

// CheckNodes checks that every locality of topos has a node.
func (c *Cluster) CheckNodes(ctx context.Context, topos []topology.Topology) error {
	return checkExistingCluster(ctx, c.b.kube, topos)
}

// CreateNamespace creates the labelled namespace ns of topology topo.
func (c *Cluster) CreateNamespace(ctx context.Context, ns, topo string) error {
	_, err := c.b.kube.CoreV1().Namespaces().Create(ctx, namespaceObject(ns, topo, ""), metav1.CreateOptions{})
	return err
}

// Create creates one rendered object.
func (c *Cluster) Create(ctx context.Context, obj client.Object) error { return c.b.create(ctx, obj) }

// Diagnose logs what is wrong with the pods of ns, and the node logs.
func (c *Cluster) Diagnose(ctx context.Context, ns string) { c.b.diagnose(ctx, ns) }

// CheckNoMeshSettings fails if mesh settings are active on this cluster.
func (c *Cluster) CheckNoMeshSettings(ctx context.Context, topo string) error {
	return c.b.checkNoMeshSettings(ctx, topo)
}

// AcquireMeshSettings applies overlay to this cluster's mesh config for
// the scenario of ns (others: open namespaces holding none).
func (c *Cluster) AcquireMeshSettings(ctx context.Context, ns, topo string, overlay *meshconfig.MeshConfig, others []string) error {
	return c.b.acquireMeshSettings(ctx, ns, topo, overlay, others)
}

// ReleaseMeshSettings restores the mesh config ns's scenario changed.
func (c *Cluster) ReleaseMeshSettings(ctx context.Context, ns string) error {
	return c.b.releaseMeshSettings(ctx, ns)
}

// ClusterMesh is the mesh of a topology's part on one Cluster: the pods
// of ns placed there, labelled with an Istio cluster ID and network.
type ClusterMesh struct{ *kindMesh }

// NewMesh is the mesh of part in namespace ns (created by the caller),
// its pods in Istio cluster clusterID on network ("" for the defaults).
func (c *Cluster) NewMesh(ns string, part topology.Topology, clusterID, network string) *ClusterMesh {
	return &ClusterMesh{&kindMesh{b: c.b, ns: ns, topo: part, faults: map[string]mesh.Fault{}, cluster: clusterID, network: network}}
}

// Cluster is the cluster the mesh is on.
func (m *ClusterMesh) Cluster() *Cluster { return &Cluster{m.b} }

// WaitReady waits until the part's workloads and clients are ready.
func (m *ClusterMesh) WaitReady(ctx context.Context, timeout time.Duration) error {
	return m.waitReady(ctx, timeout)
}

// PodsByIP maps the pod addresses of the namespace to pod names.
func (m *ClusterMesh) PodsByIP(ctx context.Context) (map[string]string, error) {
	return m.podsByIP(ctx)
}

// Fetcher reads the sidecars and istiod of this cluster for endpoints.Read.
func (m *ClusterMesh) Fetcher() endpoints.Fetcher { return kindFetcher{m.kindMesh} }

// NewProvider is kind's cluster provider, its log lines to log.
func NewProvider(log io.Writer) *kindcluster.Provider {
	return kindcluster.NewProvider(kindcluster.ProviderWithLogger(newKindLogger(log)))
}

// ConnectClients builds the clients of kubeconfig and checks that its
// API server answers.
func ConnectClients(ctx context.Context, kubeconfig string) (kubernetes.Interface, istioclient.Interface, error) {
	b := &backend{}
	if err := b.connectKubeconfig(ctx, kubeconfig); err != nil {
		return nil, nil, err
	}
	return b.kube, b.istio, nil
}

// FirstLines is the first n lines of s.
func FirstLines(s string, n int) string { return firstLines(s, n) }

// KindOf names an object's kind for messages.
func KindOf(o client.Object) string { return kindOf(o) }

// BuildWorkloadImage builds the workload image and loads it into nodes.
func BuildWorkloadImage(ctx context.Context, nodeList []nodes.Node, log io.Writer) error {
	return buildWorkloadImage(ctx, nodeList, log, runLogged, loadIntoNode)
}

// ClearNodeLogsRequest removes a node logs request left for kind cluster
// name by an earlier run that never reached its teardown.
func ClearNodeLogsRequest(logsDir, name string) { clearNodeLogsRequest(logsDir, name) }

// CollectNodeLogs saves the node logs of kind cluster name into logsDir.
func CollectNodeLogs(p *kindcluster.Provider, name, logsDir string) {
	c := &cluster{name: name, provider: p}
	c.collectLogs(logsDir, io.Discard)
}

// DeleteCluster deletes kind cluster name (created by this run), unless
// keep, after exporting its node logs into logsDir if a spec failed.
func DeleteCluster(p *kindcluster.Provider, name, kubeconfig, logsDir string, keep bool, log io.Writer) error {
	c := &cluster{name: name, kubeconfig: kubeconfig, provider: p, created: true}
	exportNodeLogsIfWanted(c, logsDir, log)
	return c.delete(keep, log)
}

// NodeLocality reads a node's locality labels.
func NodeLocality(labels map[string]string) locality.Locality { return nodeLocality(labels) }
