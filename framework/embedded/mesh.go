package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"istio.io/istio/pilot/pkg/model"
	labelutil "istio.io/istio/pilot/pkg/serviceregistry/util/label"
	"istio.io/istio/pilot/pkg/xds/endpoints"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/host"
	"istio.io/istio/pkg/config/schema/gvk"
	kubelib "istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/kube/kclient"
	"istio.io/istio/pkg/network"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	eps "github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/envoylb"
	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
	"github.com/localitylb/locality-e2e/framework/virtualservice"
)

const (
	// syncTimeout bounds every wait for istiod to process a change.
	syncTimeout = 30 * time.Second
)

// pod is one workload pod: its Kubernetes object and its loopback server.
type pod struct {
	obj      *corev1.Pod
	server   *podServer
	workload string
	locality string
	cluster  string
}

// client is one client pod and its simulated sidecar.
type client struct {
	obj      *corev1.Pod
	locality locality.Locality
	cluster  string
	side     *sidecar
	// admin is the sidecar's admin API listener, bound on the pod's
	// address when the pod is made: binding is what reserves the address
	// against other processes (go test runs packages in parallel).
	admin net.Listener
}

// Mesh is one topology running on its own in-process istiod.
type Mesh struct {
	opts    Options
	log     io.Writer
	life    *lifetime
	fake    *xds.FakeDiscoveryServer
	rng     *rand.Rand
	seed    uint64
	onClose func()

	mu          sync.RWMutex
	closed      bool
	closing     atomic.Bool    // set first by Close: batches in flight stop
	sends       sync.WaitGroup // batches in flight
	retiring    retirer        // pods told to stop, draining (retire.go)
	topo        topology.Topology
	clusters    map[string]*kcluster // by name; one unless the topology declares Clusters
	deployments map[string]*appsv1.Deployment
	podHash     map[string]string
	podNames    map[string]*podNamer // by workload: unique pod name suffixes
	pods        map[string][]*pod    // by workload, in creation order
	clients     map[string]*client
	drs         map[string]*networkingv1.DestinationRule // by "namespace/name"
	vss         map[string]*networkingv1.VirtualService  // by "namespace/name"
	clock       *virtualClock
	gatewayIPs  map[string]bool // east-west gateway addresses; fixed at deploy
	debug       *debugServer
	httpClient  *http.Client
	transport   *http.Transport
	hostHeader  string // topo.Host(), the Host header of every request

	// closingCh is closed with closing: waits for istiod stop
	// (changelock.go).
	closingCh chan struct{}
	closeOnce sync.Once
	// krtUIDs are the krt collections deploy registered in
	// krt.GlobalDebugHandler; Close releases them (krtdebug.go).
	krtUIDs map[uint64]bool
}

var _ mesh.Mesh = (*Mesh)(nil)

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
				c := kubelib.NewFakeClientWithVersion("", objs...)
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

func (m *Mesh) allPods() []*pod {
	var out []*pod
	for _, w := range m.topo.Workloads {
		out = append(out, m.pods[w.Name]...)
	}
	return out
}

func (m *Mesh) podCount() int { return len(m.allPods()) }

// waitEndpoints waits until istiod's endpoint index holds exactly the
// current pods' addresses, at least minInbound updates arrived and every
// one is committed to the push context (the discovery server's sync
// counters). It never sleeps a fixed time: it polls the counters.
func (m *Mesh) waitEndpoints(ctx context.Context, minInbound int64) error {
	want := map[string]bool{}
	for _, p := range m.allPods() {
		want[p.obj.Status.PodIP] = true
	}
	return m.poll(ctx, "istiod to see the endpoints of "+m.topo.Service, func() bool {
		got := m.indexedAddresses()
		if len(got) != len(want) {
			return false
		}
		for a := range got {
			if !want[a] {
				return false
			}
		}
		return m.synced(minInbound)
	})
}

func (m *Mesh) indexedAddresses() map[string]bool {
	got := map[string]bool{}
	shards, ok := m.fake.Discovery.Env.EndpointIndex.ShardsForService(m.topo.Host(), m.topo.Namespace)
	if !ok {
		return got
	}
	shards.RLock()
	defer shards.RUnlock()
	for _, list := range shards.Shards {
		for _, ep := range list {
			for _, a := range ep.Addresses {
				got[a] = true
			}
		}
	}
	return got
}

// synced: istiod has received at least minInbound updates and committed
// every update it received to the push context.
func (m *Mesh) synced(minInbound int64) bool {
	in := m.fake.Discovery.InboundUpdates.Load()
	return in >= minInbound && m.fake.Discovery.CommittedUpdates.Load() >= in
}

func (m *Mesh) poll(ctx context.Context, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	delay := 100 * time.Microsecond
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedded: %s waiting for %s: %w", cancelWord(ctx.Err()), what, ctx.Err())
		case <-m.closingCh:
			return fmt.Errorf("embedded: stopped waiting for %s: %w", what, errClosedWhileWaiting)
		case <-time.After(delay):
		}
		if delay < 10*time.Millisecond {
			delay *= 2
		}
	}
}

