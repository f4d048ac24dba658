package multicluster

// Running the plan: Prepare creates the clusters and installs Istio,
// Teardown deletes them; the setup handed to every process.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// Member is one cluster of a prepared multi-cluster setup.
type Member struct {
	Name        string `json:"name"`              // declared cluster (Istio's cluster ID)
	Network     string `json:"network,omitempty"` // its network
	KindCluster string `json:"kindCluster"`
	Kubeconfig  string `json:"kubeconfig"`
}

// Setup is what Prepare set up: every cluster's
// kubeconfig, for Connect (in every Ginkgo process, like
// Setup) and Teardown.
type Setup struct {
	Clusters     []Member `json:"clusters"`
	Created      bool     `json:"created,omitempty"`
	IstioVersion string   `json:"istioVersion"`
	// MeshConfig is the install-time meshConfig (protojson), for the
	// record: scenarios' mesh settings are applied at Deploy, not installed.
	MeshConfig string `json:"meshConfig"`
}

// Marshal encodes the setup for other processes.
func (s *Setup) Marshal() []byte {
	b, _ := json.Marshal(s) // strings and bools: cannot fail
	return b
}

// UnmarshalSetup decodes Marshal's bytes.
func UnmarshalSetup(b []byte) (*Setup, error) {
	var s Setup
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("kind multi-cluster: decode shared setup %q: %w", b, err)
	}
	if len(s.Clusters) < 2 {
		return nil, fmt.Errorf("kind multi-cluster: shared setup %q has %d clusters: was multicluster.Prepare run?", b, len(s.Clusters))
	}
	return &s, nil
}

// mcEnv is what executing the plan touches, replaced by fakes in tests.
type mcEnv struct {
	createCluster func(ctx context.Context, kc *v1alpha4.Cluster, kubeconfig string) error
	deleteCluster func(name, kubeconfig string) error
	// clients of a created cluster
	clients func(ctx context.Context, kubeconfig string) (kubernetes.Interface, istioclient.Interface, error)
	// run runs argv, its standard output to stdout when not nil
	run           func(ctx context.Context, argv []string, stdout io.Writer) error
	buildImage    func(ctx context.Context, nodeNames []string) error
	checkIstioctl func(ctx context.Context) error
	writeFile     func(path string, b []byte) error
	now           func() time.Time
	sleep         func(ctx context.Context, d time.Duration) error
	log           io.Writer
}

// Prepare creates a multi-cluster mesh on kind for topo (and
// the multi-cluster topologies of cfg.Topologies, which must declare the
// same Clusters): the steps of Plan, in order. It needs Docker,
// kind's Go library, istioctl (cfg.IstioctlPath, cfg.IstioVersion) and
// kubectl (EnvKubectl). On failure the clusters it created are deleted
// unless cfg.KeepCluster is set.
//
// This has never been run from this repository (no Docker where it was
// written); its steps are unit-tested against fakes.
func Prepare(ctx context.Context, cfg kind.Config, topo topology.Topology, log io.Writer) (*Setup, error) {
	return PrepareTopologies(ctx, cfg, append([]topology.Topology{topo}, cfg.Topologies...), log)
}

// PrepareTopologies is Prepare for the
// multi-cluster topologies among topos (Topology).
func PrepareTopologies(ctx context.Context, cfg kind.Config, topos []topology.Topology, log io.Writer) (*Setup, error) {
	if log == nil {
		log = io.Discard
	}
	in, err := Input(cfg, OptionsFromEnv(), topos)
	if err != nil {
		return nil, err
	}
	if err := kind.CheckDocker(ctx); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath(in.Options.Kubectl); err != nil {
		return nil, fmt.Errorf("kind multi-cluster: kubectl %q: %v: install kubectl or point %s at it", in.Options.Kubectl, err, EnvKubectl)
	}
	p := kind.NewProvider(log)
	existing, err := p.List()
	if err != nil {
		return nil, fmt.Errorf("list kind clusters: %w", err)
	}
	for _, c := range in.Topology.Clusters {
		if n := KindClusterName(cfg.ClusterName, c.Name); slices.Contains(existing, n) {
			return nil, fmt.Errorf("kind multi-cluster: a kind cluster %q already exists: delete it (kind delete cluster --name %s) or set %s to another prefix", n, n, kind.EnvClusterName)
		}
	}
	env := mcEnv{
		createCluster: func(ctx context.Context, kc *v1alpha4.Cluster, kubeconfig string) error {
			return createKindCluster(ctx, p, cfg, kc, kubeconfig)
		},
		deleteCluster: p.Delete,
		clients:       kind.ConnectClients,
		run: func(ctx context.Context, argv []string, stdout io.Writer) error {
			if stdout == nil {
				return kind.RunStreaming(ctx, argv, nil, argv[0]+":", log)
			}
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Stdout, cmd.Stderr = stdout, &stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, kind.FirstLines(strings.TrimSpace(stderr.String()), 5))
			}
			return nil
		},
		buildImage: func(ctx context.Context, names []string) error {
			var all []nodes.Node
			for _, c := range in.Topology.Clusters {
				ns, err := p.ListInternalNodes(KindClusterName(cfg.ClusterName, c.Name))
				if err != nil {
					return err
				}
				all = append(all, ns...)
			}
			return kind.BuildWorkloadImage(ctx, all, log)
		},
		checkIstioctl: func(ctx context.Context) error { return kind.CheckIstioctl(ctx, cfg.IstioctlPath, cfg.IstioVersion) },
		writeFile: func(path string, b []byte) error {
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return err
			}
			return os.WriteFile(path, b, 0o600)
		},
		now:   time.Now,
		sleep: sleepContext,
		log:   log,
	}
	return runMultiCluster(ctx, in, env)
}

