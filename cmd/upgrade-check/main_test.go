package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/localitylb/locality-e2e/framework/fingerprint"
	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/report"
	"github.com/localitylb/locality-e2e/framework/timeline"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

func baseOptions() Options {
	return Options{
		From: "1.27.3", To: "1.28.0",
		IstioctlFrom: "/r/bin/istioctl-1.27.3", IstioctlTo: "/r/bin/istioctl-1.28.0",
		ReportDir: "reports/upgrade", ClusterName: "locality-e2e-upgrade", WaitTimeout: 10 * time.Minute,
		Make: "make", Profile: "minimal", KindKubeconfig: "/tmp/locality-e2e-locality-e2e-upgrade.kubeconfig",
	}
}

func specsEnv(version, istioctl, reuse, revision string) []string {
	return []string{
		"LOCALITY_E2E_CLUSTER_NAME=locality-e2e-upgrade",
		"ISTIO_VERSION=" + version,
		"ISTIOCTL=" + istioctl,
		"LOCALITY_E2E_KEEP_CLUSTER=true",
		"LOCALITY_E2E_REUSE_CLUSTER=" + reuse,
		"LOCALITY_E2E_ISTIO_REVISION=" + revision,
	}
}

func TestPlanInPlace(t *testing.T) {
	const kc = "/tmp/locality-e2e-locality-e2e-upgrade.kubeconfig"
	want := []Step{
		{Name: "specs-from", Argv: []string{"make", "specs", "BACKEND=kind", "REPORT_DIR=reports/upgrade/from"},
			Env: specsEnv("1.27.3", "/r/bin/istioctl-1.27.3", "false", "")},
		{Name: "traffic-start", Does: "deploy three-zones with the failover rule and send steady traffic from netshoot-b (batches of 20) until traffic-check"},
		{Name: "upgrade-istio", Argv: []string{"/r/bin/istioctl-1.28.0", "upgrade", "-y", "--set", "profile=minimal",
			"--set", "meshConfig.accessLogFile=/dev/stdout", "--readiness-timeout", "5m0s", "--kubeconfig", kc}},
		{Name: "restart-deployments", Does: "rollout restart of every Deployment in the namespaces labelled istio-injection=enabled"},
		{Name: "wait-for-upgrade", Does: "wait up to 10m0s for istio-system/istiod 1.28.0 ready, then for every sidecar in namespaces labelled istio-injection=enabled to run 1.28.0"},
		{Name: "traffic-check", Does: "stop the traffic; no request may leave kr/b, errors ≤ 1.0‰, traffic before and after; timeline in reports/upgrade/timeline.txt (exit 1 otherwise)"},
		{Name: "specs-to", Argv: []string{"make", "specs", "BACKEND=kind", "REPORT_DIR=reports/upgrade/to"},
			Env: specsEnv("1.28.0", "/r/bin/istioctl-1.28.0", "true", "")},
		{Name: "diff", Does: "fingerprint diff reports/upgrade/from/fingerprint.json reports/upgrade/to/fingerprint.json (exit 1 on a behavioural change)"},
		{Name: "delete-cluster", Does: "kind delete cluster --name locality-e2e-upgrade (also when a step fails)"},
	}
	if got := Plan(baseOptions()); !reflect.DeepEqual(got, want) {
		t.Errorf("plan:\n got %#v\nwant %#v", got, want)
	}
}

