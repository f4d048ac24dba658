package embedded

// scale.go owns the workload pods after Deploy: scaling, faults, the
// EndpointSlices istiod reads, and listing pods.

import (
	"context"
	"errors"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
)

func (m *Mesh) allPods() []*pod {
	var out []*pod
	for _, w := range m.topo.Workloads {
		out = append(out, m.pods[w.Name]...)
	}
	return out
}

func (m *Mesh) podCount() int { return len(m.allPods()) }

// podChunk is how many pod creations or deletions Scale sends before it
// waits for istiod's pod informer to take them: half the buffer of the
// Kubernetes fake's watch channels (watch.DefaultChanSize, 100 events),
// which panic with "channel full" when a burst of events outruns their
// reader.
const podChunk = 50

// Scale sets the workload's replicas: new pods start serving and join the
// EndpointSlice; removed pods leave the EndpointSlice and are told to stop
// at the same time, as on Kubernetes, and serve for their drain period
// (Options.Drain) meanwhile.
// The topology's total stays within topology.MaxReplicas. A cancelled ctx
// changes nothing; once the pods are changed, the change is completed
// (so the mesh stays consistent) and only the wait for istiod's pushes
// honours ctx.
func (m *Mesh) Scale(ctx context.Context, workload string, replicas int) error {
	if replicas < 0 {
		return fmt.Errorf("Scale %s: replicas is %d: it cannot be negative", workload, replicas)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("Scale %s to %d: %s before any change (nothing was scaled): %w", workload, replicas, cancelWord(err), err)
	}
	before, changed, err := m.scaleLocked(workload, replicas)
	if err != nil || !changed {
		return err
	}
	// istiod pushes the change while traffic flows, as on a cluster: the
	// waits hold only the read lock, so Send runs meanwhile.
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.checkOpen(); err != nil {
		return fmt.Errorf("Scale %s to %d (applied): %w", workload, replicas, err)
	}
	if err := m.waitEndpoints(ctx, before+1); err != nil {
		return fmt.Errorf("Scale %s to %d (applied): %w", workload, replicas, err)
	}
	if err := m.converge(ctx); err != nil {
		return fmt.Errorf("Scale %s to %d (applied): %w", workload, replicas, err)
	}
	return nil
}

// scaleLocked makes Scale's change under the mesh lock and returns
// istiod's inbound update count from before it.
func (m *Mesh) scaleLocked(workload string, replicas int) (before int64, changed bool, _ error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(); err != nil {
		return 0, false, err
	}
	if _, err := m.topo.Workload(workload); err != nil {
		return 0, false, fmt.Errorf("Scale: %w", err)
	}
	cur := m.pods[workload]
	if total := m.podCount() - len(cur) + replicas; total > topology.MaxReplicas {
		return 0, false, fmt.Errorf("Scale %s to %d: the topology would have %d workload pods: at most topology.MaxReplicas (%d) are supported; scale other workloads down first",
			workload, replicas, total, topology.MaxReplicas)
	}
	if err := checkFDBudget(fmt.Sprintf("Scale %s to %d", workload, replicas), replicas-len(cur)); err != nil {
		return 0, false, err
	}
	progress(m.log, "embedded: scaling %s from %d to %d", workload, len(cur), replicas)
	before = m.fake.Discovery.InboundUpdates.Load()
	// The changes themselves are quick calls on the fake client: they run
	// to the end whatever happens to ctx.
	kctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	switch {
	case replicas > len(cur):
		if err := m.addPods(kctx, workload, replicas-len(cur)); err != nil {
			return 0, false, err
		}
		if err := m.updateEndpointSlice(kctx, workload); err != nil {
			return 0, false, err
		}
	case replicas < len(cur):
		// As on Kubernetes, the pods are told to stop (and drain) as they
		// leave the EndpointSlice, not after every sidecar knows.
		stopped := cur[replicas:]
		m.pods[workload] = cur[:replicas:replicas]
		m.retiring.retire(stopped, m.opts.drainPeriod())
		if err := m.updateEndpointSlice(kctx, workload); err != nil {
			return 0, false, err
		}
		if err := m.deletePods(kctx, stopped); err != nil {
			return 0, false, err
		}
	default:
		return 0, false, nil
	}
	for i := range m.topo.Workloads {
		if m.topo.Workloads[i].Name == workload {
			m.topo.Workloads[i].Replicas = replicas
		}
	}
	return before, true, nil
}

