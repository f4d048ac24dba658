package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/klient/k8s/resources"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"

	"github.com/localitylb/locality-e2e/framework/mesh"
)

// Name is the backend's name.
const Name = "kind"

// execFunc runs argv in a container and returns its output.
type execFunc func(ctx context.Context, ns, pod, container string, argv []string) (stdout, stderr string, err error)

// createFunc creates one rendered object.
type createFunc func(ctx context.Context, obj client.Object) error

// backend is the suite-wide kind backend.
type backend struct {
	cfg    Config
	log    io.Writer
	cl     *cluster // nil for an existing kubeconfig
	kube   kubernetes.Interface
	istio  istioclient.Interface
	exec   execFunc
	create createFunc
	// trafficDistribution: the API server serves Service.spec.trafficDistribution (1.31+).
	trafficDistribution bool
	// preferSameZone: it also accepts trafficDistribution PreferSameZone
	// and PreferSameNode (1.34+).
	preferSameZone bool

	teardown func(context.Context) error // set by New (Own): Close runs Teardown

	mu     sync.Mutex
	meshes map[*kindMesh]bool

	// mesh settings applied to the live mesh (meshsettings.go)
	settingsMu sync.Mutex
	settings   *meshSettings
	holder     string // AnnotationMeshSettingsHolder, set once
}

var _ mesh.Backend = (*backend)(nil)

// Setup is what Prepare set up, for Connect and Teardown. With parallel
// Ginkgo processes, process 1 runs Prepare and hands Marshal's bytes to
// every process (SynchronizedBeforeSuite), each Connects, and process 1
// runs Teardown at the end.
type Setup struct {
	Kubeconfig   string `json:"kubeconfig"`
	ClusterName  string `json:"clusterName,omitempty"` // kind cluster; "" for an existing kubeconfig
	Created      bool   `json:"created,omitempty"`     // this run created the kind cluster
	IstioVersion string `json:"istioVersion"`
}

// Marshal encodes the setup for other processes.
func (s *Setup) Marshal() []byte {
	b, _ := json.Marshal(s) // plain strings and bools: cannot fail
	return b
}

// UnmarshalSetup decodes Marshal's bytes.
func UnmarshalSetup(b []byte) (*Setup, error) {
	var s Setup
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("kind backend: decode shared setup %q: %w", b, err)
	}
	if s.Kubeconfig == "" {
		return nil, fmt.Errorf("kind backend: shared setup %q has no kubeconfig: was Prepare run?", b)
	}
	return &s, nil
}

