package embedded

import (
	"context"
	"slices"
	"sort"
	"testing"

	kubelib "istio.io/istio/pkg/kube"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/localitylb/locality-e2e/framework/topology"
)

// TestFakeKubeClientTakesTheAddPath deploys a multi-cluster, multi-network
// topology (Namespaces, Nodes, Pods, Services, EndpointSlices, east-west
// gateways) and checks, for every cluster, that its fake API was filled by
// newFakeKubeClient's Add path (no managedFields, which only the tracker's
// Create stamps) and that it holds exactly what istio's own constructor,
// given the same objects, holds: the same objects under the same
// resources.
func TestFakeKubeClientTakesTheAddPath(t *testing.T) {
	ctx := context.Background()
	m, err := New(Options{Seed: 31}).Deploy(ctx, topology.LocalityTask(1, true))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	em := m.(*Mesh)
	if len(em.clusters) < 2 {
		t.Fatalf("want a multi-cluster topology, got %d clusters", len(em.clusters))
	}
	for name, kc := range em.clusters {
		if _, ok := kc.kube.Kube().(*fake.Clientset); !ok {
			t.Fatalf("cluster %s: Kube() is a %T, not client-go's fake Clientset: newFakeKubeClient fell back to istio's constructor", name, kc.kube.Kube())
		}
		ours, objs := listTopologyObjects(t, kc.kube.Kube())
		if ours["pods"] == nil || ours["endpointslices"] == nil || ours["services"] == nil || ours["nodes"] == nil || ours["namespaces"] == nil {
			t.Fatalf("cluster %s: a kind is missing from the fake API: %v", name, ours)
		}
		for _, o := range objs {
			if mf := o.(metav1.Object).GetManagedFields(); len(mf) > 0 {
				t.Errorf("cluster %s: %T %s has managedFields: it was stored with Create, not Add", name, o, o.(metav1.Object).GetName())
			}
			o.(metav1.Object).SetResourceVersion("") // Create refuses a set resourceVersion
		}
		ref, _ := listTopologyObjects(t, kubelib.NewFakeClientWithVersion("", objs...).Kube())
		for res, names := range ref {
			if got := ours[res]; !slices.Equal(got, names) {
				t.Errorf("cluster %s, %s: Add path holds %v, istio's constructor %v", name, res, got, names)
			}
		}
		for res := range ours {
			if ref[res] == nil {
				t.Errorf("cluster %s: %s only in the Add path's API", name, res)
			}
		}
	}
}

// listTopologyObjects lists the kinds kubeByAdd covers: namespace/name per
// resource, and the objects themselves.
func listTopologyObjects(t *testing.T, cs kubernetes.Interface) (map[string][]string, []runtime.Object) {
	t.Helper()
	ctx, all := context.Background(), metav1.ListOptions{}
	lists := map[string]func() (runtime.Object, error){
		"namespaces":     func() (runtime.Object, error) { return cs.CoreV1().Namespaces().List(ctx, all) },
		"nodes":          func() (runtime.Object, error) { return cs.CoreV1().Nodes().List(ctx, all) },
		"pods":           func() (runtime.Object, error) { return cs.CoreV1().Pods("").List(ctx, all) },
		"services":       func() (runtime.Object, error) { return cs.CoreV1().Services("").List(ctx, all) },
		"endpointslices": func() (runtime.Object, error) { return cs.DiscoveryV1().EndpointSlices("").List(ctx, all) },
	}
	out := map[string][]string{}
	var objs []runtime.Object
	for res, list := range lists {
		l, err := list()
		if err != nil {
			t.Fatalf("list %s: %v", res, err)
		}
		items, err := meta.ExtractList(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range items {
			mo := o.(metav1.Object)
			out[res] = append(out[res], mo.GetNamespace()+"/"+mo.GetName())
			objs = append(objs, o)
		}
		sort.Strings(out[res])
	}
	return out, objs
}