// proxy is the model.Proxy istiod would build for the client's sidecar.
func (m *Mesh) proxy(c *client) *model.Proxy {
	loc := c.locality
	kc := m.clusters[c.cluster]
	labels := labelutil.AugmentLabels(c.obj.Labels, cluster.ID(kc.name), loc.String(), c.obj.Spec.NodeName, network.ID(kc.network))
	p := &model.Proxy{
		Type:            model.SidecarProxy,
		ID:              c.obj.Name + "." + c.obj.Namespace,
		IPAddresses:     []string{c.obj.Status.PodIP},
		ConfigNamespace: c.obj.Namespace,
		DNSDomain:       c.obj.Namespace + ".svc.cluster.local",
		Locality:        &corev3.Locality{Region: loc.Region, Zone: loc.Zone, SubZone: loc.Subzone},
		Labels:          labels,
		Metadata: &model.NodeMetadata{
			Namespace:    c.obj.Namespace,
			Labels:       labels,
			ClusterID:    cluster.ID(kc.name),
			Network:      network.ID(kc.network),
			NodeName:     c.obj.Spec.NodeName,
			IstioVersion: proxyVersion,
		},
	}
	m.selfDiscoveryMeta(c, p.Metadata)
	return m.fake.SetupProxy(p)
}

// expected is istiod's current answer for the client's sidecar: the
// Cluster, ClusterLoadAssignment and outbound route configuration that CDS,
// EDS and RDS would push now. It is used only to know when the pushes have
// arrived (converge); the sidecar's model is fed by the pushes themselves.
func (m *Mesh) expected(c *client) (*clusterv3.Cluster, *endpointv3.ClusterLoadAssignment, *routev3.RouteConfiguration, error) {
	return m.expectedFor(m.proxy(c), c.side, c.obj.Name)
}

// expectedFor is istiod's current answer for one proxy (a client sidecar
// or an east-west gateway) following side.cluster.
func (m *Mesh) expectedFor(p *model.Proxy, side *sidecar, who string) (*clusterv3.Cluster, *endpointv3.ClusterLoadAssignment, *routev3.RouteConfiguration, error) {
	name := side.cluster
	var cl *clusterv3.Cluster
	var rc *routev3.RouteConfiguration
	if err := m.life.run(func() {
		for _, x := range m.fake.Clusters(p) {
			if x.Name == name {
				cl = x
			}
		}
		for _, r := range m.fake.Routes(p) {
			if side.routeName != "" && r.Name == side.routeName {
				rc = r
			}
		}
	}); err != nil {
		return nil, nil, nil, fmt.Errorf("generate config for %s: %w", who, err)
	}
	if cl == nil {
		return nil, nil, nil, fmt.Errorf("istiod generates no cluster %s for %s", name, who)
	}
	b := endpoints.NewEndpointBuilder(name, p, m.fake.PushContext())
	cla := b.BuildClusterLoadAssignment(m.fake.Discovery.Env.EndpointIndex)
	return cl, cla, rc, nil
}

// converge waits until istiod has committed every update it received and
// every client's sidecar holds, from istiod's pushes, exactly istiod's
// current Cluster, ClusterLoadAssignment and route for the Service. It
// polls; it never sleeps a fixed time.
func (m *Mesh) converge(ctx context.Context) error {
	var stale []string
	err := m.poll(ctx, "the client sidecars to receive istiod's pushes", func() bool {
		if !m.synced(0) {
			return false
		}
		stale = stale[:0]
		for _, n := range m.clientNames() {
			c := m.clients[n]
			cl, cla, rc, err := m.expected(c)
			if err != nil || !c.side.holds(cl, cla, rc) || !c.side.holdsLocal(m.expectedLocal(m.proxy(c))) {
				stale = append(stale, n)
			}
		}
		for _, g := range m.gateways() {
			if g.side == nil {
				continue
			}
			cl, cla, rc, err := m.expectedFor(m.gatewayProxy(g), g.side, g.pod.Name)
			if err != nil || !g.side.holds(cl, cla, rc) {
				stale = append(stale, g.pod.Name)
			}
		}
		return len(stale) == 0
	})
	if err != nil {
		return fmt.Errorf("%w (still stale: %v)", err, stale)
	}
	return nil
}

