package kind

import (
	"context"
	"fmt"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/localitylb/locality-e2e/framework/virtualservice"
)

// ApplyVirtualService validates the VirtualService as istiod would,
// creates or updates it in the scenario's namespace, and waits (at most
// Timeouts.Sync) until every client sidecar has a new version of the
// Service port's route configuration.
func (m *kindMesh) ApplyVirtualService(ctx context.Context, vs *networkingv1.VirtualService) error {
	if vs == nil {
		return fmt.Errorf("ApplyVirtualService: nil VirtualService")
	}
	v := vs.DeepCopy()
	v.Namespace = m.ns
	warnings, err := virtualservice.Validate("VirtualService "+v.Name, v)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(m.b.log, "kind: %s: warning: %s\n", m.ns, w)
	}
	before := m.versions(ctx, syncRoute)
	api := m.b.istio.NetworkingV1().VirtualServices(m.ns)
	cur, err := api.Get(ctx, v.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		v.ResourceVersion = ""
		if _, err := api.Create(ctx, v, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create VirtualService %s/%s: %w", m.ns, v.Name, err)
		}
	case err != nil:
		return fmt.Errorf("get VirtualService %s/%s: %w", m.ns, v.Name, err)
	default:
		v.ResourceVersion = cur.ResourceVersion
		if _, err := api.Update(ctx, v, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update VirtualService %s/%s: %w", m.ns, v.Name, err)
		}
	}
	// The Service's route configuration (RDS) is what a VirtualService
	// changes; its Cluster, and so the cluster's version_info, stays as it
	// was (syncversion.go).
	m.waitSync(ctx, "VirtualService "+v.Name, syncRoute, before)
	return nil
}

// DeleteVirtualService removes the named VirtualService and waits for the push.
func (m *kindMesh) DeleteVirtualService(ctx context.Context, name string) error {
	before := m.versions(ctx, syncRoute)
	err := m.b.istio.NetworkingV1().VirtualServices(m.ns).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("delete VirtualService %s/%s: no such VirtualService", m.ns, name)
	}
	if err != nil {
		return fmt.Errorf("delete VirtualService %s/%s: %w", m.ns, name, err)
	}
	m.waitSync(ctx, "deletion of VirtualService "+name, syncRoute, before)
	return nil
}

// Wait sleeps d in real time: on a cluster, the sidecars' outlier
// detectors run on the wall clock.
func (m *kindMesh) Wait(ctx context.Context, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("Wait: duration %v is negative", d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("Wait %v: %w", d, ctx.Err())
	case <-t.C:
		return nil
	}
}
