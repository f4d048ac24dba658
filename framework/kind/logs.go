package kind

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/localitylb/locality-e2e/framework/mesh"
)

var _ mesh.LogCollector = (*kindMesh)(nil)

// CollectLogs saves, for a failed spec, the logs of every container (init
// containers included: a native istio-proxy sidecar is one) of
// every pod in the scenario's namespace (the istio-proxy access logs show
// each request with its response flags: UH, UF, URX) into
// dir/<namespace>-<time>/<pod>.<container>.log, and, on a kind cluster,
// the nodes' logs beside them. It returns the folder.
func (m *kindMesh) CollectLogs(ctx context.Context, dir string) (string, error) {
	if dir == "" {
		dir = m.b.cfg.LogsDir
	}
	if dir == "" {
		return "", fmt.Errorf("no logs folder: set LOCALITY_E2E_LOGS_DIR")
	}
	out := filepath.Join(dir, m.ns+"-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	if err := savePodLogs(ctx, m.b.kube, m.ns, out); err != nil {
		return out, err
	}
	m.b.cl.collectLogs(out, m.b.log)
	return out, nil
}

// podContainers are the names of a pod's init containers and containers.
// From Kubernetes 1.33 Istio injects istio-proxy as a native sidecar, an
// init container with restartPolicy Always (istio
// pkg/kube/inject/webhook.go DetectNativeSidecar: "Native sidecars feature
// graduated to stable in Kubernetes 1.33", checked on every node's kubelet
// version), so Spec.Containers alone would miss the access logs. Init containers come first, as the kubelet starts them.
func podContainers(p corev1.Pod) []corev1.Container {
	return append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...)
}

// savePodLogs writes each container's log of each pod of ns into dir.
func savePodLogs(ctx context.Context, kube kubernetes.Interface, ns, dir string) error {
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list pods of %s: %w", ns, err)
	}
	var first error
	for _, p := range pods.Items {
		for _, c := range podContainers(p) {
			rc, err := kube.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name}).Stream(ctx)
			if err != nil {
				if first == nil {
					first = fmt.Errorf("logs of %s/%s: %w", p.Name, c.Name, err)
				}
				continue
			}
			f, err := os.Create(filepath.Join(dir, p.Name+"."+c.Name+".log"))
			if err == nil {
				_, err = io.Copy(f, rc)
				f.Close()
			}
			rc.Close()
			if err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}
