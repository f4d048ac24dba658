package multicluster

// The backend and mesh over a prepared setup: Connect, Deploy across the
// clusters, and each mesh step sent to the cluster it concerns.

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// multiBackend is the kind backend on a multi-cluster setup: one
// kind.Cluster per cluster (its clients, exec and logs), and
// meshes that span them.
type multiBackend struct {
	cfg      kind.Config
	log      io.Writer
	members  []Member
	per      map[string]*kind.Cluster    // by declared cluster
	teardown func(context.Context) error // set by New (kind.Own): Close runs Teardown

	mu     sync.Mutex
	meshes map[*multiMesh]bool
}

var _ mesh.Backend = (*multiBackend)(nil)

// Connect returns a backend on a prepared multi-cluster setup:
// it connects to every cluster's API server. Like kind.Connect, it creates
// nothing cluster-wide.
func Connect(ctx context.Context, cfg kind.Config, s *Setup, log io.Writer) (mesh.Backend, error) {
	if log == nil {
		log = io.Discard
	}
	if s == nil || len(s.Clusters) < 2 {
		return nil, fmt.Errorf("kind multi-cluster: multicluster.Connect needs multicluster.Prepare's setup")
	}
	per := map[string]*kind.Cluster{}
	for _, m := range s.Clusters {
		c, err := kind.ConnectCluster(ctx, cfg, m.Kubeconfig, m.KindCluster, log)
		if err != nil {
			return nil, fmt.Errorf("kind multi-cluster: cluster %s: %w", m.Name, err)
		}
		per[m.Name] = c
	}
	return newMultiBackend(cfg, s, per, log)
}

// New is Prepare and Connect for one
// process: the backend's Close also deletes the clusters.
func New(ctx context.Context, cfg kind.Config, topo topology.Topology, log io.Writer) (mesh.Backend, error) {
	mb, teardown, err := kind.Own(ctx,
		func(ctx context.Context) (*Setup, error) { return Prepare(ctx, cfg, topo, log) },
		func(ctx context.Context, s *Setup) (mesh.Backend, error) { return Connect(ctx, cfg, s, log) },
		func(ctx context.Context, s *Setup) error { return Teardown(ctx, cfg, s, log) })
	if err != nil {
		return nil, err
	}
	b := mb.(*multiBackend)
	b.teardown = teardown
	return b, nil
}

// FromClusters is the backend over clusters already connected (per, by
// declared cluster), e.g. fake ones in tests; Connect connects
// them first.
func FromClusters(cfg kind.Config, s *Setup, per map[string]*kind.Cluster, log io.Writer) (mesh.Backend, error) {
	return newMultiBackend(cfg, s, per, log)
}

func newMultiBackend(cfg kind.Config, s *Setup, per map[string]*kind.Cluster, log io.Writer) (*multiBackend, error) {
	return &multiBackend{cfg: cfg, log: log, members: s.Clusters, per: per, meshes: map[*multiMesh]bool{}}, nil
}

func (b *multiBackend) Name() string { return kind.Name }

