package embedded

// fakekube.go owns how a cluster's fake Kubernetes API (the client istiod
// watches) is filled with the topology's objects before istiod starts.

import (
	kubelib "istio.io/istio/pkg/kube"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// newFakeKubeClient is istio's fake client (kube.NewFakeClientWithVersion)
// holding objs. The core Kubernetes objects of a topology (Namespaces,
// Nodes, Pods, Services, EndpointSlices) go into the fake clientset's
// object tracker with Add, as client-go's own fake.NewClientset(objects...)
// stores them; every other object is left to istio's constructor.
//
// Why not hand istio every object: its constructor stores each with the
// tracker's Create (pkg/kube/client.go setupFakeClient, so that kinds with
// irregular plurals such as Gateways get the right resource), and client-go's
// field-managed tracker builds a new static REST mapper from the whole
// scheme on every Create (k8s.io/client-go/testing/fixture.go,
// managedFieldObjectTracker.mapper). For a topology's two dozen objects that
// was 7% of the whole suite's CPU time. Add stores the same objects under
// the resource client-go guesses from the kind (meta.UnsafeGuessKindToResource),
// which is the right one for every core kind a topology has (kubeByAdd).
// What Add leaves out, managedFields, nothing in istiod reads.
func newFakeKubeClient(objs []runtime.Object) kubelib.Client {
	c, ok := fakeKubeClientByAdd(objs)
	if !ok {
		// Another istio.io/istio whose fake client is not client-go's
		// fake Clientset: its own constructor, slower but the same objects
		// (TestFakeKubeClientTakesTheAddPath fails if the pinned version gets here).
		return kubelib.NewFakeClientWithVersion("", objs...)
	}
	return c
}

// fakeKubeClientByAdd builds the client with Add for kubeByAdd's kinds, or
// reports false when istio's fake client is not built on client-go's fake
// Clientset or the tracker refuses an object.
func fakeKubeClientByAdd(objs []runtime.Object) (kubelib.Client, bool) {
	var added, rest []runtime.Object
	for _, o := range objs {
		if kubeByAdd(o) {
			added = append(added, o)
		} else {
			rest = append(rest, o)
		}
	}
	c := kubelib.NewFakeClientWithVersion("", rest...)
	cs, ok := c.Kube().(*fake.Clientset)
	if !ok {
		return nil, false
	}
	for _, o := range added {
		// DeepCopy as istio's setupFakeClient does: the tracker keeps what
		// it is given, and the topology keeps its own objects.
		if err := cs.Tracker().Add(o.DeepCopyObject()); err != nil {
			return nil, false
		}
	}
	return c, true
}

// kubeByAdd says whether o is one of the core kinds a topology creates,
// whose resource (namespaces, nodes, pods, services, endpointslices) is the
// one client-go's Add guesses.
func kubeByAdd(o runtime.Object) bool {
	switch o.(type) {
	case *corev1.Namespace, *corev1.Node, *corev1.Pod, *corev1.Service, *discoveryv1.EndpointSlice:
		return true
	}
	return false
}
