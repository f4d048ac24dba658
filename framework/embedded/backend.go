// Package embedded is the default backend: the real istiod code in process
// (istio.io/istio/pilot/test/xds discovery server, fed real Kubernetes
// objects through its fake client), an Envoy load-balancing model
// (framework/envoylb) driven by the Cluster and ClusterLoadAssignment istiod
// generates for each client, and every pod a real HTTP server on its own
// loopback address. It needs no Docker.
package embedded

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	istiolog "istio.io/istio/pkg/log"
	"k8s.io/klog/v2"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/workload"
)

// Options tune the embedded backend.
type Options struct {
	// Seed makes pod names and the load balancers' random choices
	// reproducible. Each deployed mesh derives its own seed from it.
	Seed uint64
	// IstioLogs keeps istiod's own logging (quiet by default).
	IstioLogs bool
	// Log receives progress lines (nil: discarded).
	Log io.Writer
	// Workers is the sidecar's worker threads (Envoy concurrency); default 2.
	Workers int
	// Drain is how long a pod removed by Scale or RestartWorkload keeps
	// serving (retire.go): workload.DefaultDrain when 0, what cmd/workload
	// does after SIGTERM on kind; negative stops it at once (the requests
	// sidecars send it before istiod's push then fail).
	Drain time.Duration
}

// Backend deploys each topology into its own in-process control plane.
type Backend struct {
	opts   Options
	meshes atomic.Uint64

	mu    sync.Mutex
	alive map[*Mesh]struct{}
}

var quietOnce sync.Once

// New returns the embedded backend.
func New(opts Options) *Backend {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if !opts.IstioLogs {
		quietOnce.Do(quietIstio)
	}
	return &Backend{opts: opts, alive: map[*Mesh]struct{}{}}
}

// quietIstio silences istiod's and client-go's logging, which would
// otherwise flood a spec run with informer and push messages.
func quietIstio() {
	for _, s := range istiolog.Scopes() {
		s.SetOutputLevel(istiolog.NoneLevel)
	}
	klog.SetLogger(logr.Discard())
}

// Name is "embedded".
func (b *Backend) Name() string { return "embedded" }

// Deploy starts a control plane for the topology and its pods.
func (b *Backend) Deploy(ctx context.Context, topo topology.Topology) (mesh.Mesh, error) {
	if b.opts.Drain > workload.MaxDrain {
		return nil, fmt.Errorf("embedded.Options.Drain is %s: at most workload.MaxDrain (%s); 0 is the default (%s), negative stops removed pods at once",
			b.opts.Drain, workload.MaxDrain, workload.DefaultDrain)
	}
	if (topo.Mesh.ZoneAwareLbSetting != nil || topo.SelfDiscovery()) && !zoneAwareRouting() {
		// An istiod without zone aware routing (an older istio.io/istio in
		// the embedded upgrade check) would ignore the setting: the scenario
		// is skipped there, and the upgrade diff reports it not comparable.
		return nil, fmt.Errorf("topology %q uses zone aware routing (zoneAwareLbSetting or client self-discovery), which %s does not have: %w",
			topo.Name, istioModuleVersion(), mesh.ErrTopologyUnsupported)
	}
	idx := b.meshes.Add(1)
	m, err := deploy(ctx, topo, b.opts, b.opts.Seed*1_000_003+idx)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.alive[m] = struct{}{}
	b.mu.Unlock()
	m.onClose = func() {
		b.mu.Lock()
		delete(b.alive, m)
		b.mu.Unlock()
	}
	return m, nil
}

// Close closes every mesh still open.
func (b *Backend) Close(ctx context.Context) error {
	b.mu.Lock()
	var ms []*Mesh
	for m := range b.alive {
		ms = append(ms, m)
	}
	b.mu.Unlock()
	var first error
	for _, m := range ms {
		if err := m.Close(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// IstioVersion is the istio.io/istio module the embedded backend runs.
func IstioVersion() string { return istioModuleVersion() }

func progress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
