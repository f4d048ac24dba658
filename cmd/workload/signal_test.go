package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary runs main() itself when reexecEnv is set (with the
// arguments in reexecArgs), so the signal tests see the real process.
const (
	reexecEnv  = "LOCALITY_E2E_WORKLOAD_MAIN"
	reexecArgs = "LOCALITY_E2E_WORKLOAD_ARGS"
)

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		os.Args = append([]string{"workload"}, strings.Fields(os.Getenv(reexecArgs))...)
		main()
		return
	}
	os.Exit(m.Run())
}

// startProcess runs `workload serve` as its own process with the drain
// period in $WORKLOAD_DRAIN, and returns it with the serving address and
// its stdout lines after the first.
func startProcess(t *testing.T, drain string) (*exec.Cmd, string, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), reexecEnv+"=1",
		reexecArgs+"=serve --pod=helloworld-a-0 --port=0 --health-port=0 --control-port=0", "WORKLOAD_DRAIN="+drain)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatalf("workload serve printed nothing: %v", sc.Err())
	}
	m := servingRe.FindStringSubmatch(sc.Text() + "\n")
	if m == nil {
		t.Fatalf("serve printed %q", sc.Text())
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return cmd, "127.0.0.1:" + portOf(m[2]), lines
}

// TestSIGTERMDrains: after SIGTERM the process keeps answering for the
// drain period ($WORKLOAD_DRAIN here), then exits 0.
func TestSIGTERMDrains(t *testing.T) {
	const drain = 800 * time.Millisecond
	cmd, addr, lines := startProcess(t, drain.String())
	if status, body := hello(addr); status != 200 {
		t.Fatalf("before SIGTERM: %d %q", status, body)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if l := <-lines; l != "workload helloworld-a-0: told to stop: serving for the drain period (800ms), then exiting" {
		t.Fatalf("after SIGTERM printed %q", l)
	}
	for n := 0; time.Since(start) < drain/2; n++ {
		if status, body := hello(addr); status != 200 {
			t.Fatalf("request %d, %s after SIGTERM: %d %q, want 200 during the drain", n, time.Since(start), status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Read stdout to its end before Wait, which closes the pipe once the
	// process has exited and can cut the reader off before the last line.
	var last string
	for l := range lines {
		last = l
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after the drain: %v, want 0", err)
	}
	if took := time.Since(start); took < drain {
		t.Errorf("exited %s after SIGTERM, before the %s drain period", took, drain)
	}
	if !strings.HasPrefix(last, "workload helloworld-a-0: stopped (served ") {
		t.Errorf("last line %q", last)
	}
}

// TestSecondSignalEndsAtOnce: a second SIGTERM during a long drain ends
// the process at once, with exit status 128+15.
func TestSecondSignalEndsAtOnce(t *testing.T) {
	cmd, _, lines := startProcess(t, "4m")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if l := <-lines; !strings.Contains(l, "told to stop") {
		t.Fatalf("after SIGTERM printed %q", l)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 143 {
			t.Fatalf("second SIGTERM: exit %v, want exit status 143 (128+SIGTERM)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a second SIGTERM did not end the drain")
	}
}