func (m *Mesh) clientNames() []string {
	names := make([]string, 0, len(m.clients))
	for n := range m.clients {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Backend is "embedded".
func (m *Mesh) Backend() string { return "embedded" }

// Topology returns the topology with current replica counts.
func (m *Mesh) Topology() topology.Topology {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t := m.topo.WithDefaults()
	return t
}

// Capabilities: everything; locality weighted picks follow the envoylb
// model's deterministic per-worker EDF schedules.
func (m *Mesh) Capabilities() mesh.Capabilities {
	return mesh.Capabilities{Fault5xx: true, ServiceTrafficDistribution: true, TrafficDistributionPreferSameZone: true, ScheduleWorkers: m.opts.Workers, MultiCluster: true, ZoneAwareRouting: zoneAwareRouting()}
}

// IstioVersion is the pinned istio.io/istio module.
func (m *Mesh) IstioVersion() string { return istioModuleVersion() }

func (m *Mesh) checkOpen() error {
	if m.closed {
		return errors.New("embedded: mesh is closed")
	}
	return nil
}

// ApplyDestinationRule validates the rule with Istio's validation, creates
// or updates it in istiod's config store, waits until istiod has pushed it,
// and pushes every client's new config.
func (m *Mesh) ApplyDestinationRule(ctx context.Context, dr *networkingv1.DestinationRule) error {
	if dr == nil {
		return errors.New("ApplyDestinationRule: rule is nil")
	}
	if _, err := destinationrule.Validate(dr.Name, dr); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ApplyDestinationRule %s: %s before applying (nothing changed): %w", dr.Name, cancelWord(err), err)
	}
	l := m.lockChange()
	defer l.unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	ns := dr.Namespace
	if ns == "" {
		ns = m.topo.Namespace
	}
	cfg := config.Config{
		Meta: config.Meta{GroupVersionKind: gvk.DestinationRule, Name: dr.Name, Namespace: ns},
		Spec: proto.Clone(&dr.Spec),
	}
	before := m.fake.Discovery.InboundUpdates.Load()
	store := m.fake.Store()
	var err error
	prev := store.Get(gvk.DestinationRule, dr.Name, ns)
	if prev != nil {
		_, err = store.Update(cfg)
	} else {
		_, err = store.Create(cfg)
	}
	if err != nil {
		return fmt.Errorf("apply DestinationRule %s/%s: %w", ns, dr.Name, err)
	}
	key := ns + "/" + dr.Name
	prevStored := m.drs[key]
	stored := dr.DeepCopy()
	stored.Namespace = ns
	m.drs[key] = stored
	// Once istiod has taken it (a debounce, not a push), its push context
	// says whether the rule can reach a client at all (drreach.go); if
	// not, the store is put back as it was.
	if err := m.poll(ctx, "istiod to take DestinationRule "+dr.Name, func() bool { return m.synced(before + 1) }); err != nil {
		return err
	}
	if err := m.destinationRuleReach(ns, dr); err != nil {
		// Put the store back and let istiod take that too, so the next
		// change's update count starts after it.
		rollback := m.fake.Discovery.InboundUpdates.Load()
		if prev != nil {
			restore := prev.DeepCopy()
			restore.ResourceVersion = ""
			_, _ = store.Update(restore)
		} else {
			_ = store.Delete(gvk.DestinationRule, dr.Name, ns, nil)
		}
		if m.drs[key] = prevStored; prevStored == nil {
			delete(m.drs, key)
		}
		if werr := m.poll(ctx, "istiod to take back DestinationRule "+dr.Name, func() bool { return m.synced(rollback + 1) }); werr != nil {
			return fmt.Errorf("%w; %w", err, werr)
		}
		return err
	}
	l.waiting()
	if err := m.poll(ctx, "istiod to push DestinationRule "+dr.Name, func() bool {
		return m.synced(before+1) && m.pushedDestinationRule(ns, dr.Name, &dr.Spec)
	}); err != nil {
		return err
	}
	return m.converge(ctx)
}

// DeleteDestinationRule removes the rule and waits for the push. name is
// "namespace/name", or a bare name when only one applied rule has it.
func (m *Mesh) DeleteDestinationRule(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("DeleteDestinationRule %s: %s before deleting (nothing changed): %w", name, cancelWord(err), err)
	}
	l := m.lockChange()
	defer l.unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	key, err := resolve(m.drs, name, "DeleteDestinationRule", "DestinationRule")
	if err != nil {
		return err
	}
	dr := m.drs[key]
	before := m.fake.Discovery.InboundUpdates.Load()
	if err := m.fake.Store().Delete(gvk.DestinationRule, dr.Name, dr.Namespace, nil); err != nil {
		return fmt.Errorf("delete DestinationRule %s: %w", key, err)
	}
	delete(m.drs, key)
	l.waiting()
	if err := m.poll(ctx, "istiod to push the deletion of "+key, func() bool {
		return m.synced(before+1) && m.pushedDestinationRule(dr.Namespace, dr.Name, nil)
	}); err != nil {
		return err
	}
	return m.converge(ctx)
}

