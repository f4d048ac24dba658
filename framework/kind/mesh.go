package kind

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// MaxBatch is the most requests one curl exec sends (traffic.Concurrency
// at a time).
const MaxBatch = 1000

// ErrNotSupported is returned for what the kind backend cannot do.
var ErrNotSupported = errors.New("not supported on kind")

// kindMesh is one topology deployed in its own namespace.
type kindMesh struct {
	b  *backend
	ns string

	// cluster and network label the pods (mesh.Pod) with an Istio cluster
	// ID and network (Cluster.NewMesh); "" for istiod's defaults.
	cluster, network string

	// meshSettings: the scenario holds mesh settings (Topology.Mesh)
	// applied by its backend, released by Close.
	meshSettings bool

	mu     sync.Mutex
	topo   topology.Topology     // current replicas
	faults map[string]mesh.Fault // pod name → fault
	closed bool
}

var _ mesh.Mesh = (*kindMesh)(nil)

func (m *kindMesh) Backend() string { return Name }

// clusterID is the pods' cluster: the declared one, or istiod's default
// (topology.DefaultCluster) on one cluster.
func (m *kindMesh) clusterID() string {
	if m.cluster == "" {
		return topology.DefaultCluster
	}
	return m.cluster
}

// Namespace is where the topology lives.
func (m *kindMesh) Namespace() string { return m.ns }

func (m *kindMesh) Topology() topology.Topology { return m.topology() }

func (m *kindMesh) topology() topology.Topology {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.topo
	t.Workloads = append([]topology.Workload(nil), m.topo.Workloads...)
	t.Clients = append([]topology.Client(nil), m.topo.Clients...)
	return t
}

func (m *kindMesh) Capabilities() mesh.Capabilities {
	return mesh.Capabilities{Fault5xx: m.ownWorkload(), ServiceTrafficDistribution: m.b.trafficDistribution,
		TrafficDistributionPreferSameZone: m.b.preferSameZone, ZoneAwareRouting: zoneAwareUnsupported(m.b.cfg.IstioVersion) == ""}
}

func (m *kindMesh) IstioVersion() string { return m.b.cfg.IstioVersion }

// ApplyDestinationRule validates the rule as istiod would, aims it at the
// topology's Service and namespace, creates or updates it, and waits (at
// most Timeouts.Sync) until every client sidecar has received a new
// version of the Service's cluster.
func (m *kindMesh) ApplyDestinationRule(ctx context.Context, dr *networkingv1.DestinationRule) error {
	if dr == nil {
		return fmt.Errorf("ApplyDestinationRule: nil DestinationRule")
	}
	topo := m.topology()
	d := destinationrule.ForTopology(dr, topo.Host(), m.ns)
	warnings, err := destinationrule.Validate("DestinationRule "+d.Name, d)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(m.b.log, "kind: %s: warning: %s\n", m.ns, w)
	}
	before := m.versions(ctx, syncCluster)
	api := m.b.istio.NetworkingV1().DestinationRules(m.ns)
	cur, err := api.Get(ctx, d.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		d.ResourceVersion = ""
		if _, err := api.Create(ctx, d, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create DestinationRule %s/%s: %w", m.ns, d.Name, err)
		}
	case err != nil:
		return fmt.Errorf("get DestinationRule %s/%s: %w", m.ns, d.Name, err)
	default:
		d.ResourceVersion = cur.ResourceVersion
		if _, err := api.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update DestinationRule %s/%s: %w", m.ns, d.Name, err)
		}
	}
	m.waitSync(ctx, "DestinationRule "+d.Name, syncCluster, before)
	return nil
}

func (m *kindMesh) DeleteDestinationRule(ctx context.Context, name string) error {
	before := m.versions(ctx, syncCluster)
	err := m.b.istio.NetworkingV1().DestinationRules(m.ns).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("delete DestinationRule %s/%s: no such rule", m.ns, name)
	}
	if err != nil {
		return fmt.Errorf("delete DestinationRule %s/%s: %w", m.ns, name, err)
	}
	m.waitSync(ctx, "deletion of DestinationRule "+name, syncCluster, before)
	return nil
}

// syncTarget is what a rule change must reach in each client sidecar.
type syncTarget int

const (
	// syncCluster: the Service's cluster (CDS), what a DestinationRule changes.
	syncCluster syncTarget = iota
	// syncRoute: the outbound route configuration of the Service's port
	// (RDS, named by the port, e.g. "5000"), what a VirtualService changes.
	syncRoute
)