// addPods starts n pods of the workload and creates them, podChunk at a
// time. On any error it removes what it added: the mesh is as before.
func (m *Mesh) addPods(ctx context.Context, workload string, n int) error {
	w, _ := m.topo.Workload(workload)
	kc := m.clusters[m.topo.ClusterOfWorkload(w)]
	kube := kc.kube.Kube()
	prev := m.pods[workload]
	var added []*pod
	fail := func(err error) error {
		m.pods[workload] = prev
		if derr := m.deletePods(ctx, added); derr != nil {
			err = errors.Join(err, derr)
		}
		for _, p := range added {
			p.server.stop()
		}
		return err
	}
	for len(added) < n {
		var chunk []string
		for range min(podChunk, n-len(added)) {
			p, err := m.newPod(workload)
			if err != nil {
				return fail(err)
			}
			if _, err := kube.CoreV1().Pods(p.obj.Namespace).Create(ctx, p.obj, metav1.CreateOptions{}); err != nil {
				p.server.stop()
				return fail(fmt.Errorf("create pod %s: %w", p.obj.Name, err))
			}
			added = append(added, p)
			chunk = append(chunk, p.obj.Name)
		}
		if err := m.waitPodInformer(ctx, kc, chunk, true); err != nil {
			return fail(err)
		}
	}
	return nil
}

// deletePods deletes the pods' objects podChunk at a time, each chunk
// seen by istiod's pod informer before the next.
func (m *Mesh) deletePods(ctx context.Context, pods []*pod) error {
	for len(pods) > 0 {
		// A chunk is of one cluster (a workload's pods all are).
		kc := m.clusters[pods[0].cluster]
		kube := kc.kube.Kube()
		k := min(podChunk, len(pods))
		for i, p := range pods[:k] {
			if p.cluster != kc.name {
				k = i
				break
			}
		}
		var chunk []string
		for _, p := range pods[:k] {
			if err := kube.CoreV1().Pods(p.obj.Namespace).Delete(ctx, p.obj.Name, metav1.DeleteOptions{}); err != nil {
				return fmt.Errorf("delete pod %s: %w", p.obj.Name, err)
			}
			chunk = append(chunk, p.obj.Name)
		}
		if err := m.waitPodInformer(ctx, kc, chunk, false); err != nil {
			return err
		}
		pods = pods[k:]
	}
	return nil
}

// waitPodInformer waits until istiod's pod informer holds (present) or no
// longer holds every named pod of the topology's namespace.
func (m *Mesh) waitPodInformer(ctx context.Context, kc *kcluster, names []string, present bool) error {
	return m.poll(ctx, "istiod's pod informer of "+kc.name+" to see the pod changes", func() bool {
		for _, n := range names {
			if (kc.podInformer.Get(n, m.topo.Namespace) != nil) != present {
				return false
			}
		}
		return true
	})
}

// updateEndpointSlice republishes the EndpointSlice of the workload's
// cluster.
func (m *Mesh) updateEndpointSlice(ctx context.Context, workload string) error {
	w, err := m.topo.Workload(workload)
	if err != nil {
		return err
	}
	kc := m.clusters[m.topo.ClusterOfWorkload(w)]
	if _, err := kc.kube.Kube().DiscoveryV1().EndpointSlices(kc.service.Namespace).Update(ctx, m.endpointSliceIn(kc), metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update EndpointSlice in %s: %w", kc.name, err)
	}
	return nil
}

// SetFault breaks (or heals) the first n pods of a workload, by name.
func (m *Mesh) SetFault(ctx context.Context, workload string, n int, f mesh.Fault) error {
	if _, err := f.Workload(); err != nil {
		return fmt.Errorf("SetFault: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("SetFault %s on %s: %s before any change: %w", f, workload, cancelWord(err), err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	if _, err := m.topo.Workload(workload); err != nil {
		return fmt.Errorf("SetFault: %w", err)
	}
	pods := append([]*pod(nil), m.pods[workload]...)
	sort.Slice(pods, func(i, j int) bool { return pods[i].obj.Name < pods[j].obj.Name })
	if n < 0 || n > len(pods) {
		n = len(pods)
	}
	for _, p := range pods[:n] {
		if err := p.server.setFault(f); err != nil {
			return fmt.Errorf("SetFault %s on %s: %w", f, p.obj.Name, err)
		}
	}
	return nil
}

func (m *Mesh) podByIP() map[string]string {
	out := map[string]string{}
	for _, p := range m.allPods() {
		out[p.obj.Status.PodIP] = p.obj.Name
	}
	for _, g := range m.gateways() {
		out[g.ip] = g.pod.Name
	}
	return out
}

// Pods lists workload pods then client pods.
func (m *Mesh) Pods(ctx context.Context) ([]mesh.Pod, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []mesh.Pod
	for _, p := range m.allPods() {
		out = append(out, mesh.Pod{
			Name: p.obj.Name, Workload: p.workload, Locality: p.locality,
			IP: p.obj.Status.PodIP, Ready: true, Fault: p.server.currentFault(),
			Cluster: p.cluster, Network: m.clusters[p.cluster].network,
		})
	}
	names := make([]string, 0, len(m.clients))
	for n := range m.clients {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := m.clients[n]
		out = append(out, mesh.Pod{Name: n, Locality: c.locality.String(), IP: c.obj.Status.PodIP, Ready: true,
			Cluster: c.cluster, Network: m.clusters[c.cluster].network})
	}
	return out, nil
}