// Prepare sets up what every process shares: on kind, Docker is checked
// first, then the cluster is created or reused (images preloaded if
// asked, the built-in workload image built and loaded: WorkloadImagePlan);
// with cfg.Kubeconfig, the existing cluster is used. Then every
// topology locality is checked to have a node, and Istio is installed
// unless the expected version runs. Progress goes to log. On failure,
// whatever Prepare created is deleted unless KeepCluster is set.
func Prepare(ctx context.Context, cfg Config, log io.Writer) (*Setup, error) {
	if log == nil {
		log = io.Discard
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Setup{Kubeconfig: cfg.Kubeconfig, IstioVersion: cfg.IstioVersion}
	var cl *cluster
	if cfg.Kubeconfig == "" {
		if err := CheckNodeImageSupport(cfg.IstioVersion, cfg.NodeImage); err != nil {
			fmt.Fprintf(log, "kind: WARNING: %v\n", err)
		}
		if err := CheckDocker(ctx); err != nil {
			return nil, err
		}
		var err error
		if cl, err = ensureCluster(ctx, cfg, log); err != nil {
			return nil, err
		}
		s.Kubeconfig, s.ClusterName, s.Created = cl.kubeconfig, cl.name, cl.created
		clearNodeLogsRequest(cfg.LogsDir, cl.name) // a request left by an earlier run that never reached Teardown
	}
	fail := func(err error) (*Setup, error) {
		if cl != nil {
			cl.collectLogs(cfg.LogsDir, log)
			if derr := cl.delete(cfg.KeepCluster, log); derr != nil {
				err = fmt.Errorf("%w; %v", err, derr)
			}
		}
		return nil, fmt.Errorf("kind backend: %w", err)
	}
	b := &backend{cfg: cfg, log: log}
	if err := b.connectKubeconfig(ctx, s.Kubeconfig); err != nil {
		return fail(err)
	}
	// kind's own wait covers the control plane only and ignores its
	// timeout (NodesReady): wait for every node, or fail naming each
	// NotReady node's conditions.
	if cl != nil {
		want := 0
		if cl.created {
			want = len(ClusterConfig(cfg).Nodes)
		}
		if err := Poll(ctx, "every node of kind cluster "+cl.name+" Ready", cfg.Timeouts.Poll, cfg.Timeouts.ClusterCreate, NodesReady(b.kube, want)); err != nil {
			return fail(err)
		}
	}
	// Always check the nodes' localities: an existing or reused cluster may
	// lack some, and on a new one it proves the kubelets took the labels.
	if err := checkExistingCluster(ctx, b.kube, cfg.topologies()); err != nil {
		where := "kind cluster " + cfg.ClusterName
		if cfg.Kubeconfig != "" {
			where = fmt.Sprintf("cluster of %s=%s", EnvKubeconfig, cfg.Kubeconfig)
		}
		return fail(fmt.Errorf("%s: %w", where, err))
	}
	if cfg.PreloadImages && cl != nil {
		if err := preloadImages(ctx, cl.provider, cl.name, cfg.preloadList(), log); err != nil {
			return fail(err)
		}
	}
	if cfg.BuildsWorkloadImage() && cl != nil {
		nodes, err := cl.provider.ListInternalNodes(cl.name)
		if err != nil {
			return fail(fmt.Errorf("list nodes of %q: %w", cl.name, err))
		}
		if err := buildWorkloadImage(ctx, nodes, log, runLogged, loadIntoNode); err != nil {
			return fail(err)
		}
	}
	if err := ensureIstio(ctx, cfg, b.kube, s.Kubeconfig, log); err != nil {
		return fail(err)
	}
	return s, nil
}

// Connect returns a backend on a prepared cluster. It creates nothing
// cluster-wide: its Deploys create namespaces, its Close deletes the
// namespaces still open and never the cluster (Teardown does).
func Connect(ctx context.Context, cfg Config, s *Setup, log io.Writer) (mesh.Backend, error) {
	if log == nil {
		log = io.Discard
	}
	if s == nil {
		return nil, fmt.Errorf("kind backend: Connect needs Prepare's Setup")
	}
	b := &backend{cfg: cfg, log: log, meshes: map[*kindMesh]bool{}}
	if err := b.connectKubeconfig(ctx, s.Kubeconfig); err != nil {
		return nil, fmt.Errorf("kind backend: %w", err)
	}
	if s.ClusterName != "" {
		// for node logs when a deploy fails; created is false: never deleted here
		b.cl = &cluster{name: s.ClusterName, kubeconfig: s.Kubeconfig,
			provider: kindcluster.NewProvider(kindcluster.ProviderWithLogger(newKindLogger(log)))}
	}
	return b, nil
}

// Teardown deletes the kind cluster Prepare created, unless KeepCluster is
// set, after exporting its node logs into LogsDir if a spec failed
// (wantNodeLogs). A reused or existing cluster is never deleted.
func Teardown(ctx context.Context, cfg Config, s *Setup, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	if s == nil || s.ClusterName == "" {
		return nil
	}
	cl := &cluster{name: s.ClusterName, kubeconfig: s.Kubeconfig, created: s.Created,
		provider: kindcluster.NewProvider(kindcluster.ProviderWithLogger(newKindLogger(log)))}
	exportNodeLogsIfWanted(cl, cfg.LogsDir, log)
	return cl.delete(cfg.KeepCluster, log) // a reused cluster (created false) is kept
}

// New is Prepare and Connect for a single process: the returned backend's
// Close also runs Teardown.
func New(ctx context.Context, cfg Config, log io.Writer) (mesh.Backend, error) {
	mb, teardown, err := Own(ctx,
		func(ctx context.Context) (*Setup, error) { return Prepare(ctx, cfg, log) },
		func(ctx context.Context, s *Setup) (mesh.Backend, error) { return Connect(ctx, cfg, s, log) },
		func(ctx context.Context, s *Setup) error { return Teardown(ctx, cfg, s, log) })
	if err != nil {
		return nil, err
	}
	b := mb.(*backend)
	b.teardown = teardown
	return b, nil
}

// connectKubeconfig builds the clients of a kubeconfig and checks, within
// 30 s, that its API server answers.
func (b *backend) connectKubeconfig(ctx context.Context, kubeconfig string) error {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	if err := b.connect(rc); err != nil {
		return err
	}
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	raw, err := b.kube.Discovery().RESTClient().Get().AbsPath("/version").Do(vctx).Raw()
	if err != nil {
		return fmt.Errorf("the API server of %s does not answer: %w", kubeconfig, err)
	}
	var v version.Info
	if err := json.Unmarshal(raw, &v); err == nil {
		b.trafficDistribution = servesTrafficDistribution(v.Major, v.Minor)
		b.preferSameZone = servesPreferSameZone(v.Major, v.Minor)
	}
	return nil
}

// connect builds the clients of a REST config.
func (b *backend) connect(rc *rest.Config) error {
	rc.QPS, rc.Burst = 50, 100
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	ic, err := istioclient.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("istio client: %w", err)
	}
	res, err := resources.New(rc)
	if err != nil {
		return fmt.Errorf("e2e-framework resources: %w", err)
	}
	if err := networkingv1.AddToScheme(res.GetScheme()); err != nil {
		return fmt.Errorf("register istio networking/v1: %w", err)
	}
	b.kube, b.istio = kube, ic
	b.create = func(ctx context.Context, obj client.Object) error { return res.Create(ctx, obj) }
	b.exec = func(ctx context.Context, ns, pod, container string, argv []string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := res.ExecInPod(ctx, ns, pod, container, argv, &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}
	return nil
}

// execIn runs argv in a container within Timeouts.Exec.
func (b *backend) execIn(ctx context.Context, ns, pod, container string, argv []string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeouts.Exec)
	defer cancel()
	stdout, stderr, err := b.exec(ctx, ns, pod, container, argv)
	if err != nil {
		err = fmt.Errorf("exec %q in %s/%s -c %s: %w", strings.Join(argv, " "), ns, pod, container, err)
	}
	return stdout, stderr, err
}

