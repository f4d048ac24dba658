package kind

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/klient/k8s/resources"

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

	mu     sync.Mutex
	meshes map[*kindMesh]bool
}

var _ mesh.Backend = (*backend)(nil)

// New sets the kind backend up: on a kind cluster (Docker checked first,
// cluster created or reused, images preloaded if asked), or on the
// existing cluster of cfg.Kubeconfig (node localities checked); then
// Istio installed unless the expected version runs. Progress goes to log.
// On failure, whatever New created is deleted unless KeepCluster is set.
func New(ctx context.Context, cfg Config, log io.Writer) (mesh.Backend, error) {
	if log == nil {
		log = io.Discard
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &backend{cfg: cfg, log: log, meshes: map[*kindMesh]bool{}}
	kubeconfig := cfg.Kubeconfig
	if kubeconfig == "" {
		if err := CheckDocker(ctx); err != nil {
			return nil, err
		}
		cl, err := ensureCluster(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		b.cl = cl
		kubeconfig = cl.kubeconfig
	}
	fail := func(err error) (mesh.Backend, error) {
		if b.cl != nil {
			b.cl.collectLogs(cfg.LogsDir, log)
			if derr := b.cl.delete(cfg.KeepCluster, log); derr != nil {
				err = fmt.Errorf("%w; %v", err, derr)
			}
		}
		return nil, fmt.Errorf("kind backend: %w", err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fail(fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err))
	}
	if err := b.connect(rc); err != nil {
		return fail(err)
	}
	if cfg.Kubeconfig != "" {
		if err := checkExistingCluster(ctx, b.kube, cfg.topologies()); err != nil {
			return fail(fmt.Errorf("cluster of %s=%s: %w", EnvKubeconfig, cfg.Kubeconfig, err))
		}
	}
	if v, err := b.kube.Discovery().ServerVersion(); err == nil {
		b.trafficDistribution = servesTrafficDistribution(v.Major, v.Minor)
	}
	if cfg.PreloadImages && b.cl != nil {
		if err := preloadImages(ctx, b.cl.provider, b.cl.name, Images(cfg.topologies()), log); err != nil {
			return fail(err)
		}
	}
	if err := ensureIstio(ctx, cfg, b.kube, kubeconfig, log); err != nil {
		return fail(err)
	}
	return b, nil
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

func (b *backend) untrack(m *kindMesh) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.meshes, m)
}

// Close closes the meshes still open, then deletes the cluster this run
// created unless KeepCluster is set.
func (b *backend) Close(ctx context.Context) error {
	b.mu.Lock()
	open := make([]*kindMesh, 0, len(b.meshes))
	for m := range b.meshes {
		open = append(open, m)
	}
	b.mu.Unlock()
	var errs []string
	for _, m := range open {
		if err := m.Close(ctx); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := b.cl.delete(b.cfg.KeepCluster, b.log); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("kind backend close: %s", strings.Join(errs, "; "))
	}
	return nil
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

// servesTrafficDistribution: Service.spec.trafficDistribution is on by
// default from Kubernetes 1.31 (beta) and GA in 1.33.
func servesTrafficDistribution(major, minor string) bool {
	ma, err1 := strconv.Atoi(strings.TrimRight(major, "+"))
	mi, err2 := strconv.Atoi(strings.TrimRight(minor, "+"))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > 1 || ma == 1 && mi >= 31
}
