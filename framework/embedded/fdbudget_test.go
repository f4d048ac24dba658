package embedded

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// TestFDsPerPod measures what a pod costs in file descriptors under
// traffic, to keep fdsPerPod true.
func TestFDsPerPod(t *testing.T) {
	ctx := context.Background()
	m, err := New(Options{Seed: 10}).Deploy(ctx, topology.ThreeZones())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	// Warm the existing pods' connections first.
	if _, err := m.Send(ctx, "netshoot-b", 300); err != nil {
		t.Fatal(err)
	}
	before := openFDs()
	const add = 100
	if err := m.Scale(ctx, "helloworld-zone-b", 3+add); err != nil {
		t.Fatal(err)
	}
	b, err := m.Send(ctx, "netshoot-b", 20*add)
	if err != nil || b.ByClass().Count(traffic.ClassOK) != 20*add {
		t.Fatalf("Send: %v %s", err, b.ByClass())
	}
	per := float64(openFDs()-before) / add
	t.Logf("%.2f fds per pod under traffic (fdsPerPod = %d)", per, fdsPerPod)
	// A pod holding a second connection for a moment (two requests to it
	// in flight) is within fdReserve; more than that on average is not.
	if per > fdsPerPod*1.2 {
		t.Fatalf("a pod costs %.2f fds, more than fdsPerPod (%d): raise it", per, fdsPerPod)
	}
}

const envFDChild = "LOCALITY_E2E_TEST_FD_CHILD"

// TestFDBudget: issue 23 item 10, in a child process whose limits it may
// lower. A soft limit too low for a scale-up is raised toward the hard
// limit; a hard limit too low refuses the scale-up with the numbers, and
// the mesh keeps serving. Before, scaling to 600 pods under a limit of
// 1024 succeeded and requests then failed with "503 upstream connect
// error".
func TestFDBudget(t *testing.T) {
	if os.Getenv(envFDChild) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFDBudget$", "-test.count=1", "-test.v", "-test.timeout=3m")
		cmd.Env = append(os.Environ(), envFDChild+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestFDBudget") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	if lim.Max < 8192 {
		t.Skipf("hard open-file limit %d: too low to show the soft limit raised", lim.Max)
	}
	hard := lim.Max
	lim.Cur = 512
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, err := New(Options{Seed: 11}).Deploy(ctx, topology.ThreeZones())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	// 300 more pods need ~3,000 fds: the soft limit of 512 is raised.
	if err := m.Scale(ctx, "helloworld-zone-b", 303); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur != hard {
		t.Fatalf("soft limit %d after the scale-up, want the hard limit %d (%v)", lim.Cur, hard, err)
	}
	// Give the 300 pods back, then allow 500 files more than are open now:
	// 300 more pods (about 900 files) are refused with the numbers, 50
	// (about 150) are not. (Below what is open, the mesh itself could not
	// dial its pods any more.)
	if err := m.Scale(ctx, "helloworld-zone-b", 3); err != nil {
		t.Fatal(err)
	}
	open := openFDs()
	limit := uint64(open + 500)
	lim.Cur, lim.Max = limit, limit
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	err = m.Scale(ctx, "helloworld-zone-b", 303)
	need := open + 300*fdsPerPod + fdReserve
	want := fmt.Sprintf("Scale helloworld-zone-b to 303: 300 more pods need about %d open files (3 per pod, %d open now, 256 kept in reserve) but the open-file limit is %d (hard limit %d): raise it (ulimit -n %d; above the hard limit that needs root or limits.conf) or use fewer pods",
		need, open, limit, limit, need)
	if err == nil || err.Error() != want {
		t.Fatalf("Scale past the limit:\n got %v\nwant %s", err, want)
	}
	if err := m.Scale(ctx, "helloworld-zone-b", 53); err != nil {
		t.Fatalf("Scale within the limit: %v", err)
	}
	b, err := m.Send(ctx, "netshoot-b", 3000)
	if err != nil || b.ByClass().Count(traffic.ClassOK) != 3000 {
		t.Fatalf("after the refused scale-up: %v %s", err, b.ByClass())
	}
}
