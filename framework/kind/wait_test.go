package kind

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

const testNS = "le2e-three-zones-abcde"

func testDeployment(name string, replicas int32) *appsv1.Deployment {
	lbl := map[string]string{"app": "helloworld", "workload": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, Generation: 1, Labels: lbl},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: lbl},
		},
	}
}

func testPod(name, workload, node string, ready, sidecar bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, Labels: map[string]string{"app": "helloworld", "workload": workload}},
		Spec:       corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{
			Phase:             corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: st}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "helloworld", Ready: ready}},
		},
	}
	if sidecar {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: SidecarContainer, Ready: ready})
	}
	return p
}

func setStatus(t *testing.T, kube kubernetes.Interface, name string, gen int64, ready, updated, total int32) {
	t.Helper()
	ctx := context.Background()
	d, err := kube.AppsV1().Deployments(testNS).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Error(err)
		return
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: gen, ReadyReplicas: ready, UpdatedReplicas: updated, Replicas: total, AvailableReplicas: ready}
	if _, err := kube.AppsV1().Deployments(testNS).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Error(err)
	}
}

func TestDeploymentReadyWaitsForReadyReplicas(t *testing.T) {
	kube := fake.NewClientset(testDeployment("helloworld-zone-b", 3))
	go func() {
		time.Sleep(30 * time.Millisecond)
		setStatus(t, kube, "helloworld-zone-b", 1, 1, 3, 3) // available but not all ready
		time.Sleep(30 * time.Millisecond)
		setStatus(t, kube, "helloworld-zone-b", 1, 3, 3, 3)
	}()
	start := time.Now()
	if err := Poll(context.Background(), "helloworld-zone-b", 10*time.Millisecond, 5*time.Second,
		DeploymentReady(kube, testNS, "helloworld-zone-b", 3)); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Errorf("returned before the status said 3 ready")
	}
}

func TestDeploymentReadyTimeoutSaysWhy(t *testing.T) {
	kube := fake.NewClientset(testDeployment("helloworld-zone-a", 3))
	setStatus(t, kube, "helloworld-zone-a", 1, 2, 3, 3)
	err := Poll(context.Background(), "deployment helloworld-zone-a", 10*time.Millisecond, 100*time.Millisecond,
		DeploymentReady(kube, testNS, "helloworld-zone-a", 3))
	if err == nil || !strings.Contains(err.Error(), "want 3 ready, have ready 2") || !strings.Contains(err.Error(), "timed out after 100ms") {
		t.Fatalf("error %v", err)
	}
}

func TestDeploymentReadyStaleGeneration(t *testing.T) {
	kube := fake.NewClientset(testDeployment("helloworld-zone-a", 3))
	setStatus(t, kube, "helloworld-zone-a", 0, 3, 3, 3) // controller has not seen generation 1
	ok, status, err := DeploymentReady(kube, testNS, "helloworld-zone-a", 3)(context.Background())
	if err != nil || ok {
		t.Fatalf("ok %v err %v status %s", ok, err, status)
	}
}

func TestDeploymentReadyZeroWaitsForPodsGone(t *testing.T) {
	kube := fake.NewClientset(testDeployment("helloworld-zone-b", 0), testPod("helloworld-zone-b-1", "helloworld-zone-b", "w2", true, true))
	setStatus(t, kube, "helloworld-zone-b", 1, 0, 0, 0)
	probe := DeploymentReady(kube, testNS, "helloworld-zone-b", 0)
	ok, status, err := probe(context.Background())
	if err != nil || ok || !strings.Contains(status, "1 pods are left (helloworld-zone-b-1)") {
		t.Fatalf("ok %v err %v status %q", ok, err, status)
	}
	go func() {
		time.Sleep(30 * time.Millisecond)
		_ = kube.CoreV1().Pods(testNS).Delete(context.Background(), "helloworld-zone-b-1", metav1.DeleteOptions{})
	}()
	if err := Poll(context.Background(), "scale to 0", 10*time.Millisecond, 5*time.Second, probe); err != nil {
		t.Fatal(err)
	}
}