// Deploy deploys a topology over the clusters: in each, the namespace
// Namespace(topo.Name), the Service (and VirtualService) and
// the workloads and clients placed there (Topology.ByCluster), then waits
// for each cluster's pods. The topology must declare the setup's Clusters.
// Its mesh settings, if any, are applied first to every cluster's mesh
// config (each primary's istiod reads its own cluster's ConfigMap;
// acquireMeshSettings) and restored by Close, also when Deploy fails.
func (b *multiBackend) Deploy(ctx context.Context, topo topology.Topology) (mesh.Mesh, error) {
	if err := topo.Validate(); err != nil {
		return nil, err
	}
	var want []topology.Cluster
	for _, m := range b.members {
		want = append(want, topology.Cluster{Name: m.Name, Network: m.Network})
	}
	if !sameClusters(topo.Clusters, want) {
		return nil, fmt.Errorf("deploy topology %q: it declares Clusters %v, the multi-cluster kind setup has %v: declare the same Clusters, or prepare a setup for these (multicluster.Prepare): %w", topo.Name, topo.Clusters, want, mesh.ErrTopologyUnsupported)
	}
	if names, _ := topo.ClientServices(); len(names) > 0 || topo.Mesh.ZoneAwareLbSetting != nil {
		return nil, fmt.Errorf("deploy topology %q: client Services and zone aware routing are not implemented on the multi-cluster kind setup (run it on one cluster): %w", topo.Name, mesh.ErrTopologyUnsupported)
	}
	first := b.per[b.members[0].Name]
	topo = first.Deployable(topo)
	ns := Namespace(topo.Name)
	topo.Namespace = ns
	for _, m := range b.members {
		if err := b.per[m.Name].CheckNodes(ctx, []topology.Topology{clusterPart(topo, m.Name)}); err != nil {
			return nil, fmt.Errorf("deploy topology %q: cluster %s: %w", topo.Name, m.Name, err)
		}
	}
	objs, err := topology.Render(topo)
	if err != nil {
		return nil, fmt.Errorf("deploy topology %q: %w", topo.Name, err)
	}
	split := topo.ByCluster(objs)
	if err := b.applyMeshSettings(ctx, ns, topo); err != nil {
		return nil, fmt.Errorf("deploy topology %q: %w", topo.Name, err)
	}
	mm := &multiMesh{b: b, ns: ns, topo: topo, parts: map[string]*kind.ClusterMesh{}, meshSettings: !topo.Mesh.IsZero()}
	fail := func(err error) (mesh.Mesh, error) {
		for _, m := range b.members {
			if p := mm.parts[m.Name]; p != nil {
				p.Cluster().Diagnose(ctx, ns)
			}
		}
		if cerr := mm.Close(context.WithoutCancel(ctx)); cerr != nil {
			err = fmt.Errorf("%w; cleanup: %v", err, cerr)
		}
		return nil, fmt.Errorf("deploy topology %q: %w", topo.Name, err)
	}
	fmt.Fprintf(b.log, "kind: deploying topology %q into namespace %s of %d clusters\n", topo.Name, ns, len(b.members))
	for _, m := range b.members {
		kb := b.per[m.Name]
		if err := kb.CreateNamespace(ctx, ns, topo.Name); err != nil {
			return fail(fmt.Errorf("cluster %s: create namespace %s: %w", m.Name, ns, err))
		}
		mm.parts[m.Name] = kb.NewMesh(ns, clusterPart(topo, m.Name), m.Name, m.Network)
		for _, o := range split[m.Name] {
			o.SetNamespace(ns)
			if err := kb.Create(ctx, o); err != nil {
				return fail(fmt.Errorf("cluster %s: create %s %s: %w", m.Name, kind.KindOf(o), o.GetName(), err))
			}
		}
	}
	for _, m := range b.members {
		if err := mm.parts[m.Name].WaitReady(ctx, b.cfg.Timeouts.Deploy); err != nil {
			return fail(fmt.Errorf("cluster %s: %w", m.Name, err))
		}
	}
	b.mu.Lock()
	b.meshes[mm] = true
	b.mu.Unlock()
	return mm, nil
}

// applyMeshSettings applies the topology's mesh settings in every cluster,
// in declaration order, restoring those already applied if one fails; or,
// for a topology without any, checks that none are active in any cluster.
func (b *multiBackend) applyMeshSettings(ctx context.Context, ns string, topo topology.Topology) error {
	overlay := topo.MeshConfigOverlay()
	if overlay == nil {
		for _, m := range b.members {
			if err := b.per[m.Name].CheckNoMeshSettings(ctx, topo.Name); err != nil {
				return fmt.Errorf("cluster %s: %w", m.Name, err)
			}
		}
		return nil
	}
	var others []string
	b.mu.Lock()
	for mm := range b.meshes {
		if !mm.meshSettings {
			others = append(others, mm.ns)
		}
	}
	b.mu.Unlock()
	for i, m := range b.members {
		if err := b.per[m.Name].AcquireMeshSettings(ctx, ns, topo.Name, overlay, others); err != nil {
			err = fmt.Errorf("cluster %s: %w", m.Name, err)
			for _, done := range b.members[:i] {
				if rerr := b.per[done.Name].ReleaseMeshSettings(ctx, ns); rerr != nil {
					err = fmt.Errorf("%w; cluster %s: %v", err, done.Name, rerr)
				}
			}
			return err
		}
	}
	return nil
}

// clusterPart is the topology restricted to the workloads and clients of
// one cluster: what that cluster's ClusterMesh waits for, scales and sends from.
func clusterPart(t topology.Topology, cluster string) topology.Topology {
	return t.InCluster(cluster)
}

// Close closes the meshes still open; for a backend from New
// it then deletes the clusters.
func (b *multiBackend) Close(ctx context.Context) error {
	b.mu.Lock()
	open := make([]*multiMesh, 0, len(b.meshes))
	for m := range b.meshes {
		open = append(open, m)
	}
	b.mu.Unlock()
	return kind.CloseBackend(ctx, "kind multi-cluster close", open, b.teardown)
}

// multiMesh is one topology over the clusters: a ClusterMesh per cluster
// (same namespace, that cluster's pods), each step sent to the cluster of
// the workload or client it names, rules to every primary.
type multiMesh struct {
	b  *multiBackend
	ns string

	// meshSettings: the scenario holds mesh settings in every cluster,
	// released by Close.
	meshSettings bool

	mu     sync.Mutex
	topo   topology.Topology // the whole topology (replicas from the parts)
	parts  map[string]*kind.ClusterMesh
	closed bool
}

