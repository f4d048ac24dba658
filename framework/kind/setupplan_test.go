package kind

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// nightlyConfig is the configuration of the nightly workflow's single-
// cluster job (.github/workflows/nightly.yaml: LOCALITY_E2E_PRELOAD_IMAGES
// true, ISTIOCTL from make istioctl).
func nightlyConfig() Config {
	cfg := DefaultConfig()
	cfg.PreloadImages = true
	cfg.IstioctlPath = "bin/istioctl-" + cfg.IstioVersion
	return cfg
}

// TestSetupPlan is what `make e2e` does on the cluster it creates, in
// order (make e2e-plan prints it): Istio's images and the topologies' are
// pulled once and loaded into every node, the workload image is built and
// loaded, and istioctl installs from the same hub and tag.
func TestSetupPlan(t *testing.T) {
	cfg := nightlyConfig()
	kc := "/tmp/locality-e2e-locality-e2e.kubeconfig"
	plan := SetupPlan(cfg, planContextDir, "amd64", kc)
	nodeNames := KindNodeNames(cfg)
	if len(nodeNames) != len(ClusterConfig(cfg).Nodes) || nodeNames[0] != "locality-e2e-control-plane" ||
		nodeNames[1] != "locality-e2e-worker" || nodeNames[2] != "locality-e2e-worker2" {
		t.Fatalf("node names %v", nodeNames)
	}
	pulls := map[string]int{}
	var install []string
	for i, s := range plan {
		if len(s.Argv) > 1 && s.Argv[0] == "docker" && s.Argv[1] == "pull" {
			img := s.Argv[len(s.Argv)-1]
			pulls[img]++
			// each pull is followed by one load per node, of that image
			for j, n := range nodeNames {
				l := plan[i+1+j]
				if !reflect.DeepEqual(l.Argv, DockerSaveArgs(img)) || !strings.Contains(l.What, n) {
					t.Errorf("after pulling %s, step %d is %q, want the load into %s", img, i+1+j, l, n)
				}
			}
		}
		if len(s.Argv) > 1 && s.Argv[1] == "install" {
			install = s.Argv
		}
	}
	for _, img := range []string{"registry.istio.io/release/pilot:1.32.0", "registry.istio.io/release/proxyv2:1.32.0", "docker.io/curlimages/curl:8.11.1"} {
		if pulls[img] != 1 {
			t.Errorf("%s pulled %d times, want once", img, pulls[img])
		}
	}
	if pulls[BuiltinWorkloadImage] != 0 {
		t.Errorf("the built workload image is pulled")
	}
	want := []string{"bin/istioctl-1.32.0", "install", "-y", "--set", "profile=minimal", "--set", "meshConfig.accessLogFile=/dev/stdout",
		"--readiness-timeout", DefaultTimeouts().IstioInstall.String(), "--kubeconfig", kc,
		"--set", "hub=registry.istio.io/release", "--set", "tag=1.32.0"}
	if !reflect.DeepEqual(install, want) {
		t.Errorf("install\n%q\nwant\n%q", install, want)
	}
	if last := plan[len(plan)-1]; !reflect.DeepEqual(last.Argv, want) {
		t.Errorf("the install is not last: %q", last)
	}
	for i, s := range plan {
		t.Logf("%d. %s", i+1, s)
	}
}

// Without PreloadImages the nodes pull everything themselves; the install
// still pins hub and tag.
func TestSetupPlanWithoutPreload(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IstioHub = "mirror.example:5000/istio"
	for _, s := range SetupPlan(cfg, planContextDir, "amd64", "kc") {
		if len(s.Argv) > 1 && s.Argv[1] == "pull" {
			t.Errorf("pull without preload: %s", s)
		}
	}
	if got := strings.Join(istioInstallArgs(cfg, "kc"), " "); !strings.Contains(got, "--set hub=mirror.example:5000/istio --set tag=1.32.0") {
		t.Errorf("install %s", got)
	}
}

