package kind

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindexec "sigs.k8s.io/kind/pkg/exec"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
	"github.com/localitylb/locality-e2e/framework/workload"
)

// The fake cluster's workload pods are real workload servers on loopback
// (framework/workload, what cmd/workload runs in the pods): a fault exec
// runs the real command line (workload.Main) against the pod's control
// endpoint, and a curl exec runs the real curl (or, without curl on PATH,
// an equivalent in Go) against the pods' serving addresses.

// podServers holds each fake cluster's workload servers, "ns/pod" → bound.
var podServers sync.Map // *fakeCluster → *fakePods

type fakePods struct {
	mu   sync.Mutex
	pods map[string]workload.Bound
}

func (f *fakeCluster) pods() *fakePods {
	v, loaded := podServers.LoadOrStore(f, &fakePods{pods: map[string]workload.Bound{}})
	if !loaded {
		f.t.Cleanup(func() { podServers.Delete(f) })
	}
	return v.(*fakePods)
}

// podServer starts (once) the workload server of ns/pod, on 127.0.0.1.
func (f *fakeCluster) podServer(ns, pod string) workload.Bound {
	ps := f.pods()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if b, ok := ps.pods[ns+"/"+pod]; ok {
		return b
	}
	ctx, cancel := context.WithCancel(context.Background())
	bound := make(chan workload.Bound, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- workload.Run(ctx, workload.Config{Pod: pod, Addr: "127.0.0.1:0", HealthAddr: "127.0.0.1:0", ControlAddr: "127.0.0.1:0"},
			io.Discard, func(b workload.Bound) { bound <- b })
	}()
	f.t.Cleanup(func() { cancel(); <-errc })
	select {
	case b := <-bound:
		ps.pods[ns+"/"+pod] = b
		return b
	case err := <-errc:
		f.t.Fatalf("workload server of %s/%s: %v", ns, pod, err)
	}
	return workload.Bound{}
}

// workloadExec is `kubectl exec <pod> -c helloworld -- /workload ...`: the
// real command line, pointed at the pod's control endpoint.
func (f *fakeCluster) workloadExec(ctx context.Context, ns, pod, container string, argv []string) (string, string, error) {
	if container != WorkloadContainer || len(argv) < 2 {
		return "", "unknown container or command", fmt.Errorf("command terminated with exit code 126")
	}
	b := f.podServer(ns, pod)
	_, port, _ := net.SplitHostPort(b.ControlAddr)
	args := append([]string{argv[1], "--control-port=" + port}, argv[2:]...)
	var stdout, stderr strings.Builder
	if code := workload.Main(ctx, args, func(string) string { return "" }, &stdout, &stderr); code != 0 {
		return stdout.String(), stderr.String(), fmt.Errorf("command terminated with exit code %d", code)
	}
	return stdout.String(), stderr.String(), nil
}

// curlTargets are the pods a fake curl's requests go to, round robin.
var curlTargets = []string{"helloworld-zone-b-0", "helloworld-zone-b-1", "helloworld-zone-b-2"}

// curlExec runs the client's curl: argv as given, each service URL
// replaced by the serving address of curlTargets[i%3].
func (f *fakeCluster) curlExec(ctx context.Context, ns string, argv []string) (string, string, error) {
	args := append([]string(nil), argv...)
	var urls []string
	for i, a := range args {
		if strings.HasPrefix(a, "http://") {
			target := f.podServer(ns, curlTargets[len(urls)%len(curlTargets)])
			args[i] = "http://" + target.Addr + workload.HelloPath
			urls = append(urls, args[i])
		}
	}
	var out string
	if _, err := exec.LookPath("curl"); err == nil {
		b, err := exec.CommandContext(ctx, args[0], args[1:]...).Output()
		out = string(b)
		if err != nil && len(b) == 0 {
			return "", err.Error(), err
		}
	} else {
		out = goCurl(ctx, urls)
	}
	f.mu.Lock()
	err := f.curlErr
	f.mu.Unlock()
	return out, "", err
}

// goCurl prints what CurlArgs' curl prints for urls, one after the other.
func goCurl(ctx context.Context, urls []string) string {
	c := &http.Client{Timeout: 5 * time.Second}
	var out strings.Builder
	for i, u := range urls {
		code, exit, msg, body := "000", 0, "", ""
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := c.Do(req)
		if err != nil {
			exit, msg = 7, err.Error()
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			code, body = fmt.Sprintf("%03d", resp.StatusCode), string(b)
		}
		fmt.Fprintf(&out, "%s\n%s %s %d %d %d %s\n", body, traffic.CurlMarker, code, exit, len(body), i, msg)
	}
	return out.String()
}

