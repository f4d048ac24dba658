package kind

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Where istioctl puts the control plane.
const (
	IstioNamespace  = "istio-system"
	IstiodName      = "istiod"
	injectionLabel  = "istio-injection"
	injectionEnable = "enabled"
)

// IstioctlVersionArgs is the argv that prints istioctl's own version
// without contacting a cluster.
func IstioctlVersionArgs(istioctl string) []string {
	return []string{istioctl, "version", "--remote=false"}
}

// IstioctlInstallArgs is the argv that installs Istio into the cluster of
// kubeconfig. It is deliberately small:
//   - profile=minimal is istiod alone: sidecar-to-sidecar traffic inside the
//     cluster needs no gateway ("default" adds an unused ingress gateway);
//   - meshConfig.accessLogFile=/dev/stdout makes every sidecar log each
//     request with its response flags (UH, UF, URX), which is how a failed
//     scenario is diagnosed from `kubectl logs -c istio-proxy`;
//   - nothing about locality: locality load balancing is on by default in
//     the mesh config. The seed's PILOT_ENABLE_LOCALITY_LOAD_BALANCING
//     patch is not applied: that variable existed only in Istio 1.1-1.2 and
//     has been a no-op since 1.3.
//
// holdApplicationUntilProxyStarts is not needed: the backend waits for each
// pod's istio-proxy to be ready before it sends anything.
// --readiness-timeout makes istioctl's own wait match Timeouts.IstioInstall.
func IstioctlInstallArgs(istioctl, kubeconfig, profile string, readiness time.Duration) []string {
	args := []string{istioctl, "install", "-y",
		"--set", "profile=" + profile,
		"--set", "meshConfig.accessLogFile=/dev/stdout",
		"--readiness-timeout", readiness.String(),
	}
	if kubeconfig != "" {
		args = append(args, "--kubeconfig", kubeconfig)
	}
	return args
}

// IstioImages are the images an install of version from hub runs, as
// istioctl's charts name them (manifests/charts/istio-control/istio-discovery/values.yaml:
// `image: pilot` for istiod, `global.proxy.image: proxyv2` for every
// sidecar and its istio-init container; "<hub>/<image>:<tag>", the
// default variant). Prepare preloads them with the workload images when
// PreloadImages is set.
func IstioImages(hub, version string) []string {
	return []string{hub + "/pilot:" + version, hub + "/proxyv2:" + version}
}

// istioInstallArgs is IstioctlInstallArgs with the image registry and tag
// pinned (Config.IstioHub, so that the preloaded references are the ones
// the pods use: tag = the release, imagePullPolicy IfNotPresent) and the
// revision, if any: what ensureIstio runs.
func istioInstallArgs(cfg Config, kubeconfig string) []string {
	args := IstioctlInstallArgs(cfg.IstioctlPath, kubeconfig, cfg.IstioProfile, cfg.Timeouts.IstioInstall)
	args = append(args, "--set", "hub="+cfg.IstioHub, "--set", "tag="+cfg.IstioVersion)
	if cfg.Revision != "" {
		args = append(args, "--set", "revision="+cfg.Revision)
	}
	return args
}

var versionRe = regexp.MustCompile(`\b(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)\b`)

// ParseIstioctlVersion finds the version in `istioctl version --remote=false`
// output ("1.28.0", or "client version: 1.28.0").
func ParseIstioctlVersion(out string) (string, error) {
	m := versionRe.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("no version in istioctl output %q", firstLines(strings.TrimSpace(out), 3))
	}
	return m[1], nil
}

// IstiodVersionFromImage reads the Istio version from istiod's image
// (docker.io/istio/pilot:1.28.0, or :1.28.0-distroless).
func IstiodVersionFromImage(image string) string {
	if j := strings.Index(image, "@"); j >= 0 {
		image = image[:j] // drop the digest
	}
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return ""
	}
	return strings.TrimSuffix(image[i+1:], "-distroless")
}

