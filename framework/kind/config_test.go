package kind

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/localitylb/locality-e2e/framework/topology"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigDefaults(t *testing.T) {
	c, err := configFrom(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ClusterName != "locality-e2e" || !strings.HasPrefix(c.NodeImage, "kindest/node:v1.37.0@sha256:") ||
		c.IstioVersion != "1.32.0" || c.IstioProfile != "minimal" || c.IstioctlPath != "istioctl" || c.KeepCluster {
		t.Errorf("defaults %+v", c)
	}
}

func TestConfigFromEnv(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := configFrom(env(map[string]string{
		EnvKubeconfig: kc, EnvKeepCluster: "true", EnvKeepNamespaces: "1", EnvIstioctl: "/opt/istio-1.28.0/bin/istioctl",
		EnvIstioVersion: "1.28.0", EnvIstioProfile: "default", EnvPreloadImages: "false", EnvLogsDir: "/tmp/logs",
		EnvTimeoutScale: "2", EnvClusterName: "ci-1", EnvNodeImage: "kindest/node:v1.35.0",
		EnvWorkloadImage: "helloworld",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Kubeconfig, want.KeepCluster, want.KeepNamespaces = kc, true, true
	want.IstioctlPath, want.IstioProfile, want.LogsDir = "/opt/istio-1.28.0/bin/istioctl", "default", "/tmp/logs"
	want.ClusterName, want.NodeImage = "ci-1", "kindest/node:v1.35.0"
	want.WorkloadImage = WorkloadImageHelloworld
	want.IstioVersion = "1.28.0"
	want.Timeouts = DefaultTimeouts().Multiply(2)
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if c.Timeouts.Deploy != 10*time.Minute || c.Timeouts.Request != 5*time.Second {
		t.Errorf("timeouts %+v", c.Timeouts)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{EnvKeepCluster: "yes please"}, []string{EnvKeepCluster, "not a boolean"}},
		{map[string]string{EnvTimeoutScale: "-1"}, []string{EnvTimeoutScale}},
		{map[string]string{EnvIstioVersion: "latest"}, []string{"IstioVersion (ISTIO_VERSION)", "1.32.0"}},
		{map[string]string{EnvIstioVersion: "1.27.3-../../x"}, []string{"IstioVersion (ISTIO_VERSION)", "not a release version"}},
		{map[string]string{EnvIstioProfile: "ambient"}, []string{"IstioProfile (LOCALITY_E2E_ISTIO_PROFILE)", "minimal or default"}},
		{map[string]string{EnvClusterName: "Bad_Name"}, []string{"ClusterName (LOCALITY_E2E_CLUSTER_NAME)"}},
		{map[string]string{EnvKubeconfig: "/nonexistent/kubeconfig"}, []string{"Kubeconfig (LOCALITY_E2E_KUBECONFIG)", "/nonexistent/kubeconfig"}},
	}
	for _, c := range cases {
		_, err := configFrom(env(c.env))
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("env %v: error %v, want it to contain %q", c.env, err, w)
			}
		}
	}
	bad := DefaultConfig()
	bad.Timeouts.Exec = 0
	bad.Topologies = []topology.Topology{{Name: "empty"}}
	err := bad.Validate()
	if err == nil || !strings.Contains(err.Error(), "Timeouts.Exec") || !strings.Contains(err.Error(), "Topologies[0]") {
		t.Errorf("Validate: %v", err)
	}
}

// workerLabels lists the workers' labels of a kind config.
func workerLabels(t *testing.T, c *v1alpha4.Cluster) []map[string]string {
	t.Helper()
	if len(c.Nodes) == 0 || c.Nodes[0].Role != v1alpha4.ControlPlaneRole {
		t.Fatalf("first node is not the control plane: %+v", c.Nodes)
	}
	var out []map[string]string
	for _, n := range c.Nodes[1:] {
		if n.Role != v1alpha4.WorkerRole {
			t.Errorf("node %+v is not a worker", n)
		}
		out = append(out, n.Labels)
	}
	return out
}

func loc(region, zone string) map[string]string {
	return map[string]string{topology.LabelRegion: region, topology.LabelZone: zone}
}