// Input checks the configuration and merges the topologies
// into the plan's input (no facts).
func Input(cfg kind.Config, o Options, topos []topology.Topology) (PlanInput, error) {
	u, mc, err := Topology(cfg.ClusterName+"-nodes", topos)
	if err != nil {
		return PlanInput{}, err
	}
	if err := validateMultiCluster(cfg, o, u, os.LookupEnv); err != nil {
		return PlanInput{}, err
	}
	return PlanInput{Config: cfg, Options: o, Topology: u, Topologies: mc}, nil
}

func createKindCluster(ctx context.Context, p *kindcluster.Provider, cfg kind.Config, kc *v1alpha4.Cluster, kubeconfig string) error {
	errc := make(chan error, 1)
	go func() {
		errc <- p.Create(kc.Name,
			kindcluster.CreateWithV1Alpha4Config(kc),
			kindcluster.CreateWithNodeImage(cfg.NodeImage),
			kindcluster.CreateWithWaitForReady(cfg.Timeouts.ClusterCreate),
			kindcluster.CreateWithKubeconfigPath(kubeconfig),
			kindcluster.CreateWithRetain(true),
			kindcluster.CreateWithDisplayUsage(false),
			kindcluster.CreateWithDisplaySalutation(false),
		)
	}()
	select {
	case err := <-errc:
		if err != nil {
			kind.CollectNodeLogs(p, kc.Name, cfg.LogsDir)
			return fmt.Errorf("create kind cluster %q: %w (node logs in %s)", kc.Name, err, cfg.LogsDir)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("create kind cluster %q: %w; kind goes on in the background: delete it afterwards (kind delete cluster --name %s)", kc.Name, ctx.Err(), kc.Name)
	}
}

// runMultiCluster executes the plan with env.
func runMultiCluster(ctx context.Context, in PlanInput, env mcEnv) (*Setup, error) {
	cfg, topo := in.Config, in.Topology
	steps, err := Plan(in)
	if err != nil {
		return nil, err
	}
	mcJSON, err := protojson.Marshal(MeshConfig())
	if err != nil {
		return nil, err
	}
	s := &Setup{IstioVersion: cfg.IstioVersion, MeshConfig: string(mcJSON)}
	member := map[string]Member{}
	for _, c := range topo.Clusters {
		m := Member{Name: c.Name, Network: c.Network, KindCluster: KindClusterName(cfg.ClusterName, c.Name)}
		m.Kubeconfig = kind.KubeconfigPath(m.KindCluster)
		member[c.Name] = m
		s.Clusters = append(s.Clusters, m)
	}
	var created []Member
	fail := func(i int, err error) (*Setup, error) {
		err = fmt.Errorf("kind multi-cluster: step %d (%s): %w", i+1, steps[i].What, err)
		for _, m := range created {
			if cfg.KeepCluster {
				fmt.Fprintf(env.log, "kind: keeping cluster %q (kubeconfig %s; delete with: kind delete cluster --name %s)\n", m.KindCluster, m.Kubeconfig, m.KindCluster)
				continue
			}
			if derr := env.deleteCluster(m.KindCluster, m.Kubeconfig); derr != nil {
				err = fmt.Errorf("%w; delete %s: %v", err, m.KindCluster, derr)
			}
		}
		return nil, err
	}
	kcs := map[string]*v1alpha4.Cluster{}
	for i, kc := range KindConfigs(cfg, topo) {
		kcs[topo.Clusters[i].Name] = kc
	}
	type clientsOf struct {
		kube  kubernetes.Interface
		istio istioclient.Interface
	}
	cls := map[string]clientsOf{}
	var root *CA
	t := cfg.Timeouts
	for i := 0; i < len(steps); i++ {
		st := steps[i]
		fmt.Fprintf(env.log, "kind: multi-cluster %d/%d: %s%s\n", i+1, len(steps), clusterTag(st.Cluster), st.What)
		if st.File != "" {
			if err := env.writeFile(st.File, st.Content); err != nil {
				return fail(i, err)
			}
		}
		var err error
		switch st.op {
		case opCreateCluster:
			m := member[st.Cluster]
			if err = env.createCluster(ctx, kcs[st.Cluster], m.Kubeconfig); err == nil {
				created = append(created, m)
				kind.ClearNodeLogsRequest(cfg.LogsDir, m.KindCluster) // left by an earlier run
				s.Created = true
				var kube kubernetes.Interface
				var ic istioclient.Interface
				if kube, ic, err = env.clients(ctx, m.Kubeconfig); err == nil {
					cls[st.Cluster] = clientsOf{kube, ic}
					err = kind.Poll(ctx, "every node of kind cluster "+m.KindCluster+" Ready", t.Poll, t.ClusterCreate, kind.NodesReady(kube, len(kcs[st.Cluster].Nodes)))
				}
			}
		case opFacts:
			facts := &Facts{Nodes: map[string][]NodeFact{}}
			for _, c := range topo.Clusters {
				if facts.Nodes[c.Name], err = readNodeFacts(ctx, cls[c.Name].kube, len(kcs[c.Name].Nodes)); err != nil {
					err = fmt.Errorf("cluster %s: %w", c.Name, err)
					break
				}
			}
			if err == nil && st.Argv != nil {
				var out bytes.Buffer
				if err = env.run(ctx, st.Argv, &out); err == nil {
					facts.KindSubnets, err = ParseSubnets(out.String())
				}
			}
			if err == nil {
				in.Facts = facts
				var again []Step
				if again, err = Plan(in); err == nil && len(again) != len(steps) {
					err = fmt.Errorf("the plan has %d steps with the clusters' addresses, %d without: a cluster has other nodes than its kind config", len(again), len(steps))
				}
				if err == nil {
					steps = again
				}
			}
		case opRun:
			if st.Stdout != "" {
				var out bytes.Buffer
				if err = env.run(ctx, st.Argv, &out); err == nil {
					err = env.writeFile(st.Stdout, out.Bytes())
				}
			} else if st.Retry > 0 {
				err = runRetrying(ctx, env, st)
			} else {
				err = env.run(ctx, st.Argv, nil)
			}
		case opWorkloadImage:
			var names []string
			for _, c := range topo.Clusters {
				for _, n := range in.Facts.Nodes[c.Name] {
					names = append(names, n.Name)
				}
			}
			err = env.buildImage(ctx, names)
		case opCheckIstioctl:
			err = env.checkIstioctl(ctx)
		case opNamespace:
			_, err = cls[st.Cluster].kube.CoreV1().Namespaces().Create(ctx, IstioSystemNamespace(member[st.Cluster].Network), metav1.CreateOptions{})
		case opCACerts:
			if root == nil {
				root, err = NewRootCA(in.Options.CAKeyBits, env.now())
			}
			if err == nil {
				var ica *CA
				if ica, err = NewIntermediateCA(root, st.Cluster, in.Options.CAKeyBits, env.now()); err == nil {
					_, err = cls[st.Cluster].kube.CoreV1().Secrets(kind.IstioNamespace).Create(ctx, CACertsSecretObject(root, ica), metav1.CreateOptions{})
				}
			}
		case opWaitIstiod:
			err = kind.Poll(ctx, kind.IstiodName+" of "+st.Cluster+" ready", t.Poll, t.IstioInstall, kind.DeploymentReady(cls[st.Cluster].kube, kind.IstioNamespace, kind.IstiodName, 1))
		case opWaitGatewayIP:
			err = kind.Poll(ctx, "a LoadBalancer address on "+EastWestGateway+" of "+st.Cluster, t.Poll, t.IstioInstall, LoadBalancerAddress(cls[st.Cluster].kube, kind.IstioNamespace, EastWestGateway))
		case opGateway:
			var gw *networkingv1.Gateway
			if gw, err = CrossNetworkGatewayObject(); err == nil {
				_, err = cls[st.Cluster].istio.NetworkingV1().Gateways(kind.IstioNamespace).Create(ctx, gw, metav1.CreateOptions{})
			}
		default:
			err = fmt.Errorf("unknown step kind %d", st.op)
		}
		if err != nil {
			return fail(i, err)
		}
	}
	return s, nil
}

// runRetrying runs st.Argv until it succeeds, every st.RetryEvery for at
// most st.Retry; the error is the last attempt's, with the count.
func runRetrying(ctx context.Context, env mcEnv, st Step) error {
	deadline := env.now().Add(st.Retry)
	for attempt := 1; ; attempt++ {
		err := env.run(ctx, st.Argv, nil)
		if err == nil {
			return nil
		}
		if !env.now().Add(st.RetryEvery).Before(deadline) {
			return fmt.Errorf("%d attempts in %v: %w", attempt, st.Retry, err)
		}
		fmt.Fprintf(env.log, "kind: %s%s: attempt %d failed, retrying in %v: %v\n", clusterTag(st.Cluster), st.What, attempt, st.RetryEvery, kind.FirstLines(err.Error(), 1))
		if err := env.sleep(ctx, st.RetryEvery); err != nil {
			return err
		}
	}
}

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func clusterTag(c string) string {
	if c == "" {
		return ""
	}
	return "[" + c + "] "
}

// readNodeFacts reads every node's InternalIP and podCIDR, control plane
// first, then by name (kind's worker, worker2, ...).
func readNodeFacts(ctx context.Context, kube kubernetes.Interface, want int) ([]NodeFact, error) {
	list, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	if len(list.Items) != want {
		return nil, fmt.Errorf("%d nodes, want %d", len(list.Items), want)
	}
	var out []NodeFact
	for _, n := range list.Items {
		f := NodeFact{Name: n.Name, PodCIDR: n.Spec.PodCIDR}
		_, f.ControlPlane = n.Labels["node-role.kubernetes.io/control-plane"]
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP && f.IP == "" {
				f.IP = a.Address
			}
		}
		if f.IP == "" || f.PodCIDR == "" {
			return nil, fmt.Errorf("node %s has no InternalIP or spec.podCIDR yet (%q, %q)", n.Name, f.IP, f.PodCIDR)
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ControlPlane != out[j].ControlPlane {
			return out[i].ControlPlane
		}
		return workerIndex(out[i].Name) < workerIndex(out[j].Name)
	})
	if !out[0].ControlPlane {
		return nil, fmt.Errorf("no node labelled node-role.kubernetes.io/control-plane")
	}
	return out, nil
}