func TestPlanCanary(t *testing.T) {
	const kc = "/tmp/locality-e2e-locality-e2e-upgrade.kubeconfig"
	o := baseOptions()
	o.Canary, o.KeepCluster, o.Profile = true, true, "default"
	want := []Step{
		{Name: "specs-from", Argv: []string{"make", "specs", "BACKEND=kind", "REPORT_DIR=reports/upgrade/from"},
			Env: specsEnv("1.27.3", "/r/bin/istioctl-1.27.3", "false", "")},
		{Name: "traffic-start", Does: "deploy three-zones with the failover rule and send steady traffic from netshoot-b (batches of 20) until traffic-check"},
		{Name: "upgrade-istio", Argv: []string{"/r/bin/istioctl-1.28.0", "install", "-y", "--set", "revision=canary-1-28-0", "--set", "profile=default",
			"--set", "meshConfig.accessLogFile=/dev/stdout", "--readiness-timeout", "5m0s", "--kubeconfig", kc}},
		{Name: "relabel-namespaces", Does: "namespaces labelled istio-injection=enabled get istio.io/rev=canary-1-28-0 instead"},
		{Name: "restart-deployments", Does: "rollout restart of every Deployment in the namespaces labelled istio.io/rev=canary-1-28-0"},
		{Name: "wait-for-upgrade", Does: "wait up to 10m0s for istio-system/istiod-canary-1-28-0 1.28.0 ready, then for every sidecar in namespaces labelled istio.io/rev=canary-1-28-0 to run 1.28.0"},
		{Name: "traffic-check", Does: "stop the traffic; no request may leave kr/b, errors ≤ 1.0‰, traffic before and after; timeline in reports/upgrade/timeline.txt (exit 1 otherwise)"},
		{Name: "specs-to", Argv: []string{"make", "specs", "BACKEND=kind", "REPORT_DIR=reports/upgrade/to"},
			Env: specsEnv("1.28.0", "/r/bin/istioctl-1.28.0", "true", "canary-1-28-0")},
		{Name: "diff", Does: "fingerprint diff reports/upgrade/from/fingerprint.json reports/upgrade/to/fingerprint.json (exit 1 on a behavioural change)"},
	}
	if got := Plan(o); !reflect.DeepEqual(got, want) {
		t.Errorf("plan:\n got %#v\nwant %#v", got, want)
	}
}

// An existing cluster: never reused by name (REUSE with a kubeconfig is a
// config error of the kind backend), never deleted.
func TestPlanExistingCluster(t *testing.T) {
	o := baseOptions()
	o.Kubeconfig = "/home/me/kc"
	steps := Plan(o)
	if last := steps[len(steps)-1].Name; last != StepDiff {
		t.Errorf("last step %s, want %s", last, StepDiff)
	}
	if got := steps[2].Argv[len(steps[2].Argv)-1]; got != "/home/me/kc" {
		t.Errorf("istioctl kubeconfig %s", got)
	}
	for _, i := range []int{0, len(steps) - 2} {
		if !contains(steps[i].Env, "LOCALITY_E2E_REUSE_CLUSTER=false") {
			t.Errorf("%s env %v", steps[i].Name, steps[i].Env)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFlagValidation(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"--from is required", "--to is required"}},
		{[]string{"--to=1.28.0"}, []string{"--from is required: the Istio release to start from, e.g. --from=" + kind.DefaultIstioVersion}},
		{[]string{"--from=1.28.0", "--to=1.28.0"}, []string{"--from and --to are both 1.28.0"}},
		{[]string{"--from=1.28", "--to=latest"}, []string{`--from="1.28" is not an Istio release version`, `--to="latest" is not an Istio release version`}},
		{[]string{"--from=1.27.3", "--to=1.28.0", "--report-dir="}, []string{"--report-dir is empty"}},
		// The report dir reaches `make specs REPORT_DIR=<dir>/from` as one
		// argv word; make itself would still expand $(...) in it.
		{[]string{"--from=1.27.3", "--to=1.28.0", "--report-dir=$(shell touch X)"}, []string{`--report-dir="$(shell touch X)" contains '$': make would expand it (make specs REPORT_DIR=...): choose a folder name without '$' or a newline`}},
		{[]string{"--from=1.27.3", "--to=1.28.0", "--cluster-name="}, []string{"--cluster-name is empty"}},
		// A version is part of a path (bin/istioctl-<version>) and a URL:
		// only Istio's grammar is accepted.
		{[]string{"--from=1.27.3-../../x", "--to=1.28.0", "--dry-run"}, []string{`--from="1.27.3-../../x" is not an Istio release version`}},
		{[]string{"--from=1.27.3", "--to=1.28.0-foo"}, []string{`--to="1.28.0-foo" is not an Istio release version: use MAJOR.MINOR.PATCH with an optional -alpha, -beta or -rc suffix`}},
		{[]string{"--from=1.27.3", "--to=1.28.0", "--cluster-name=Upgrade_1"}, []string{`--cluster-name="Upgrade_1" is not a kind cluster name`}},
		{[]string{"--from=1.27.3", "--to=1.28.0", "--cluster-name=../x"}, []string{`--cluster-name="../x" is not a kind cluster name`}},
		{[]string{"--from=1.27.3", "--to=1.28.0", "--wait-timeout=0s"}, []string{"--wait-timeout 0s must be positive"}},
		{[]string{"--from=1.27.3", "--to=1.28.0", "extra"}, []string{`unexpected arguments ["extra"]`}},
	} {
		var stderr bytes.Buffer
		_, err := parseFlags(c.args, env(nil), &stderr)
		if err == nil {
			t.Errorf("%q: no error", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", c.args, err, w)
			}
		}
	}
	// an unknown flag is a usage error, exit 2
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"--form=1.27.3"}, io.Discard, &stderr, deps{getenv: env(nil)}); code != exitError || !strings.Contains(stderr.String(), "flag provided but not defined: -form") {
		t.Errorf("unknown flag: code %d, stderr %q", code, stderr.String())
	}
}

