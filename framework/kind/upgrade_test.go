package kind

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

func TestRevisionNames(t *testing.T) {
	for _, c := range []struct{ version, rev string }{
		{"1.29.0", "canary-1-29-0"},
		{"1.30.0-beta.1", "canary-1-30-0-beta-1"},
	} {
		if got := CanaryRevision(c.version); got != c.rev {
			t.Errorf("CanaryRevision(%s) = %s, want %s", c.version, got, c.rev)
		}
		if !validRevision(CanaryRevision(c.version)) {
			t.Errorf("%s is not a valid revision", CanaryRevision(c.version))
		}
	}
	if IstiodDeploymentName("") != "istiod" || IstiodDeploymentName("canary-1-29-0") != "istiod-canary-1-29-0" {
		t.Errorf("IstiodDeploymentName: %s, %s", IstiodDeploymentName(""), IstiodDeploymentName("canary-1-29-0"))
	}
	if got := namespaceObject("ns", "topo", "").Labels; !reflect.DeepEqual(got, map[string]string{"istio-injection": "enabled", LabelTopology: "topo"}) {
		t.Errorf("default revision labels %v", got)
	}
	if got := namespaceObject("ns", "topo", "canary-1-29-0").Labels; !reflect.DeepEqual(got, map[string]string{"istio.io/rev": "canary-1-29-0", LabelTopology: "topo"}) {
		t.Errorf("revision labels %v", got)
	}
}

func TestConfigRevision(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	c, err := configFrom(env(map[string]string{EnvIstioRevision: " canary-1-29-0 "}))
	if err != nil || c.Revision != "canary-1-29-0" {
		t.Fatalf("Revision %q, err %v", c.Revision, err)
	}
	if c, err := configFrom(env(nil)); err != nil || c.Revision != "" {
		t.Fatalf("default Revision %q, err %v", c.Revision, err)
	}
	for _, bad := range []string{"Canary", "canary.1", "-x", "x-", strings.Repeat("a", 64)} {
		_, err := configFrom(env(map[string]string{EnvIstioRevision: bad}))
		if err == nil || !strings.Contains(err.Error(), EnvIstioRevision) {
			t.Errorf("revision %q: %v", bad, err)
		}
	}
}

func TestIstioctlUpgradeArgs(t *testing.T) {
	got := IstioctlUpgradeArgs("/bin/istioctl-1.29.0", "/tmp/kc", "minimal", 5*time.Minute)
	want := []string{"/bin/istioctl-1.29.0", "upgrade", "-y", "--set", "profile=minimal", "--set", "meshConfig.accessLogFile=/dev/stdout",
		"--readiness-timeout", "5m0s", "--kubeconfig", "/tmp/kc"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("upgrade:\n got %q\nwant %q", got, want)
	}
	got = IstioctlCanaryInstallArgs("/bin/istioctl-1.29.0", "/tmp/kc", "minimal", "canary-1-29-0", 5*time.Minute)
	want = []string{"/bin/istioctl-1.29.0", "install", "-y", "--set", "revision=canary-1-29-0", "--set", "profile=minimal",
		"--set", "meshConfig.accessLogFile=/dev/stdout", "--readiness-timeout", "5m0s", "--kubeconfig", "/tmp/kc"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("canary:\n got %q\nwant %q", got, want)
	}
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func deployment(ns, name string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{
			Labels: map[string]string{"app": name}, Annotations: map[string]string{"keep": "me"}}}}}
}