var _ mesh.Mesh = (*multiMesh)(nil)

func (m *multiMesh) Backend() string { return kind.Name }

// Namespace is where the topology lives in every cluster.
func (m *multiMesh) Namespace() string { return m.ns }

func (m *multiMesh) Topology() topology.Topology {
	m.mu.Lock()
	t := m.topo
	m.mu.Unlock()
	t.Workloads = append([]topology.Workload(nil), t.Workloads...)
	t.Clients = append([]topology.Client(nil), t.Clients...)
	for i, w := range t.Workloads {
		if p := m.parts[t.ClusterOfWorkload(w)]; p != nil {
			if pw, err := p.Topology().Workload(w.Name); err == nil {
				t.Workloads[i].Replicas = pw.Replicas
			}
		}
	}
	return t
}

func (m *multiMesh) first() *kind.ClusterMesh { return m.parts[m.b.members[0].Name] }

func (m *multiMesh) Capabilities() mesh.Capabilities {
	c := m.first().Capabilities()
	c.MultiCluster = true
	return c
}

func (m *multiMesh) IstioVersion() string { return m.b.cfg.IstioVersion }

// each runs f on every cluster's part, in declaration order.
func (m *multiMesh) each(f func(c string, p *kind.ClusterMesh) error) error {
	for _, mem := range m.b.members {
		if err := f(mem.Name, m.parts[mem.Name]); err != nil {
			return fmt.Errorf("cluster %s: %w", mem.Name, err)
		}
	}
	return nil
}

// ApplyDestinationRule applies the rule in every cluster (each primary's
// istiod reads its own cluster's config) and waits for the clients of each.
func (m *multiMesh) ApplyDestinationRule(ctx context.Context, dr *networkingv1.DestinationRule) error {
	return m.each(func(_ string, p *kind.ClusterMesh) error { return p.ApplyDestinationRule(ctx, dr) })
}

func (m *multiMesh) DeleteDestinationRule(ctx context.Context, name string) error {
	return m.each(func(_ string, p *kind.ClusterMesh) error { return p.DeleteDestinationRule(ctx, name) })
}

func (m *multiMesh) ApplyVirtualService(ctx context.Context, vs *networkingv1.VirtualService) error {
	return m.each(func(_ string, p *kind.ClusterMesh) error { return p.ApplyVirtualService(ctx, vs) })
}

func (m *multiMesh) DeleteVirtualService(ctx context.Context, name string) error {
	return m.each(func(_ string, p *kind.ClusterMesh) error { return p.DeleteVirtualService(ctx, name) })
}

func (m *multiMesh) Wait(ctx context.Context, d time.Duration) error { return m.first().Wait(ctx, d) }

// workloadPart is the part of the cluster a workload runs in.
func (m *multiMesh) workloadPart(workload string) (*kind.ClusterMesh, error) {
	t := m.Topology()
	w, err := t.Workload(workload)
	if err != nil {
		return nil, err
	}
	return m.parts[t.ClusterOfWorkload(w)], nil
}

// clientPart is the part of the cluster a client runs in.
func (m *multiMesh) clientPart(client string) (*kind.ClusterMesh, error) {
	t := m.Topology()
	c, err := t.Client(client)
	if err != nil {
		return nil, err
	}
	return m.parts[t.ClusterOfClient(c)], nil
}

func (m *multiMesh) Scale(ctx context.Context, workload string, replicas int) error {
	p, err := m.workloadPart(workload)
	if err != nil {
		return err
	}
	return p.Scale(ctx, workload, replicas)
}

func (m *multiMesh) RestartWorkload(ctx context.Context, workload string) error {
	p, err := m.workloadPart(workload)
	if err != nil {
		return err
	}
	return p.RestartWorkload(ctx, workload)
}

func (m *multiMesh) SetFault(ctx context.Context, workload string, n int, f mesh.Fault) error {
	p, err := m.workloadPart(workload)
	if err != nil {
		return err
	}
	return p.SetFault(ctx, workload, n, f)
}

