package kind_test

// The multi-cluster backend (framework/kind/multicluster) over two fake
// clusters of this package's tests (export_test.go): deploy, steps and
// mesh settings per cluster.

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/kind/multicluster"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// TestMultiClusterDeployWithFakes deploys over two fake clusters: each
// gets the namespace, the Service, and its own workloads and client; steps
// go to the cluster of the workload or client; Close removes both.
func TestMultiClusterDeployWithFakes(t *testing.T) {
	f1, b1 := kind.NewFakeCluster(t)
	f2, b2 := kind.NewFakeCluster(t)
	topo := topology.ThreeZonesTwoClusters("", "")
	mc := multicluster.MeshConfig()
	mcJSON, _ := protojson.Marshal(mc)
	s := &multicluster.Setup{Clusters: []multicluster.Member{{Name: "cluster1", KindCluster: "le-cluster1"}, {Name: "cluster2", KindCluster: "le-cluster2"}}, MeshConfig: string(mcJSON), IstioVersion: "1.32.0"}
	mb, err := multicluster.FromClusters(b1.Config(), s, map[string]*kind.Cluster{"cluster1": b1, "cluster2": b2}, f1.Log())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, err := mb.Deploy(ctx, topo)
	if err != nil {
		t.Fatalf("%v\n%s", err, f1.Log().String())
	}
	ns := "le2e-three-zones-mc"
	for i, f := range []*kind.FakeCluster{f1, f2} {
		deps, _ := f.Kube().AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		svcs, _ := f.Kube().CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		var names []string
		for _, d := range deps.Items {
			names = append(names, d.Name)
		}
		want := [][]string{{"helloworld-zone-a", "helloworld-zone-b"}, {"helloworld-zone-c"}}[i]
		if !reflect.DeepEqual(names, want) || len(svcs.Items) != 1 {
			t.Errorf("cluster%d deployments %v services %d", i+1, names, len(svcs.Items))
		}
	}
	if c := m.Capabilities(); !c.MultiCluster {
		t.Error("MultiCluster capability")
	}
	pods, err := m.Pods(ctx)
	if err != nil || len(pods) != 10 {
		t.Fatalf("%d pods %v", len(pods), err)
	}
	for _, p := range pods {
		want := "cluster1"
		if strings.HasSuffix(p.Workload, "-c") {
			want = "cluster2"
		}
		if p.Cluster != want {
			t.Errorf("pod %s in %s, want %s", p.Name, p.Cluster, want)
		}
	}
	if err := m.Scale(ctx, "helloworld-zone-c", 1); err != nil {
		t.Fatal(err)
	}
	if d, _ := f2.Kube().AppsV1().Deployments(ns).Get(ctx, "helloworld-zone-c", metav1.GetOptions{}); *d.Spec.Replicas != 1 {
		t.Errorf("cluster2 replicas %d", *d.Spec.Replicas)
	}
	if w, _ := m.Topology().Workload("helloworld-zone-c"); w.Replicas != 1 {
		t.Errorf("topology replicas %d", w.Replicas)
	}
	// a topology with mesh settings while this one (without) is open: a
	// usage error, not an unsupported topology; no cluster's ConfigMap read
	other := topology.ThreeZonesTwoClusters("", "")
	other.Name = "three-zones-mc-local"
	other.Mesh.ClusterLocal = true
	if _, err := mb.Deploy(ctx, other); err == nil || !strings.Contains(err.Error(), "open in this backend") || !errors.Is(err, kind.ErrMeshSettingsConflict) || errors.Is(err, mesh.ErrTopologyUnsupported) {
		t.Errorf("mesh settings while a scenario is open: %v", err)
	}
	if _, err := mb.Deploy(ctx, topology.ThreeZones()); err == nil || !strings.Contains(err.Error(), "Clusters") || !errors.Is(err, mesh.ErrTopologyUnsupported) {
		t.Errorf("single-cluster topology: %v", err)
	}
	if err := mb.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*kind.FakeCluster{f1, f2} {
		if _, err := f.Kube().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
			t.Error("namespace left")
		}
	}
}

// TestMultiClusterMeshSettings: a topology's settings go to every
// cluster's ConfigMap (each primary reads its own), with the host of its
// fixed namespace; Close restores each; a cluster whose istiod does not
// converge fails Deploy and the clusters already changed are restored.
func TestMultiClusterMeshSettings(t *testing.T) {
	f1, b1 := kind.NewFakeCluster(t)
	f2, b2 := kind.NewFakeCluster(t)
	f1.WithIstiod(t, "")
	f2.WithIstiod(t, "")
	s := &multicluster.Setup{Clusters: []multicluster.Member{{Name: "cluster1", KindCluster: "le-cluster1"}, {Name: "cluster2", KindCluster: "le-cluster2"}}, IstioVersion: "1.32.0"}
	mb, err := multicluster.FromClusters(b1.Config(), s, map[string]*kind.Cluster{"cluster1": b1, "cluster2": b2}, f1.Log())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	topo := topology.ThreeZonesTwoClusters("", "")
	topo.Mesh.ClusterLocal = true
	m, err := mb.Deploy(ctx, topo)
	if err != nil {
		t.Fatalf("%v\n%s", err, f1.Log().String())
	}
	for i, f := range []*kind.FakeCluster{f1, f2} {
		if got := f.ConfigMap(t).Data[kind.MeshConfigKey]; !strings.Contains(got, "serviceSettings:\n- hosts:\n  - helloworld-svc.le2e-three-zones-mc.svc.cluster.local\n  settings:\n    clusterLocal: true\n") {
			t.Errorf("cluster%d mesh:\n%s", i+1, got)
		}
		if len(f.Execs("pilot-discovery request GET "+kind.MeshDebugPath)) == 0 {
			t.Errorf("cluster%d: istiod not polled", i+1)
		}
	}
	// a topology without settings meanwhile: refused in every cluster
	plain := topology.ThreeZonesTwoClusters("", "")
	plain.Name = "three-zones-mc-plain"
	if _, err := mb.Deploy(ctx, plain); err == nil || !errors.Is(err, kind.ErrMeshSettingsConflict) {
		t.Errorf("plain topology while settings are active: %v", err)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i, f := range []*kind.FakeCluster{f1, f2} {
		if cm := f.ConfigMap(t); cm.Data[kind.MeshConfigKey] != kind.InstalledMesh || len(cm.Annotations) != 0 {
			t.Errorf("cluster%d not restored: %q %v", i+1, cm.Data[kind.MeshConfigKey], cm.Annotations)
		}
	}
	// cluster2's istiod never reloads: cluster1 is restored too
	f2.Freeze()
	if _, err := mb.Deploy(ctx, topo); err == nil || !strings.Contains(err.Error(), "cluster cluster2") || !strings.Contains(err.Error(), "serviceSettings are") {
		t.Fatalf("frozen cluster2: %v", err)
	}
	for i, f := range []*kind.FakeCluster{f1, f2} {
		if cm := f.ConfigMap(t); cm.Data[kind.MeshConfigKey] != kind.InstalledMesh || len(cm.Annotations) != 0 {
			t.Errorf("cluster%d not restored after the failed Deploy: %q %v", i+1, cm.Data[kind.MeshConfigKey], cm.Annotations)
		}
	}
	if err := mb.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