func TestDefaults(t *testing.T) {
	o, err := parseFlags([]string{"--from=1.27.3", "--to=1.28.0"}, env(map[string]string{"LOCALITY_E2E_ISTIO_PROFILE": "default", "MAKE": "gmake"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if o.IstioctlFrom != filepath.Join(wd, "bin/istioctl-1.27.3") || o.IstioctlTo != filepath.Join(wd, "bin/istioctl-1.28.0") {
		t.Errorf("istioctl %s %s", o.IstioctlFrom, o.IstioctlTo)
	}
	if o.ReportDir != "reports/upgrade" || o.ClusterName != "locality-e2e-upgrade" || o.Profile != "default" || o.Make != "gmake" || o.Canary || o.KeepCluster {
		t.Errorf("defaults %+v", o)
	}
	if o.KindKubeconfig != kind.KubeconfigPath("locality-e2e-upgrade") {
		t.Errorf("kubeconfig %s", o.KindKubeconfig)
	}
}

func TestDryRun(t *testing.T) {
	t.Setenv("TMPDIR", "/tmp")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--from=1.27.3", "--to=1.28.0", "--canary", "--dry-run",
		"--istioctl-from=/opt/istioctl-1.27.3", "--istioctl-to=/opt/istioctl-1.28.0", "--report-dir=out/up"},
		&stdout, &stderr, deps{getenv: env(nil)})
	if code != 0 || stderr.Len() > 0 {
		t.Fatalf("code %d stderr %q", code, stderr.String())
	}
	want := `upgrade check Istio 1.27.3 -> 1.28.0 (canary, revision canary-1-28-0) on new kind cluster locality-e2e-upgrade (kubeconfig /tmp/locality-e2e-locality-e2e-upgrade.kubeconfig), profile minimal, reports in out/up
1. specs-from
   LOCALITY_E2E_CLUSTER_NAME=locality-e2e-upgrade ISTIO_VERSION=1.27.3 ISTIOCTL=/opt/istioctl-1.27.3 LOCALITY_E2E_KEEP_CLUSTER=true LOCALITY_E2E_REUSE_CLUSTER=false LOCALITY_E2E_ISTIO_REVISION= make specs BACKEND=kind REPORT_DIR=out/up/from
2. traffic-start
   in-process: deploy three-zones with the failover rule and send steady traffic from netshoot-b (batches of 20) until traffic-check
3. upgrade-istio
   /opt/istioctl-1.28.0 install -y --set revision=canary-1-28-0 --set profile=minimal --set meshConfig.accessLogFile=/dev/stdout --readiness-timeout 5m0s --kubeconfig /tmp/locality-e2e-locality-e2e-upgrade.kubeconfig
4. relabel-namespaces
   in-process: namespaces labelled istio-injection=enabled get istio.io/rev=canary-1-28-0 instead
5. restart-deployments
   in-process: rollout restart of every Deployment in the namespaces labelled istio.io/rev=canary-1-28-0
6. wait-for-upgrade
   in-process: wait up to 10m0s for istio-system/istiod-canary-1-28-0 1.28.0 ready, then for every sidecar in namespaces labelled istio.io/rev=canary-1-28-0 to run 1.28.0
7. traffic-check
   in-process: stop the traffic; no request may leave kr/b, errors ≤ 1.0‰, traffic before and after; timeline in out/up/timeline.txt (exit 1 otherwise)
8. specs-to
   LOCALITY_E2E_CLUSTER_NAME=locality-e2e-upgrade ISTIO_VERSION=1.28.0 ISTIOCTL=/opt/istioctl-1.28.0 LOCALITY_E2E_KEEP_CLUSTER=true LOCALITY_E2E_REUSE_CLUSTER=true LOCALITY_E2E_ISTIO_REVISION=canary-1-28-0 make specs BACKEND=kind REPORT_DIR=out/up/to
9. diff
   in-process: fingerprint diff out/up/from/fingerprint.json out/up/to/fingerprint.json (exit 1 on a behavioural change)
10. delete-cluster
   in-process: kind delete cluster --name locality-e2e-upgrade (also when a step fails)
`
	if stdout.String() != want {
		t.Errorf("dry run:\n%s\nwant:\n%s", stdout.String(), want)
	}
	if quote("a b'c") != `'a b'\''c'` || quote("") != "''" {
		t.Errorf("quote %s %s", quote("a b'c"), quote(""))
	}
}

// fakeIstioctl writes an executable that is never run (checkIstioctl is
// faked) but satisfies the existence check.
func fakeIstioctl(t *testing.T, dir, version string) string {
	p := filepath.Join(dir, "istioctl-"+version)
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho "+version+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMissingIstioctl(t *testing.T) {
	dir := t.TempDir()
	from := fakeIstioctl(t, dir, "1.27.3")
	var stderr bytes.Buffer
	d := deps{getenv: env(nil), checkIstioctl: func(context.Context, string, string) error { return nil },
		checkDocker: func(context.Context) error { t.Error("Docker checked before istioctl"); return nil }}
	code := run(context.Background(), []string{"--from=1.27.3", "--to=1.28.0", "--istioctl-from=" + from, "--istioctl-to=" + filepath.Join(dir, "nope")}, io.Discard, &stderr, d)
	if code != exitError || !strings.Contains(stderr.String(), "--istioctl-to "+filepath.Join(dir, "nope")+": no istioctl there") ||
		!strings.Contains(stderr.String(), "run `make istioctl ISTIO_VERSION=1.28.0`") {
		t.Errorf("code %d stderr %q", code, stderr.String())
	}
	// a binary of the wrong release: kind.CheckIstioctl's error, behind the flag
	stderr.Reset()
	d.checkIstioctl = func(_ context.Context, p, v string) error {
		if v == "1.28.0" {
			return fmt.Errorf("%s is istioctl 1.27.3, want 1.28.0", p)
		}
		return nil
	}
	code = run(context.Background(), []string{"--from=1.27.3", "--to=1.28.0", "--istioctl-from=" + from, "--istioctl-to=" + from}, io.Discard, &stderr, d)
	if code != exitError || !strings.Contains(stderr.String(), "--istioctl-to: "+from+" is istioctl 1.27.3, want 1.28.0") {
		t.Errorf("code %d stderr %q", code, stderr.String())
	}
}

// TestNoDocker: without a Docker engine the check stops before running
// anything, with its own message (the real kind.CheckDocker, with no
// docker on PATH): no --backend, which this command does not have.
func TestNoDocker(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", t.TempDir())
	d := deps{getenv: env(nil), checkIstioctl: func(context.Context, string, string) error { return nil },
		checkDocker: kind.CheckDocker,
		runCmd: func(context.Context, []string, []string, string, io.Writer) error {
			t.Error("a step ran without Docker")
			return nil
		}}
	var stderr bytes.Buffer
	start := time.Now()
	code := run(context.Background(), []string{"--from=1.27.3", "--to=1.28.0", "--istioctl-from=" + fakeIstioctl(t, dir, "1.27.3"), "--istioctl-to=" + fakeIstioctl(t, dir, "1.28.0")}, io.Discard, &stderr, d)
	if code != exitError || !strings.Contains(stderr.String(), "the upgrade check creates a kind cluster and needs a running Docker engine: the docker CLI is not on PATH") ||
		!strings.Contains(stderr.String(), "LOCALITY_E2E_KUBECONFIG=<path>") || strings.Contains(stderr.String(), "--backend") {
		t.Errorf("code %d stderr %q", code, stderr.String())
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("took %v", el)
	}
	// an existing cluster needs no Docker, but its kubeconfig must exist
	stderr.Reset()
	d.getenv = env(map[string]string{"LOCALITY_E2E_KUBECONFIG": filepath.Join(dir, "missing.kubeconfig")})
	code = run(context.Background(), []string{"--from=1.27.3", "--to=1.28.0", "--istioctl-from=" + filepath.Join(dir, "istioctl-1.27.3"), "--istioctl-to=" + filepath.Join(dir, "istioctl-1.28.0")}, io.Discard, &stderr, d)
	if code != exitError || !strings.Contains(stderr.String(), "LOCALITY_E2E_KUBECONFIG="+filepath.Join(dir, "missing.kubeconfig")+" cannot be read") {
		t.Errorf("code %d stderr %q", code, stderr.String())
	}
}

func TestExistingKindCluster(t *testing.T) {
	dir := t.TempDir()
	d := deps{getenv: env(nil), checkIstioctl: func(context.Context, string, string) error { return nil },
		checkDocker:   func(context.Context) error { return nil },
		clusterExists: func(string) (bool, error) { return true, nil },
		deleteCluster: func(string, string) error { t.Error("deleted a cluster the check did not create"); return nil }}
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--from=1.27.3", "--to=1.28.0", "--istioctl-from=" + fakeIstioctl(t, dir, "1.27.3"), "--istioctl-to=" + fakeIstioctl(t, dir, "1.28.0")}, io.Discard, &stderr, d)
	if code != exitError || !strings.Contains(stderr.String(), `a kind cluster "locality-e2e-upgrade" already exists`) {
		t.Errorf("code %d stderr %q", code, stderr.String())
	}
}

// fakeCluster plays the commands of a canary check against a fake
// clientset: the specs write fingerprints, istioctl "installs" the
// canary istiod, and the restarted Deployment's pod gets the new proxy.
type fakeCluster struct {
	t        *testing.T
	kube     *fake.Clientset
	fps      map[string]fingerprint.Fingerprint // by REPORT_DIR
	specsErr error
	ran      [][]string
	envs     [][]string
	deleted  []string
}

func (f *fakeCluster) runCmd(ctx context.Context, argv, env []string, prefix string, out io.Writer) error {
	f.ran = append(f.ran, argv)
	f.envs = append(f.envs, env)
	fmt.Fprintf(out, "%s running %s\n", prefix, argv[1])
	switch argv[1] {
	case "specs":
		dir := strings.TrimPrefix(argv[3], "REPORT_DIR=")
		if fp, ok := f.fps[dir]; ok {
			if _, err := fingerprint.Write(dir, fp); err != nil {
				f.t.Fatal(err)
			}
		}
		return f.specsErr
	case "install":
		one := int32(1)
		_, err := f.kube.AppsV1().Deployments("istio-system").Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "istiod-canary-1-28-0", Namespace: "istio-system", Generation: 1},
			Spec: appsv1.DeploymentSpec{Replicas: &one, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "discovery", Image: "docker.io/istio/pilot:1.28.0"}}}}},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, ReadyReplicas: 1, UpdatedReplicas: 1},
		}, metav1.CreateOptions{})
		return err
	}
	return fmt.Errorf("unexpected command %q", argv)
}

