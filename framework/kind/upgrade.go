package kind

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// What an Istio upgrade touches (cmd/upgrade-check).
const (
	// LabelRevision selects the control plane of a revision for a
	// namespace's sidecar injection. istio-injection=enabled wins over it,
	// so a namespace moved to a revision loses that label.
	LabelRevision = "istio.io/rev"
	// RestartedAtAnnotation is what `kubectl rollout restart` sets on a
	// Deployment's pod template to replace its pods.
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
	// sidecarInjectAnnotation "false" opts a pod out of injection.
	sidecarInjectAnnotation = "sidecar.istio.io/inject"
)

// CanaryRevision is the revision a canary upgrade to version installs:
// "canary-" and the version with dots as dashes (1.29.0 → canary-1-29-0),
// a valid revision (DNS-1123 label) for every release version.
func CanaryRevision(version string) string {
	return "canary-" + strings.ReplaceAll(version, ".", "-")
}

// IstiodDeploymentName is istiod's Deployment in istio-system for a
// revision: istiod for the default one (""), istiod-<revision> otherwise.
func IstiodDeploymentName(revision string) string {
	if revision == "" {
		return IstiodName
	}
	return IstiodName + "-" + revision
}

// InjectionLabels are the labels that make a namespace's pods get the
// sidecar of revision: istio-injection=enabled for the default revision,
// istio.io/rev=<revision> otherwise. The map is new on every call.
func InjectionLabels(revision string) map[string]string {
	if revision == "" {
		return map[string]string{injectionLabel: injectionEnable}
	}
	return map[string]string{LabelRevision: revision}
}

func revisionNote(revision string) string {
	if revision == "" {
		return ""
	}
	return ", revision " + revision
}

// KubeconfigPath is where the kind backend writes the kubeconfig of the
// kind cluster name ($TMPDIR/locality-e2e-<name>.kubeconfig).
func KubeconfigPath(name string) string { return kubeconfigPath(name) }

// ValidIstioVersion accepts what Config.Validate accepts as IstioVersion:
// MAJOR.MINOR.PATCH with an optional -alpha/-beta/-rc suffix (see
// istioVersionGrammar); nothing that could act as a path (../x).
func ValidIstioVersion(s string) bool { return validIstioVersion(s) }

// IstioctlUpgradeArgs is the argv of an in-place upgrade with the new
// release's istioctl. In current Istio `istioctl upgrade` is an alias of
// `istioctl install` (operator/cmd/mesh/upgrade.go: same flags, same
// code) that does not keep the settings of the running installation, so
// it gets exactly the settings IstioctlInstallArgs installs with;
// without them it would switch a minimal installation to the default
// profile and drop the access log.
func IstioctlUpgradeArgs(istioctl, kubeconfig, profile string, readiness time.Duration) []string {
	args := IstioctlInstallArgs(istioctl, kubeconfig, profile, readiness)
	args[1] = "upgrade"
	return args
}

// IstioctlCanaryInstallArgs is the argv that installs a second control
// plane, istiod-<revision>, next to the running one (a canary upgrade),
// with the settings of IstioctlInstallArgs.
func IstioctlCanaryInstallArgs(istioctl, kubeconfig, profile, revision string, readiness time.Duration) []string {
	args := []string{istioctl, "install", "-y",
		"--set", "revision=" + revision,
		"--set", "profile=" + profile,
		"--set", "meshConfig.accessLogFile=/dev/stdout",
		"--readiness-timeout", readiness.String(),
	}
	if kubeconfig != "" {
		args = append(args, "--kubeconfig", kubeconfig)
	}
	return args
}

