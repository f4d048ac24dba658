package kind

import (
	"bytes"
	"context"
	"errors"
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

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/envoyadmin/envoyadmintest"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
	"github.com/localitylb/locality-e2e/framework/workload"
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

func TestDeployCreatesLabelledNamespaceAndWaits(t *testing.T) {
	f, _, m := deployThreeZones(t)
	ctx := context.Background()
	if !strings.HasPrefix(m.ns, "le2e-three-zones-") || len(m.ns) != len("le2e-three-zones-")+5 {
		t.Errorf("namespace %q", m.ns)
	}
	ns, err := f.kube.CoreV1().Namespaces().Get(ctx, m.ns, metav1.GetOptions{})
	if err != nil || ns.Labels["istio-injection"] != "enabled" || ns.Labels[LabelTopology] != "three-zones" {
		t.Fatalf("namespace %v labels %v", err, ns.Labels)
	}
	if m.Topology().Namespace != m.ns || m.Backend() != "kind" || !m.Capabilities().Fault5xx || m.Topology().Image != BuiltinWorkloadImage {
		t.Errorf("mesh %+v", m.Topology())
	}
	pods, err := m.Pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 10 {
		t.Fatalf("%d pods, want 9 workload + 1 client: %+v", len(pods), pods)
	}
	for _, p := range pods {
		want := "kr/" + strings.TrimPrefix(p.Workload, "helloworld-zone-")
		if p.Workload == "" {
			want = "kr/b" // netshoot-b
		}
		if p.Locality != want || !p.Ready {
			t.Errorf("pod %+v: want locality %s, ready", p, want)
		}
	}
	if _, err := f.istio.NetworkingV1().VirtualServices(m.ns).Get(ctx, "helloworld-svc", metav1.GetOptions{}); err != nil {
		t.Errorf("VirtualService: %v", err)
	}
	// The built-in workload is Ready by /healthz on its own port, so a pod
	// refusing connections on the service port stays Ready.
	d, err := f.kube.AppsV1().Deployments(m.ns).Get(ctx, "helloworld-zone-b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pr := d.Spec.Template.Spec.Containers[0].ReadinessProbe; pr == nil || pr.HTTPGet == nil ||
		pr.HTTPGet.Path != "/healthz" || pr.HTTPGet.Port.IntValue() != workload.DefaultHealthPort {
		t.Errorf("readiness probe %+v, want GET /healthz on %d", pr, workload.DefaultHealthPort)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.kube.CoreV1().Namespaces().Get(ctx, m.ns, metav1.GetOptions{}); err == nil {
		t.Error("namespace survived Close")
	}
	if err := m.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDeployTimeoutCleansUp(t *testing.T) {
	f, b := newFakeCluster(t)
	b.cfg.Timeouts.Deploy = 100 * time.Millisecond
	topo := topology.ThreeZones()
	topo.Clients[0].Name = "never-ready"
	// a client whose pod the fake controller cannot schedule
	topo.Clients[0].Locality.Region = "mars"
	_, err := b.Deploy(context.Background(), topo)
	if err == nil || !strings.Contains(err.Error(), "client pod never-ready") {
		t.Fatalf("error %v", err)
	}
	nss, _ := f.kube.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if len(nss.Items) != 0 {
		t.Errorf("namespace left behind: %v", nss.Items[0].Name)
	}
}

func TestSendSplitsIntoBatches(t *testing.T) {
	f, _, m := deployThreeZones(t)
	b, err := m.Send(context.Background(), "netshoot-b", 2300)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 2300 || b.Client != "netshoot-b" || b.Responses[0].Pod != "helloworld-zone-b-0" || b.Responses[2299].Pod != "helloworld-zone-b-2" {
		t.Fatalf("batch len %d client %q first %+v", b.Len(), b.Client, b.Responses[0])
	}
	calls := f.execs("curl")
	if len(calls) != 3 {
		t.Fatalf("%d curl execs, want 3", len(calls))
	}
	url := "http://helloworld-svc." + m.ns + ".svc.cluster.local:5000/hello"
	for i, want := range []int{MaxBatch, MaxBatch, 300} {
		c := calls[i]
		if wantArgv := traffic.CurlArgs(url, want, traffic.Concurrency, DefaultTimeouts().Request); c[0] != m.ns+"/netshoot-b/client" || !reflect.DeepEqual(c[1:], wantArgv) {
			t.Errorf("exec %d: %q... (%d args), want %q... (%d args) in the client container", i, c[:min(len(c), 12)], len(c)-1, wantArgv[:11], len(wantArgv))
		}
	}
	// curl's exit status is its last transfer's: ignored when stdout is whole.
	f.curlErr = errors.New("command terminated with exit code 7")
	if _, err := m.Send(context.Background(), "netshoot-b", 3); err != nil {
		t.Errorf("exec error with complete output: %v", err)
	}
	if _, err := m.Send(context.Background(), "nobody", 3); err == nil || !strings.Contains(err.Error(), "unknown client") {
		t.Errorf("unknown client: %v", err)
	}
}

func TestEndpointsMergesViews(t *testing.T) {
	f, _, m := deployThreeZones(t)
	tab, err := m.Endpoints(context.Background(), "netshoot-b", endpoints.Envoy)
	if err != nil {
		t.Fatal(err)
	}
	got := tab.Summarize()
	want := endpoints.Summary{
		"kr/b": {Priority: 0, Weight: 3, Hosts: 3, Healthy: 2},
		"kr/a": {Priority: 1, Weight: 3, Hosts: 3, Healthy: 3},
		"kr/c": {Priority: 1, Weight: 3, Hosts: 3, Healthy: 3},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("summary\n%s\nwant\n%s", got, want)
	}
	if h := tab.Rows[0].Hosts[0]; h.Pod != "helloworld-zone-b-0" || h.Health != endpoints.Ejected {
		t.Errorf("first host %+v: want pod helloworld-zone-b-0, EJECTED", h)
	}
	for _, c := range append(f.execs("pilot-agent request GET clusters"), f.execs("pilot-agent request GET config_dump?include_eds")...) {
		if c[0] != m.ns+"/netshoot-b/istio-proxy" {
			t.Errorf("exec in %s, want the client's istio-proxy", c[0])
		}
	}
	// An Envoy that rejects the resource filter: the whole dump is read.
	f.noResourceFilter = true
	tab2, err := m.Endpoints(context.Background(), "netshoot-b", endpoints.Envoy)
	if err != nil || fmt.Sprint(tab2.Summarize()) != fmt.Sprint(want) {
		t.Errorf("fallback: %v\n%s", err, tab2)
	}
	full := 0
	for _, c := range f.execs(strings.Join(EDSFullArgs, " ")) {
		if reflect.DeepEqual(c[1:], EDSFullArgs) {
			full++
		}
	}
	if full != 1 {
		t.Error("no fallback to the whole config_dump")
	}
	// Raw view: no istiod pod yet, then one that answers.
	if _, err := m.Endpoints(context.Background(), "netshoot-b", endpoints.Raw); err == nil || !strings.Contains(err.Error(), "no running istiod") {
		t.Errorf("Raw view without istiod: %v", err)
	}
	istiod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "istiod-5f4b7c9d8-x2x7q", Namespace: IstioNamespace, Labels: map[string]string{"app": "istiod"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	if _, err := f.kube.CoreV1().Pods(IstioNamespace).Create(context.Background(), istiod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	raw, err := m.Endpoints(context.Background(), "netshoot-b", endpoints.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if raw.View != endpoints.Raw || len(raw.Rows) != 3 || raw.Summarize()["kr/b"].Weight != 100 || raw.Summarize()["kr/a"].Hosts != 0 {
		t.Errorf("raw view:\n%s", raw)
	}
	calls := f.execs("pilot-discovery request GET /debug/edsz?proxyID=netshoot-b." + m.ns)
	if len(calls) != 1 || calls[0][0] != IstioNamespace+"/istiod-5f4b7c9d8-x2x7q/discovery" {
		t.Errorf("istiod execs %q", calls)
	}
}

// TestSetFault*: workload_test.go.

func TestScale(t *testing.T) {
	_, _, m := deployThreeZones(t)
	ctx := context.Background()
	if err := m.Scale(ctx, "helloworld-zone-b", 0); err != nil {
		t.Fatal(err)
	}
	w, _ := m.Topology().Workload("helloworld-zone-b")
	if w.Replicas != 0 {
		t.Errorf("topology replicas %d", w.Replicas)
	}
	pods, _ := m.workloadPods(ctx, "helloworld-zone-b")
	if len(pods) != 0 {
		t.Errorf("%d pods left", len(pods))
	}
	if err := m.Scale(ctx, "helloworld-zone-b", 1); err != nil {
		t.Fatal(err)
	}
	if err := m.Scale(ctx, "nope", 1); err == nil || !strings.Contains(err.Error(), "unknown workload") {
		t.Errorf("unknown workload: %v", err)
	}
}

func TestApplyDestinationRule(t *testing.T) {
	f, _, m := deployThreeZones(t)
	ctx := context.Background()
	dr, err := destinationrule.Load("failover")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyDestinationRule(ctx, dr); err != nil {
		t.Fatal(err)
	}
	got, err := f.istio.NetworkingV1().DestinationRules(m.ns).Get(ctx, dr.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Host != "helloworld-svc."+m.ns+".svc.cluster.local" || got.Namespace != m.ns {
		t.Errorf("applied host %q ns %q", got.Spec.Host, got.Namespace)
	}
	// update in place
	if err := m.ApplyDestinationRule(ctx, dr); err != nil {
		t.Fatal(err)
	}
	list, _ := m.DestinationRules(ctx)
	if len(list) != 1 {
		t.Errorf("%d rules", len(list))
	}
	// invalid rules never reach the cluster
	bad, err := destinationrule.Load("distribute-90-10")
	if err != nil {
		t.Fatal(err)
	}
	bad.Name = "bad"
	for _, d := range bad.Spec.TrafficPolicy.LoadBalancer.LocalityLbSetting.Distribute {
		for k := range d.To {
			d.To[k] = 1 // weights no longer sum to 100
		}
	}
	if err := m.ApplyDestinationRule(ctx, bad); err == nil || !strings.Contains(err.Error(), "100") {
		t.Errorf("invalid rule: %v", err)
	}
	if _, err := f.istio.NetworkingV1().DestinationRules(m.ns).Get(ctx, "bad", metav1.GetOptions{}); err == nil {
		t.Error("invalid rule reached the cluster")
	}
	if err := m.DeleteDestinationRule(ctx, dr.Name); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteDestinationRule(ctx, dr.Name); err == nil || !strings.Contains(err.Error(), "no such rule") {
		t.Errorf("second delete: %v", err)
	}
	if len(f.execs("pilot-agent request GET config_dump?resource=dynamic_active_clusters")) < 4 {
		t.Error("no sync wait on the client's CDS")
	}
}

func TestBackendCloseClosesMeshes(t *testing.T) {
	f, b, m := deployThreeZones(t)
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.kube.CoreV1().Namespaces().Get(context.Background(), m.ns, metav1.GetOptions{}); err == nil {
		t.Error("namespace survived backend Close")
	}
}

func TestKeepNamespaces(t *testing.T) {
	f, b, m := deployThreeZones(t)
	b.cfg.KeepNamespaces = true
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.kube.CoreV1().Namespaces().Get(context.Background(), m.ns, metav1.GetOptions{}); err != nil {
		t.Error("namespace deleted despite KeepNamespaces")
	}
	if !strings.Contains(f.log.String(), "keeping namespace "+m.ns) {
		t.Error("no keep message")
	}
}

// On a cluster older than 1.34 a PreferSameZone topology deploys without
// the field, and Capabilities tell the spec to skip (issue 12 item 7).
func TestDeployWithoutUnservedTrafficDistribution(t *testing.T) {
	f, b := newFakeCluster(t)
	b.trafficDistribution, b.preferSameZone = true, false
	topo := topology.ThreeZones()
	topo.TrafficDistribution = "PreferSameZone"
	m, err := b.Deploy(context.Background(), topo)
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, f.log.String())
	}
	if m.Capabilities().TrafficDistributionPreferSameZone || !m.Capabilities().ServiceTrafficDistribution {
		t.Errorf("capabilities %+v", m.Capabilities())
	}
	svc, err := f.kube.CoreV1().Services(m.Topology().Namespace).Get(context.Background(), topo.Service, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.TrafficDistribution != nil {
		t.Errorf("service trafficDistribution %q", *svc.Spec.TrafficDistribution)
	}
	if !strings.Contains(f.log.String(), "without trafficDistribution PreferSameZone: the cluster's Kubernetes does not accept PreferSameZone (on by default from 1.34)") {
		t.Errorf("log:\n%s", f.log.String())
	}
	// PreferClose is kept on 1.31+.
	topo.TrafficDistribution = "PreferClose"
	m, err = b.Deploy(context.Background(), topo)
	if err != nil {
		t.Fatal(err)
	}
	svc, err = f.kube.CoreV1().Services(m.Topology().Namespace).Get(context.Background(), topo.Service, metav1.GetOptions{})
	if err != nil || svc.Spec.TrafficDistribution == nil || *svc.Spec.TrafficDistribution != "PreferClose" {
		t.Errorf("PreferClose service %v %+v", err, svc.Spec.TrafficDistribution)
	}
}