func (b *backend) Name() string { return Name }

func (b *backend) track(m *kindMesh) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.meshes[m] = true
}

// openWithoutMeshSettings lists the namespaces of the open scenarios
// that hold no mesh settings: mesh settings applied now would reach them.
func (b *backend) openWithoutMeshSettings() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for m := range b.meshes {
		if !m.meshSettings {
			out = append(out, m.ns)
		}
	}
	return out
}

func (b *backend) untrack(m *kindMesh) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.meshes, m)
}

// Close closes the meshes still open; for a backend from New it then
// runs Teardown.
func (b *backend) Close(ctx context.Context) error {
	b.mu.Lock()
	open := make([]*kindMesh, 0, len(b.meshes))
	for m := range b.meshes {
		open = append(open, m)
	}
	b.mu.Unlock()
	return CloseBackend(ctx, "kind backend close", open, b.teardown)
}

// nodeLocalities maps node names to their locality string.
func (b *backend) nodeLocalities(ctx context.Context) (map[string]string, error) {
	nodes, err := b.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	out := map[string]string{}
	for _, n := range nodes.Items {
		out[n.Name] = nodeLocality(n.Labels).String()
	}
	return out, nil
}

// servesTrafficDistribution: Service.spec.trafficDistribution (with
// PreferClose) is on by default from Kubernetes 1.31 (beta) and GA in 1.33.
func servesTrafficDistribution(major, minor string) bool { return atLeast(major, minor, 31) }

// servesPreferSameZone: the value PreferSameZone (KEP-3015, the
// PreferSameTrafficDistribution gate) is alpha in Kubernetes 1.33, off by
// default, and on by default from 1.34; on older API servers a Service
// with it is refused, so the spec is skipped with the reason.
func servesPreferSameZone(major, minor string) bool { return atLeast(major, minor, 34) }

// atLeast reports a server version of at least 1.<min> ("1", "33+" as
// the discovery API reports it).
func atLeast(major, minor string, min int) bool {
	ma, err1 := strconv.Atoi(strings.TrimRight(major, "+"))
	mi, err2 := strconv.Atoi(strings.TrimRight(minor, "+"))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > 1 || ma == 1 && mi >= min
}