// RelabelNamespaces moves every namespace labelled istio-injection=enabled
// to revision: the label is removed and istio.io/rev=<revision> set (one
// merge patch each). Running pods keep their sidecar until restarted
// (RestartDeployments). It returns the namespaces changed, sorted.
func RelabelNamespaces(ctx context.Context, kube kubernetes.Interface, revision string, log io.Writer) ([]string, error) {
	if log == nil {
		log = io.Discard
	}
	if revision == "" {
		return nil, fmt.Errorf("relabel namespaces: empty revision")
	}
	list, err := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: injectionLabel + "=" + injectionEnable})
	if err != nil {
		return nil, fmt.Errorf("list namespaces labelled %s=%s: %w", injectionLabel, injectionEnable, err)
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{
		injectionLabel: nil, LabelRevision: revision,
	}}})
	var done []string
	for _, ns := range list.Items {
		if _, err := kube.CoreV1().Namespaces().Patch(ctx, ns.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return done, fmt.Errorf("relabel namespace %s: %w", ns.Name, err)
		}
		fmt.Fprintf(log, "upgrade: namespace %s: %s=%s replaces %s=%s\n", ns.Name, LabelRevision, revision, injectionLabel, injectionEnable)
		done = append(done, ns.Name)
	}
	sort.Strings(done)
	return done, nil
}

// RestartDeployments restarts every Deployment of the namespaces as
// `kubectl rollout restart` does: the pod template gets the annotation
// kubectl.kubernetes.io/restartedAt=<at, RFC 3339>, so the Deployment
// replaces its pods and the new ones get the current sidecar. It returns
// the Deployments restarted as namespace/name, sorted. Bare pods are
// not touched.
func RestartDeployments(ctx context.Context, kube kubernetes.Interface, namespaces []string, at time.Time, log io.Writer) ([]string, error) {
	if log == nil {
		log = io.Discard
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{RestartedAtAnnotation: at.Format(time.RFC3339)}},
	}}})
	var done []string
	for _, ns := range namespaces {
		list, err := kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return done, fmt.Errorf("list deployments of %s: %w", ns, err)
		}
		for _, d := range list.Items {
			if _, err := kube.AppsV1().Deployments(ns).Patch(ctx, d.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
				return done, fmt.Errorf("restart deployment %s/%s: %w", ns, d.Name, err)
			}
			fmt.Fprintf(log, "upgrade: restarted deployment %s/%s\n", ns, d.Name)
			done = append(done, ns+"/"+d.Name)
		}
	}
	sort.Strings(done)
	return done, nil
}

// InjectedNamespaces lists, sorted, the namespaces whose new pods get the
// sidecar of revision: labelled istio-injection=enabled for the default
// revision (""), istio.io/rev=<revision> without istio-injection (which
// would win) otherwise.
func InjectedNamespaces(ctx context.Context, kube kubernetes.Interface, revision string) ([]string, error) {
	sel := injectionLabel + "=" + injectionEnable
	if revision != "" {
		sel = LabelRevision + "=" + revision + ",!" + injectionLabel
	}
	list, err := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list namespaces %s: %w", sel, err)
	}
	out := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		out = append(out, ns.Name)
	}
	sort.Strings(out)
	return out, nil
}

// ProxyVersion is the Istio version of a pod's istio-proxy (a container,
// or a native sidecar init container), read from its image tag
// (docker.io/istio/proxyv2:1.29.0[-distroless]); "" without a sidecar.
func ProxyVersion(p *corev1.Pod) string {
	for _, c := range append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
		if c.Name == SidecarContainer {
			if v := IstiodVersionFromImage(c.Image); v != "" {
				return v
			}
			return "unknown"
		}
	}
	return ""
}

// IstiodRuns holds when istio-system/istiod[-<revision>] runs version
// (its discovery image) and all its replicas are ready and updated.
func IstiodRuns(kube kubernetes.Interface, revision, version string) Probe {
	name := IstiodDeploymentName(revision)
	return func(ctx context.Context) (bool, string, error) {
		d, err := kube.AppsV1().Deployments(IstioNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		have := "unknown"
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name == IstiodContainer {
				have = IstiodVersionFromImage(c.Image)
			}
		}
		if have != version {
			return false, fmt.Sprintf("%s/%s runs Istio %s, want %s", IstioNamespace, name, have, version), nil
		}
		want := 1
		if d.Spec.Replicas != nil {
			want = int(*d.Spec.Replicas)
		}
		ok, status, err := DeploymentReady(kube, IstioNamespace, name, want)(ctx)
		if err != nil || !ok {
			return false, status, err
		}
		return true, fmt.Sprintf("%s/%s runs Istio %s, %d ready", IstioNamespace, name, version, want), nil
	}
}

