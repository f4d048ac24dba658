package topology

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/workload"
)

var update = flag.Bool("update", false, "rewrite fixtures/golden/*.yaml from the rendered topologies")

const goldenDir = "../../fixtures/golden"

func TestRenderYAMLGolden(t *testing.T) {
	for _, topo := range []Topology{TwoRegions(), ThreeZones(), ZoneAwareUneven()} {
		t.Run(topo.Name, func(t *testing.T) {
			got, err := RenderYAML(topo)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(goldenDir, topo.Name+".yaml")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./framework/topology -run Golden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("RenderYAML(%s) differs from %s (rerun with -update if intended):\n%s", topo.Name, file, got)
			}
			// Every document decodes: the same count as Render returns.
			objs, err := Render(topo)
			if err != nil {
				t.Fatal(err)
			}
			svcs, err := RenderClientServices(topo)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(got), "\n---\n") + 1; n != len(objs)+len(svcs) {
				t.Errorf("%d YAML documents, %d objects and %d client Services", n, len(objs), len(svcs))
			}
		})
	}
}

// TestRenderTwoRegionsMatchesSeedFile1 checks the rendered objects against
// the seed's File 1, field by field.
func TestRenderTwoRegionsMatchesSeedFile1(t *testing.T) {
	objs, err := Render(TwoRegions())
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 7 {
		t.Fatalf("got %d objects, want 4 Deployments + Service + VirtualService + Pod", len(objs))
	}
	for _, o := range objs {
		if o.GetNamespace() != "default" {
			t.Errorf("%s: namespace %q", o.GetName(), o.GetNamespace())
		}
	}
	wantDeps := []struct{ name, region, zone string }{
		{"helloworld-kr-a", "kr", "a"}, {"helloworld-kr-b", "kr", "b"},
		{"helloworld-us-a", "us", "a"}, {"helloworld-us-b", "us", "b"},
	}
	for i, w := range wantDeps {
		d, ok := objs[i].(*appsv1.Deployment)
		if !ok {
			t.Fatalf("objs[%d] is %T, want *appsv1.Deployment", i, objs[i])
		}
		if d.Name != w.name {
			t.Errorf("objs[%d].Name = %q, want %q", i, d.Name, w.name)
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
			t.Errorf("%s: replicas %v, want 2", d.Name, d.Spec.Replicas)
		}
		sel := d.Spec.Selector.MatchLabels
		if sel["app"] != "helloworld" || sel["workload"] != w.name || len(sel) != 2 {
			t.Errorf("%s: selector %v", d.Name, sel)
		}
		pl := d.Spec.Template.Labels
		if pl["app"] != "helloworld" || pl["workload"] != w.name {
			t.Errorf("%s: pod labels %v", d.Name, pl)
		}
		ns := d.Spec.Template.Spec.NodeSelector
		if len(ns) != 2 || ns[LabelRegion] != w.region || ns[LabelZone] != w.zone {
			t.Errorf("%s: nodeSelector %v", d.Name, ns)
		}
		cs := d.Spec.Template.Spec.Containers
		if len(cs) != 1 || cs[0].Name != "helloworld" || cs[0].Image != "docker.io/istio/examples-helloworld-v1:1.0" ||
			len(cs[0].Ports) != 1 || cs[0].Ports[0].ContainerPort != 5000 {
			t.Errorf("%s: containers %+v", d.Name, cs)
		}
	}
	svc, ok := objs[4].(*corev1.Service)
	if !ok {
		t.Fatalf("objs[4] is %T, want *corev1.Service", objs[4])
	}
	if svc.Name != "helloworld" || svc.Spec.Type != corev1.ServiceTypeClusterIP || len(svc.Spec.Selector) != 1 || svc.Spec.Selector["app"] != "helloworld" {
		t.Errorf("service %s %s %v", svc.Name, svc.Spec.Type, svc.Spec.Selector)
	}
	if ps := svc.Spec.Ports; len(ps) != 1 || ps[0].Port != 5000 || ps[0].TargetPort != intstr.FromInt32(5000) ||
		ps[0].Protocol != corev1.ProtocolTCP || ps[0].Name != "http" {
		t.Errorf("service ports %+v", ps)
	}
	vs, ok := objs[5].(*networkingv1.VirtualService)
	if !ok {
		t.Fatalf("objs[5] is %T, want *networkingv1.VirtualService", objs[5])
	}
	const host = "helloworld.default.svc.cluster.local"
	if vs.Name != "helloworld" || len(vs.Spec.Hosts) != 1 || vs.Spec.Hosts[0] != host ||
		len(vs.Spec.Gateways) != 1 || vs.Spec.Gateways[0] != "mesh" {
		t.Errorf("virtualservice %s hosts %v gateways %v", vs.Name, vs.Spec.Hosts, vs.Spec.Gateways)
	}
	if h := vs.Spec.Http; len(h) != 1 || len(h[0].Route) != 1 || h[0].Route[0].Destination.GetHost() != host ||
		h[0].Route[0].Destination.GetPort().GetNumber() != 5000 {
		t.Errorf("virtualservice http %v", h)
	}
	pod, ok := objs[6].(*corev1.Pod)
	if !ok {
		t.Fatalf("objs[6] is %T, want *corev1.Pod", objs[6])
	}
	if pod.Name != "my-shell-kr-a" || pod.Spec.NodeSelector[LabelRegion] != "kr" || pod.Spec.NodeSelector[LabelZone] != "a" || len(pod.Spec.NodeSelector) != 2 {
		t.Errorf("client pod %s nodeSelector %v", pod.Name, pod.Spec.NodeSelector)
	}
	if pod.Labels["app"] != "locality-e2e-client" || pod.Labels["client"] != "my-shell-kr-a" {
		t.Errorf("client pod labels %v", pod.Labels)
	}
	if cs := pod.Spec.Containers; len(cs) != 1 || cs[0].Name != "client" || cs[0].Image != DefaultClientImage ||
		strings.Join(cs[0].Command, " ") != "sleep 31536000" {
		t.Errorf("client containers %+v", cs)
	}
}