// resolve finds the key ("namespace/name") of an applied object from
// "namespace/name" or a bare name that only one applied object has.
func resolve[T any](objs map[string]T, name, op, kind string) (string, error) {
	if _, ok := objs[name]; ok && strings.Contains(name, "/") {
		return name, nil
	}
	var matches []string
	for k := range objs {
		if _, n, _ := strings.Cut(k, "/"); n == name {
			matches = append(matches, k)
		}
	}
	sort.Strings(matches)
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		known := make([]string, 0, len(objs))
		for k := range objs {
			known = append(known, k)
		}
		sort.Strings(known)
		return "", fmt.Errorf("%s: no %s %q was applied (applied: %v)", op, kind, name, known)
	default:
		return "", fmt.Errorf("%s: %s name %q is ambiguous: applied as %v; pass namespace/name", op, kind, name, matches)
	}
}

// podChunk is how many pod creations or deletions Scale sends before it
// waits for istiod's pod informer to take them: half the buffer of the
// Kubernetes fake's watch channels (watch.DefaultChanSize, 100 events),
// which panic with "channel full" when a burst of events outruns their
// reader.
const podChunk = 50

// Scale sets the workload's replicas: new pods start serving and join the
// EndpointSlice; removed pods leave the EndpointSlice and are told to stop
// at the same time, as on Kubernetes, and serve for their drain period
// (Options.Drain) meanwhile.
// The topology's total stays within topology.MaxReplicas. A cancelled ctx
// changes nothing; once the pods are changed, the change is completed
// (so the mesh stays consistent) and only the wait for istiod's pushes
// honours ctx.
func (m *Mesh) Scale(ctx context.Context, workload string, replicas int) error {
	if replicas < 0 {
		return fmt.Errorf("Scale %s: replicas is %d: it cannot be negative", workload, replicas)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("Scale %s to %d: %s before any change (nothing was scaled): %w", workload, replicas, cancelWord(err), err)
	}
	before, changed, err := m.scaleLocked(workload, replicas)
	if err != nil || !changed {
		return err
	}
	// istiod pushes the change while traffic flows, as on a cluster: the
	// waits hold only the read lock, so Send runs meanwhile.
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.checkOpen(); err != nil {
		return fmt.Errorf("Scale %s to %d (applied): %w", workload, replicas, err)
	}
	if err := m.waitEndpoints(ctx, before+1); err != nil {
		return fmt.Errorf("Scale %s to %d (applied): %w", workload, replicas, err)
	}
	if err := m.converge(ctx); err != nil {
		return fmt.Errorf("Scale %s to %d (applied): %w", workload, replicas, err)
	}
	return nil
}

// scaleLocked makes Scale's change under the mesh lock and returns
// istiod's inbound update count from before it.
func (m *Mesh) scaleLocked(workload string, replicas int) (before int64, changed bool, _ error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(); err != nil {
		return 0, false, err
	}
	if _, err := m.topo.Workload(workload); err != nil {
		return 0, false, fmt.Errorf("Scale: %w", err)
	}
	cur := m.pods[workload]
	if total := m.podCount() - len(cur) + replicas; total > topology.MaxReplicas {
		return 0, false, fmt.Errorf("Scale %s to %d: the topology would have %d workload pods: at most topology.MaxReplicas (%d) are supported; scale other workloads down first",
			workload, replicas, total, topology.MaxReplicas)
	}
	if err := checkFDBudget(fmt.Sprintf("Scale %s to %d", workload, replicas), replicas-len(cur)); err != nil {
		return 0, false, err
	}
	progress(m.log, "embedded: scaling %s from %d to %d", workload, len(cur), replicas)
	before = m.fake.Discovery.InboundUpdates.Load()
	// The changes themselves are quick calls on the fake client: they run
	// to the end whatever happens to ctx.
	kctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	switch {
	case replicas > len(cur):
		if err := m.addPods(kctx, workload, replicas-len(cur)); err != nil {
			return 0, false, err
		}
		if err := m.updateEndpointSlice(kctx, workload); err != nil {
			return 0, false, err
		}
	case replicas < len(cur):
		// As on Kubernetes, the pods are told to stop (and drain) as they
		// leave the EndpointSlice, not after every sidecar knows.
		stopped := cur[replicas:]
		m.pods[workload] = cur[:replicas:replicas]
		m.retiring.retire(stopped, m.opts.drainPeriod())
		if err := m.updateEndpointSlice(kctx, workload); err != nil {
			return 0, false, err
		}
		if err := m.deletePods(kctx, stopped); err != nil {
			return 0, false, err
		}
	default:
		return 0, false, nil
	}
	for i := range m.topo.Workloads {
		if m.topo.Workloads[i].Name == workload {
			m.topo.Workloads[i].Replicas = replicas
		}
	}
	return before, true, nil
}