func TestKindConfigSeedTopologies(t *testing.T) {
	img := DefaultNodeImage
	for _, c := range []struct {
		topo topology.Topology
		want []map[string]string
	}{
		{topology.TwoRegions(), []map[string]string{loc("kr", "a"), loc("kr", "b"), loc("us", "a"), loc("us", "b")}},
		{topology.ThreeZones(), []map[string]string{loc("kr", "a"), loc("kr", "b"), loc("kr", "c")}},
	} {
		kc := topology.KindConfig(c.topo, img)
		if got := workerLabels(t, kc); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: worker labels %v, want %v", c.topo.Name, got, c.want)
		}
		for _, n := range kc.Nodes {
			if n.Image != img {
				t.Errorf("%s: node image %q", c.topo.Name, n.Image)
			}
		}
	}
	// The suite's cluster has the union of every topology the specs
	// deploy: the seed's five localities and the subzone scenario's four.
	cfg := DefaultConfig()
	kc := ClusterConfig(cfg)
	if kc.Name != "locality-e2e" {
		t.Errorf("cluster name %q", kc.Name)
	}
	sub := func(r, z, s string) map[string]string {
		m := loc(r, z)
		m[topology.LabelSubzone] = s
		return m
	}
	want := []map[string]string{loc("kr", "a"), loc("kr", "b"), loc("kr", "c"),
		sub("region1", "zone1", "subzone1"), sub("region1", "zone1", "subzone2"), sub("region1", "zone2", "subzone1"), sub("region2", "zone1", "subzone1"),
		loc("us", "a"), loc("us", "b")}
	if got := workerLabels(t, kc); !reflect.DeepEqual(got, want) {
		t.Errorf("union worker labels %v, want %v", got, want)
	}
}

// An existing cluster without the subzone nodes fails with the labels to
// add, naming the subzone label too.
func TestCheckNodeLocalitiesSubzones(t *testing.T) {
	var nodes []corev1.Node
	for i, l := range []map[string]string{loc("kr", "a"), loc("kr", "b"), loc("kr", "c"), loc("us", "a"), loc("us", "b")} {
		nodes = append(nodes, node(fmt.Sprintf("w%d", i), l))
	}
	err := CheckNodeLocalities(nodes, SuiteTopologies())
	if err == nil {
		t.Fatal("no error without the subzone nodes")
	}
	for _, want := range []string{
		"region1/zone1/subzone1 (kubectl label node <node> topology.kubernetes.io/region=region1 topology.kubernetes.io/zone=zone1 topology.istio.io/subzone=subzone1)",
		"region2/zone1/subzone1 (",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nlacks %q", err, want)
		}
	}
}

