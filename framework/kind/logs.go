package kind

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
)

var _ mesh.LogCollector = (*kindMesh)(nil)

// CollectLogs saves, for a failed spec, into dir/<namespace>-<time>/:
//   - the logs of every container (init containers included: a native
//     istio-proxy sidecar is one) of every pod in the scenario's namespace,
//     <pod>.<container>.log (the istio-proxy access logs show each request
//     with its response flags: UH, UF, URX);
//   - each client's endpoint tables, Envoy and istiod views, endpoints.txt.
//
// The nodes' logs are not exported here: kind's CollectLogs copies every
// node's journal, containerd and kubelet logs and pod logs (30–90 s and up
// to hundreds of MB on ten nodes), and a failing suite would do it once per
// failed spec. CollectLogs asks for them instead (wantNodeLogs), and
// Teardown exports them once, at the end of the suite. It returns the
// folder.
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
	m.b.wantNodeLogs(m.ns)
	err := savePodLogs(ctx, m.b.kube, m.ns, out)
	if terr := m.saveEndpointTables(ctx, filepath.Join(out, "endpoints.txt")); err == nil {
		err = terr
	}
	return out, err
}

// saveEndpointTables writes every client's endpoint table in both views
// (what the sidecar holds, what istiod computed) to file; a view that
// cannot be read is written as its error.
func (m *kindMesh) saveEndpointTables(ctx context.Context, file string) error {
	var b strings.Builder
	for _, c := range m.topology().Clients {
		for _, v := range []endpoints.View{endpoints.Envoy, endpoints.Raw} {
			t, err := m.Endpoints(ctx, c.Name, v)
			if err != nil {
				fmt.Fprintf(&b, "endpoints of %s (%s view): %v\n\n", c.Name, v, err)
				continue
			}
			fmt.Fprintf(&b, "endpoints of %s (%s view):\n%s\n\n", c.Name, v, t)
		}
	}
	return os.WriteFile(file, []byte(b.String()), 0o644)
}

// nodeLogsMarker is the file in logsDir that asks Teardown to export the
// node logs of kind cluster name. A file, not a field: with `ginkgo -p`
// the spec that failed may run in another process than the one that tears
// the cluster down (process 1, SynchronizedAfterSuite).
func nodeLogsMarker(logsDir, name string) string {
	return filepath.Join(logsDir, ".node-logs-wanted-"+name)
}

// wantNodeLogs records that something failed in namespace ns on this
// backend's kind cluster: Teardown exports the nodes' logs once.
func (b *backend) wantNodeLogs(ns string) {
	if b.cl == nil || b.cfg.LogsDir == "" {
		return
	}
	if err := os.MkdirAll(b.cfg.LogsDir, 0o755); err == nil {
		f, err := os.OpenFile(nodeLogsMarker(b.cfg.LogsDir, b.cl.name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, ns)
			f.Close()
			return
		}
	}
	fmt.Fprintf(b.log, "kind: cannot record the failure in %s for the node logs at the end of the suite\n", ns)
}

// clearNodeLogsRequest removes a request for node logs (wantNodeLogs).
func clearNodeLogsRequest(logsDir, name string) {
	if logsDir != "" {
		_ = os.Remove(nodeLogsMarker(logsDir, name))
	}
}

// exportNodeLogsIfWanted exports the node logs of cluster c into logsDir
// when a failure asked for them (nodeLogsMarker), once, and removes the
// request. Teardown and DeleteCluster call it before deleting.
func exportNodeLogsIfWanted(c *cluster, logsDir string, log io.Writer) {
	if c == nil || logsDir == "" {
		return
	}
	marker := nodeLogsMarker(logsDir, c.name)
	namespaces, err := os.ReadFile(marker)
	if err != nil {
		return
	}
	fmt.Fprintf(log, "kind: exporting the node logs of %q once for the failures in: %s\n", c.name, strings.Join(strings.Fields(string(namespaces)), ", "))
	c.collectLogs(logsDir, log)
	clearNodeLogsRequest(logsDir, c.name)
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