// addPods starts n pods of the workload and creates them, podChunk at a
// time. On any error it removes what it added: the mesh is as before.
func (m *Mesh) addPods(ctx context.Context, workload string, n int) error {
	w, _ := m.topo.Workload(workload)
	kc := m.clusters[m.topo.ClusterOfWorkload(w)]
	kube := kc.kube.Kube()
	prev := m.pods[workload]
	var added []*pod
	fail := func(err error) error {
		m.pods[workload] = prev
		if derr := m.deletePods(ctx, added); derr != nil {
			err = errors.Join(err, derr)
		}
		for _, p := range added {
			p.server.stop()
		}
		return err
	}
	for len(added) < n {
		var chunk []string
		for range min(podChunk, n-len(added)) {
			p, err := m.newPod(workload)
			if err != nil {
				return fail(err)
			}
			if _, err := kube.CoreV1().Pods(p.obj.Namespace).Create(ctx, p.obj, metav1.CreateOptions{}); err != nil {
				p.server.stop()
				return fail(fmt.Errorf("create pod %s: %w", p.obj.Name, err))
			}
			added = append(added, p)
			chunk = append(chunk, p.obj.Name)
		}
		if err := m.waitPodInformer(ctx, kc, chunk, true); err != nil {
			return fail(err)
		}
	}
	return nil
}

// deletePods deletes the pods' objects podChunk at a time, each chunk
// seen by istiod's pod informer before the next.
func (m *Mesh) deletePods(ctx context.Context, pods []*pod) error {
	for len(pods) > 0 {
		// A chunk is of one cluster (a workload's pods all are).
		kc := m.clusters[pods[0].cluster]
		kube := kc.kube.Kube()
		k := min(podChunk, len(pods))
		for i, p := range pods[:k] {
			if p.cluster != kc.name {
				k = i
				break
			}
		}
		var chunk []string
		for _, p := range pods[:k] {
			if err := kube.CoreV1().Pods(p.obj.Namespace).Delete(ctx, p.obj.Name, metav1.DeleteOptions{}); err != nil {
				return fmt.Errorf("delete pod %s: %w", p.obj.Name, err)
			}
			chunk = append(chunk, p.obj.Name)
		}
		if err := m.waitPodInformer(ctx, kc, chunk, false); err != nil {
			return err
		}
		pods = pods[k:]
	}
	return nil
}

// waitPodInformer waits until istiod's pod informer holds (present) or no
// longer holds every named pod of the topology's namespace.
func (m *Mesh) waitPodInformer(ctx context.Context, kc *kcluster, names []string, present bool) error {
	return m.poll(ctx, "istiod's pod informer of "+kc.name+" to see the pod changes", func() bool {
		for _, n := range names {
			if (kc.podInformer.Get(n, m.topo.Namespace) != nil) != present {
				return false
			}
		}
		return true
	})
}

// updateEndpointSlice republishes the EndpointSlice of the workload's
// cluster.
func (m *Mesh) updateEndpointSlice(ctx context.Context, workload string) error {
	w, err := m.topo.Workload(workload)
	if err != nil {
		return err
	}
	kc := m.clusters[m.topo.ClusterOfWorkload(w)]
	if _, err := kc.kube.Kube().DiscoveryV1().EndpointSlices(kc.service.Namespace).Update(ctx, m.endpointSliceIn(kc), metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update EndpointSlice in %s: %w", kc.name, err)
	}
	return nil
}