func TestRelabelNamespaces(t *testing.T) {
	kube := fake.NewClientset(
		namespace("le2e-a", map[string]string{"istio-injection": "enabled", LabelTopology: "a"}),
		namespace("le2e-b", map[string]string{"istio-injection": "enabled"}),
		namespace("off", map[string]string{"istio-injection": "disabled"}),
		namespace("other-rev", map[string]string{"istio.io/rev": "stable"}),
		namespace("plain", nil),
	)
	var log bytes.Buffer
	got, err := RelabelNamespaces(context.Background(), kube, "canary-1-29-0", &log)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"le2e-a", "le2e-b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("relabelled %v, want %v", got, want)
	}
	want := map[string]map[string]string{
		"le2e-a":    {"istio.io/rev": "canary-1-29-0", LabelTopology: "a"},
		"le2e-b":    {"istio.io/rev": "canary-1-29-0"},
		"off":       {"istio-injection": "disabled"},
		"other-rev": {"istio.io/rev": "stable"},
		"plain":     nil,
	}
	for name, labels := range want {
		ns, err := kube.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(labels) != len(ns.Labels) || len(labels) > 0 && !reflect.DeepEqual(ns.Labels, labels) {
			t.Errorf("%s labels %v, want %v", name, ns.Labels, labels)
		}
	}
	if !strings.Contains(log.String(), "namespace le2e-a: istio.io/rev=canary-1-29-0 replaces istio-injection=enabled") {
		t.Errorf("log %q", log.String())
	}
	injected, err := InjectedNamespaces(context.Background(), kube, "canary-1-29-0")
	if err != nil || !reflect.DeepEqual(injected, []string{"le2e-a", "le2e-b"}) {
		t.Errorf("InjectedNamespaces(canary) = %v, %v", injected, err)
	}
	if injected, _ := InjectedNamespaces(context.Background(), kube, ""); len(injected) != 0 {
		t.Errorf("InjectedNamespaces(default) = %v after relabel", injected)
	}
	if _, err := RelabelNamespaces(context.Background(), kube, "", nil); err == nil {
		t.Error("empty revision accepted")
	}
}

func TestRestartDeployments(t *testing.T) {
	kube := fake.NewClientset(deployment("a", "w1"), deployment("a", "w2"), deployment("b", "w3"))
	at := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	var log bytes.Buffer
	got, err := RestartDeployments(context.Background(), kube, []string{"a"}, at, &log)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a/w1", "a/w2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("restarted %v, want %v", got, want)
	}
	for _, c := range []struct{ ns, name, want string }{{"a", "w1", "2026-11-26T01:02:03Z"}, {"a", "w2", "2026-11-26T01:02:03Z"}, {"b", "w3", ""}} {
		d, err := kube.AppsV1().Deployments(c.ns).Get(context.Background(), c.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		a := d.Spec.Template.Annotations
		if a[RestartedAtAnnotation] != c.want || a["keep"] != "me" || d.Spec.Template.Labels["app"] != c.name {
			t.Errorf("%s/%s template annotations %v labels %v", c.ns, c.name, a, d.Spec.Template.Labels)
		}
	}
	if !strings.Contains(log.String(), "restarted deployment a/w1") {
		t.Errorf("log %q", log.String())
	}
}

func istiodDeployment(name, image string, ready int32) *appsv1.Deployment {
	one := int32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: IstioNamespace, Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: IstiodContainer, Image: image}}}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, ReadyReplicas: ready, UpdatedReplicas: 1},
	}
}

// meshPod is a ready pod of ns with an istio-proxy of image, owned by a
// ReplicaSet unless bare; native puts the proxy among init containers.
func meshPod(ns, name, image string, bare, native bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true}}}}
	if !bare {
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: name + "-rs", APIVersion: "apps/v1"}}
	}
	if image != "" {
		proxy := corev1.Container{Name: SidecarContainer, Image: image}
		st := corev1.ContainerStatus{Name: SidecarContainer, Ready: true}
		if native {
			p.Spec.InitContainers = append(p.Spec.InitContainers, proxy)
			p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, st)
		} else {
			p.Spec.Containers = append(p.Spec.Containers, proxy)
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, st)
		}
	}
	return p
}

func TestProxyVersion(t *testing.T) {
	for _, c := range []struct {
		pod  *corev1.Pod
		want string
	}{
		{meshPod("a", "p", "docker.io/istio/proxyv2:1.29.0", false, false), "1.29.0"},
		{meshPod("a", "p", "docker.io/istio/proxyv2:1.29.0-distroless", false, true), "1.29.0"},
		{meshPod("a", "p", "docker.io/istio/proxyv2:1.28.0@sha256:abcd", false, false), "1.28.0"},
		{meshPod("a", "p", "localhost:5000/proxyv2", false, false), "unknown"},
		{meshPod("a", "p", "", false, false), ""},
	} {
		if got := ProxyVersion(c.pod); got != c.want {
			t.Errorf("ProxyVersion(%v) = %q, want %q", c.pod.Spec, got, c.want)
		}
	}
}