func TestWorkloadFaultArgs(t *testing.T) {
	cases := []struct {
		f    mesh.Fault
		want []string
	}{
		{mesh.Fail5xx, []string{"/workload", "fault", "status", "503"}},
		{mesh.RefuseConnections, []string{"/workload", "fault", "refuse"}},
		{mesh.NoFault, []string{"/workload", "heal"}},
	}
	for _, c := range cases {
		got, err := WorkloadFaultArgs(c.f)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("WorkloadFaultArgs(%q) = %q, %v; want %q", c.f, got, err, c.want)
		}
	}
	if _, err := WorkloadFaultArgs("explode"); err == nil {
		t.Error("unknown fault accepted")
	}
}

// TestSetFaultWorkload: faults by exec of the real command line against
// the pods' real servers, seen through the real curl path (Send).
func TestSetFaultWorkload(t *testing.T) {
	f, _, m := deployThreeZones(t)
	ctx := context.Background()
	if !m.Capabilities().Fault5xx || m.Topology().Image != BuiltinWorkloadImage {
		t.Fatalf("capabilities %+v, image %s", m.Capabilities(), m.Topology().Image)
	}
	classes := func() map[string]int {
		t.Helper()
		b, err := m.Send(ctx, "netshoot-b", 30)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, r := range b.Responses {
			k := r.Class()
			if r.Pod != "" {
				k += " " + r.Pod
			}
			out[k]++
		}
		return out
	}
	if got, want := classes(), map[string]int{
		"200 OK helloworld-zone-b-0": 10, "200 OK helloworld-zone-b-1": 10, "200 OK helloworld-zone-b-2": 10,
	}; !reflect.DeepEqual(got, want) {
		t.Fatalf("healthy: %v, want %v", got, want)
	}
	if err := m.SetFault(ctx, "helloworld-zone-b", 1, mesh.Fail5xx); err != nil {
		t.Fatal(err)
	}
	// Pods 0 and 1: the first one goes from 503 to refusing.
	if err := m.SetFault(ctx, "helloworld-zone-b", 2, mesh.RefuseConnections); err != nil {
		t.Fatal(err)
	}
	execs := f.execs("/workload")
	wantExecs := [][]string{
		{m.ns + "/helloworld-zone-b-0/helloworld", "/workload", "fault", "status", "503"},
		{m.ns + "/helloworld-zone-b-0/helloworld", "/workload", "fault", "refuse"},
		{m.ns + "/helloworld-zone-b-1/helloworld", "/workload", "fault", "refuse"},
	}
	if !reflect.DeepEqual(execs, wantExecs) {
		t.Fatalf("execs %q\nwant %q", execs, wantExecs)
	}
	if got, want := classes(), map[string]int{
		traffic.ClassClientError: 20, "200 OK helloworld-zone-b-2": 10,
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("two refusing: %v, want %v", got, want)
	}
	if err := m.SetFault(ctx, "helloworld-zone-b", -1, mesh.NoFault); err != nil {
		t.Fatal(err)
	}
	if err := m.SetFault(ctx, "helloworld-zone-b", 3, mesh.Fail5xx); err != nil {
		t.Fatal(err)
	}
	if got, want := classes(), map[string]int{traffic.ClassServerError: 30}; !reflect.DeepEqual(got, want) {
		t.Errorf("all 503: %v, want %v", got, want)
	}
	pods, _ := m.Pods(ctx)
	for _, p := range pods {
		if p.Workload == "helloworld-zone-b" && p.Fault != mesh.Fail5xx {
			t.Errorf("pod %s fault %q", p.Name, p.Fault)
		}
	}
	if err := m.SetFault(ctx, "helloworld-zone-b", -1, mesh.NoFault); err != nil {
		t.Fatal(err)
	}
	if got := classes(); got["200 OK helloworld-zone-b-0"] != 10 || len(got) != 3 {
		t.Errorf("healed: %v", got)
	}
	pods, _ = m.Pods(ctx)
	for _, p := range pods {
		if p.Fault != mesh.NoFault {
			t.Errorf("pod %s still %q", p.Name, p.Fault)
		}
	}
	// Healing did not delete pods.
	if del := f.execs("pilot-agent request POST drain"); len(del) != 0 {
		t.Errorf("drain execs with the workload image: %q", del)
	}
	if err := m.SetFault(ctx, "helloworld-zone-b", 4, mesh.Fail5xx); err == nil || !strings.Contains(err.Error(), "has 3") {
		t.Errorf("too many pods: %v", err)
	}
}

