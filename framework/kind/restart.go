package kind

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// RestartPatch is the strategic merge patch RestartWorkload applies to a
// workload's Deployment: what `kubectl rollout restart` sets (the pod
// template annotation kubectl.kubernetes.io/restartedAt), plus a rolling
// update of one pod at a time (maxSurge 1, maxUnavailable 0), so a new pod
// is ready before an old one is deleted whatever the replica count.
func RestartPatch(at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{"spec": map[string]any{
		"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": 1, "maxUnavailable": 0}},
		"template": map[string]any{"metadata": map[string]any{"annotations": map[string]string{RestartedAtAnnotation: at.UTC().Format(time.RFC3339Nano)}}},
	}})
	return b
}

// RestartWorkload restarts the workload's Deployment (RestartPatch) and
// waits, within Timeouts.Scale per pod, until the rollout is complete:
// the controller saw the new template, every replica is updated and
// ready, no old pod is left, and every pod's istio-proxy is ready.
// Faults set on the old pods go with them.
func (m *kindMesh) RestartWorkload(ctx context.Context, workload string) error {
	w, err := m.topology().Workload(workload)
	if err != nil {
		return err
	}
	if _, err := m.b.kube.AppsV1().Deployments(m.ns).Patch(ctx, workload, types.StrategicMergePatchType, RestartPatch(time.Now()), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("restart %s/%s: %w", m.ns, workload, err)
	}
	fmt.Fprintf(m.b.log, "kind: restarting %s/%s (%d pods, one by one)\n", m.ns, workload, w.Replicas)
	timeout := m.b.cfg.Timeouts.Scale * time.Duration(max(1, w.Replicas))
	if err := m.waitWorkload(ctx, workload, w.Replicas, timeout); err != nil {
		m.b.diagnose(ctx, m.ns)
		return fmt.Errorf("restart %s: %w", workload, err)
	}
	m.forgetGoneFaults(ctx)
	return nil
}