func TestPollSurvivesTransientErrors(t *testing.T) {
	kube := fake.NewClientset()
	go func() {
		time.Sleep(30 * time.Millisecond)
		d := testDeployment("late", 1)
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, ReadyReplicas: 1, UpdatedReplicas: 1, Replicas: 1}
		_, _ = kube.AppsV1().Deployments(testNS).Create(context.Background(), d, metav1.CreateOptions{})
	}()
	if err := Poll(context.Background(), "late", 10*time.Millisecond, 5*time.Second, DeploymentReady(kube, testNS, "late", 1)); err != nil {
		t.Fatal(err)
	}
	err := Poll(context.Background(), "missing", 10*time.Millisecond, 50*time.Millisecond, DeploymentReady(kube, testNS, "missing", 1))
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("want the last error in the timeout error, got %v", err)
	}
}

func TestPodReadySidecar(t *testing.T) {
	noSidecar := testPod("netshoot-b", "", "w2", true, false)
	native := testPod("native", "", "w2", true, false)
	native.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: SidecarContainer, Ready: true}}
	proxyNotReady := testPod("proxy-not-ready", "", "w2", true, true)
	proxyNotReady.Status.ContainerStatuses[1].Ready = false
	pulling := testPod("pulling", "", "w2", false, true)
	pulling.Status.ContainerStatuses[0].State.Waiting = &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}
	kube := fake.NewClientset(noSidecar, native, proxyNotReady, pulling)
	cases := []struct {
		pod        string
		wantOK     bool
		wantStatus string
	}{
		{"netshoot-b", false, "istio-injection=enabled"},
		{"native", true, ""},
		{"proxy-not-ready", false, "istio-proxy is not ready"},
		{"pulling", false, "helloworld: ImagePullBackOff"},
	}
	for _, c := range cases {
		ok, status, err := PodReady(kube, testNS, c.pod, true)(context.Background())
		if err != nil || ok != c.wantOK || !strings.Contains(status, c.wantStatus) {
			t.Errorf("%s: ok %v status %q err %v; want ok %v status containing %q", c.pod, ok, status, err, c.wantOK, c.wantStatus)
		}
	}
	if ok, _, _ := PodReady(kube, testNS, "netshoot-b", false)(context.Background()); !ok {
		t.Error("without sidecar check, a Ready pod is ready")
	}
}

func TestNodesReady(t *testing.T) {
	mk := func(name string, conds ...corev1.NodeCondition) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: conds}}
	}
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}
	notReady := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady",
		Message: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"}
	pressure := corev1.NodeCondition{Type: corev1.NodeDiskPressure, Status: corev1.ConditionTrue, Reason: "KubeletHasDiskPressure", Message: "kubelet has disk pressure"}
	kube := fake.NewClientset(mk("le2e-control-plane", ready), mk("le2e-worker", notReady, pressure), mk("le2e-worker2"))
	ok, status, err := NodesReady(kube, 4)(context.Background())
	if err != nil || ok {
		t.Fatalf("ok %v err %v", ok, err)
	}
	for _, want := range []string{"1 of 4 nodes Ready", "1 nodes missing",
		"node le2e-worker: Ready=False (KubeletNotReady: container runtime network not ready", "DiskPressure=True (KubeletHasDiskPressure: kubelet has disk pressure)",
		"node le2e-worker2: no Ready condition yet"} {
		if !strings.Contains(status, want) {
			t.Errorf("status %q lacks %q", status, want)
		}
	}
	// Through Poll: the timeout error carries the conditions.
	err = Poll(context.Background(), "every node Ready", time.Millisecond, 20*time.Millisecond, NodesReady(kube, 3))
	if err == nil || !strings.Contains(err.Error(), "cni plugin not initialized") {
		t.Errorf("Poll: %v", err)
	}
	kube = fake.NewClientset(mk("cp", ready), mk("w", ready))
	if ok, status, _ := NodesReady(kube, 2)(context.Background()); !ok {
		t.Errorf("all ready: %s", status)
	}
	if ok, _, _ := NodesReady(kube, 3)(context.Background()); ok {
		t.Error("a missing node counted as ready")
	}
}