// SetFault breaks (or heals) the first n pods of a workload, by name.
func (m *Mesh) SetFault(ctx context.Context, workload string, n int, f mesh.Fault) error {
	if _, err := f.Workload(); err != nil {
		return fmt.Errorf("SetFault: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("SetFault %s on %s: %s before any change: %w", f, workload, cancelWord(err), err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	if _, err := m.topo.Workload(workload); err != nil {
		return fmt.Errorf("SetFault: %w", err)
	}
	pods := append([]*pod(nil), m.pods[workload]...)
	sort.Slice(pods, func(i, j int) bool { return pods[i].obj.Name < pods[j].obj.Name })
	if n < 0 || n > len(pods) {
		n = len(pods)
	}
	for _, p := range pods[:n] {
		if err := p.server.setFault(f); err != nil {
			return fmt.Errorf("SetFault %s on %s: %w", f, p.obj.Name, err)
		}
	}
	return nil
}

// Endpoints returns the client's endpoint table, read as the kind backend
// reads it (endpoints.Read): the Envoy view from the admin API the
// client's sidecar serves (/config_dump?include_eds and
// /clusters?format=json), the istiod view from istiod's own /debug/edsz
// for the connected sidecar. Only the transport differs: HTTP to loopback
// here, exec into the pods on kind.
func (m *Mesh) Endpoints(ctx context.Context, clientName string, view eps.View) (eps.Table, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.checkOpen(); err != nil {
		return eps.Table{}, err
	}
	c, err := m.client(clientName)
	if err != nil {
		return eps.Table{}, err
	}
	if view != eps.Raw && view != eps.Envoy {
		return eps.Table{}, fmt.Errorf("Endpoints: unknown view %q: use endpoints.Raw or endpoints.Envoy", view)
	}
	return eps.Read(ctx, fetcher{m}, eps.ReadInput{
		Client: clientName, ProxyID: c.side.ProxyID(), Cluster: m.topo.ClusterName(),
		View: view, PodByIP: m.podByIP(), Places: m.places(),
	})
}

func (m *Mesh) client(name string) (*client, error) {
	c, ok := m.clients[name]
	if !ok {
		names := make([]string, 0, len(m.clients))
		for n := range m.clients {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown client %q: the topology's clients are %v", name, names)
	}
	return c, nil
}

func (m *Mesh) podByIP() map[string]string {
	out := map[string]string{}
	for _, p := range m.allPods() {
		out[p.obj.Status.PodIP] = p.obj.Name
	}
	for _, g := range m.gateways() {
		out[g.ip] = g.pod.Name
	}
	return out
}

// Send sends n requests from the client's sidecar, traffic.Concurrency at
// a time (as the kind backend's curl --parallel does): each goes through the Envoy
// model (priority, locality weights, LB policy, outlier detection, the
// route's retries and timeouts as istiod pushed them) and really travels
// over loopback HTTP to the picked pod.
func (m *Mesh) Send(ctx context.Context, clientName string, n int) (traffic.Batch, error) {
	if err := traffic.CheckRequests(n); err != nil {
		return traffic.Batch{}, err
	}
	if err := ctx.Err(); err != nil {
		return traffic.Batch{}, fmt.Errorf("Send from %s: %s before sending: %w", clientName, cancelWord(err), err)
	}
	m.mu.RLock()
	if err := m.checkOpen(); err != nil {
		m.mu.RUnlock()
		return traffic.Batch{}, err
	}
	c, err := m.client(clientName)
	if err != nil {
		m.mu.RUnlock()
		return traffic.Batch{}, err
	}
	// Close waits for batches in flight (after marking the mesh closing,
	// which stops them), so no request ever reaches a stopped pod.
	m.sends.Add(1)
	m.mu.RUnlock()
	defer m.sends.Done()
	lb, route, err := c.side.snapshot()
	if err != nil {
		return traffic.Batch{}, fmt.Errorf("Send from %s: %w", clientName, err)
	}
	b := traffic.Batch{Client: clientName}
	// traffic.Concurrency requests in flight, as kind's curl --parallel
	// sends them, modelled so that the outcome does not depend on this
	// machine's speed: requests go out one after another, and each pick
	// sees the hosts of the previous Concurrency-1 requests as still active
	// (envoylb.LB.Hold), as they would be with equal latencies. Real
	// concurrency would let LEAST_REQUEST follow loopback scheduling noise.
	window := make([]envoylb.Held, 0, traffic.Concurrency) // no allocation per request
	defer func() {
		for _, held := range window {
			held.Release()
		}
	}()
	for i := 0; i < n && ctx.Err() == nil && !m.closing.Load(); i++ {
		r, host, picked, cancelled := m.request(ctx, lb, route)
		if m.closing.Load() {
			break // the answer may come from a pod being stopped
		}
		if cancelled {
			break // not an upstream result: counted nowhere
		}
		b.Add(r)
		if picked {
			window = append(window, lb.HoldHost(host))
		}
		if len(window) >= traffic.Concurrency {
			window[0].Release()
			window = window[:copy(window, window[1:])]
		}
	}
	if m.closing.Load() {
		b.CutShort = true
		return b, fmt.Errorf("Send from %s: the mesh was closed during the batch, after %d of %d requests: its results are not valid", clientName, b.Len(), n)
	}
	if err := ctx.Err(); err != nil {
		b.CutShort = true
		return b, fmt.Errorf("Send from %s: %s after %d of %d requests (the request in flight is not counted): %w", clientName, cancelWord(err), b.Len(), n, err)
	}
	return b, nil
}

// cancelWord says whether a context ended by cancellation or by deadline.
func cancelWord(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "cancelled"
}

// Envoy's local replies (what curl prints for them).
const (
	bodyNoHealthyUpstream = "no healthy upstream"
	bodyConnectFailure    = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	bodyTimeout           = "upstream request timeout"
)

// request sends one request through the model and returns its response
// and, when a host was picked, the host that answered. A request cut off
// by ctx (the caller's cancellation, not a route or per-try timeout) is
// no upstream result: cancelled is true, and nothing was recorded.
func (m *Mesh) request(ctx context.Context, lb *envoylb.LB, route routeConfig) (_ traffic.Response, _ envoylb.Host, picked, cancelled bool) {
	caller := ctx
	if route.timeout > 0 {
		// The route timeout spans every try (route_components.proto, RouteAction.timeout).
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, route.timeout)
		defer cancel()
	}
	var status int
	var body string
	att, host, err := lb.Do(func(h envoylb.Host) envoylb.Attempt {
		tctx := ctx
		if pt := route.retry.PerTryTimeout; pt > 0 {
			var cancel context.CancelFunc
			tctx, cancel = context.WithTimeout(ctx, pt)
			defer cancel()
		}
		s, bd, cerr := m.get(tctx, h)
		switch {
		case cerr != nil && caller.Err() != nil:
			// The downstream went away (envoylb.Attempt.Cancelled).
			status, body = 0, ""
			return envoylb.Attempt{Cancelled: true}
		case cerr != nil && tctx.Err() != nil:
			status, body = 0, ""
			return envoylb.Attempt{Timeout: true}
		case cerr != nil:
			status, body = 0, ""
			return envoylb.Attempt{ConnectFailure: true}
		}
		status, body = s, bd
		return envoylb.Attempt{Status: s}
	})
	switch {
	case errors.Is(err, envoylb.ErrNoHealthyUpstream):
		return traffic.Response{Status: 503, Body: bodyNoHealthyUpstream}, envoylb.Host{}, false, false
	case err != nil:
		return traffic.Response{Err: err.Error()}, envoylb.Host{}, false, false
	case att.Cancelled:
		return traffic.Response{}, envoylb.Host{}, false, true
	case att.Timeout:
		return traffic.Response{Status: att.DownstreamStatus(), Body: bodyTimeout}, host, true, false
	case att.ConnectFailure:
		return traffic.Response{Status: att.DownstreamStatus(), Body: bodyConnectFailure}, host, true, false
	}
	return traffic.Response{Status: status, Body: body, Pod: traffic.PodFromBody(body)}, host, true, false
}

func (m *Mesh) get(ctx context.Context, h envoylb.Host) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, helloURL(h.Address, h.Port), nil)
	if err != nil {
		return 0, "", err
	}
	// The Host the client's curl sends (helloworld:5000) is kept by Envoy;
	// the FQDN stands for it here. Pods ignore it.
	req.Host = m.hostHeader
	if m.gatewayIPs[h.Address] {
		// A new connection to an east-west gateway for every request: the
		// gateway picks its upstream per request (eastWestGateway.handler),
		// and a gateway that drops the connection must surface as a
		// connection failure, which net/http would hide by silently
		// replaying the GET on a new connection when a reused one closes.
		req.Close = true
	}
	resp, err := m.httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, string(data), nil
}

