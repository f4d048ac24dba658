package kind

// The fake cluster the tests run the backend on: a client-go fake API
// server, a tiny controller for Deployments' pods, and a fake exec that
// answers curl and pilot-agent like the real containers.

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/localitylb/locality-e2e/framework/envoyadmin/envoyadmintest"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// fakeCluster is a fake API server plus a tiny controller that makes
// Deployments' pods (with a ready istio-proxy) and scales them, and a fake
// exec that answers curl and pilot-agent like the real containers.
type fakeCluster struct {
	t     *testing.T
	kube  *fake.Clientset
	istio *istiofake.Clientset
	log   bytes.Buffer

	mu    sync.Mutex
	calls [][]string // argv of every exec, with "ns/pod/container" prepended
	// The version_info the fake sidecars report: like istiod and Envoy
	// (syncversion.go), the cluster's moves only on a DestinationRule
	// write, the route configuration's only on a VirtualService write.
	cdsVer, rdsVer int
	curlErr        error // returned by curl execs (with full stdout)
	// noResourceFilter: the sidecar rejects config_dump?...&resource=
	noResourceFilter bool
	// fake istiod's mesh config (meshsettings_test.go): the ConfigMap it
	// watches, the value it serves, answers still serving the previous
	// value after a change, and frozen: it never reloads.
	meshCM     string
	meshServed string
	meshLag    int
	meshFrozen bool
}

func nodeFor(l map[string]string) string {
	return "w-" + l[topology.LabelRegion] + "-" + l[topology.LabelZone]
}

func newFakeCluster(t *testing.T) (*fakeCluster, *backend) {
	f := &fakeCluster{t: t, istio: istiofake.NewSimpleClientset()}
	var nodes []runtimeNode
	for _, n := range ClusterConfig(DefaultConfig()).Nodes[1:] {
		nodes = append(nodes, runtimeNode{name: nodeFor(n.Labels), labels: n.Labels})
	}
	f.kube = fake.NewClientset()
	f.istio.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetVerb() == "get" || a.GetVerb() == "list" || a.GetVerb() == "watch" {
			return false, nil, nil
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		switch a.GetResource().Resource {
		case "destinationrules":
			f.cdsVer++
		case "virtualservices":
			f.rdsVer++
		}
		return false, nil, nil
	})
	for _, n := range nodes {
		_, _ = f.kube.CoreV1().Nodes().Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: n.labels}}, metav1.CreateOptions{})
	}
	cfg := DefaultConfig()
	cfg.Timeouts.Poll = 5 * time.Millisecond
	cfg.Timeouts.Deploy = 5 * time.Second
	cfg.Timeouts.Scale = 5 * time.Second
	cfg.Timeouts.Sync = 500 * time.Millisecond
	b := &backend{cfg: cfg, log: &f.log, kube: f.kube, istio: f.istio, exec: f.exec, create: f.create, meshes: map[*kindMesh]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go f.controller(ctx)
	return f, b
}

type runtimeNode struct {
	name   string
	labels map[string]string
}

func (f *fakeCluster) create(ctx context.Context, obj client.Object) error {
	ns := obj.GetNamespace()
	var err error
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Generation = 1
		_, err = f.kube.AppsV1().Deployments(ns).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.Service:
		_, err = f.kube.CoreV1().Services(ns).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.Pod:
		_, err = f.kube.CoreV1().Pods(ns).Create(ctx, o, metav1.CreateOptions{})
	case *networkingv1.VirtualService:
		_, err = f.istio.NetworkingV1().VirtualServices(ns).Create(ctx, o, metav1.CreateOptions{})
	default:
		err = fmt.Errorf("unexpected %T", obj)
	}
	return err
}

func readyStatus(p *corev1.Pod, ip string) {
	p.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: ip,
		Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true}, {Name: SidecarContainer, Ready: true}},
	}
}

func zoneNum(z string) int { return int(z[0]-'a') + 1 }