// preload runs what PreloadPlan lists, in the same order.
func TestPreloadRunsPlan(t *testing.T) {
	images := []string{BuiltinWorkloadImage, "docker.io/curlimages/curl:8.11.1", "registry.istio.io/release/pilot:1.32.0"}
	var got []string
	pull := func(_ context.Context, img string) error {
		got = append(got, strings.Join(DockerPullArgs(img), " "))
		return nil
	}
	load := func(_ context.Context, img string, n nodes.Node) error {
		got = append(got, n.String()+": "+strings.Join(DockerSaveArgs(img), " "))
		return nil
	}
	var log bytes.Buffer
	preload(context.Background(), []nodes.Node{fakeNode("a"), fakeNode("b")}, images, &log, pull, load)
	var want []string
	for _, s := range PreloadPlan(images, []string{"a", "b"}) {
		line := strings.Join(s.Argv, " ")
		if s.Argv[1] == "save" {
			line = strings.TrimPrefix(strings.TrimSuffix(s.What, " (kind nodeutils.LoadImageArchive)"), "load into node ") + ": " + line
		}
		want = append(want, line)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ran\n%s\nplan\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// ensureIstio runs istioInstallArgs (what SetupPlan shows) through a fake
// istioctl that records its argv.
func TestEnsureIstioRunsPlannedInstall(t *testing.T) {
	dir := t.TempDir()
	argvFile := filepath.Join(dir, "argv")
	script := filepath.Join(dir, "istioctl")
	body := "#!/bin/sh\nif [ \"$1\" = version ]; then echo 'client version: 1.32.0'; exit 0; fi\nprintf '%s\\n' \"$@\" > " + argvFile + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := nightlyConfig()
	cfg.IstioctlPath = script
	cfg.Timeouts.Poll = 5 * time.Millisecond
	kube := fake.NewClientset()
	one := int32(1)
	kube.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if _, err := os.Stat(argvFile); err != nil { // not installed yet
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "deployments"}, IstiodName)
		}
		return true, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: IstiodName, Namespace: IstioNamespace, Generation: 1},
			Spec: appsv1.DeploymentSpec{Replicas: &one, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "discovery", Image: "registry.istio.io/release/pilot:1.32.0"}}}}},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, ReadyReplicas: 1, UpdatedReplicas: 1},
		}, nil
	})
	var log bytes.Buffer
	if err := ensureIstio(context.Background(), cfg, kube, "/tmp/kc", &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	raw, err := os.ReadFile(argvFile)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if want := istioInstallArgs(cfg, "/tmp/kc")[1:]; !reflect.DeepEqual(got, want) {
		t.Errorf("istioctl ran with\n%q\nwant\n%q", got, want)
	}
	if !strings.Contains(log.String(), "images from registry.istio.io/release") {
		t.Errorf("log %s", log.String())
	}
}

func TestIstioHubConfig(t *testing.T) {
	env := map[string]string{EnvIstioHub: "mirror.example:5000/istio"}
	cfg, err := configFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil || cfg.IstioHub != "mirror.example:5000/istio" {
		t.Fatalf("%v %q", err, cfg.IstioHub)
	}
	if DefaultConfig().IstioHub != DefaultIstioHub {
		t.Errorf("default hub %q", DefaultConfig().IstioHub)
	}
	for _, bad := range []string{"https://registry.istio.io/release", "registry.istio.io/release/", "registry.istio.io/release:1.32.0", "a b"} {
		env[EnvIstioHub] = bad
		if _, err := configFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil || !strings.Contains(err.Error(), EnvIstioHub) {
			t.Errorf("hub %q: %v", bad, err)
		}
	}
	if got := IstioImages("registry.istio.io/release", "1.31.4"); !reflect.DeepEqual(got, []string{"registry.istio.io/release/pilot:1.31.4", "registry.istio.io/release/proxyv2:1.31.4"}) {
		t.Errorf("images %v", got)
	}
}
