package kind

// The fake cluster of fakecluster_test.go, exported to this directory's external
// tests (multicluster_fakes_test.go), which import framework/kind/multicluster.

import (
	"bytes"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// FakeCluster is a fakeCluster (fakecluster_test.go) and its backend as a Cluster.
type FakeCluster struct{ f *fakeCluster }

// NewFakeCluster is newFakeCluster, its backend as a Cluster.
func NewFakeCluster(t *testing.T) (*FakeCluster, *Cluster) {
	f, b := newFakeCluster(t)
	return &FakeCluster{f}, &Cluster{b}
}

// InstalledMesh is meshsettings_test.go's installedMesh.
const InstalledMesh = installedMesh

func (f *FakeCluster) Kube() *fake.Clientset                    { return f.f.kube }
func (f *FakeCluster) Log() *bytes.Buffer                       { return &f.f.log }
func (f *FakeCluster) WithIstiod(t *testing.T, revision string) { f.f.withIstiod(t, revision) }
func (f *FakeCluster) ConfigMap(t *testing.T) *corev1.ConfigMap { return f.f.configMap(t) }
func (f *FakeCluster) Execs(prefix string) [][]string           { return f.f.execs(prefix) }

// Freeze makes the fake istiod never reload its mesh config.
func (f *FakeCluster) Freeze() {
	f.f.mu.Lock()
	f.f.meshFrozen = true
	f.f.mu.Unlock()
}