// SidecarsRun holds when, in every namespace injected by revision
// (InjectedNamespaces), each pod managed by a controller is ready with an
// istio-proxy of version. Pods that finished, opted out of injection
// (sidecar.istio.io/inject=false) or have no owner (a bare pod keeps its
// proxy until someone recreates it) are skipped and named in the status.
func SidecarsRun(kube kubernetes.Interface, revision, version string) Probe {
	return func(ctx context.Context) (bool, string, error) {
		nss, err := InjectedNamespaces(ctx, kube, revision)
		if err != nil {
			return false, "", err
		}
		var upgraded, total int
		var waiting, skipped []string
		for _, ns := range nss {
			pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, "", fmt.Errorf("list pods of %s: %w", ns, err)
			}
			for i := range pods.Items {
				p := &pods.Items[i]
				id := ns + "/" + p.Name
				switch {
				case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
					continue
				case p.Annotations[sidecarInjectAnnotation] == "false":
					continue
				case len(p.OwnerReferences) == 0:
					skipped = append(skipped, id)
					continue
				}
				total++
				v := ProxyVersion(p)
				switch ok, why := podReadiness(p, true); {
				case p.DeletionTimestamp != nil:
					waiting = append(waiting, fmt.Sprintf("%s terminating (proxy %s)", id, orDefault(v, "none")))
				case v == "":
					waiting = append(waiting, id+" has no "+SidecarContainer)
				case v != version:
					waiting = append(waiting, fmt.Sprintf("%s runs proxy %s", id, v))
				case !ok:
					waiting = append(waiting, ns+": "+why)
				default:
					upgraded++
				}
			}
		}
		status := fmt.Sprintf("%d/%d pods in %d namespaces run proxy %s", upgraded, total, len(nss), version)
		if len(waiting) > 0 {
			sort.Strings(waiting)
			status += "; waiting: " + strings.Join(waiting, ", ")
		}
		if len(skipped) > 0 {
			sort.Strings(skipped)
			status += "; skipped bare pods (recreate them to upgrade): " + strings.Join(skipped, ", ")
		}
		return len(waiting) == 0, status, nil
	}
}

// UpgradeWait is what WaitForUpgrade waits for.
type UpgradeWait struct {
	Revision string        // "" for an in-place upgrade
	Version  string        // the release upgraded to
	Poll     time.Duration // interval of the polls
	Timeout  time.Duration // bound of each of the two waits
}

// WaitForUpgrade waits until istiod of w.Revision runs w.Version and is
// ready, then until every sidecar of the namespaces it injects runs
// w.Version (SidecarsRun). Each new status is written to log as a
// progress line; a timeout error names what was still missing.
func WaitForUpgrade(ctx context.Context, kube kubernetes.Interface, w UpgradeWait, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	if w.Poll <= 0 || w.Timeout <= 0 {
		return fmt.Errorf("wait for upgrade: poll %v and timeout %v must be positive", w.Poll, w.Timeout)
	}
	istiod := IstiodDeploymentName(w.Revision)
	if err := Poll(ctx, istiod+" "+w.Version+" ready", w.Poll, w.Timeout, progress(log, IstiodRuns(kube, w.Revision, w.Version))); err != nil {
		return err
	}
	return Poll(ctx, "sidecars running "+w.Version, w.Poll, w.Timeout, progress(log, SidecarsRun(kube, w.Revision, w.Version)))
}

// progress writes p's status to log whenever it changes.
func progress(log io.Writer, p Probe) Probe {
	last := ""
	return func(ctx context.Context) (bool, string, error) {
		ok, status, err := p(ctx)
		if err == nil && status != last {
			last = status
			mark := "waiting"
			if ok {
				mark = "ok"
			}
			fmt.Fprintf(log, "upgrade: %s: %s\n", mark, status)
		}
		return ok, status, err
	}
}