// Endpoints reads the client's sidecar (and its cluster's istiod) with
// endpoints.Read, as on one cluster; hosts are named after the pods of
// every cluster (on one network the other clusters' pod addresses appear
// as they are; across networks, as the east-west gateway's address).
func (m *multiMesh) Endpoints(ctx context.Context, client string, view endpoints.View) (endpoints.Table, error) {
	p, err := m.clientPart(client)
	if err != nil {
		return endpoints.Table{}, err
	}
	byIP := map[string]string{}
	_ = m.each(func(_ string, q *kind.ClusterMesh) error {
		ips, _ := q.PodsByIP(ctx) // best effort, as on one cluster
		for ip, pod := range ips {
			byIP[ip] = pod
		}
		return nil
	})
	return endpoints.Read(ctx, p.Fetcher(), endpoints.ReadInput{
		Client: client, ProxyID: client + "." + m.ns, Cluster: m.Topology().ClusterName(), View: view, PodByIP: byIP,
		Places: m.places(ctx, byIP),
	})
}

// places says where each pod and east-west gateway address is, as the
// embedded backend says it: pods from Pods, gateways from the LoadBalancer
// address of each cluster's istio-eastwestgateway Service (the address
// istiod puts in EDS). byIP gains the gateways' names. Best effort: an
// address it cannot place is printed without a cluster.
func (m *multiMesh) places(ctx context.Context, byIP map[string]string) map[string]endpoints.Place {
	out := map[string]endpoints.Place{}
	if pods, err := m.Pods(ctx); err == nil {
		for _, p := range pods {
			out[p.IP] = endpoints.Place{Cluster: p.Cluster, Network: p.Network}
		}
	}
	topo := m.Topology()
	if !topo.MultiNetwork() {
		return out
	}
	_ = m.each(func(c string, q *kind.ClusterMesh) error {
		svc, err := q.Cluster().Kube().CoreV1().Services(kind.IstioNamespace).Get(ctx, EastWestGateway, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				out[in.IP] = endpoints.Place{Cluster: c, Network: topo.NetworkOf(c), Gateway: true}
				byIP[in.IP] = EastWestGateway + " (" + c + ")"
			}
		}
		return nil
	})
	return out
}

func (m *multiMesh) Send(ctx context.Context, client string, n int) (traffic.Batch, error) {
	p, err := m.clientPart(client)
	if err != nil {
		return traffic.Batch{}, err
	}
	return p.Send(ctx, client, n)
}

// Pods lists every cluster's pods, each with its cluster and network.
func (m *multiMesh) Pods(ctx context.Context) ([]mesh.Pod, error) {
	var out []mesh.Pod
	err := m.each(func(_ string, p *kind.ClusterMesh) error {
		ps, err := p.Pods(ctx)
		out = append(out, ps...)
		return err
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// DestinationRules lists the first cluster's rules (every cluster has the same).
func (m *multiMesh) DestinationRules(ctx context.Context) ([]*networkingv1.DestinationRule, error) {
	return m.first().DestinationRules(ctx)
}

// CollectLogs saves every cluster's logs under dir/<cluster>.
func (m *multiMesh) CollectLogs(ctx context.Context, dir string) (string, error) {
	if dir == "" {
		dir = m.b.cfg.LogsDir
	}
	var errs []string
	_ = m.each(func(c string, p *kind.ClusterMesh) error {
		if _, err := p.CollectLogs(ctx, filepath.Join(dir, c)); err != nil {
			errs = append(errs, c+": "+err.Error())
		}
		return nil
	})
	if len(errs) > 0 {
		return dir, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return dir, nil
}

// Close restores every cluster's original mesh config if the scenario
// held mesh settings (always, as on one cluster), deletes the namespace in
// every cluster and, since the next Deploy of this topology reuses its
// name, waits until it is gone.
func (m *multiMesh) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	m.b.mu.Lock()
	delete(m.b.meshes, m)
	m.b.mu.Unlock()
	var errs []string
	if m.meshSettings {
		for _, mem := range m.b.members {
			if err := m.b.per[mem.Name].ReleaseMeshSettings(ctx, m.ns); err != nil {
				errs = append(errs, mem.Name+": "+err.Error())
			}
		}
	}
	for _, mem := range m.b.members {
		p := m.parts[mem.Name]
		if p == nil {
			continue
		}
		if err := p.Close(ctx); err != nil {
			errs = append(errs, mem.Name+": "+err.Error())
			continue
		}
		if m.b.cfg.KeepNamespaces {
			continue
		}
		kube := p.Cluster().Kube()
		err := kind.Poll(context.WithoutCancel(ctx), "namespace "+m.ns+" of "+mem.Name+" gone", m.b.cfg.Timeouts.Poll, m.b.cfg.Timeouts.Deploy, func(ctx context.Context) (bool, string, error) {
			_, err := kube.CoreV1().Namespaces().Get(ctx, m.ns, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, "", nil
			}
			return false, "still there", err
		})
		if err != nil {
			errs = append(errs, mem.Name+": "+err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("close %s: %s", m.ns, strings.Join(errs, "; "))
	}
	return nil
}