// CheckIstioctl runs istioctl and checks it is the expected release.
func CheckIstioctl(ctx context.Context, istioctl, want string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	argv := IstioctlVersionArgs(istioctl)
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("run %q: %v: %s: point %s at istioctl %s (make istioctl downloads it)",
			strings.Join(argv, " "), err, firstLines(strings.TrimSpace(string(out)), 3), EnvIstioctl, want)
	}
	got, err := ParseIstioctlVersion(string(out))
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s is istioctl %s, want %s: set %s to istioctl %s or %s=%s", istioctl, got, want, EnvIstioctl, want, EnvIstioVersion, got)
	}
	return nil
}

// installedIstio returns the version of the running istiod of revision
// (istiod, or istiod-<revision>), or "" when there is none.
func installedIstio(ctx context.Context, kube kubernetes.Interface, revision string) (string, error) {
	name := IstiodDeploymentName(revision)
	d, err := kube.AppsV1().Deployments(IstioNamespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look for %s: %w", name, err)
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "discovery" {
			return IstiodVersionFromImage(c.Image), nil
		}
	}
	return "unknown", nil
}

// ensureIstio installs Istio unless the expected version already runs,
// then waits for istiod to be ready. It refuses to replace another
// version: on an existing cluster that would upgrade someone's mesh.
// With cfg.Revision only istiod-<Revision> is looked at: after a canary
// upgrade the old default istiod may still run another version.
func ensureIstio(ctx context.Context, cfg Config, kube kubernetes.Interface, kubeconfig string, log io.Writer) error {
	istiod := IstiodDeploymentName(cfg.Revision)
	have, err := installedIstio(ctx, kube, cfg.Revision)
	if err != nil {
		return err
	}
	switch {
	case have == cfg.IstioVersion:
		fmt.Fprintf(log, "kind: Istio %s already installed (%s/%s)\n", have, IstioNamespace, istiod)
	case have != "":
		hint := ""
		if cfg.Revision != "" {
			hint = fmt.Sprintf(", or another %s", EnvIstioRevision)
		}
		return fmt.Errorf("the cluster runs Istio %s (%s/%s), want %s: set %s=%s to test that version%s, or use a fresh cluster",
			have, IstioNamespace, istiod, cfg.IstioVersion, EnvIstioVersion, have, hint)
	default:
		if err := CheckIstioctl(ctx, cfg.IstioctlPath, cfg.IstioVersion); err != nil {
			return err
		}
		fmt.Fprintf(log, "kind: installing Istio %s (profile %s, images from %s%s)\n", cfg.IstioVersion, cfg.IstioProfile, cfg.IstioHub, revisionNote(cfg.Revision))
		ictx, cancel := context.WithTimeout(ctx, cfg.Timeouts.IstioInstall+time.Minute)
		defer cancel()
		if err := RunStreaming(ictx, istioInstallArgs(cfg, kubeconfig), nil, "istioctl:", log); err != nil {
			return fmt.Errorf("install Istio %s: %w", cfg.IstioVersion, err)
		}
	}
	d, err := kube.AppsV1().Deployments(IstioNamespace).Get(ctx, istiod, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("%s after install: %w", istiod, err)
	}
	want := 1
	if d.Spec.Replicas != nil {
		want = int(*d.Spec.Replicas)
	}
	return Poll(ctx, istiod+" ready", cfg.Timeouts.Poll, cfg.Timeouts.IstioInstall, DeploymentReady(kube, IstioNamespace, istiod, want))
}

// RunStreaming runs argv (never through a shell) with env (nil: this
// process's environment), copying each output line to log behind prefix as
// it comes. On cancellation the command gets an interrupt first, so make,
// ginkgo and istioctl can clean up, and is killed 10 s later. A failure's
// error wraps the command's and carries its last output lines.
func RunStreaming(ctx context.Context, argv, env []string, prefix string, log io.Writer) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.WaitDelay = 10 * time.Second
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	tail := &lineTail{max: 20}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			fmt.Fprintf(log, "%s %s\n", prefix, sc.Text())
			tail.add(sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	_ = pw.Close()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("%s: %w; last output:\n%s", strings.Join(argv, " "), err, tail.String())
	}
	return nil
}

type lineTail struct {
	max   int
	lines []string
}

func (t *lineTail) add(s string) {
	t.lines = append(t.lines, s)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *lineTail) String() string { return strings.Join(t.lines, "\n") }