func TestSidecarsRun(t *testing.T) {
	const rev, to = "canary-1-29-0", "1.29.0"
	objs := []runtime.Object{
		namespace("le2e-a", map[string]string{"istio.io/rev": rev}),
		namespace("le2e-old", map[string]string{"istio-injection": "enabled"}),
		meshPod("le2e-a", "w1", "docker.io/istio/proxyv2:1.29.0", false, false),
		meshPod("le2e-a", "w2", "docker.io/istio/proxyv2:1.28.0", false, true),
		meshPod("le2e-a", "client", "docker.io/istio/proxyv2:1.28.0", true, false),
		meshPod("le2e-old", "x", "docker.io/istio/proxyv2:1.28.0", false, false), // other revision: not awaited
	}
	kube := fake.NewClientset(objs...)
	ctx := context.Background()
	ok, status, err := SidecarsRun(kube, rev, to)(ctx)
	if err != nil || ok {
		t.Fatalf("ok %v err %v", ok, err)
	}
	for _, s := range []string{"1/2 pods in 1 namespaces run proxy 1.29.0", "le2e-a/w2 runs proxy 1.28.0", "skipped bare pods (recreate them to upgrade): le2e-a/client"} {
		if !strings.Contains(status, s) {
			t.Errorf("status %q lacks %q", status, s)
		}
	}
	// not ready, then terminating, then without sidecar: still waiting
	w2 := meshPod("le2e-a", "w2", "docker.io/istio/proxyv2:1.29.0", false, true)
	w2.Status.InitContainerStatuses[0].Ready = false
	if _, err := kube.CoreV1().Pods("le2e-a").Update(ctx, w2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, status, _ := SidecarsRun(kube, rev, to)(ctx); ok || !strings.Contains(status, "le2e-a: pod w2: istio-proxy is not ready") {
		t.Errorf("unready proxy: ok %v status %q", ok, status)
	}
	w2 = meshPod("le2e-a", "w2", "", false, false)
	if _, err := kube.CoreV1().Pods("le2e-a").Update(ctx, w2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, status, _ := SidecarsRun(kube, rev, to)(ctx); ok || !strings.Contains(status, "le2e-a/w2 has no istio-proxy") {
		t.Errorf("no proxy: ok %v status %q", ok, status)
	}
	w2 = meshPod("le2e-a", "w2", "docker.io/istio/proxyv2:1.29.0-distroless", false, true)
	if _, err := kube.CoreV1().Pods("le2e-a").Update(ctx, w2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, status, err := SidecarsRun(kube, rev, to)(ctx); !ok || err != nil || !strings.Contains(status, "2/2 pods") {
		t.Errorf("upgraded: ok %v status %q err %v", ok, status, err)
	}
	// the default revision waits for le2e-old only
	if ok, status, _ := SidecarsRun(kube, "", to)(ctx); ok || !strings.Contains(status, "le2e-old/x runs proxy 1.28.0") || strings.Contains(status, "le2e-a") {
		t.Errorf("default revision: ok %v status %q", ok, status)
	}
}

func TestWaitForUpgrade(t *testing.T) {
	const rev, to = "canary-1-29-0", "1.29.0"
	ctx := context.Background()
	w := UpgradeWait{Revision: rev, Version: to, Poll: 5 * time.Millisecond, Timeout: 200 * time.Millisecond}

	// istiod of the revision missing, then not ready: times out naming it
	kube := fake.NewClientset(istiodDeployment("istiod", "docker.io/istio/pilot:1.28.0", 1))
	err := WaitForUpgrade(ctx, kube, w, nil)
	if err == nil || !strings.Contains(err.Error(), "istiod-canary-1-29-0 1.29.0 ready") || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing istiod: %v", err)
	}
	kube = fake.NewClientset(istiodDeployment("istiod-"+rev, "docker.io/istio/pilot:1.29.0", 0))
	var log bytes.Buffer
	err = WaitForUpgrade(ctx, kube, w, &log)
	if err == nil || !strings.Contains(err.Error(), "want 1 ready, have ready 0") {
		t.Errorf("unready istiod: %v", err)
	}
	if n := strings.Count(log.String(), "\n"); n != 1 {
		t.Errorf("progress printed %d lines for one unchanged status:\n%s", n, log.String())
	}

	// in place: istiod still old, then everything upgraded
	w.Revision = ""
	kube = fake.NewClientset(istiodDeployment("istiod", "docker.io/istio/pilot:1.28.0", 1))
	if err := WaitForUpgrade(ctx, kube, w, nil); err == nil || !strings.Contains(err.Error(), "istio-system/istiod runs Istio 1.28.0, want 1.29.0") {
		t.Errorf("old istiod: %v", err)
	}
	kube = fake.NewClientset(istiodDeployment("istiod", "docker.io/istio/pilot:1.29.0", 1),
		namespace("le2e-a", map[string]string{"istio-injection": "enabled"}),
		meshPod("le2e-a", "w1", "docker.io/istio/proxyv2:1.28.0", false, false))
	log.Reset()
	err = WaitForUpgrade(ctx, kube, w, &log)
	if err == nil || !strings.Contains(err.Error(), "sidecars running 1.29.0") || !strings.Contains(err.Error(), "le2e-a/w1 runs proxy 1.28.0") {
		t.Errorf("old sidecar: %v", err)
	}
	// the sidecar gets upgraded while WaitForUpgrade polls
	w.Timeout = 10 * time.Second
	log.Reset()
	go func() {
		time.Sleep(50 * time.Millisecond)
		_, _ = kube.CoreV1().Pods("le2e-a").Update(ctx, meshPod("le2e-a", "w1", "docker.io/istio/proxyv2:1.29.0", false, false), metav1.UpdateOptions{})
	}()
	if err := WaitForUpgrade(ctx, kube, w, &log); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"upgrade: ok: istio-system/istiod runs Istio 1.29.0, 1 ready\n",
		"upgrade: waiting: 0/1 pods in 1 namespaces run proxy 1.29.0; waiting: le2e-a/w1 runs proxy 1.28.0\n",
		"upgrade: ok: 1/1 pods in 1 namespaces run proxy 1.29.0\n",
	} {
		if !strings.Contains(log.String(), s) {
			t.Errorf("progress lacks %q:\n%s", s, log.String())
		}
	}
}

// TestEnsureIstioRevision: the "another version runs" check looks at the
// control plane of the configured revision only.
func TestEnsureIstioRevision(t *testing.T) {
	const rev = "canary-1-29-0"
	cfg := DefaultConfig()
	cfg.IstioctlPath = "/nonexistent/istioctl" // must not be run when the version matches
	cfg.IstioVersion = "1.29.0"
	cfg.Timeouts.Poll = 5 * time.Millisecond
	ctx := context.Background()
	canary := func() *fake.Clientset {
		return fake.NewClientset(istiodDeployment("istiod", "docker.io/istio/pilot:1.28.0", 1),
			istiodDeployment("istiod-"+rev, "docker.io/istio/pilot:1.29.0", 1))
	}
	var log bytes.Buffer
	cfg.Revision = rev
	if err := ensureIstio(ctx, cfg, canary(), "", &log); err != nil {
		t.Fatalf("canary cluster, Revision set: %v", err)
	}
	if !strings.Contains(log.String(), "Istio 1.29.0 already installed (istio-system/istiod-canary-1-29-0)") {
		t.Errorf("log %q", log.String())
	}
	cfg.Revision = ""
	if err := ensureIstio(ctx, cfg, canary(), "", &log); err == nil || !strings.Contains(err.Error(), "runs Istio 1.28.0 (istio-system/istiod), want 1.29.0") {
		t.Errorf("canary cluster, no Revision: %v", err)
	}
	// in place: istiod itself runs the new version
	if err := ensureIstio(ctx, cfg, fake.NewClientset(istiodDeployment("istiod", "docker.io/istio/pilot:1.29.0", 1)), "", &log); err != nil {
		t.Errorf("upgraded in place: %v", err)
	}
	// a revision of another version is refused, naming both variables
	cfg.Revision = rev
	cfg.IstioVersion = "1.30.0"
	err := ensureIstio(ctx, cfg, canary(), "", &log)
	if err == nil || !strings.Contains(err.Error(), "runs Istio 1.29.0 (istio-system/istiod-canary-1-29-0), want 1.30.0") || !strings.Contains(err.Error(), EnvIstioRevision) {
		t.Errorf("revision of another version: %v", err)
	}
	// a missing revision is installed: istioctl is checked first
	cfg.Revision = "canary-1-30-0"
	if err := ensureIstio(ctx, cfg, canary(), "", &log); err == nil || !strings.Contains(err.Error(), EnvIstioctl) {
		t.Errorf("missing revision: %v", err)
	}
}
