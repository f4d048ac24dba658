package multicluster

// Tests of the kind configs, validation, plan and its run on client-go
// fakes, and Select (Istio objects and CAs: istio_test.go; the deploy over
// fake clusters: framework/kind/multicluster_fakes_test.go).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/topology"
)

func mcConfig() kind.Config {
	cfg := kind.DefaultConfig()
	cfg.IstioctlPath = "/bin/istioctl-1.32.0"
	return cfg
}

func mcInput(t *testing.T, topo topology.Topology) PlanInput {
	t.Helper()
	o := DefaultOptions()
	o.Dir = "/tmp/mc"
	in, err := Input(mcConfig(), o, []topology.Topology{topo})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestMultiClusterKindConfigs(t *testing.T) {
	in := mcInput(t, topology.ThreeZonesTwoClusters("", ""))
	kcs := KindConfigs(in.Config, in.Topology)
	if len(kcs) != 2 {
		t.Fatalf("%d configs", len(kcs))
	}
	type want struct {
		name, pod, svc string
		workers        []string
	}
	for i, w := range []want{
		{"locality-e2e-cluster1", "10.10.0.0/16", "10.255.10.0/24", []string{"kr/a", "kr/b"}},
		{"locality-e2e-cluster2", "10.20.0.0/16", "10.255.20.0/24", []string{"kr/c"}},
	} {
		kc := kcs[i]
		if kc.Name != w.name || kc.Networking.PodSubnet != w.pod || kc.Networking.ServiceSubnet != w.svc {
			t.Errorf("config %d: name %q pod %q svc %q, want %+v", i, kc.Name, kc.Networking.PodSubnet, kc.Networking.ServiceSubnet, w)
		}
		if kc.Nodes[0].Role != v1alpha4.ControlPlaneRole || len(kc.Nodes) != 1+len(w.workers) {
			t.Fatalf("config %d nodes %+v", i, kc.Nodes)
		}
		for j, l := range w.workers {
			n := kc.Nodes[j+1]
			got := kind.NodeLocality(n.Labels).String()
			if n.Role != v1alpha4.WorkerRole || got != l || n.Image != kind.DefaultNodeImage {
				t.Errorf("config %d worker %d: %s %s %s, want %s", i, j, n.Role, got, n.Image, l)
			}
		}
	}
	b, err := yaml.Marshal(kcs[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"name: locality-e2e-cluster2", "podSubnet: 10.20.0.0/16", "serviceSubnet: 10.255.20.0/24", "topology.kubernetes.io/zone: c"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("kind config lacks %q:\n%s", s, b)
		}
	}
}

// TestMetalLBAddresses: the values are what kind_provisioner.sh's
// cidr_to_ips Python and install_metallb's loop give for kind's usual
// 172.18.0.0/16 (computed by running that Python).
func TestMetalLBAddresses(t *testing.T) {
	subnets, err := ParseSubnets("fc00:f853:ccd:e793::/64\n172.18.0.0/16\n")
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range [][2]string{{"172.18.7.110/32", "172.18.7.129/32"}, {"172.18.7.130/32", "172.18.7.149/32"}} {
		got, err := MetalLBAddresses(subnets, i)
		if err != nil || len(got) != 20 || got[0] != w[0] || got[19] != w[1] {
			t.Errorf("cluster %d: %v %v", i, got, err)
		}
	}
	if _, err := MetalLBAddresses(subnets, 4); err == nil {
		t.Error("a fifth cluster got addresses")
	}
	if _, err := MetalLBAddresses([]string{"fc00::/64"}, 0); err == nil || !strings.Contains(err.Error(), "IPv4") {
		t.Errorf("no IPv4: %v", err)
	}
	if _, err := ParseSubnets(""); err == nil {
		t.Error("empty subnets")
	}
}

func TestMultiClusterValidation(t *testing.T) {
	o := DefaultOptions()
	noEnv := func(string) (string, bool) { return "", false }
	cases := map[string]struct {
		cfg    func(*kind.Config)
		topo   topology.Topology
		lookup func(string) (string, bool)
		want   string
	}{
		"one cluster": {nil, func() topology.Topology {
			t := topology.ThreeZonesTwoClusters("", "")
			t.Clusters = t.Clusters[:1]
			t.Workloads = t.Workloads[:2]
			return t
		}(), noEnv, "needs at least two"},
		"kubeconfig": {func(c *kind.Config) { c.Kubeconfig = "/dev/null" }, topology.ThreeZonesTwoClusters("", ""), noEnv, "Kubeconfig (LOCALITY_E2E_KUBECONFIG) with LOCALITY_E2E_KIND_MULTICLUSTER"},
		"reuse":      {func(c *kind.Config) { c.ReuseCluster = true }, topology.ThreeZonesTwoClusters("", ""), noEnv, "ReuseCluster (LOCALITY_E2E_REUSE_CLUSTER)"},
		"revision":   {func(c *kind.Config) { c.Revision = "canary" }, topology.ThreeZonesTwoClusters("", ""), noEnv, "Revision (LOCALITY_E2E_ISTIO_REVISION)"},
		"long name":  {func(c *kind.Config) { c.ClusterName = strings.Repeat("a", 45) }, topology.ThreeZonesTwoClusters("", ""), noEnv, "not a valid kind cluster name"},
		"network":    {nil, topology.ThreeZonesTwoClusters("", ""), func(k string) (string, bool) { return "other", k == envKindNetwork }, "KIND_EXPERIMENTAL_DOCKER_NETWORK"},
	}
	for name, c := range cases {
		cfg := mcConfig()
		if c.cfg != nil {
			c.cfg(&cfg)
		}
		err := validateMultiCluster(cfg, o, c.topo, c.lookup)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	if err := validateMultiCluster(mcConfig(), o, topology.ThreeZonesTwoClusters("n1", "n2"), noEnv); err != nil {
		t.Errorf("valid: %v", err)
	}
	// topologies that disagree
	a, b := topology.ThreeZonesTwoClusters("", ""), topology.ThreeZonesTwoClusters("", "")
	b.Name, b.Clusters[1].Name = "other", "cluster3"
	b.Workloads[2].Cluster = "cluster3"
	if _, _, err := Topology("x", []topology.Topology{a, b}); err == nil || !strings.Contains(err.Error(), "same Clusters") {
		t.Errorf("disagreeing clusters: %v", err)
	}
	if _, _, err := Topology("x", []topology.Topology{topology.ThreeZones()}); err == nil || !strings.Contains(err.Error(), kind.EnvKindMultiCluster) {
		t.Errorf("no multi-cluster topology: %v", err)
	}
	for v, want := range map[string]bool{"1": true, "true": true, "0": false, "": false} {
		got, err := multiClusterEnabled(func(string) (string, bool) { return v, true })
		if err != nil || got != want {
			t.Errorf("%q: %v %v", v, got, err)
		}
	}
	if _, err := multiClusterEnabled(func(string) (string, bool) { return "yes please", true }); err == nil || !strings.Contains(err.Error(), kind.EnvKindMultiCluster) {
		t.Errorf("bad bool: %v", err)
	}
}

// TestMultiClusterPlanOrder: the printed plan (make e2e-multicluster-plan)
// has every step in order, with the exact argv.
func TestMultiClusterPlanOrder(t *testing.T) {
	in := mcInput(t, topology.ThreeZonesTwoClusters("network1", "network2"))
	steps, err := Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	kc1, kc2 := kind.KubeconfigPath("locality-e2e-cluster1"), kind.KubeconfigPath("locality-e2e-cluster2")
	var got []string
	for _, s := range steps {
		line := clusterTag(s.Cluster) + strings.SplitN(s.What, " (", 2)[0]
		if s.Argv != nil {
			line += ": " + strings.Join(s.Argv, " ")
		}
		got = append(got, line)
	}
	want := []string{
		"[cluster1] create kind cluster locality-e2e-cluster1",
		"[cluster2] create kind cluster locality-e2e-cluster2",
		"read every node's InternalIP: docker network inspect kind --format {{range .IPAM.Config}}{{println .Subnet}}{{end}}",
		"build locality-e2e.local/workload:dev and load it into 5 nodes",
		"check istioctl is 1.32.0: /bin/istioctl-1.32.0 version --remote=false",
		"[cluster1] create namespace istio-system labelled topology.istio.io/network=network1",
		"[cluster1] create secret istio-system/cacerts",
		"[cluster1] install istiod: /bin/istioctl-1.32.0 install -y -f /tmp/mc/istio-cluster1.yaml --readiness-timeout 5m0s --kubeconfig " + kc1,
		"[cluster1] wait for istio-system/istiod ready",
		"[cluster2] create namespace istio-system labelled topology.istio.io/network=network2",
		"[cluster2] create secret istio-system/cacerts",
		"[cluster2] install istiod: /bin/istioctl-1.32.0 install -y -f /tmp/mc/istio-cluster2.yaml --readiness-timeout 5m0s --kubeconfig " + kc2,
		"[cluster2] wait for istio-system/istiod ready",
		"[cluster1] install MetalLB: kubectl --kubeconfig=" + kc1 + " apply -f " + DefaultMetalLBManifest,
		"[cluster1] wait for MetalLB's controller: kubectl --kubeconfig=" + kc1 + " rollout status deploy/controller -n metallb-system --timeout=3m0s",
		"[cluster1] wait for MetalLB's speaker: kubectl --kubeconfig=" + kc1 + " rollout status ds/speaker -n metallb-system --timeout=3m0s",
		"[cluster1] MetalLB address pool: kubectl --kubeconfig=" + kc1 + " apply -f /tmp/mc/metallb-cluster1.yaml",
		"[cluster1] install the east-west gateway of network1: /bin/istioctl-1.32.0 install -y -f /tmp/mc/eastwest-cluster1.yaml --readiness-timeout 5m0s --kubeconfig " + kc1,
		"[cluster1] wait for a LoadBalancer address on istio-system/istio-eastwestgateway",
		"[cluster1] create Gateway istio-system/cross-network-gateway",
		"[cluster2] install MetalLB: kubectl --kubeconfig=" + kc2 + " apply -f " + DefaultMetalLBManifest,
		"[cluster2] wait for MetalLB's controller: kubectl --kubeconfig=" + kc2 + " rollout status deploy/controller -n metallb-system --timeout=3m0s",
		"[cluster2] wait for MetalLB's speaker: kubectl --kubeconfig=" + kc2 + " rollout status ds/speaker -n metallb-system --timeout=3m0s",
		"[cluster2] MetalLB address pool: kubectl --kubeconfig=" + kc2 + " apply -f /tmp/mc/metallb-cluster2.yaml",
		"[cluster2] install the east-west gateway of network2: /bin/istioctl-1.32.0 install -y -f /tmp/mc/eastwest-cluster2.yaml --readiness-timeout 5m0s --kubeconfig " + kc2,
		"[cluster2] wait for a LoadBalancer address on istio-system/istio-eastwestgateway",
		"[cluster2] create Gateway istio-system/cross-network-gateway",
		"[cluster1] remote secret of cluster1: /bin/istioctl-1.32.0 create-remote-secret --kubeconfig=" + kc1 + " --name=cluster1 --server=https://<InternalIP of locality-e2e-cluster1-control-plane>:6443",
		"[cluster2] let cluster2's istiod read cluster1: kubectl --kubeconfig=" + kc2 + " apply -f /tmp/mc/remote-secret-cluster1.yaml",
		"[cluster2] remote secret of cluster2: /bin/istioctl-1.32.0 create-remote-secret --kubeconfig=" + kc2 + " --name=cluster2 --server=https://<InternalIP of locality-e2e-cluster2-control-plane>:6443",
		"[cluster1] let cluster1's istiod read cluster2: kubectl --kubeconfig=" + kc1 + " apply -f /tmp/mc/remote-secret-cluster2.yaml",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Argv are slices: the remote secret's argv has exactly these elements.
	rs := steps[len(steps)-4]
	if !reflect.DeepEqual(rs.Argv, []string{"/bin/istioctl-1.32.0", "create-remote-secret", "--kubeconfig=" + kc1, "--name=cluster1", "--server=https://<InternalIP of locality-e2e-cluster1-control-plane>:6443"}) || rs.Stdout != "/tmp/mc/remote-secret-cluster1.yaml" {
		t.Errorf("remote secret step %+v", rs)
	}
	out := FormatPlan(steps)
	for _, s := range []string{
		"     |   podSubnet: 10.10.0.0/16",
		"     |         clusterName: cluster2",
		"     |   name: cross-network-gateway",
		"     |   - <addresses 1-20 of the last 100 of hosts 1000-1999 of the kind network's IPv4",
		"     |     topology.istio.io/network: network1",
		"   $ docker network inspect kind --format '{{range .IPAM.Config}}{{println .Subnet}}{{end}}'",
		" > /tmp/mc/remote-secret-cluster2.yaml\n",
		"   $ kubectl --kubeconfig=" + kc2 + " apply -f /tmp/mc/metallb-cluster2.yaml\n   (on failure, retried every 5s for at most 2m0s)\n",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("printed plan lacks %q", s)
		}
	}
	t.Log("\n" + out)
}

// TestMultiClusterPlanFlatNetworkRoutes: on one network, every node of
// each cluster routes to every node's pod CIDR of the other and to its
// service subnet (connect_kind_clusters, per node); no MetalLB, no gateway.
func TestMultiClusterPlanFlatNetworkRoutes(t *testing.T) {
	in := mcInput(t, topology.ThreeZonesTwoClusters("", ""))
	in.Facts = &Facts{Nodes: map[string][]NodeFact{
		"cluster1": {{Name: "c1-cp", IP: "172.18.0.2", PodCIDR: "10.10.0.0/24", ControlPlane: true}, {Name: "c1-w", IP: "172.18.0.3", PodCIDR: "10.10.1.0/24"}, {Name: "c1-w2", IP: "172.18.0.4", PodCIDR: "10.10.2.0/24"}},
		"cluster2": {{Name: "c2-cp", IP: "172.18.0.5", PodCIDR: "10.20.0.0/24", ControlPlane: true}, {Name: "c2-w", IP: "172.18.0.6", PodCIDR: "10.20.1.0/24"}},
	}}
	steps, err := Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, s := range steps {
		if len(s.Argv) > 3 && s.Argv[3] == "ip" {
			routes = append(routes, strings.Join(s.Argv, " "))
		}
		if strings.Contains(s.What, "MetalLB") || strings.Contains(s.What, "east-west") || s.op == opFacts && s.Argv != nil {
			t.Errorf("flat network step %q", s.What)
		}
	}
	want := []string{
		"docker exec c1-cp ip route add 10.20.0.0/24 via 172.18.0.5",
		"docker exec c1-cp ip route add 10.20.1.0/24 via 172.18.0.6",
		"docker exec c1-cp ip route add 10.255.20.0/24 via 172.18.0.5",
		"docker exec c1-w ip route add 10.20.0.0/24 via 172.18.0.5",
		"docker exec c1-w ip route add 10.20.1.0/24 via 172.18.0.6",
		"docker exec c1-w ip route add 10.255.20.0/24 via 172.18.0.5",
		"docker exec c1-w2 ip route add 10.20.0.0/24 via 172.18.0.5",
		"docker exec c1-w2 ip route add 10.20.1.0/24 via 172.18.0.6",
		"docker exec c1-w2 ip route add 10.255.20.0/24 via 172.18.0.5",
		"docker exec c2-cp ip route add 10.10.0.0/24 via 172.18.0.2",
		"docker exec c2-cp ip route add 10.10.1.0/24 via 172.18.0.3",
		"docker exec c2-cp ip route add 10.10.2.0/24 via 172.18.0.4",
		"docker exec c2-cp ip route add 10.255.10.0/24 via 172.18.0.2",
		"docker exec c2-w ip route add 10.10.0.0/24 via 172.18.0.2",
		"docker exec c2-w ip route add 10.10.1.0/24 via 172.18.0.3",
		"docker exec c2-w ip route add 10.10.2.0/24 via 172.18.0.4",
		"docker exec c2-w ip route add 10.255.10.0/24 via 172.18.0.2",
	}
	if !reflect.DeepEqual(routes, want) {
		t.Errorf("routes\n%s\nwant\n%s", strings.Join(routes, "\n"), strings.Join(want, "\n"))
	}
}

// TestRunMultiClusterWithFakes runs the whole setup against client-go
// fakes and recorded commands: clusters created, facts read from the
// nodes, the plan's argv run with the real addresses, istio-system
// labelled, cacerts created, the Gateway created, files written.
func TestRunMultiClusterWithFakes(t *testing.T) {
	in := mcInput(t, topology.ThreeZonesTwoClusters("network1", "network2"))
	in.Options.CAKeyBits = 2048
	in.Config.Timeouts.Poll = time.Millisecond
	in.Config.Timeouts.ClusterCreate, in.Config.Timeouts.IstioInstall = time.Second, time.Second
	kubes := map[string]*fake.Clientset{}
	istios := map[string]*istiofake.Clientset{}
	var ran [][]string
	files := map[string][]byte{}
	var created []string
	var log bytes.Buffer
	env := mcEnv{
		createCluster: func(ctx context.Context, kc *v1alpha4.Cluster, kubeconfig string) error {
			created = append(created, kc.Name)
			k := fake.NewClientset()
			for i, n := range kindNodeNames(kc.Name, len(kc.Nodes)-1) {
				node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: kc.Nodes[i].Labels},
					Spec:   corev1.NodeSpec{PodCIDR: fmt.Sprintf("%s.%d.0/24", strings.TrimSuffix(kc.Networking.PodSubnet, ".0.0/16"), i)},
					Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("172.18.%d.%d", len(created), i+2)}}, Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
				if i == 0 {
					node.Labels = map[string]string{"node-role.kubernetes.io/control-plane": ""}
				}
				_, _ = k.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
			}
			one := int32(1)
			_, _ = k.AppsV1().Deployments(kind.IstioNamespace).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: kind.IstiodName, Namespace: kind.IstioNamespace}, Spec: appsv1.DeploymentSpec{Replicas: &one},
				Status: appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 1, UpdatedReplicas: 1}}, metav1.CreateOptions{})
			_, _ = k.CoreV1().Services(kind.IstioNamespace).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: EastWestGateway, Namespace: kind.IstioNamespace},
				Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "172.18.7.110"}}}}}, metav1.CreateOptions{})
			kubes[kubeconfig], istios[kubeconfig] = k, istiofake.NewSimpleClientset()
			return nil
		},
		deleteCluster: func(name, kubeconfig string) error { t.Errorf("deleted %s", name); return nil },
		clients: func(ctx context.Context, kubeconfig string) (kubernetes.Interface, istioclient.Interface, error) {
			return kubes[kubeconfig], istios[kubeconfig], nil
		},
		run: func(ctx context.Context, argv []string, stdout io.Writer) error {
			ran = append(ran, argv)
			if stdout != nil {
				switch argv[1] {
				case "network":
					_, _ = io.WriteString(stdout, "172.18.0.0/16\nfc00:f853:ccd:e793::/64\n")
				case "create-remote-secret":
					_, _ = io.WriteString(stdout, "# secret of "+argv[3]+"\n")
				}
			}
			return nil
		},
		buildImage: func(ctx context.Context, names []string) error {
			ran = append(ran, append([]string{"build-image"}, names...))
			return nil
		},
		checkIstioctl: func(ctx context.Context) error { ran = append(ran, []string{"check-istioctl"}); return nil },
		writeFile:     func(path string, b []byte) error { files[path] = b; return nil },
		now:           time.Now,
		sleep:         func(context.Context, time.Duration) error { return nil },
		log:           &log,
	}
	s, err := runMultiCluster(context.Background(), in, env)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !s.Created || len(s.Clusters) != 2 || s.Clusters[1].KindCluster != "locality-e2e-cluster2" || s.Clusters[1].Network != "network2" ||
		!reflect.DeepEqual(created, []string{"locality-e2e-cluster1", "locality-e2e-cluster2"}) {
		t.Errorf("setup %+v created %v", s, created)
	}
	back, err := UnmarshalSetup(s.Marshal())
	if err != nil || !reflect.DeepEqual(back, s) {
		t.Errorf("round trip %v %+v", err, back)
	}
	var lines []string
	for _, a := range ran {
		lines = append(lines, strings.Join(a, " "))
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{
		"build-image locality-e2e-cluster1-control-plane locality-e2e-cluster1-worker locality-e2e-cluster1-worker2 locality-e2e-cluster2-control-plane locality-e2e-cluster2-worker",
		"/bin/istioctl-1.32.0 create-remote-secret --kubeconfig=" + kind.KubeconfigPath("locality-e2e-cluster1") + " --name=cluster1 --server=https://172.18.1.2:6443",
		"/bin/istioctl-1.32.0 create-remote-secret --kubeconfig=" + kind.KubeconfigPath("locality-e2e-cluster2") + " --name=cluster2 --server=https://172.18.2.2:6443",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("ran\n%s\nlacks %q", joined, want)
		}
	}
	if strings.Contains(joined, "ip route") {
		t.Errorf("routes between networks:\n%s", joined)
	}
	if got := string(files["/tmp/mc/metallb-cluster2.yaml"]); !strings.Contains(got, "- 172.18.7.130/32") || !strings.Contains(got, "kind: L2Advertisement") {
		t.Errorf("pool of cluster2:\n%s", got)
	}
	if got := string(files["/tmp/mc/remote-secret-cluster2.yaml"]); got != "# secret of --name=cluster2\n" {
		t.Errorf("remote secret file %q", got)
	}
	ctx := context.Background()
	for i, c := range s.Clusters {
		k := kubes[c.Kubeconfig]
		ns, err := k.CoreV1().Namespaces().Get(ctx, kind.IstioNamespace, metav1.GetOptions{})
		if err != nil || ns.Labels[topology.LabelNetwork] != fmt.Sprintf("network%d", i+1) {
			t.Errorf("%s istio-system %v %v", c.Name, err, ns)
		}
		sec, err := k.CoreV1().Secrets(kind.IstioNamespace).Get(ctx, CACertsSecret, metav1.GetOptions{})
		if err != nil || len(sec.Data["cert-chain.pem"]) == 0 {
			t.Errorf("%s cacerts %v", c.Name, err)
		}
		if _, err := istios[c.Kubeconfig].NetworkingV1().Gateways(kind.IstioNamespace).Get(ctx, CrossNetworkGateway, metav1.GetOptions{}); err != nil {
			t.Errorf("%s gateway: %v", c.Name, err)
		}
	}
}