func TestRenderThreeZones(t *testing.T) {
	objs, err := Render(ThreeZones())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.GetName())
	}
	if got, want := strings.Join(names, ","), "helloworld-zone-a,helloworld-zone-b,helloworld-zone-c,helloworld-svc,helloworld-svc,netshoot-b"; got != want {
		t.Fatalf("objects %s, want %s", got, want)
	}
	for _, o := range objs[:3] {
		if d := o.(*appsv1.Deployment); *d.Spec.Replicas != 3 || d.Spec.Template.Spec.NodeSelector[LabelRegion] != "kr" {
			t.Errorf("%s: %v %v", d.Name, *d.Spec.Replicas, d.Spec.Template.Spec.NodeSelector)
		}
	}
	if vs := objs[4].(*networkingv1.VirtualService); vs.Spec.Hosts[0] != "helloworld-svc.default.svc.cluster.local" {
		t.Errorf("hosts %v", vs.Spec.Hosts)
	}
}

func TestRenderSubzoneAndNamespace(t *testing.T) {
	topo := Topology{
		Name: "subzones", Namespace: "lb-test", Service: "hw",
		Workloads: []Workload{{Name: "hw-1", Locality: locality.MustParse("r/z/s1"), Replicas: 1}},
		Clients:   []Client{{Name: "c", Locality: locality.MustParse("r")}},
	}.WithDefaults()
	objs, err := Render(topo)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetNamespace() != "lb-test" {
			t.Errorf("%s namespace %q", o.GetName(), o.GetNamespace())
		}
	}
	ns := objs[0].(*appsv1.Deployment).Spec.Template.Spec.NodeSelector
	if len(ns) != 3 || ns[LabelSubzone] != "s1" || ns[LabelZone] != "z" {
		t.Errorf("nodeSelector %v", ns)
	}
	if ns := objs[3].(*corev1.Pod).Spec.NodeSelector; len(ns) != 1 || ns[LabelRegion] != "r" {
		t.Errorf("client nodeSelector %v", ns)
	}
	if h := objs[2].(*networkingv1.VirtualService).Spec.Hosts[0]; h != "hw.lb-test.svc.cluster.local" {
		t.Errorf("host %s", h)
	}
}

