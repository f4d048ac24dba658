package embedded

// mesh.go owns the Mesh type: its state (pods, clients, sidecars, rules,
// istiod), which file handles which concern, and the small accessors. The
// concerns live in their own files: deploy.go (building a mesh),
// scale.go (pods after Deploy), rules.go (DestinationRules and
// VirtualServices), converge.go (waiting for istiod's pushes and the
// endpoint views), send.go (traffic), restart.go (rolling restarts),
// close.go (the end of a mesh).

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"istio.io/istio/pilot/test/xds"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
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