// Pods lists workload pods then client pods.
func (m *Mesh) Pods(ctx context.Context) ([]mesh.Pod, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []mesh.Pod
	for _, p := range m.allPods() {
		out = append(out, mesh.Pod{
			Name: p.obj.Name, Workload: p.workload, Locality: p.locality,
			IP: p.obj.Status.PodIP, Ready: true, Fault: p.server.currentFault(),
			Cluster: p.cluster, Network: m.clusters[p.cluster].network,
		})
	}
	names := make([]string, 0, len(m.clients))
	for n := range m.clients {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := m.clients[n]
		out = append(out, mesh.Pod{Name: n, Locality: c.locality.String(), IP: c.obj.Status.PodIP, Ready: true,
			Cluster: c.cluster, Network: m.clusters[c.cluster].network})
	}
	return out, nil
}

// DestinationRules lists the applied rules.
func (m *Mesh) DestinationRules(ctx context.Context) ([]*networkingv1.DestinationRule, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []*networkingv1.DestinationRule
	for _, dr := range m.drs {
		out = append(out, dr.DeepCopy())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Close stops the pods, istiod and every goroutine they started.
func (m *Mesh) Close(ctx context.Context) error {
	m.startClosing()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	// Batches in flight stop at their next request; wait for them so none
	// counts the answer of a pod being stopped.
	m.sends.Wait()
	m.retiring.close()
	m.mu.Lock()
	for _, p := range m.allPods() {
		p.server.stop()
	}
	for _, c := range m.clients {
		if c.side != nil {
			c.side.close()
		}
		_ = c.admin.Close() // already closed by the admin server if it served
	}
	for _, g := range m.gateways() {
		g.close()
	}
	if m.debug != nil {
		m.debug.close()
	}
	m.mu.Unlock()
	m.life.close()
	releaseKrtDebug(m.krtUIDs)
	m.transport.CloseIdleConnections()
	if m.onClose != nil {
		m.onClose()
	}
	return nil
}

// ClientConfig returns the Cluster and ClusterLoadAssignment the client's
// sidecar holds: what istiod pushed to it over CDS and EDS.
func (m *Mesh) ClientConfig(clientName string) (*clusterv3.Cluster, *endpointv3.ClusterLoadAssignment, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.checkOpen(); err != nil {
		return nil, nil, err
	}
	c, err := m.client(clientName)
	if err != nil {
		return nil, nil, err
	}
	c.side.mu.Lock()
	defer c.side.mu.Unlock()
	if c.side.cds == nil || c.side.cla == nil {
		return nil, nil, fmt.Errorf("client %s: %w", clientName, errNotReady)
	}
	return proto.Clone(c.side.cds).(*clusterv3.Cluster), proto.Clone(c.side.cla).(*endpointv3.ClusterLoadAssignment), nil
}

// ApplyVirtualService validates the VirtualService with Istio's
// validation, creates or updates it in istiod's config store, and waits
// until every sidecar has received the pushes it causes.
func (m *Mesh) ApplyVirtualService(ctx context.Context, vs *networkingv1.VirtualService) error {
	if vs == nil {
		return errors.New("ApplyVirtualService: VirtualService is nil")
	}
	if _, err := virtualservice.Validate("VirtualService "+vs.Name, vs); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ApplyVirtualService %s: %s before applying (nothing changed): %w", vs.Name, cancelWord(err), err)
	}
	l := m.lockChange()
	defer l.unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	ns := vs.Namespace
	if ns == "" {
		ns = m.topo.Namespace
	}
	cfg := config.Config{
		Meta: config.Meta{GroupVersionKind: gvk.VirtualService, Name: vs.Name, Namespace: ns},
		Spec: proto.Clone(&vs.Spec),
	}
	before := m.fake.Discovery.InboundUpdates.Load()
	store := m.fake.Store()
	var err error
	if store.Get(gvk.VirtualService, vs.Name, ns) != nil {
		_, err = store.Update(cfg)
	} else {
		_, err = store.Create(cfg)
	}
	if err != nil {
		return fmt.Errorf("apply VirtualService %s/%s: %w", ns, vs.Name, err)
	}
	stored := vs.DeepCopy()
	stored.Namespace = ns
	m.vss[ns+"/"+vs.Name] = stored
	l.waiting()
	if err := m.poll(ctx, "istiod to push VirtualService "+vs.Name, func() bool {
		return m.synced(before+1) && m.pushedVirtualService(ns, vs.Name, &vs.Spec)
	}); err != nil {
		return err
	}
	return m.converge(ctx)
}

// DeleteVirtualService removes the VirtualService and waits for the push.
// name is "namespace/name", or a bare name when only one has it.
func (m *Mesh) DeleteVirtualService(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("DeleteVirtualService %s: %s before deleting (nothing changed): %w", name, cancelWord(err), err)
	}
	l := m.lockChange()
	defer l.unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	key, err := resolve(m.vss, name, "DeleteVirtualService", "VirtualService")
	if err != nil {
		return err
	}
	vs := m.vss[key]
	before := m.fake.Discovery.InboundUpdates.Load()
	if err := m.fake.Store().Delete(gvk.VirtualService, vs.Name, vs.Namespace, nil); err != nil {
		return fmt.Errorf("delete VirtualService %s: %w", key, err)
	}
	delete(m.vss, key)
	l.waiting()
	if err := m.poll(ctx, "istiod to push the deletion of VirtualService "+key, func() bool {
		return m.synced(before+1) && m.pushedVirtualService(vs.Namespace, vs.Name, nil)
	}); err != nil {
		return err
	}
	return m.converge(ctx)
}

