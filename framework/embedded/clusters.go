package embedded

import (
	kubelib "istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/kube/kclient"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/localitylb/locality-e2e/framework/topology"
)

// systemNamespace is where Istio's own objects live (istiod, gateways).
const systemNamespace = "istio-system"

// clusterAnnotation marks the istio-system Namespace given to each
// cluster's fake Kubernetes client, so that the client can be told apart
// when the discovery server builds it (xds.FakeOptions.KubeClientBuilder
// is not told the cluster).
const clusterAnnotation = "locality-e2e/cluster"

// kcluster is one Kubernetes cluster of the mesh: its nodes, its copy of
// the Service, its fake API server (a registry istiod reads, as a primary
// reads a remote cluster through its remote secret), and its east-west
// gateway when the mesh spans networks.
type kcluster struct {
	name, network string
	nodes         []*corev1.Node
	nodeByName    map[string]*corev1.Node
	service       *corev1.Service
	kube          kubelib.Client
	podInformer   kclient.Client[*corev1.Pod] // istiod's own (shared) pod informer
	gateway       *eastWestGateway
}

// newKCluster makes a cluster with one node per locality placed in it.
func newKCluster(topo topology.Topology, name string) *kcluster {
	kc := &kcluster{name: name, network: topo.NetworkOf(name), nodeByName: map[string]*corev1.Node{}}
	for _, ns := range topo.NodesIn(name) {
		n := nodeFor(ns.Locality)
		kc.nodes = append(kc.nodes, n)
		kc.nodeByName[n.Name] = n
	}
	return kc
}

// systemNamespaceObject is the cluster's istio-system Namespace, labelled
// with its network as Istio's multi-network guides label it
// (`kubectl label namespace istio-system topology.istio.io/network=...`).
func (kc *kcluster) systemNamespaceObject() *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:        systemNamespace,
		Annotations: map[string]string{clusterAnnotation: kc.name},
	}}
	if kc.network != "" {
		ns.Labels = map[string]string{topology.LabelNetwork: kc.network}
	}
	return ns
}

// clusterOfObjects finds the cluster name in the objects a fake client is
// built with (the marked istio-system Namespace).
func clusterOfObjects(objs []runtime.Object) string {
	for _, o := range objs {
		if ns, ok := o.(*corev1.Namespace); ok && ns.Name == systemNamespace {
			return ns.Annotations[clusterAnnotation]
		}
	}
	return ""
}

// endpointSlice is the EndpointSlice of this cluster's Service: its own
// pods only, as each cluster's EndpointSlice controller publishes.
func (m *Mesh) endpointSliceIn(kc *kcluster) *discoveryv1.EndpointSlice {
	var objs []*corev1.Pod
	for _, p := range m.allPods() {
		if p.cluster == kc.name {
			objs = append(objs, p.obj)
		}
	}
	return endpointSlice(kc.service, objs, kc.nodeByName)
}