// Every topology fixture the specs pass to setUp (topology.X() calls in
// specs/*.go) is in SuiteTopologies, so no scenario lacks nodes on kind.
func TestSuiteTopologiesCoverSpecs(t *testing.T) {
	have := map[string]bool{}
	for _, topo := range SuiteTopologies() {
		have[topo.Name] = true
	}
	files, err := filepath.Glob("../../specs/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("specs: %v (%d files)", err, len(files))
	}
	fixtures := map[string]func() topology.Topology{
		"TwoRegions": topology.TwoRegions, "ThreeZones": topology.ThreeZones,
		"ThreeZonesEveryClient": topology.ThreeZonesEveryClient, "ThreeZonesTiers": topology.ThreeZonesTiers,
		"Subzones": topology.Subzones,
	}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || len(call.Args) != 0 {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "topology" {
				return true
			}
			fn, known := fixtures[sel.Sel.Name]
			if !known {
				// Grid, MustParse... take arguments; a new fixture lands here.
				t.Errorf("%s: topology.%s() is not a known fixture: add it to SuiteTopologies and to this test", fset.Position(call.Pos()), sel.Sel.Name)
				return true
			}
			if !have[fn().Name] {
				t.Errorf("%s: topology.%s() is not in SuiteTopologies", fset.Position(call.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}

func node(name string, labels map[string]string) corev1.Node {
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func TestCheckNodeLocalities(t *testing.T) {
	topos := []topology.Topology{topology.ThreeZones()}
	nodes := []corev1.Node{node("cp", nil), node("w1", loc("kr", "a")), node("w2", loc("kr", "b"))}
	err := CheckNodeLocalities(nodes, topos)
	if err == nil || !strings.Contains(err.Error(), "kr/c (kubectl label node <node> topology.kubernetes.io/region=kr topology.kubernetes.io/zone=c)") {
		t.Fatalf("error %v", err)
	}
	cordoned := node("w3", loc("kr", "c"))
	cordoned.Spec.Unschedulable = true
	if err := CheckNodeLocalities(append(nodes, cordoned), topos); err == nil {
		t.Error("an unschedulable node counted")
	}
	if err := CheckNodeLocalities(append(nodes, node("w3", loc("kr", "c"))), topos); err != nil {
		t.Error(err)
	}
}

func TestIstioctlArgs(t *testing.T) {
	got := IstioctlInstallArgs("/bin/istioctl", "/tmp/kc", "minimal", 5*time.Minute)
	want := []string{"/bin/istioctl", "install", "-y", "--set", "profile=minimal", "--set", "meshConfig.accessLogFile=/dev/stdout",
		"--readiness-timeout", "5m0s", "--kubeconfig", "/tmp/kc"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("install argv\n got %q\nwant %q", got, want)
	}
	for _, a := range got {
		if strings.Contains(a, "PILOT_ENABLE_LOCALITY_LOAD_BALANCING") {
			t.Error("the no-op locality flag is set")
		}
	}
	if got := IstioctlVersionArgs("istioctl"); !reflect.DeepEqual(got, []string{"istioctl", "version", "--remote=false"}) {
		t.Errorf("version argv %q", got)
	}
	for out, want := range map[string]string{"1.28.0\n": "1.28.0", "client version: 1.29.0-beta.1\n": "1.29.0-beta.1"} {
		if v, err := ParseIstioctlVersion(out); err != nil || v != want {
			t.Errorf("ParseIstioctlVersion(%q) = %q, %v", out, v, err)
		}
	}
	if _, err := ParseIstioctlVersion("command not found"); err == nil {
		t.Error("no version parsed from garbage")
	}
	for img, want := range map[string]string{
		"docker.io/istio/pilot:1.28.0": "1.28.0", "gcr.io/istio-release/pilot:1.28.0-distroless": "1.28.0",
		"localhost:5000/pilot": "", "docker.io/istio/pilot:1.28.0@sha256:abc": "1.28.0",
	} {
		if got := IstiodVersionFromImage(img); got != want {
			t.Errorf("IstiodVersionFromImage(%q) = %q, want %q", img, got, want)
		}
	}
}

func TestExecArgs(t *testing.T) {
	for _, c := range []struct {
		got, want []string
	}{
		{ClustersArgs, []string{"pilot-agent", "request", "GET", "clusters?format=json"}},
		{EDSArgs, []string{"pilot-agent", "request", "GET", "config_dump?include_eds&resource=dynamic_endpoint_configs"}},
		{DrainArgs, []string{"pilot-agent", "request", "POST", "drain_listeners?inboundonly"}},
		{CDSArgs, []string{"pilot-agent", "request", "GET", "config_dump?resource=dynamic_active_clusters"}},
		{RDSArgs, []string{"pilot-agent", "request", "GET", "config_dump?resource=dynamic_route_configs"}},
		{DockerInfoArgs(), []string{"docker", "info", "--format", "{{.ServerVersion}}"}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("argv %q, want %q", c.got, c.want)
		}
	}
	// A real whole dump (a waypoint's, framework/endpoints/testdata
	// SOURCES.md): its dynamic active cluster has no version_info, and its
	// Cluster holds Istio typed configs that the parser must not resolve.
	raw, err := os.ReadFile("../endpoints/testdata/istio-proxyconfig-config_dump.json")
	if err != nil {
		t.Fatal(err)
	}
	v, err := clusterVersion(raw, "inbound-vip|8000|http|httpbin.default.svc.cluster.local")
	if err != nil || v != "@2023-12-26T05:57:09.956Z" {
		t.Errorf("clusterVersion %q %v", v, err)
	}
}

func TestEnsureIstio(t *testing.T) {
	istiod := func(image string) *appsv1.Deployment {
		one := int32(1)
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: IstiodName, Namespace: IstioNamespace, Generation: 1},
			Spec: appsv1.DeploymentSpec{Replicas: &one, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "discovery", Image: image}}}}},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, ReadyReplicas: 1, UpdatedReplicas: 1},
		}
	}
	cfg := DefaultConfig()
	cfg.IstioVersion = "1.28.0"
	cfg.IstioctlPath = "/nonexistent/istioctl" // must not be run
	cfg.Timeouts.Poll = 5 * time.Millisecond
	var log bytes.Buffer
	if err := ensureIstio(context.Background(), cfg, fake.NewClientset(istiod("docker.io/istio/pilot:1.28.0-distroless")), "", &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "already installed") {
		t.Errorf("log %q", log.String())
	}
	err := ensureIstio(context.Background(), cfg, fake.NewClientset(istiod("docker.io/istio/pilot:1.27.3")), "", &log)
	if err == nil || !strings.Contains(err.Error(), "runs Istio 1.27.3") || !strings.Contains(err.Error(), "ISTIO_VERSION=1.27.3") {
		t.Errorf("other version: %v", err)
	}
	err = ensureIstio(context.Background(), cfg, fake.NewClientset(), "", &log)
	if err == nil || !strings.Contains(err.Error(), EnvIstioctl) {
		t.Errorf("missing istioctl: %v", err)
	}
}

