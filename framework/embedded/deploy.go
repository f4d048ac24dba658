package embedded

// deploy.go owns building a mesh: istiod and its fake API servers, the pods
// and clients of a topology, gateways, and the first convergence.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/gvk"
	kubelib "istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/kube/kclient"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	eps "github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/topology"
)

func deploy(ctx context.Context, topo topology.Topology, opts Options, seed uint64) (_ *Mesh, err error) {
	topo = topo.WithDefaults()
	if err := topo.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("deploy topology %q: %s before deploying (nothing started): %w", topo.Name, cancelWord(err), err)
	}
	objs, err := topology.Render(topo)
	if err != nil {
		return nil, fmt.Errorf("render topology %q: %w", topo.Name, err)
	}
	if err := checkFDBudget(fmt.Sprintf("deploy topology %q", topo.Name), podsOf(topo)); err != nil {
		return nil, err
	}
	transport := newPodTransport()
	m := &Mesh{
		opts:        opts,
		log:         opts.Log,
		life:        &lifetime{},
		closingCh:   make(chan struct{}),
		rng:         rngFor(seed),
		seed:        seed,
		topo:        topo,
		clusters:    map[string]*kcluster{},
		gatewayIPs:  map[string]bool{},
		deployments: map[string]*appsv1.Deployment{},
		podHash:     map[string]string{},
		podNames:    map[string]*podNamer{},
		pods:        map[string][]*pod{},
		clients:     map[string]*client{},
		drs:         map[string]*networkingv1.DestinationRule{},
		vss:         map[string]*networkingv1.VirtualService{},
		clock:       newVirtualClock(),
		transport:   transport,
		httpClient:  &http.Client{Transport: transport},
		hostHeader:  topo.Host(),
	}
	defer func() {
		if err != nil {
			_ = m.Close(context.Background())
		}
	}()
	progress(m.log, "embedded: deploying topology %s (%d workloads, %d clients)", topo.Name, len(topo.Workloads), len(topo.Clients))

	// Each cluster: one node per locality placed in it, labelled as a kind
	// worker would be, and its istio-system Namespace (with its network).
	for _, name := range topo.ClusterNames() {
		m.clusters[name] = newKCluster(topo, name)
		if err := m.clusters[name].addNamedNodes(topo); err != nil {
			return nil, fmt.Errorf("deploy topology %q: %w", topo.Name, err)
		}
	}
	kubeObjects := map[cluster.ID][]runtime.Object{}
	var configs []config.Config
	for _, kc := range m.clusters {
		kubeObjects[cluster.ID(kc.name)] = append(kubeObjects[cluster.ID(kc.name)], kc.systemNamespaceObject())
		for _, n := range kc.nodes {
			kubeObjects[cluster.ID(kc.name)] = append(kubeObjects[cluster.ID(kc.name)], n)
		}
	}
	vsSeen := map[string]bool{}
	byCluster := topo.ByCluster(objs)
	for _, cname := range topo.ClusterNames() {
		kc := m.clusters[cname]
		for _, o := range byCluster[cname] {
			switch obj := o.(type) {
			case *appsv1.Deployment:
				m.deployments[obj.Name] = obj
				m.podHash[obj.Name] = randomSuffix(m.rng, 10)
				m.podNames[obj.Name] = newPodNamer(m.rng)
			case *corev1.Service:
				kc.service = obj.DeepCopy()
				kc.service.Spec.ClusterIP = nextAddress() // never dialed; istiod needs one
				kubeObjects[cluster.ID(cname)] = append(kubeObjects[cluster.ID(cname)], kc.service)
			case *networkingv1.VirtualService:
				// Istio config: one istiod reads it once.
				key := obj.Namespace + "/" + obj.Name
				if vsSeen[key] {
					continue
				}
				vsSeen[key] = true
				m.vss[key] = obj.DeepCopy()
				configs = append(configs, config.Config{
					Meta: config.Meta{GroupVersionKind: gvk.VirtualService, Name: obj.Name, Namespace: obj.Namespace},
					Spec: proto.Clone(&obj.Spec),
				})
			case *corev1.Pod:
				c, err := m.newClient(kc, obj)
				if err != nil {
					return nil, err
				}
				kubeObjects[cluster.ID(cname)] = append(kubeObjects[cluster.ID(cname)], c.obj)
			default:
				return nil, fmt.Errorf("embedded backend: rendered object %T is not supported", o)
			}
		}
		if kc.service == nil {
			return nil, fmt.Errorf("topology %q rendered no Service for cluster %s", topo.Name, cname)
		}
	}
	for _, w := range topo.Workloads {
		for i := 0; i < w.Replicas; i++ {
			p, err := m.newPod(w.Name)
			if err != nil {
				return nil, err
			}
			kubeObjects[cluster.ID(p.cluster)] = append(kubeObjects[cluster.ID(p.cluster)], p.obj)
		}
	}
	for _, kc := range m.clusters {
		kubeObjects[cluster.ID(kc.name)] = append(kubeObjects[cluster.ID(kc.name)], m.endpointSliceIn(kc))
		kubeObjects[cluster.ID(kc.name)] = append(kubeObjects[cluster.ID(kc.name)], m.clientServiceObjects(kc)...)
	}
	// A multi-network mesh: an east-west gateway in every cluster that runs
	// workloads, and Istio's cross-network Gateway config.
	if topo.MultiNetwork() {
		for _, kc := range m.clusters {
			g, err := m.newEastWestGateway(kc)
			if err != nil {
				return nil, err
			}
			if g == nil {
				continue
			}
			kc.gateway = g
			m.gatewayIPs[g.ip] = true
			kubeObjects[cluster.ID(kc.name)] = append(kubeObjects[cluster.ID(kc.name)], g.service, g.pod)
		}
		gw, err := exposeServicesConfig()
		if err != nil {
			return nil, err
		}
		configs = append(configs, gw)
	}
	meshConfig, err := defaultMeshConfig()
	if err != nil {
		return nil, err
	}
	if overlay := topo.MeshConfigOverlay(); overlay != nil {
		proto.Merge(meshConfig, overlay)
	}
	clients := map[string]kubelib.Client{}
	var clientsMu sync.Mutex

	start := time.Now()
	krtBefore := krtDebugUIDs()
	if err := m.life.run(func() {
		defer func() { m.krtUIDs = krtDebugAdded(krtBefore) }()
		m.fake = xds.NewFakeDiscoveryServer(m.life, xds.FakeOptions{
			DefaultClusterName:         cluster.ID(topo.ClusterNames()[0]),
			KubernetesObjectsByCluster: kubeObjects,
			Configs:                    configs,
			MeshConfig:                 meshConfig,
			// The discovery server builds one fake client per cluster;
			// keep each, found by its marked istio-system Namespace.
			KubeClientBuilder: func(objs ...runtime.Object) kubelib.Client {
				c := newFakeKubeClient(objs)
				clientsMu.Lock()
				clients[clusterOfObjects(objs)] = c
				clientsMu.Unlock()
				return c
			},
		})
	}); err != nil {
		return nil, fmt.Errorf("start istiod (in process): %w", err)
	}
	for _, kc := range m.clusters {
		if kc.kube = clients[kc.name]; kc.kube == nil {
			return nil, fmt.Errorf("start istiod (in process): no Kubernetes client was built for cluster %s", kc.name)
		}
		kc.podInformer = kclient.NewFiltered[*corev1.Pod](kc.kube, kclient.Filter{
			// The key of istiod's kube controller's pod informer, so this is
			// the same informer (informerfactory shares one per key).
			ObjectFilter:    kc.kube.ObjectFilter(),
			ObjectTransform: kubelib.StripPodUnusedFields,
			FieldSelector:   "status.phase!=Failed",
		})
	}
	if err := m.waitEndpoints(ctx, 0); err != nil {
		return nil, err
	}
	if err := m.waitGateways(ctx); err != nil {
		return nil, err
	}
	if m.debug, err = startDebugServer(m.fake.DiscoveryDebug); err != nil {
		return nil, err
	}
	for _, name := range m.clientNames() {
		c := m.clients[name]
		if c.side, err = connectSidecar(m, c); err != nil {
			return nil, err
		}
	}
	for _, g := range m.gateways() {
		if err := g.start(m); err != nil {
			return nil, err
		}
	}
	if err := m.converge(ctx); err != nil {
		return nil, err
	}
	progress(m.log, "embedded: istiod ready in %v (%d pods)", time.Since(start).Round(time.Millisecond), m.podCount())
	return m, nil
}