// versions reads, per client, the version of the target in its sidecar
// (syncversion.go; "" when unknown).
func (m *kindMesh) versions(ctx context.Context, target syncTarget) map[string]string {
	topo := m.topology()
	argv, name, parse := CDSArgs, topo.ClusterName(), clusterVersion
	if target == syncRoute {
		argv, name, parse = RDSArgs, fmt.Sprint(topo.Port), routeVersion
	}
	out := map[string]string{}
	for _, c := range topo.Clients {
		stdout, _, err := m.b.execIn(ctx, m.ns, c.Name, SidecarContainer, argv)
		if err != nil {
			continue
		}
		v, err := parse([]byte(stdout), name)
		if err == nil {
			out[c.Name] = v
		}
	}
	return out
}

// waitSync waits until every client's version of the target differs from
// before. It is best effort: a change that leaves the target's content as
// it was changes no version (syncversion.go), so a timeout is logged, not
// returned. Specs then wait for the endpoint view they expect anyway.
func (m *kindMesh) waitSync(ctx context.Context, what string, target syncTarget, before map[string]string) {
	t := m.b.cfg.Timeouts
	err := Poll(ctx, what+" to reach the client sidecars", t.Poll, t.Sync, func(ctx context.Context) (bool, string, error) {
		now := m.versions(ctx, target)
		var stale []string
		for c, v := range before {
			if now[c] == v {
				stale = append(stale, c)
			}
		}
		sort.Strings(stale)
		return len(stale) == 0, "unchanged in " + strings.Join(stale, ", "), nil
	})
	if err != nil {
		fmt.Fprintf(m.b.log, "kind: %s: %v (continuing)\n", m.ns, err)
	}
}

// Scale sets a workload's replicas and waits until exactly that many pods
// are ready with their sidecar (for 0: until no pod is left).
func (m *kindMesh) Scale(ctx context.Context, workload string, replicas int) error {
	if replicas < 0 {
		return fmt.Errorf("scale %s to %d: replicas cannot be negative", workload, replicas)
	}
	if _, err := m.topology().Workload(workload); err != nil {
		return err
	}
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	if _, err := m.b.kube.AppsV1().Deployments(m.ns).Patch(ctx, workload, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("scale %s/%s to %d: %w", m.ns, workload, replicas, err)
	}
	m.mu.Lock()
	for i := range m.topo.Workloads {
		if m.topo.Workloads[i].Name == workload {
			m.topo.Workloads[i].Replicas = replicas
		}
	}
	m.mu.Unlock()
	if err := m.waitWorkload(ctx, workload, replicas, m.b.cfg.Timeouts.Scale); err != nil {
		m.b.diagnose(ctx, m.ns)
		return fmt.Errorf("scale %s to %d: %w", workload, replicas, err)
	}
	m.forgetGoneFaults(ctx)
	return nil
}

