package kind

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// VersionsNote says which Istio versions serve a scenario right now: the
// running istiod pods' (from their image tags), the client's sidecar and
// the workload pods' sidecars, e.g. "istiod 1.31.4×1 1.32.0×1; client
// 1.31.4; workloads 1.31.4×8 1.32.0×1". A list that fails shows as "?".
func VersionsNote(ctx context.Context, kube kubernetes.Interface, ns, client string) string {
	count := func(pods []corev1.Pod, version func(*corev1.Pod) string) string {
		n := map[string]int{}
		for i := range pods {
			p := &pods[i]
			if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
				continue
			}
			n[orDefault(version(p), "none")]++
		}
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s×%d", k, n[k])
		}
		return orDefault(strings.Join(parts, " "), "none")
	}
	istiod := "?"
	if l, err := kube.CoreV1().Pods(IstioNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=istiod"}); err == nil {
		istiod = count(l.Items, func(p *corev1.Pod) string {
			for _, c := range p.Spec.Containers {
				if c.Name == IstiodContainer {
					return IstiodVersionFromImage(c.Image)
				}
			}
			return ""
		})
	}
	cl, wl := "?", "?"
	if l, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
		var clients, workloads []corev1.Pod
		for _, p := range l.Items {
			if p.Name == client {
				clients = append(clients, p)
			} else {
				workloads = append(workloads, p)
			}
		}
		cl, wl = count(clients, ProxyVersion), count(workloads, ProxyVersion)
	}
	return fmt.Sprintf("istiod %s; client %s; workloads %s", istiod, cl, wl)
}