func pod(image string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "w-1", Namespace: "kept",
		OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "w-rs", APIVersion: "apps/v1"}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy", Image: image}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "istio-proxy", Ready: true}}}}
}

func scenario(passed bool) fingerprint.Fingerprint {
	return fingerprint.Fingerprint{Backend: "kind", Scenarios: []fingerprint.Scenario{{Name: "failover", Passed: passed}}}
}

func TestRunCanaryWithFakes(t *testing.T) {
	for _, c := range []struct {
		name     string
		to       fingerprint.Fingerprint
		specsErr error
		leak     bool // the steady traffic leaves kr/b once the sidecars restart
		want     int
		out      string
	}{
		{"same", scenario(true), nil, false, exitSame, "Istio 1.27.3 -> 1.28.0: no behavioural change"},
		{"changed", scenario(false), errors.New("exit status 2"), false, exitChanged, "result passed → failed"},
		{"traffic left kr/b", scenario(true), nil, true, exitChanged, "the steady traffic during the upgrade broke its invariants"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			rep := filepath.Join(dir, "reports")
			f := &fakeCluster{t: t, specsErr: c.specsErr, kube: fake.NewClientset(
				&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kept", Labels: map[string]string{"istio-injection": "enabled"}}},
				&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "kept"}},
				pod("docker.io/istio/proxyv2:1.27.3"),
			)}
			f.fps = map[string]fingerprint.Fingerprint{filepath.Join(rep, "from"): scenario(true), filepath.Join(rep, "to"): c.to}
			// a stale fingerprint must not be taken for this run's
			if _, err := fingerprint.Write(filepath.Join(rep, "to"), scenario(true)); err != nil {
				t.Fatal(err)
			}
			sender := &steadySender{}
			// the "Deployment controller": a restart replaces the pod
			go func() {
				for i := 0; i < 200; i++ {
					d, err := f.kube.AppsV1().Deployments("kept").Get(context.Background(), "w", metav1.GetOptions{})
					if err == nil && d.Spec.Template.Annotations[kind.RestartedAtAnnotation] != "" {
						sender.leak.Store(c.leak)
						_, _ = f.kube.CoreV1().Pods("kept").Update(context.Background(), pod("docker.io/istio/proxyv2:1.28.0"), metav1.UpdateOptions{})
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}()
			d := deps{
				getenv: env(nil), environ: func() []string { return []string{"HOME=/h", "MAKEFLAGS=ISTIO_VERSION=1.26.0", "ISTIO_VERSION=1.26.0"} },
				checkDocker: func(context.Context) error { return nil }, checkIstioctl: func(context.Context, string, string) error { return nil },
				clusterExists: func(string) (bool, error) { return false, nil },
				deleteCluster: func(name, _ string) error { f.deleted = append(f.deleted, name); return nil },
				runCmd:        f.runCmd,
				kube:          func(string) (kubernetes.Interface, error) { return f.kube, nil },
				now:           func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
				poll:          5 * time.Millisecond,
				startTraffic: func(ctx context.Context, o Options, _ kubernetes.Interface, _ io.Writer) (*steadyTraffic, error) {
					return &steadyTraffic{rec: timeline.Start(ctx, sender, trafficClient, PhaseBefore, timeline.Options{}),
						close: func(context.Context) error { sender.closed.Store(true); return nil }}, nil
				},
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"--from=1.27.3", "--to=1.28.0", "--canary", "--report-dir=" + rep, "--wait-timeout=10s",
				"--istioctl-from=" + fakeIstioctl(t, dir, "1.27.3"), "--istioctl-to=" + fakeIstioctl(t, dir, "1.28.0")}, &stdout, &stderr, d)
			if code != c.want {
				t.Fatalf("code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.want, stdout.String(), stderr.String())
			}
			for _, s := range []string{
				"[from 1.27.3] running specs", "[istioctl 1.28.0] running install",
				"upgrade: namespace kept: istio.io/rev=canary-1-28-0 replaces istio-injection=enabled",
				"upgrade: restarted deployment kept/w", "upgrade: ok: 1/1 pods in 1 namespaces run proxy 1.28.0",
				"== traffic-start", "upgrade: steady traffic from netshoot-b flows", "== traffic-check",
				"steady traffic from netshoot-b, batches of 20", "before upgrade", "istiod upgrade", "sidecars restarted", "after upgrade",
				"[to 1.28.0] running specs", c.out, "== delete-cluster",
			} {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			tl, err := os.ReadFile(filepath.Join(rep, TimelineFile))
			if err != nil || !sender.closed.Load() {
				t.Fatalf("timeline %v, scenario closed %v", err, sender.closed.Load())
			}
			if c.leak != strings.Contains(string(tl), "kr/a 20 left kr/b") {
				t.Errorf("timeline:\n%s", tl)
			}
			// The upgrade page: the traffic timeline as a chart, links to
			// both runs' pages.
			page, err := os.ReadFile(filepath.Join(rep, report.FileName))
			if err != nil || !strings.Contains(stdout.String(), "upgrade page: "+filepath.Join(rep, report.FileName)) {
				t.Fatalf("upgrade page %v; stdout:\n%s", err, stdout.String())
			}
			for _, s := range []string{"from/" + report.FileName, "to/" + report.FileName, "steady traffic from netshoot-b", "<svg"} {
				if !strings.Contains(string(page), s) {
					t.Errorf("upgrade page lacks %q", s)
				}
			}
			if len(f.ran) != 3 || !reflect.DeepEqual(f.deleted, []string{"locality-e2e-upgrade"}) {
				t.Errorf("ran %q, deleted %v", f.ran, f.deleted)
			}
			// make's flags are dropped and the step's variables come last
			env := f.envs[2]
			if contains(env, "MAKEFLAGS=ISTIO_VERSION=1.26.0") || env[len(env)-1] != "LOCALITY_E2E_ISTIO_REVISION=canary-1-28-0" || !contains(env, "HOME=/h") {
				t.Errorf("env of specs-to %q", env)
			}
		})
	}
}