// Wait advances the sidecars' virtual clock by d: outlier detection
// intervals and ejection times pass at once, with no real sleep.
func (m *Mesh) Wait(ctx context.Context, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("Wait: duration %v is negative", d)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.clock.Advance(d)
	return nil
}

// pushedDestinationRule reports whether istiod's current push context
// holds the DestinationRule ns/name with this spec (nil: holds no rule of
// that name for the Service). Counting updates is not enough: an update
// of something else may arrive first.
func (m *Mesh) pushedDestinationRule(ns, name string, spec proto.Message) bool {
	var found proto.Message
	for _, c := range m.clients {
		p := m.proxy(c)
		cdr := p.SidecarScope.DestinationRule(model.TrafficDirectionOutbound, p, host.Name(m.topo.Host()))
		if r := cdr.GetRule(); r != nil && r.Name == name && r.Namespace == ns {
			found, _ = r.Spec.(proto.Message)
		} else if r != nil && spec != nil && m.drs[r.Namespace+"/"+r.Name] != nil && (r.Namespace != ns || r.Name != name) {
			// Another applied rule takes precedence for the host (istiod
			// prefers the client's namespace's rule): once istiod has
			// processed the update, this one is in and shadowed.
			return true
		}
		break
	}
	if spec == nil {
		return found == nil
	}
	return found != nil && proto.Equal(found, spec)
}

// pushedVirtualService reports whether istiod's current push context holds
// the mesh VirtualService ns/name with this spec (nil: holds none of that
// name).
func (m *Mesh) pushedVirtualService(ns, name string, spec proto.Message) bool {
	var found proto.Message
	for _, c := range m.fake.PushContext().VirtualServicesForGateway(ns, "mesh") {
		if c.Name == name && c.Namespace == ns {
			found, _ = c.Spec.(proto.Message)
		}
	}
	if spec == nil {
		return found == nil
	}
	return found != nil && proto.Equal(found, spec)
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