// TestSelectMultiCluster: one setup serves the topologies that declare the
// reference's Clusters, whatever their mesh settings (applied at Deploy);
// the env value picks the reference by name.
func TestSelectMultiCluster(t *testing.T) {
	flat, multi := topology.LocalityTask(1, false), topology.LocalityTask(1, true)
	local := topology.LocalityTask(2, false)
	local.Name, local.Mesh.ClusterLocal = "cluster-local", true
	topos := []topology.Topology{topology.ThreeZones(), flat, multi, local}
	names := func(ts []topology.Topology) (out []string) {
		for _, t := range ts {
			out = append(out, t.Name)
		}
		return out
	}
	sel, skipped, err := Select(topos, "")
	if err != nil || !reflect.DeepEqual(names(sel), []string{flat.Name, "cluster-local"}) || !reflect.DeepEqual(skipped, []string{multi.Name}) {
		t.Fatalf("default: %v skipped %v err %v", names(sel), skipped, err)
	}
	sel, skipped, err = Select(topos, multi.Name)
	if err != nil || !reflect.DeepEqual(names(sel), []string{multi.Name}) || !reflect.DeepEqual(skipped, []string{flat.Name, "cluster-local"}) {
		t.Fatalf("%s: %v skipped %v err %v", multi.Name, names(sel), skipped, err)
	}
	if _, _, err := Select(topos, "nope"); err == nil || !strings.Contains(err.Error(), kind.EnvKindMultiCluster+"=nope") {
		t.Fatalf("unknown name: %v", err)
	}
	if _, _, err := Select([]topology.Topology{topology.ThreeZones()}, ""); err == nil || !strings.Contains(err.Error(), "Topology.Clusters") {
		t.Fatalf("no multi-cluster topology: %v", err)
	}
}