func TestRunStreaming(t *testing.T) {
	var log bytes.Buffer
	if err := RunStreaming(context.Background(), []string{"sh", "-c", "echo one; echo two >&2"}, nil, "istioctl:", &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "istioctl: one\n") || !strings.Contains(log.String(), "istioctl: two\n") {
		t.Errorf("log %q", log.String())
	}
	err := RunStreaming(context.Background(), []string{"sh", "-c", "echo Error: no cluster; exit 3"}, nil, "istioctl:", &log)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "Error: no cluster") {
		t.Errorf("error %v", err)
	}
}

func TestNamespaceName(t *testing.T) {
	a, b := NamespaceName("three-zones"), NamespaceName("three-zones")
	if a == b || !strings.HasPrefix(a, "le2e-three-zones-") || len(a) != len("le2e-three-zones-")+5 {
		t.Errorf("names %q %q", a, b)
	}
	long := NamespaceName(strings.Repeat("Very_Long", 20))
	if len(long) > 63 || strings.ContainsAny(long, "_V") {
		t.Errorf("long name %q (%d)", long, len(long))
	}
}

func TestMiscHelpers(t *testing.T) {
	seed := []topology.Topology{topology.TwoRegions(), topology.ThreeZones()}
	if got := Images(seed, BuiltinWorkloadImage); !reflect.DeepEqual(got, []string{BuiltinWorkloadImage, topology.DefaultClientImage}) {
		t.Errorf("Images %v", got)
	}
	if got := Images(seed, DefaultConfig().WorkloadImageRef()); got[0] != BuiltinWorkloadImage {
		t.Errorf("default workload image %v", got)
	}
	seed[1].Image = "registry.example/le2e/workload:v3"
	if got := Images(seed, topology.DefaultImage); !reflect.DeepEqual(got, []string{topology.DefaultImage, topology.DefaultClientImage, "registry.example/le2e/workload:v3"}) {
		t.Errorf("Images %v", got)
	}
	for _, c := range []struct {
		major, minor string
		want         bool
	}{{"1", "37", true}, {"1", "31+", true}, {"1", "30", false}, {"x", "1", false}} {
		if got := servesTrafficDistribution(c.major, c.minor); got != c.want {
			t.Errorf("servesTrafficDistribution(%s, %s) = %v", c.major, c.minor, got)
		}
	}
	// PreferSameZone: on by default from 1.34 (alpha in 1.33).
	for _, c := range []struct {
		major, minor string
		want         bool
	}{{"1", "37", true}, {"1", "34", true}, {"1", "33", false}, {"1", "32+", false}, {"x", "40", false}} {
		if got := servesPreferSameZone(c.major, c.minor); got != c.want {
			t.Errorf("servesPreferSameZone(%s, %s) = %v", c.major, c.minor, got)
		}
	}
	var buf bytes.Buffer
	l := newKindLogger(&buf)
	l.V(0).Infof("Creating cluster %q ...\n", "x")
	l.V(1).Info("debug")
	l.Warn("careful")
	if buf.String() != "kind: Creating cluster \"x\" ...\nkind: WARNING: careful\n" {
		t.Errorf("kind log %q", buf.String())
	}
}

// New on this machine (no Docker engine) fails fast with the clear error.
func TestNewWithoutDocker(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "nonexistent.sock"))
	start := time.Now()
	_, err := New(context.Background(), DefaultConfig(), nil)
	if err == nil {
		t.Skip("a Docker engine answers here")
	}
	if !strings.Contains(err.Error(), "needs a running Docker engine") || time.Since(start) > 10*time.Second {
		t.Errorf("New: %v after %v", err, time.Since(start))
	}
}