// rngFor is a mesh's random source (pod names) for its seed.
func rngFor(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func (m *Mesh) newClient(kc *kcluster, obj *corev1.Pod) (*client, error) {
	node, err := scheduleTo(obj.Spec.NodeSelector, kc.nodes)
	if err != nil {
		return nil, fmt.Errorf("client pod %s: %w", obj.Name, err)
	}
	if n := m.namedNode("", obj.Name); n != "" {
		node = n // nodes.go
	}
	var loc locality.Locality
	for _, c := range m.topo.Clients {
		if c.Name == obj.Name {
			loc = c.Locality
		}
	}
	ip, admin, err := reserveAddress(adminPort)
	if err != nil {
		return nil, fmt.Errorf("client pod %s: %w", obj.Name, err)
	}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: obj.ObjectMeta, Spec: obj.Spec}
	p := runningPod(tmpl, obj.Name, obj.Namespace, node, ip, "")
	injectLabels(p, kc.network)
	c := &client{obj: p, locality: loc, cluster: kc.name, admin: admin}
	m.clients[obj.Name] = c
	return c, nil
}

// newPod starts a pod of the workload: picks a name like the ReplicaSet
// controller does, schedules it to its locality's node and serves on a new
// loopback address.
func (m *Mesh) newPod(workload string) (*pod, error) {
	d := m.deployments[workload]
	suffix, err := m.podNames[workload].next()
	if err != nil {
		return nil, fmt.Errorf("workload %s: %w", workload, err)
	}
	name := fmt.Sprintf("%s-%s-%s", workload, m.podHash[workload], suffix)
	w, _ := m.topo.Workload(workload)
	kc := m.clusters[m.topo.ClusterOfWorkload(w)]
	node, err := scheduleTo(d.Spec.Template.Spec.NodeSelector, kc.nodes)
	if err != nil {
		return nil, fmt.Errorf("workload %s: %w", workload, err)
	}
	if n := m.namedNode(workload, ""); n != "" {
		node = n // nodes.go
	}
	srv, err := startPod(name, m.topo.Port)
	if err != nil {
		return nil, err
	}
	obj := runningPod(d.Spec.Template, name, d.Namespace, node, srv.ip, workload)
	obj.Labels["pod-template-hash"] = m.podHash[workload]
	injectLabels(obj, kc.network)
	p := &pod{obj: obj, server: srv, workload: workload, locality: w.Locality.String(), cluster: kc.name}
	m.pods[workload] = append(m.pods[workload], p)
	return p, nil
}

