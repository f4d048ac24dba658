package embedded

import (
	"context"
	"fmt"
	"slices"
)

// RestartWorkload replaces the workload's pods one by one, as a
// Deployment's rolling update with maxSurge 1 and maxUnavailable 0 does
// (what `kubectl rollout restart` triggers): for each old pod, by name, a
// new pod is created and ready, istiod pushes it and every client sidecar
// holds it; then the old pod is deleted: it leaves the EndpointSlice and
// is told to stop at the same time, as on Kubernetes, and serves for its
// drain period (Options.Drain) while the push reaches every sidecar. The
// mesh lock is held only while objects change, not during the waits, so
// Send runs meanwhile.
func (m *Mesh) RestartWorkload(ctx context.Context, workload string) error {
	m.mu.RLock()
	if err := m.checkOpen(); err != nil {
		m.mu.RUnlock()
		return err
	}
	if _, err := m.topo.Workload(workload); err != nil {
		m.mu.RUnlock()
		return fmt.Errorf("RestartWorkload: %w", err)
	}
	old := slices.Clone(m.pods[workload])
	m.mu.RUnlock()
	slices.SortFunc(old, func(a, b *pod) int {
		switch {
		case a.obj.Name < b.obj.Name:
			return -1
		case a.obj.Name > b.obj.Name:
			return 1
		}
		return 0
	})
	progress(m.log, "embedded: restarting %s (%d pods, one by one)", workload, len(old))
	for i, p := range old {
		// Surge: one new pod, ready, pushed to every sidecar.
		if err := m.restartStep(ctx, func(kctx context.Context) error {
			if err := m.addPods(kctx, workload, 1); err != nil {
				return err
			}
			return m.updateEndpointSlice(kctx, workload)
		}); err != nil {
			return fmt.Errorf("RestartWorkload %s: start pod %d of %d: %w", workload, i+1, len(old), err)
		}
		// Then the old pod is deleted: it leaves the endpoints and is told
		// to stop at the same time, as on Kubernetes, and serves for its
		// drain period (retire.go) while the push reaches every sidecar.
		if err := m.restartStep(ctx, func(kctx context.Context) error {
			m.pods[workload] = slices.DeleteFunc(slices.Clone(m.pods[workload]), func(q *pod) bool { return q == p })
			m.retiring.retire([]*pod{p}, m.opts.drainPeriod())
			if err := m.updateEndpointSlice(kctx, workload); err != nil {
				return err
			}
			return m.deletePods(kctx, []*pod{p})
		}); err != nil {
			return fmt.Errorf("RestartWorkload %s: delete %s: %w", workload, p.obj.Name, err)
		}
	}
	return nil
}

// restartStep applies change under the mesh lock, then, holding only the
// read lock (Send may run), waits until istiod has the endpoints and every
// client sidecar holds istiod's answer.
func (m *Mesh) restartStep(ctx context.Context, change func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if err := m.checkOpen(); err != nil {
		m.mu.Unlock()
		return err
	}
	before := m.fake.Discovery.InboundUpdates.Load()
	kctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	err := change(kctx)
	cancel()
	m.mu.Unlock()
	if err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.waitEndpoints(ctx, before+1); err != nil {
		return err
	}
	return m.converge(ctx)
}