// workloadPods lists a workload's pods that are not terminating, by name.
func (m *kindMesh) workloadPods(ctx context.Context, workload string) ([]corev1.Pod, error) {
	list, err := m.b.kube.CoreV1().Pods(m.ns).List(ctx, metav1.ListOptions{LabelSelector: labelWorkload + "=" + workload})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s: %w", workload, err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// forgetGoneFaults drops faults of pods that no longer exist.
func (m *kindMesh) forgetGoneFaults(ctx context.Context) {
	list, err := m.b.kube.CoreV1().Pods(m.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	alive := map[string]bool{}
	for _, p := range list.Items {
		alive[p.Name] = p.DeletionTimestamp == nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.faults {
		if !alive[name] {
			delete(m.faults, name)
		}
	}
}

// Endpoints reads the client sidecar's view through endpoints.Read, the
// reader both backends share, with kindFetcher (fetch.go) running the admin
// requests by exec. Hosts are named after their pods.
func (m *kindMesh) Endpoints(ctx context.Context, client string, view endpoints.View) (endpoints.Table, error) {
	topo := m.topology()
	if _, err := topo.Client(client); err != nil {
		return endpoints.Table{}, err
	}
	byIP, _ := m.podsByIP(ctx) // best effort: unnamed hosts still compare
	return endpoints.Read(ctx, kindFetcher{m}, endpoints.ReadInput{
		Client: client, ProxyID: client + "." + m.ns, Cluster: topo.ClusterName(), View: view, PodByIP: byIP,
	})
}

func (m *kindMesh) podsByIP(ctx context.Context) (map[string]string, error) {
	list, err := m.b.kube.CoreV1().Pods(m.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, p := range list.Items {
		if p.Status.PodIP != "" {
			out[p.Status.PodIP] = p.Name
		}
	}
	return out, nil
}

// ServiceURL is what clients request.
func ServiceURL(t topology.Topology) string {
	return fmt.Sprintf("http://%s:%d/hello", t.Host(), t.Port)
}

// Send runs curl in the client's client container, MaxBatch requests per
// exec, traffic.Concurrency in flight (curl --parallel). curl's own exit
// status says little about a batch, so an exec error is ignored when
// stdout holds every transfer's marker.
func (m *kindMesh) Send(ctx context.Context, client string, n int) (traffic.Batch, error) {
	topo := m.topology()
	if _, err := topo.Client(client); err != nil {
		return traffic.Batch{}, err
	}
	if err := traffic.CheckRequests(n); err != nil {
		return traffic.Batch{}, err
	}
	b := traffic.Batch{Client: client}
	url := ServiceURL(topo)
	for sent := 0; sent < n; {
		k := min(MaxBatch, n-sent)
		stdout, stderr, err := m.b.execIn(ctx, m.ns, client, ClientContainer, traffic.CurlArgs(url, k, traffic.Concurrency, m.b.cfg.Timeouts.Request))
		if cerr := ctx.Err(); cerr != nil {
			// The exec was cut off: its curl's answers are no results.
			b.CutShort = true
			word := "cancelled"
			if errors.Is(cerr, context.DeadlineExceeded) {
				word = "timed out"
			}
			return b, fmt.Errorf("send from %s: %s after %d of %d requests (the %d in flight are not counted): %w", client, word, b.Len(), n, k, cerr)
		}
		rs, perr := traffic.ParseCurlBatch(stdout)
		switch {
		case perr != nil:
			return b, fmt.Errorf("send from %s: %w (exec error: %v; stderr: %s)", client, perr, err, firstLines(strings.TrimSpace(stderr), 3))
		case len(rs) != k:
			return b, fmt.Errorf("send from %s: curl reported %d of %d transfers (exec error: %v; stderr: %s)", client, len(rs), k, err, firstLines(strings.TrimSpace(stderr), 3))
		}
		for _, r := range rs {
			b.Add(r) // counts every response, keeps a bounded sample
		}
		sent += k
	}
	return b, nil
}

// Pods lists workload and client pods with their node's locality.
func (m *kindMesh) Pods(ctx context.Context) ([]mesh.Pod, error) {
	list, err := m.b.kube.CoreV1().Pods(m.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods in %s: %w", m.ns, err)
	}
	nodes, err := m.b.nodeLocalities(ctx)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []mesh.Pod
	for _, p := range list.Items {
		w, isWorkload := p.Labels[labelWorkload]
		_, isClient := p.Labels[labelClient]
		if !isWorkload && !isClient {
			continue
		}
		ready, _ := podReadiness(&p, true)
		out = append(out, mesh.Pod{
			Name:     p.Name,
			Workload: w,
			Locality: nodes[p.Spec.NodeName],
			IP:       p.Status.PodIP,
			Ready:    ready,
			Fault:    m.faults[p.Name],
			Cluster:  m.clusterID(),
			Network:  m.network,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *kindMesh) DestinationRules(ctx context.Context) ([]*networkingv1.DestinationRule, error) {
	list, err := m.b.istio.NetworkingV1().DestinationRules(m.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list DestinationRules in %s: %w", m.ns, err)
	}
	out := make([]*networkingv1.DestinationRule, 0, len(list.Items))
	for _, d := range list.Items {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Close restores the original mesh config if the scenario held mesh
// settings (always, KeepNamespaces or not: releaseMeshSettings), then
// deletes the namespace (not waiting for it to go) unless KeepNamespaces
// is set. It is safe to call twice.
func (m *kindMesh) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	m.b.untrack(m)
	var errs []string
	if m.meshSettings {
		if err := m.b.releaseMeshSettings(ctx, m.ns); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if m.b.cfg.KeepNamespaces {
		fmt.Fprintf(m.b.log, "kind: keeping namespace %s (kubectl delete namespace %s)\n", m.ns, m.ns)
	} else {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := m.b.deleteNamespace(ctx, m.ns); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
