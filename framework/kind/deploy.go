package kind

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/workload"
)

// Labels the backend puts on what it creates.
const (
	LabelTopology = "locality-e2e/topology"
	labelWorkload = "workload" // set by the workload template
	labelClient   = "client"   // set by the client pod template
)

// NamespaceName is "le2e-<topology>-<5 random [a-z0-9]>", cut to fit the
// 63-character limit, so concurrent runs and leftovers never clash.
func NamespaceName(topo string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r - 'A' + 'a'
		}
		return '-'
	}, topo)
	if max := 63 - len("le2e--") - len(b); len(name) > max {
		name = name[:max]
	}
	name = strings.Trim(name, "-")
	if name == "" {
		name = "topology"
	}
	return "le2e-" + name + "-" + string(b)
}

// namespaceObject is the topology's namespace, labelled for sidecar
// injection by the default control plane, or by revision's
// (InjectionLabels).
func namespaceObject(name, topo, revision string) *corev1.Namespace {
	l := InjectionLabels(revision)
	l[LabelTopology] = topo
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
}

// Deploy applies the topology's mesh settings, if any, to the live mesh
// (acquireMeshSettings: refused while other settings, or other open
// scenarios, would clash), creates the topology's namespace, applies its rendered objects
// (workloads on Config.WorkloadImageRef unless the topology sets another
// Image than topology.DefaultImage) and
// waits until every workload has its replicas ready and every client pod
// is ready, each with a ready istio-proxy.
func (b *backend) Deploy(ctx context.Context, topo topology.Topology) (mesh.Mesh, error) {
	if err := topo.Validate(); err != nil {
		return nil, err
	}
	if topo.MultiCluster() {
		return nil, fmt.Errorf("deploy topology %q: it declares %d Clusters %v, and this kind backend is one cluster: run it on the multi-cluster kind setup (%s=1, see docs/multicluster.md \"Multi-cluster on kind\"), or declare at most one cluster in Clusters: %w",
			topo.Name, len(topo.Clusters), topo.ClusterNames(), EnvKindMultiCluster, mesh.ErrTopologyUnsupported)
	}
	if err := checkZoneAware(topo, b.cfg.IstioVersion); err != nil {
		return nil, fmt.Errorf("deploy topology %q: %w", topo.Name, err)
	}
	if err := checkNamedNodes(topo); err != nil {
		return nil, fmt.Errorf("deploy topology %q: %w", topo.Name, err)
	}
	topo = b.deployable(topo)
	ns := NamespaceName(topo.Name)
	topo.Namespace = ns
	fmt.Fprintf(b.log, "kind: deploying topology %q into namespace %s\n", topo.Name, ns)
	// Mesh settings first (the scenario's pods start under them), or the
	// check that none are active; a failure here leaves nothing to clean.
	if overlay := topo.MeshConfigOverlay(); overlay != nil {
		if err := b.acquireMeshSettings(ctx, ns, topo.Name, overlay, b.openWithoutMeshSettings()); err != nil {
			return nil, fmt.Errorf("deploy topology %q: %w", topo.Name, err)
		}
	} else if err := b.checkNoMeshSettings(ctx, topo.Name); err != nil {
		return nil, fmt.Errorf("deploy topology %q: %w", topo.Name, err)
	}
	m := &kindMesh{b: b, ns: ns, topo: topo, faults: map[string]mesh.Fault{}, meshSettings: !topo.Mesh.IsZero()}
	if _, err := b.kube.CoreV1().Namespaces().Create(ctx, namespaceObject(ns, topo.Name, b.cfg.Revision), metav1.CreateOptions{}); err != nil {
		err = fmt.Errorf("create namespace %s: %w", ns, err)
		if rerr := b.releaseMeshSettings(ctx, ns); rerr != nil {
			err = fmt.Errorf("%w; %v", err, rerr)
		}
		return nil, fmt.Errorf("deploy topology %q: %w", topo.Name, err)
	}
	fail := func(err error) (mesh.Mesh, error) {
		b.diagnose(ctx, ns)
		if cerr := m.Close(context.WithoutCancel(ctx)); cerr != nil {
			err = fmt.Errorf("%w; cleanup: %v", err, cerr)
		}
		return nil, fmt.Errorf("deploy topology %q: %w", topo.Name, err)
	}
	objs, err := topology.Render(topo)
	if err != nil {
		return fail(err)
	}
	for _, o := range objs {
		o.SetNamespace(ns)
		if err := b.create(ctx, o); err != nil {
			return fail(fmt.Errorf("create %s %s: %w", kindOf(o), o.GetName(), err))
		}
	}
	if err := b.createClientServices(ctx, topo, ns); err != nil {
		return fail(err)
	}
	if err := m.waitReady(ctx, b.cfg.Timeouts.Deploy); err != nil {
		return fail(err)
	}
	b.track(m)
	return m, nil
}

