package kind

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// Probe checks one condition once: ok when it holds, else status says what
// is still missing (it ends up in the timeout error). An error is treated
// as transient (an API hiccup must not end a five-minute wait) and
// reported only if the wait times out.
type Probe func(ctx context.Context) (ok bool, status string, err error)

// Poll runs p every interval until it holds or timeout passes. The timeout
// error names what was awaited, the last status and the last error.
func Poll(ctx context.Context, what string, interval, timeout time.Duration, p Probe) error {
	var lastStatus string
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		ok, status, err := p(ctx)
		if err != nil {
			lastErr = err
			return false, nil
		}
		lastStatus, lastErr = status, nil
		return ok, nil
	})
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf("timed out after %v waiting for %s", timeout, what)
	if ctx.Err() != nil {
		msg = fmt.Sprintf("gave up waiting for %s: %v", what, ctx.Err())
	}
	if lastStatus != "" {
		msg += ": " + lastStatus
	}
	if lastErr != nil {
		msg += fmt.Sprintf(" (last error: %v)", lastErr)
	}
	return fmt.Errorf("%s", msg)
}

// DeploymentReady holds when the Deployment's controller has seen its
// latest spec and exactly want replicas exist, are updated and are ready
// (status.readyReplicas; "Available" is not "all ready"). For want == 0 it
// also waits until no pod of the Deployment is left, terminating or not.
func DeploymentReady(kube kubernetes.Interface, ns, name string, want int) Probe {
	return func(ctx context.Context) (bool, string, error) {
		d, err := kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		s := d.Status
		status := fmt.Sprintf("deployment %s/%s: want %d ready, have ready %d, updated %d, total %d (generation %d observed %d)",
			ns, name, want, s.ReadyReplicas, s.UpdatedReplicas, s.Replicas, d.Generation, s.ObservedGeneration)
		if d.Spec.Replicas != nil && int(*d.Spec.Replicas) != want {
			return false, status + fmt.Sprintf("; spec.replicas is %d", *d.Spec.Replicas), nil
		}
		if s.ObservedGeneration < d.Generation || int(s.ReadyReplicas) != want ||
			int(s.UpdatedReplicas) != want || int(s.Replicas) != want {
			return false, status, nil
		}
		if want == 0 {
			sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if err != nil {
				return false, "", err
			}
			pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
			if err != nil {
				return false, "", err
			}
			if n := len(pods.Items); n > 0 {
				return false, fmt.Sprintf("deployment %s/%s scaled to 0 but %d pods are left (%s)", ns, name, n, podNames(pods.Items)), nil
			}
		}
		return true, status, nil
	}
}

// SidecarContainer is the name of Istio's injected proxy container.
const SidecarContainer = "istio-proxy"

// PodReady holds when the pod is Ready and, if sidecar is set, its
// istio-proxy container (a regular container, or a native sidecar init
// container) is present and ready.
func PodReady(kube kubernetes.Interface, ns, name string, sidecar bool) Probe {
	return func(ctx context.Context) (bool, string, error) {
		p, err := kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		ok, status := podReadiness(p, sidecar)
		return ok, status, nil
	}
}

// PodsReady holds when every pod matching the selector is ready (with its
// sidecar) and there are exactly want of them.
func PodsReady(kube kubernetes.Interface, ns string, selector labels.Selector, want int, sidecar bool) Probe {
	return func(ctx context.Context) (bool, string, error) {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
		if err != nil {
			return false, "", err
		}
		var waiting []string
		for i := range pods.Items {
			if ok, status := podReadiness(&pods.Items[i], sidecar); !ok {
				waiting = append(waiting, status)
			}
		}
		if len(pods.Items) != want || len(waiting) > 0 {
			return false, fmt.Sprintf("pods %s in %s: want %d ready, have %d pods; %s", selector, ns, want, len(pods.Items), strings.Join(waiting, "; ")), nil
		}
		return true, "", nil
	}
}