// workerIndex orders kind's node names: <name>-worker is 1, -worker2 is 2.
func workerIndex(name string) int {
	i := strings.LastIndex(name, "-worker")
	if i < 0 {
		return 0
	}
	n := 1
	fmt.Sscanf(name[i+len("-worker"):], "%d", &n)
	return n
}

// LoadBalancerAddress holds once the Service has an ingress address
// (MetalLB gave the east-west gateway one).
func LoadBalancerAddress(kube kubernetes.Interface, ns, name string) kind.Probe {
	return func(ctx context.Context) (bool, string, error) {
		svc, err := kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" || in.Hostname != "" {
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("service %s/%s (type %s) has no LoadBalancer ingress yet", ns, name, svc.Spec.Type), nil
	}
}

// Teardown deletes the clusters Prepare created,
// unless cfg.KeepCluster is set.
func Teardown(ctx context.Context, cfg kind.Config, s *Setup, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	if s == nil || !s.Created {
		return nil
	}
	p := kind.NewProvider(log)
	var errs []string
	for _, m := range s.Clusters {
		if err := kind.DeleteCluster(p, m.KindCluster, m.Kubeconfig, cfg.LogsDir, cfg.KeepCluster, log); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("kind multi-cluster teardown: %s", strings.Join(errs, "; "))
	}
	return nil
}

// PrintPlan writes the plan for the suite's topologies (or
// cfg.Topologies) without running anything: every kind config, argv and
// rendered YAML, addresses as <placeholders>.
func PrintPlan(w io.Writer, cfg kind.Config, o Options, topos []topology.Topology) error {
	in, err := Input(cfg, o, topos)
	if err != nil {
		return err
	}
	steps, err := Plan(in)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(in.Topologies))
	for _, t := range in.Topologies {
		names = append(names, t.Name)
	}
	fmt.Fprintf(w, "# multi-cluster kind setup for %s: %d clusters, %s, Istio %s (nothing is run)\n",
		strings.Join(names, ", "), len(in.Topology.Clusters), networksNote(in.Topology), cfg.IstioVersion)
	_, err = io.WriteString(w, FormatPlan(steps))
	return err
}

func networksNote(t topology.Topology) string {
	if t.MultiNetwork() {
		return "several networks (east-west gateways)"
	}
	return "one network (routes between the clusters' pods)"
}
