package embedded

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// Environment of the address-holder child process.
const (
	envHoldPods  = "LOCALITY_E2E_TEST_HOLD_PODS"
	envAddrStart = "LOCALITY_E2E_TEST_ADDRESS_START"
)

// TestAddressHolderProcess is the child of TestAddressesAcrossProcesses:
// it starts the pods it is told to from the address it is told to, says
// so on stdout and holds them until its stdin closes.
func TestAddressHolderProcess(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(envHoldPods))
	if n == 0 {
		t.Skip("run by TestAddressesAcrossProcesses")
	}
	start, err := strconv.ParseUint(os.Getenv(envAddrStart), 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	addresses.next = uint32(start)
	if err := checkFDBudget("hold pods", n); err != nil {
		t.Fatal(err)
	}
	var pods []*podServer
	for i := range n {
		p, err := startPod(fmt.Sprintf("held-%d", i), 5000)
		if err != nil {
			t.Fatal(err)
		}
		pods = append(pods, p)
	}
	fmt.Printf("holding %d pods from %s\n", len(pods), pods[0].ip)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes it
	for _, p := range pods {
		p.stop()
	}
}

// TestAddressesAcrossProcesses: issue 23 item 9. Another process holds
// 1000 pods on the very addresses this process would hand out next (the
// worst case of two processes' blocks meeting); a three-zones deploy here
// steps over all of them and serves. Before, every process started at
// 127.20.0.1 and gave up after 64 taken addresses: "no free loopback
// address on port 5000".
func TestAddressesAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second process with 1000 pods")
	}
	// The holder needs about 3,300 open files (fdbudget.go); its
	// checkFDBudget raises its soft limit to the hard one if needed.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Max < 1000*fdsPerPod+2*fdReserve {
		t.Skipf("hard open-file limit %d: too low for a process holding 1000 pods", lim.Max)
	}
	addresses.mu.Lock()
	start := addresses.next
	addresses.mu.Unlock()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAddressHolderProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHoldPods+"=1000", fmt.Sprintf("%s=%d", envAddrStart, start))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "holding 1000 pods from ") {
		t.Fatalf("holder process: %q %v", line, err)
	}
	t.Logf("other process: %s", strings.TrimSpace(line))

	ctx := context.Background()
	m, err := New(Options{Seed: 9}).Deploy(ctx, topology.ThreeZones())
	if err != nil {
		t.Fatalf("deploy while another process holds 1000 pods: %v", err)
	}
	defer m.Close(ctx)
	pods, _ := m.Pods(ctx)
	for _, p := range pods {
		if p.IP == strings.TrimSpace(strings.TrimPrefix(line, "holding 1000 pods from ")) {
			t.Fatalf("pod %s got the other process's address %s", p.Name, p.IP)
		}
	}
	b, err := m.Send(ctx, "netshoot-b", 300)
	if err != nil || b.ByClass().Count(traffic.ClassOK) != 300 {
		t.Fatalf("Send: %v %s", err, b.ByClass())
	}
}

// TestAddressStartsDiffer: two processes start at different addresses,
// and not at 127.20.0.1, where every process used to start.
func TestAddressStartsDiffer(t *testing.T) {
	var starts []string
	for range 2 {
		out, err := exec.Command(os.Args[0], "-test.run=^TestAddressPrintStart$", "-test.count=1", "-test.v").CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		_, after, ok := strings.Cut(string(out), "start=")
		if !ok {
			t.Fatalf("child: %s", out)
		}
		starts = append(starts, strings.Fields(after)[0])
	}
	t.Logf("two processes start at %v", starts)
	if starts[0] == starts[1] || starts[0] == "127.20.0.1" || starts[1] == "127.20.0.1" {
		t.Fatalf("start addresses %v: want two different ones, neither 127.20.0.1", starts)
	}
}

func TestAddressPrintStart(t *testing.T) {
	if !testing.Verbose() {
		t.Skip("run by TestAddressStartsDiffer")
	}
	addresses.mu.Lock()
	addresses.next = addressStart
	addresses.mu.Unlock()
	ip := nextAddress()
	fmt.Printf("start=%s\n", ip)
}