// deployable is the topology as Deploy runs it: workloads on the
// configured workload image (with its readiness port), defaults filled,
// and a trafficDistribution the API server cannot take dropped.
func (b *backend) deployable(topo topology.Topology) topology.Topology {
	topo.Image = workloadImageOf(topo, b.cfg.WorkloadImageRef())
	if !IsHelloworldImage(topo.Image) && topo.HealthPort == 0 {
		topo.HealthPort = workload.DefaultHealthPort
	}
	topo = topo.WithDefaults()
	if why := b.unservedTrafficDistribution(topo.TrafficDistribution); why != "" {
		// Deploy without it rather than fail the whole scenario: the
		// mesh's Capabilities say so, and the spec skips with the reason.
		fmt.Fprintf(b.log, "kind: topology %q: Service deployed without trafficDistribution %s: %s\n", topo.Name, topo.TrafficDistribution, why)
		topo.TrafficDistribution = ""
	}
	return topo
}

func kindOf(o client.Object) string {
	if k := o.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", o), "*")
}

// waitReady waits for every workload and client of the topology.
func (m *kindMesh) waitReady(ctx context.Context, timeout time.Duration) error {
	t := m.b.cfg.Timeouts
	for _, w := range m.topology().Workloads {
		if err := m.waitWorkload(ctx, w.Name, w.Replicas, timeout); err != nil {
			return err
		}
	}
	for _, c := range m.topo.Clients {
		if err := Poll(ctx, "client pod "+c.Name, t.Poll, timeout, PodReady(m.b.kube, m.ns, c.Name, true)); err != nil {
			return err
		}
	}
	return nil
}

// waitWorkload waits until the Deployment has exactly n ready replicas and
// its pods are all ready with their sidecar.
func (m *kindMesh) waitWorkload(ctx context.Context, name string, n int, d time.Duration) error {
	t := m.b.cfg.Timeouts
	if err := Poll(ctx, "deployment "+name, t.Poll, d, DeploymentReady(m.b.kube, m.ns, name, n)); err != nil {
		return err
	}
	sel := labels.SelectorFromSet(labels.Set{labelWorkload: name})
	return Poll(ctx, "pods of "+name, t.Poll, d, PodsReady(m.b.kube, m.ns, sel, n, true))
}

// diagnose prints what is wrong with a namespace's pods and events, and
// asks for the node logs at the end of the suite.
func (b *backend) diagnose(ctx context.Context, ns string) {
	ctx = context.WithoutCancel(ctx)
	pods, err := b.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err == nil {
		for i := range pods.Items {
			if ok, why := podReadiness(&pods.Items[i], true); !ok {
				fmt.Fprintf(b.log, "kind: %s: %s (node %s)\n", ns, why, pods.Items[i].Spec.NodeName)
			}
		}
	}
	ev, err := b.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err == nil {
		for _, e := range ev.Items {
			fmt.Fprintf(b.log, "kind: %s: event %s %s: %s\n", ns, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
	// the node logs once, at the end of the suite (Teardown)
	b.wantNodeLogs(ns)
}

// deleteNamespace deletes a namespace, ignoring one already gone.
func (b *backend) deleteNamespace(ctx context.Context, ns string) error {
	err := b.kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	return nil
}

// unservedTrafficDistribution says why the API server cannot take a
// Service trafficDistribution value ("" if it can, or if none is set):
// before 1.31 the field is dropped, before 1.34 PreferSameZone and
// PreferSameNode (one feature gate, KEP-3015) are refused.
func (b *backend) unservedTrafficDistribution(mode string) string {
	switch {
	case mode == "":
		return ""
	case !b.trafficDistribution:
		return "the cluster's Kubernetes does not serve Service.spec.trafficDistribution (1.31+)"
	case (mode == corev1.ServiceTrafficDistributionPreferSameZone || mode == corev1.ServiceTrafficDistributionPreferSameNode) && !b.preferSameZone:
		return "the cluster's Kubernetes does not accept " + mode + " (on by default from 1.34)"
	}
	return ""
}