// controller reconciles every 5 ms: Deployments get exactly spec.replicas
// ready pods (named <deployment>-<i>, IP 10.244.<zone>.1<i> like the
// endpoint fixtures), client pods become ready.
func (f *fakeCluster) controller(ctx context.Context) {
	for ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
		nss, _ := f.kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		for _, ns := range nss.Items {
			deps, _ := f.kube.AppsV1().Deployments(ns.Name).List(ctx, metav1.ListOptions{})
			for _, d := range deps.Items {
				want := int(*d.Spec.Replicas)
				sel := d.Spec.Template.Spec.NodeSelector
				for i := 0; i < 10; i++ {
					name := fmt.Sprintf("%s-%d", d.Name, i)
					_, err := f.kube.CoreV1().Pods(ns.Name).Get(ctx, name, metav1.GetOptions{})
					exists := err == nil
					switch {
					case i < want && !exists:
						p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns.Name, Labels: d.Spec.Template.Labels},
							Spec: corev1.PodSpec{NodeName: nodeFor(sel)}}
						readyStatus(p, fmt.Sprintf("10.244.%d.1%d", zoneNum(sel[topology.LabelZone]), i))
						_, _ = f.kube.CoreV1().Pods(ns.Name).Create(ctx, p, metav1.CreateOptions{})
					case i >= want && exists:
						_ = f.kube.CoreV1().Pods(ns.Name).Delete(ctx, name, metav1.DeleteOptions{})
					}
				}
				// A status-only patch: an Update of the listed object could
				// undo a concurrent Scale's spec.replicas.
				patch := fmt.Appendf(nil, `{"status":{"observedGeneration":%d,"replicas":%d,"readyReplicas":%d,"updatedReplicas":%d,"availableReplicas":%d}}`,
					d.Generation, want, want, want, want)
				_, _ = f.kube.AppsV1().Deployments(ns.Name).Patch(ctx, d.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
			}
			pods, _ := f.kube.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{LabelSelector: labelClient})
			for _, p := range pods.Items {
				if _, err := f.kube.CoreV1().Nodes().Get(ctx, nodeFor(p.Spec.NodeSelector), metav1.GetOptions{}); err != nil {
					continue // unschedulable: stays Pending
				}
				if p.Status.PodIP == "" {
					p.Spec.NodeName = nodeFor(p.Spec.NodeSelector)
					readyStatus(&p, "10.244.9.9")
					_, _ = f.kube.CoreV1().Pods(ns.Name).Update(ctx, &p, metav1.UpdateOptions{})
				}
			}
		}
	}
}

