package kind

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/localitylb/locality-e2e/framework/mesh"
)

// ownWorkload reports whether the workload pods run cmd/workload (faults
// by exec, 5xx included) rather than istio's helloworld sample.
func (m *kindMesh) ownWorkload() bool { return !IsHelloworldImage(m.topology().Image) }

// SetFault gives the first n pods (by name; n < 0: all) of a workload a
// fault. With cmd/workload (the default image) it runs WorkloadFaultArgs in
// each pod's workload container: Fail5xx answers 503, RefuseConnections
// closes the serving port while /healthz keeps the pod Ready, NoFault
// heals in place. With the helloworld image, RefuseConnections drains the
// inbound listeners of the pods' sidecars (DrainArgs), NoFault heals the
// faulted pods among the first n by deleting them and waiting for their
// replacements, and Fail5xx is not supported.
func (m *kindMesh) SetFault(ctx context.Context, workload string, n int, f mesh.Fault) error {
	if _, err := m.topology().Workload(workload); err != nil {
		return err
	}
	own := m.ownWorkload()
	switch f {
	case mesh.Fail5xx, mesh.Fail500:
		if !own {
			return fmt.Errorf("SetFault %s %q: %w: the helloworld image cannot be made to answer 5xx; check Capabilities().Fault5xx (use the default workload image, %s unset, or RefuseConnections)",
				workload, f, ErrNotSupported, EnvWorkloadImage)
		}
	case mesh.RefuseConnections, mesh.NoFault:
	default:
		return fmt.Errorf("SetFault %s: unknown fault %q", workload, f)
	}
	pods, err := m.workloadPods(ctx, workload)
	if err != nil {
		return err
	}
	if n < 0 {
		n = len(pods)
	}
	if n > len(pods) {
		return fmt.Errorf("SetFault %s: %d pods asked, the workload has %d", workload, n, len(pods))
	}
	names := make([]string, n)
	for i, p := range pods[:n] {
		names[i] = p.Name
	}
	if own {
		return m.execFaults(ctx, names, f)
	}
	return m.helloworldFaults(ctx, workload, names, f)
}

// execFaults runs `workload fault ...` / `workload heal` in each pod.
func (m *kindMesh) execFaults(ctx context.Context, pods []string, f mesh.Fault) error {
	argv, err := WorkloadFaultArgs(f)
	if err != nil {
		return err
	}
	for _, p := range pods {
		stdout, stderr, err := m.b.execIn(ctx, m.ns, p, WorkloadContainer, argv)
		if err != nil {
			return fmt.Errorf("SetFault %q on %s: %w: %s", f, p, err, firstLines(strings.TrimSpace(stderr+"\n"+stdout), 3))
		}
		m.mu.Lock()
		if f == mesh.NoFault {
			delete(m.faults, p)
		} else {
			m.faults[p] = f
		}
		m.mu.Unlock()
	}
	return nil
}

// helloworldFaults is SetFault for the helloworld image.
func (m *kindMesh) helloworldFaults(ctx context.Context, workload string, pods []string, f mesh.Fault) error {
	if f == mesh.RefuseConnections {
		for _, p := range pods {
			if _, stderr, err := m.b.execIn(ctx, m.ns, p, SidecarContainer, DrainArgs); err != nil {
				return fmt.Errorf("drain listeners of %s: %w: %s", p, err, strings.TrimSpace(stderr))
			}
			m.mu.Lock()
			m.faults[p] = f
			m.mu.Unlock()
		}
		return nil
	}
	healed := 0
	for _, p := range pods {
		m.mu.Lock()
		_, faulty := m.faults[p]
		m.mu.Unlock()
		if !faulty {
			continue
		}
		if err := m.b.kube.CoreV1().Pods(m.ns).Delete(ctx, p, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("heal %s: delete pod: %w", p, err)
		}
		m.mu.Lock()
		delete(m.faults, p)
		m.mu.Unlock()
		healed++
	}
	if healed == 0 {
		return nil
	}
	w, _ := m.topology().Workload(workload)
	return m.waitWorkload(ctx, workload, w.Replicas, m.b.cfg.Timeouts.Scale)
}
