package kind

// Tests of a single-cluster mesh over the fake cluster (fakecluster_test.go):
// deploy, send, endpoints, scale, rules, close.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
	"github.com/localitylb/locality-e2e/framework/workload"
)

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
	// Issue 23 item 8: a batch whose context ends is cut short, and the
	// chunk in flight is counted nowhere.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b, err = m.Send(ctx, "netshoot-b", 2300)
	want := "send from netshoot-b: cancelled after 0 of 2300 requests (the 1000 in flight are not counted): context canceled"
	if err == nil || err.Error() != want || !b.CutShort || b.Len() != 0 {
		t.Errorf("cancelled Send: %v, CutShort %v, %d requests; want %q, cut short, none", err, b.CutShort, b.Len(), want)
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

// Zone aware topologies (issue 22 item 3): the client pods carry the
// self-discovery proxyMetadata, the client Service selects them, the
// capability is on; an Istio before 1.31 refuses them as unsupported.
func TestDeployZoneAware(t *testing.T) {
	f, b := newFakeCluster(t)
	ctx := context.Background()
	m, err := b.Deploy(ctx, topology.ZoneAwareUneven())
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, f.log.String())
	}
	ns := m.Topology().Namespace
	if !m.Capabilities().ZoneAwareRouting {
		t.Errorf("Istio %s: capabilities %+v", b.cfg.IstioVersion, m.Capabilities())
	}
	svc, err := f.kube.CoreV1().Services(ns).Get(ctx, "sleep", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sel := svc.Spec.Selector; len(sel) != 1 || sel[topology.LabelWorkloadName] != "sleep" || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != topology.ClientServicePort {
		t.Errorf("client Service %+v", svc.Spec)
	}
	for _, name := range []string{"sleep-a-1", "sleep-a-2", "sleep-b", "sleep-c"} {
		p, err := f.kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Annotations[topology.AnnotationProxyConfig] != `{"proxyMetadata":{"ISTIO_META_ENABLE_SELF_DISCOVERY":"true"}}` || p.Labels[topology.LabelWorkloadName] != "sleep" {
			t.Errorf("pod %s annotations %v labels %v", name, p.Annotations, p.Labels)
		}
	}
	// A client without self-discovery has no annotation, and no client
	// Service exists without Client.Service.
	plain, err := b.Deploy(ctx, topology.ThreeZones())
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.kube.CoreV1().Pods(plain.Topology().Namespace).Get(ctx, "netshoot-b", metav1.GetOptions{})
	if err != nil || len(p.Annotations) != 0 {
		t.Errorf("netshoot-b: %v %v", err, p.GetAnnotations())
	}
	if svcs, _ := f.kube.CoreV1().Services(plain.Topology().Namespace).List(ctx, metav1.ListOptions{}); len(svcs.Items) != 1 {
		t.Errorf("three-zones Services %d, want 1", len(svcs.Items))
	}

	b.cfg.IstioVersion = "1.30.2"
	_, err = b.Deploy(ctx, topology.ZoneAwareUneven())
	if !errors.Is(err, mesh.ErrTopologyUnsupported) || !strings.Contains(err.Error(), "Istio 1.30.2 has no zone aware routing") || !strings.Contains(err.Error(), "1.31.0") {
		t.Errorf("Istio 1.30.2: %v", err)
	}
	mw := topology.ThreeZones()
	mw.Mesh.ZoneAwareLbSetting = &networkingapi.ZoneAwareLoadBalancerSetting{}
	if _, err := b.Deploy(ctx, mw); !errors.Is(err, mesh.ErrTopologyUnsupported) || !strings.Contains(err.Error(), "Mesh.ZoneAwareLbSetting") {
		t.Errorf("mesh-wide zoneAwareLbSetting on 1.30.2: %v", err)
	}
	b.cfg.IstioVersion = "1.31.0"
	if err := checkZoneAware(topology.ZoneAwareUneven(), b.cfg.IstioVersion); err != nil {
		t.Errorf("1.31.0: %v", err)
	}
}

// Named nodes are refused on kind as unsupported; PreferSameNode is
// dropped (and the capability off) before Kubernetes 1.34, like
// PreferSameZone.
func TestDeployNamedNodesAndPreferSameNode(t *testing.T) {
	f, b := newFakeCluster(t)
	ctx := context.Background()
	topo := topology.ThreeZones()
	topo.Workloads[1].Node = "kr-b-node-1"
	if _, err := b.Deploy(ctx, topo); !errors.Is(err, mesh.ErrTopologyUnsupported) || !strings.Contains(err.Error(), "named nodes (kr-b-node-1, ...)") {
		t.Errorf("named node: %v", err)
	}
	b.trafficDistribution, b.preferSameZone = true, false
	topo = topology.ThreeZones()
	topo.TrafficDistribution = "PreferSameNode"
	m, err := b.Deploy(ctx, topo)
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, f.log.String())
	}
	svc, err := f.kube.CoreV1().Services(m.Topology().Namespace).Get(ctx, topo.Service, metav1.GetOptions{})
	if err != nil || svc.Spec.TrafficDistribution != nil || m.Capabilities().TrafficDistributionPreferSameZone {
		t.Errorf("PreferSameNode before 1.34: %v %v %+v", err, svc.Spec.TrafficDistribution, m.Capabilities())
	}
	if !strings.Contains(f.log.String(), "does not accept PreferSameNode (on by default from 1.34)") {
		t.Errorf("log:\n%s", f.log.String())
	}
}