// injectLabels adds the labels Istio's sidecar injector gives every
// injected pod that the embedded backend's istiod reads:
// security.istio.io/tlsMode=istio (the endpoint speaks Istio mTLS, which
// cross-network routing requires: pilot/pkg/xds/endpoints/ep_filters.go)
// and, on a cluster installed with values.global.network,
// topology.istio.io/network.
func injectLabels(p *corev1.Pod, netw string) {
	p.Labels["security.istio.io/tlsMode"] = "istio"
	if netw != "" {
		p.Labels[topology.LabelNetwork] = netw
	}
}

// gateways lists the east-west gateways, by cluster name.
func (m *Mesh) gateways() []*eastWestGateway {
	var out []*eastWestGateway
	for _, name := range m.topo.ClusterNames() {
		if kc := m.clusters[name]; kc != nil && kc.gateway != nil {
			out = append(out, kc.gateway)
		}
	}
	return out
}

// waitGateways waits until istiod knows every east-west gateway (its
// NetworkManager, which EDS takes gateway endpoints from).
func (m *Mesh) waitGateways(ctx context.Context) error {
	want := len(m.gateways())
	if want == 0 {
		return nil
	}
	return m.poll(ctx, fmt.Sprintf("istiod to discover %d east-west gateways", want), func() bool {
		return len(m.fake.Discovery.Env.NetworkManager.AllGateways()) == want && m.synced(0)
	})
}

// places says where every pod and gateway address is (cluster, network),
// for a multi-cluster topology; nil for a single cluster, whose tables
// need no cluster column.
func (m *Mesh) places() map[string]eps.Place {
	if !m.topo.MultiCluster() {
		return nil
	}
	out := map[string]eps.Place{}
	for _, p := range m.allPods() {
		out[p.obj.Status.PodIP] = eps.Place{Cluster: p.cluster, Network: m.clusters[p.cluster].network}
	}
	for _, g := range m.gateways() {
		out[g.ip] = eps.Place{Cluster: g.cluster, Network: g.network, Gateway: true}
	}
	return out
}