// TestSetFaultWorkloadExecFails: a failing exec is an error naming the pod
// and carrying the command's message.
func TestSetFaultWorkloadExecFails(t *testing.T) {
	f, _, m := deployThreeZones(t)
	// The pod's server is gone: the command line says so.
	b := f.podServer(m.ns, "helloworld-zone-a-0")
	b.Server.Close()
	ps := f.pods()
	ps.mu.Lock()
	b.ControlAddr = "127.0.0.1:1"
	ps.pods[m.ns+"/helloworld-zone-a-0"] = b
	ps.mu.Unlock()
	err := m.SetFault(context.Background(), "helloworld-zone-a", 1, mesh.Fail5xx)
	if err == nil || !strings.Contains(err.Error(), "on helloworld-zone-a-0") || !strings.Contains(err.Error(), "no workload control endpoint on 127.0.0.1:1") {
		t.Fatalf("error %v", err)
	}
}

// TestSetFaultHelloworld: with the helloworld image, the seed's paths.
func TestSetFaultHelloworld(t *testing.T) {
	f, b := newFakeCluster(t)
	b.cfg.WorkloadImage = WorkloadImageHelloworld
	mm, err := b.Deploy(context.Background(), topology.ThreeZones())
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*kindMesh)
	ctx := context.Background()
	if m.Capabilities().Fault5xx || m.Topology().Image != topology.DefaultImage {
		t.Fatalf("capabilities %+v, image %s", m.Capabilities(), m.Topology().Image)
	}
	if err := m.SetFault(ctx, "helloworld-zone-b", -1, mesh.Fail5xx); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("Fail5xx: %v", err)
	}
	if err := m.SetFault(ctx, "helloworld-zone-b", 2, mesh.RefuseConnections); err != nil {
		t.Fatal(err)
	}
	drains := f.execs("pilot-agent request POST drain_listeners?inboundonly")
	if len(drains) != 2 || drains[0][0] != m.ns+"/helloworld-zone-b-0/istio-proxy" || drains[1][0] != m.ns+"/helloworld-zone-b-1/istio-proxy" {
		t.Fatalf("drain execs %q", drains)
	}
	pods, _ := m.Pods(ctx)
	faulty := 0
	for _, p := range pods {
		if p.Fault == mesh.RefuseConnections {
			faulty++
		}
	}
	if faulty != 2 {
		t.Errorf("%d faulty pods, want 2", faulty)
	}
	if err := m.SetFault(ctx, "helloworld-zone-b", 4, mesh.RefuseConnections); err == nil || !strings.Contains(err.Error(), "has 3") {
		t.Errorf("too many pods: %v", err)
	}
	// Heal: the faulted pods are deleted and replaced (same names in the fake).
	if err := m.SetFault(ctx, "helloworld-zone-b", -1, mesh.NoFault); err != nil {
		t.Fatal(err)
	}
	pods, _ = m.Pods(ctx)
	for _, p := range pods {
		if p.Fault != mesh.NoFault {
			t.Errorf("pod %s still %q", p.Name, p.Fault)
		}
	}
	if w := f.execs("/workload"); len(w) != 0 {
		t.Errorf("workload execs with helloworld: %q", w)
	}
}

// A topology's own Image wins over the configured workload image.
func TestDeployTopologyImage(t *testing.T) {
	_, b := newFakeCluster(t)
	topo := topology.ThreeZones()
	topo.Image = "registry.example/le2e/workload:v3"
	mm, err := b.Deploy(context.Background(), topo)
	if err != nil {
		t.Fatal(err)
	}
	if m := mm.(*kindMesh); m.Topology().Image != topo.Image || !m.Capabilities().Fault5xx {
		t.Errorf("image %s, capabilities %+v", m.Topology().Image, m.Capabilities())
	}
}