// fixture returns the admin documents of the seed scenario for namespace
// ns, rendered by framework/envoyadmin (what the embedded backend serves)
// from an envoylb model: the failover rule with kr/b's first pod ejected,
// and istiod's view of distribute kr/b → kr/b.
func fixture(t *testing.T, name, ns string) string {
	t.Helper()
	if name == "istiod-edsz-distribute-b-to-b.json" {
		b, err := envoyadmintest.IstiodEDS(envoyadmintest.DistributeBToB(ns))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	docs, err := envoyadmintest.FailoverEjected(ns)
	if err != nil {
		t.Fatal(err)
	}
	switch name {
	case "config_dump-failover-ejected.json":
		return string(docs.ConfigDump)
	case "clusters-failover-ejected.json":
		return string(docs.Clusters)
	}
	t.Fatalf("no fixture %s", name)
	return ""
}

func (f *fakeCluster) exec(ctx context.Context, ns, pod, container string, argv []string) (string, string, error) {
	f.mu.Lock()
	f.calls = append(f.calls, append([]string{ns + "/" + pod + "/" + container}, argv...))
	f.mu.Unlock()
	switch {
	case argv[0] == "curl":
		return f.curlExec(ctx, ns, argv) // real curl against loopback workload servers (workload_test.go)
	case argv[0] == WorkloadBinary:
		return f.workloadExec(ctx, ns, pod, container, argv)
	case strings.Join(argv, " ") == strings.Join(EDSArgs, " ") && f.noResourceFilter:
		return "", "Error: received unsuccessful status code 400: invalid resource", fmt.Errorf("command terminated with exit code 1")
	case strings.Join(argv, " ") == strings.Join(EDSArgs, " "), strings.Join(argv, " ") == strings.Join(EDSFullArgs, " "):
		return fixture(f.t, "config_dump-failover-ejected.json", ns), "", nil
	case strings.Join(argv, " ") == strings.Join(ClustersArgs, " "):
		return fixture(f.t, "clusters-failover-ejected.json", ns), "", nil
	case strings.Join(argv, " ") == strings.Join(CDSArgs, " "):
		f.mu.Lock()
		v := f.cdsVer
		f.mu.Unlock()
		return adminDump(f.t, &clusterv3.Cluster{Name: "outbound|5000||helloworld-svc." + ns + ".svc.cluster.local"}, fmt.Sprintf("v%d", v)), "", nil
	case strings.Join(argv, " ") == strings.Join(RDSArgs, " "):
		f.mu.Lock()
		v := f.rdsVer
		f.mu.Unlock()
		return adminDump(f.t, &routev3.RouteConfiguration{Name: "5000"}, fmt.Sprintf("r%d", v)), "", nil
	case reflect.DeepEqual(argv, []string{"pilot-discovery", "request", "GET", MeshDebugPath}) && container == IstiodContainer:
		return f.debugMesh(ctx)
	case argv[0] == "pilot-discovery":
		_, proxyID, _ := strings.Cut(argv[3], "proxyID=")
		_, proxyNS, _ := strings.Cut(proxyID, ".")
		if !reflect.DeepEqual(argv, IstiodEDSArgs(proxyID)) {
			break
		}
		return fixture(f.t, "istiod-edsz-distribute-b-to-b.json", proxyNS), "", nil
	case strings.Join(argv, " ") == strings.Join(DrainArgs, " "):
		return "OK\n", "", nil
	}
	return "", "unknown command", fmt.Errorf("command terminated with exit code 1")
}

// adminDump is what Envoy's config_dump?resource=dynamic_active_clusters
// or ?resource=dynamic_route_configs prints for one resource: one configs
// entry, the DynamicCluster or DynamicRouteConfig packed as an Any
// (config_dump_handler.cc addResourceToDump), marshalled with protojson.
func adminDump(t *testing.T, resource proto.Message, version string) string {
	t.Helper()
	a, err := anypb.New(resource)
	if err != nil {
		t.Fatal(err)
	}
	var entry proto.Message
	switch resource.(type) {
	case *clusterv3.Cluster:
		entry = &adminv3.ClustersConfigDump_DynamicCluster{VersionInfo: version, Cluster: a, LastUpdated: timestamppb.New(time.Unix(1, 0))}
	default:
		entry = &adminv3.RoutesConfigDump_DynamicRouteConfig{VersionInfo: version, RouteConfig: a, LastUpdated: timestamppb.New(time.Unix(1, 0))}
	}
	e, err := anypb.New(entry)
	if err != nil {
		t.Fatal(err)
	}
	b, err := protojson.Marshal(&adminv3.ConfigDump{Configs: []*anypb.Any{e}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (f *fakeCluster) execs(prefix string) [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]string
	for _, c := range f.calls {
		if strings.HasPrefix(strings.Join(c[1:], " "), prefix) {
			out = append(out, c)
		}
	}
	return out
}

func deployThreeZones(t *testing.T) (*fakeCluster, *backend, *kindMesh) {
	f, b := newFakeCluster(t)
	m, err := b.Deploy(context.Background(), topology.ThreeZones())
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, f.log.String())
	}
	return f, b, m.(*kindMesh)
}