// A run that writes no fingerprint stops the check, and the cluster is
// still deleted.
func TestNoFingerprintStops(t *testing.T) {
	dir := t.TempDir()
	f := &fakeCluster{t: t, specsErr: errors.New("exit status 1"), kube: fake.NewClientset()}
	d := deps{getenv: env(nil), environ: func() []string { return nil },
		checkDocker: func(context.Context) error { return nil }, checkIstioctl: func(context.Context, string, string) error { return nil },
		clusterExists: func(string) (bool, error) { return false, nil },
		deleteCluster: func(name, _ string) error { f.deleted = append(f.deleted, name); return nil },
		runCmd:        f.runCmd}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--from=1.27.3", "--to=1.28.0", "--report-dir=" + filepath.Join(dir, "r"),
		"--istioctl-from=" + fakeIstioctl(t, dir, "1.27.3"), "--istioctl-to=" + fakeIstioctl(t, dir, "1.28.0")}, &stdout, &stderr, d)
	if code != exitError || !strings.Contains(stderr.String(), "specs-from: the specs on Istio 1.27.3 wrote no fingerprint") ||
		len(f.ran) != 1 || len(f.deleted) != 1 {
		t.Errorf("code %d ran %q deleted %v\nstderr %s", code, f.ran, f.deleted, stderr.String())
	}
}

// steadySender serves every request from kr/b's pod, or, once leak is
// set, from kr/a's.
type steadySender struct {
	leak, closed atomic.Bool
}

func (s *steadySender) Send(_ context.Context, client string, n int) (traffic.Batch, error) {
	p := "helloworld-zone-b-1"
	if s.leak.Load() {
		p = "helloworld-zone-a-1"
	}
	b := traffic.Batch{Client: client}
	for range n {
		b.Add(traffic.Response{Status: 200, Body: traffic.HelloBody(p), Pod: p})
	}
	time.Sleep(time.Millisecond)
	return b, nil
}

func (s *steadySender) Pods(context.Context) ([]mesh.Pod, error) {
	return []mesh.Pod{{Name: "helloworld-zone-b-1", Locality: "kr/b"}, {Name: "helloworld-zone-a-1", Locality: "kr/a"}}, nil
}