// TestWorkloadImagePlan is what `make e2e` does for the workload image, in
// order (make e2e-plan prints it): write the Dockerfile, go build the
// static binary, docker build FROM scratch, load into each node.
func TestWorkloadImagePlan(t *testing.T) {
	got := WorkloadImagePlan(BuiltinWorkloadImage, "/tmp/ctx", "amd64", []string{"locality-e2e-worker", "locality-e2e-worker2"})
	want := []string{
		"write /tmp/ctx/Dockerfile",
		"build the static workload binary: CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags=-s -w -o /tmp/ctx/workload github.com/localitylb/locality-e2e/cmd/workload",
		"build the image: docker build --tag locality-e2e.local/workload:dev /tmp/ctx",
		"load into node locality-e2e-worker (kind nodeutils.LoadImageArchive): docker save locality-e2e.local/workload:dev",
		"load into node locality-e2e-worker2 (kind nodeutils.LoadImageArchive): docker save locality-e2e.local/workload:dev",
	}
	var lines []string
	for _, s := range got {
		lines = append(lines, s.String())
	}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("plan\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if !reflect.DeepEqual(got[1].Argv, []string{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", "/tmp/ctx/workload", WorkloadPackage}) ||
		!reflect.DeepEqual(got[2].Argv, []string{"docker", "build", "--tag", BuiltinWorkloadImage, "/tmp/ctx"}) {
		t.Errorf("argv %q %q", got[1].Argv, got[2].Argv)
	}
	for _, s := range got {
		t.Log(s)
	}
}

// TestBuildWorkloadImage runs the build through fakes: the steps in order,
// the Dockerfile and binary in one context, the image loaded per node.
func TestBuildWorkloadImage(t *testing.T) {
	var calls []string
	run := func(ctx context.Context, argv, env []string, log io.Writer) error {
		calls = append(calls, strings.Join(append(append([]string(nil), env...), argv...), " "))
		if argv[0] == "docker" {
			dir := argv[len(argv)-1]
			df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
			if err != nil || string(df) != WorkloadDockerfile {
				t.Errorf("Dockerfile in the context: %v", err)
			}
		}
		return nil
	}
	var loaded []string
	load := func(ctx context.Context, img string, n nodes.Node) error {
		loaded = append(loaded, img+" → "+n.String())
		return nil
	}
	var log strings.Builder
	ns := []nodes.Node{fakeNode("w1"), fakeNode("w2")}
	if err := buildWorkloadImage(context.Background(), ns, &log, run, load); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || !strings.HasPrefix(calls[0], "CGO_ENABLED=0 GOOS=linux GOARCH="+runtime.GOARCH+" go build") || !strings.HasPrefix(calls[1], "docker build --tag "+BuiltinWorkloadImage) {
		t.Errorf("calls %q", calls)
	}
	if !reflect.DeepEqual(loaded, []string{BuiltinWorkloadImage + " → w1", BuiltinWorkloadImage + " → w2"}) {
		t.Errorf("loaded %q", loaded)
	}
	if !strings.Contains(log.String(), "kind: workload image 3: build the image: docker build") {
		t.Errorf("log %q", log.String())
	}
	// A failing step names itself and the way out.
	err := buildWorkloadImage(context.Background(), ns, io.Discard,
		func(ctx context.Context, argv, env []string, log io.Writer) error { return fmt.Errorf("exit status 1") }, load)
	if err == nil || !strings.Contains(err.Error(), "build the static workload binary") || !strings.Contains(err.Error(), EnvWorkloadImage+"=helloworld") {
		t.Errorf("error %v", err)
	}
}

// The committed Dockerfile is the one the suite writes.
func TestWorkloadDockerfileCommitted(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "cmd", "workload", "Dockerfile"))
	if err != nil || string(b) != WorkloadDockerfile {
		t.Errorf("cmd/workload/Dockerfile differs from WorkloadDockerfile (%v)", err)
	}
}

// The static binary really builds (what the image's first step runs).
func TestWorkloadBinaryBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	st := WorkloadImagePlan(BuiltinWorkloadImage, t.TempDir(), runtime.GOARCH, nil)[1]
	cmd := exec.Command(st.Argv[0], st.Argv[1:]...)
	cmd.Env = append(os.Environ(), st.Env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", st, err, out)
	}
}

type fakeNode string

func (n fakeNode) String() string                                                 { return string(n) }
func (n fakeNode) Role() (string, error)                                          { return "worker", nil }
func (n fakeNode) IP() (string, string, error)                                    { return "", "", nil }
func (n fakeNode) SerialLogs(io.Writer) error                                     { return nil }
func (n fakeNode) Command(string, ...string) kindexec.Cmd                         { return nil }
func (n fakeNode) CommandContext(context.Context, string, ...string) kindexec.Cmd { return nil }