// podReadiness says whether a pod is ready and, if not, why.
func podReadiness(p *corev1.Pod, sidecar bool) (bool, string) {
	if p.DeletionTimestamp != nil {
		return false, fmt.Sprintf("pod %s is terminating", p.Name)
	}
	ready := false
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	if !ready {
		return false, fmt.Sprintf("pod %s is %s, not Ready%s", p.Name, p.Status.Phase, waitingReasons(p))
	}
	if sidecar {
		found, proxyReady := false, false
		for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			if cs.Name == SidecarContainer {
				found, proxyReady = true, cs.Ready
			}
		}
		if !found {
			return false, fmt.Sprintf("pod %s has no %s container: is its namespace labelled for injection (istio-injection=enabled, or istio.io/rev=<revision>) and istiod running?", p.Name, SidecarContainer)
		}
		if !proxyReady {
			return false, fmt.Sprintf("pod %s: %s is not ready", p.Name, SidecarContainer)
		}
	}
	return true, ""
}

// waitingReasons lists containers stuck waiting (ImagePullBackOff, ...).
func waitingReasons(p *corev1.Pod) string {
	var out []string
	for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			out = append(out, cs.Name+": "+w.Reason)
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
			out = append(out, "unschedulable: "+c.Message)
		}
	}
	if len(out) == 0 {
		return ""
	}
	sort.Strings(out)
	return " (" + strings.Join(out, ", ") + ")"
}

func podNames(pods []corev1.Pod) string {
	names := make([]string, 0, len(pods))
	for _, p := range pods {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// NodesReady holds when at least want nodes exist and every one has the
// condition Ready=True; the status names each node that is not, with its
// conditions that are not as they should be (Ready not True, the pressure
// and NetworkUnavailable conditions not False) and their messages.
//
// kind's CreateWithWaitForReady is not this: kind v0.33.0
// (pkg/cluster/internal/create/actions/waitforready/waitforready.go) waits
// only for the control-plane nodes (--selector=node-role.kubernetes.io/control-plane)
// and on timeout logs "WARNING: Timed out waiting for Ready" and returns
// nil, so workers may still be NotReady (no CNI yet) when Create returns.
func NodesReady(kube kubernetes.Interface, want int) Probe {
	return func(ctx context.Context) (bool, string, error) {
		nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, "", err
		}
		var bad []string
		for _, n := range nodes.Items {
			if s := nodeNotReady(n); s != "" {
				bad = append(bad, s)
			}
		}
		sort.Strings(bad)
		status := fmt.Sprintf("%d of %d nodes Ready", len(nodes.Items)-len(bad), max(want, len(nodes.Items)))
		if len(nodes.Items) < want {
			status += fmt.Sprintf(", %d nodes missing", want-len(nodes.Items))
		}
		if len(bad) > 0 {
			status += "; " + strings.Join(bad, "; ")
		}
		return len(bad) == 0 && len(nodes.Items) >= want, status, nil
	}
}

// nodeNotReady describes why a node is not Ready, "" if it is.
func nodeNotReady(n corev1.Node) string {
	ready := false
	var conds []string
	for _, c := range n.Status.Conditions {
		good := corev1.ConditionFalse
		if c.Type == corev1.NodeReady {
			good = corev1.ConditionTrue
			ready = c.Status == corev1.ConditionTrue
		}
		if c.Status != good {
			s := fmt.Sprintf("%s=%s", c.Type, c.Status)
			if c.Reason != "" || c.Message != "" {
				s += fmt.Sprintf(" (%s: %s)", c.Reason, c.Message)
			}
			conds = append(conds, s)
		}
	}
	if ready {
		return ""
	}
	if len(conds) == 0 {
		conds = []string{"no Ready condition yet"}
	}
	return fmt.Sprintf("node %s: %s", n.Name, strings.Join(conds, ", "))
}