func TestRenderInvalid(t *testing.T) {
	neg := TwoRegions()
	neg.Workloads[1].Replicas = -1
	noSvc := TwoRegions()
	noSvc.Service = ""
	noWL := TwoRegions()
	noWL.Workloads = nil
	badYAML := TwoRegions()
	badYAML.Workloads[0].Name = "bad: name"
	cases := []struct {
		name string
		t    Topology
		want string
	}{
		{"negative replicas", neg, "Workloads[1] (helloworld-kr-b).Replicas is -1"},
		{"empty service", noSvc, "Service is empty"},
		{"no workloads", noWL, "Workloads is empty"},
		{"name breaking YAML", badYAML, "bad: name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Render(tc.t); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Render error %v, want it to contain %q", err, tc.want)
			}
			if _, err := RenderYAML(tc.t); err == nil {
				t.Error("RenderYAML accepted it")
			}
		})
	}
}

func TestNodes(t *testing.T) {
	topo := TwoRegions()
	topo.Clients = append(topo.Clients, Client{Name: "far", Locality: locality.MustParse("eu/x/s")})
	var got []string
	for _, n := range topo.Nodes() {
		got = append(got, n.Locality.String())
	}
	if strings.Join(got, ",") != "eu/x/s,kr/a,kr/b,us/a,us/b" {
		t.Fatalf("Nodes = %v", got)
	}
	l := topo.Nodes()[0].Labels
	if len(l) != 3 || l[LabelRegion] != "eu" || l[LabelZone] != "x" || l[LabelSubzone] != "s" {
		t.Errorf("labels %v", l)
	}
}

func TestRenderHealthPortProbe(t *testing.T) {
	topo := ThreeZones().WithDefaults()
	objs, err := Render(topo)
	if err != nil {
		t.Fatal(err)
	}
	if pr := objs[0].(*appsv1.Deployment).Spec.Template.Spec.Containers[0].ReadinessProbe; pr != nil {
		t.Errorf("no HealthPort: probe %+v, want none (the seed's helloworld has no /healthz)", pr)
	}
	topo.HealthPort = 5001
	if objs, err = Render(topo); err != nil {
		t.Fatal(err)
	}
	pr := objs[0].(*appsv1.Deployment).Spec.Template.Spec.Containers[0].ReadinessProbe
	if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Path != "/healthz" || pr.HTTPGet.Port.IntValue() != 5001 {
		t.Fatalf("HealthPort 5001: probe %+v", pr)
	}
	for _, bad := range []int{-1, 70000, topo.Port} {
		topo.HealthPort = bad
		if err := topo.Validate(); err == nil || !strings.Contains(err.Error(), "HealthPort") {
			t.Errorf("HealthPort %d: Validate = %v, want an error naming HealthPort", bad, err)
		}
	}
}

// TestRenderTermination: every workload container sleeps in preStop
// (kubelet-native) before SIGTERM, and the grace period covers that sleep,
// cmd/workload's default drain and the wait for requests in flight.
func TestRenderTermination(t *testing.T) {
	for _, topo := range []Topology{TwoRegions(), ThreeZones()} {
		objs, err := Render(topo)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, o := range objs {
			d, ok := o.(*appsv1.Deployment)
			if !ok {
				continue
			}
			n++
			spec := d.Spec.Template.Spec
			c := spec.Containers[0]
			if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Exec != nil {
				t.Fatalf("%s: lifecycle %+v, want a preStop sleep and no exec (no shell in the image)", d.Name, c.Lifecycle)
			}
			if got := c.Lifecycle.PreStop.Sleep.Seconds; got != 5 {
				t.Errorf("%s: preStop sleep %ds, want 5", d.Name, got)
			}
			if g := spec.TerminationGracePeriodSeconds; g == nil || *g != 11 {
				t.Errorf("%s: terminationGracePeriodSeconds %v, want 11 (5 s preStop + 5 s drain + 1 s in flight)", d.Name, g)
			}
		}
		if n != len(topo.Workloads) {
			t.Errorf("%s: %d Deployments", topo.Name, n)
		}
	}
	// The 5 s above is cmd/workload's default drain: a change to one is a
	// change to the other.
	if workload.DefaultDrain != 5*time.Second || workload.ShutdownWait != time.Second {
		t.Errorf("workload.DefaultDrain %s, ShutdownWait %s: update the grace period's expected values", workload.DefaultDrain, workload.ShutdownWait)
	}
}
