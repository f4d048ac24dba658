package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/localitylb/locality-e2e/framework/workload"
)

// startServer runs the serving side in the test (workload.Run on loopback
// ports) and returns what it bound.
func startServer(t *testing.T, pod string) workload.Bound {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	bound := make(chan workload.Bound, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- workload.Run(ctx, workload.Config{Pod: pod, Addr: "127.0.0.1:0", HealthAddr: "127.0.0.1:0", ControlAddr: "127.0.0.1:0"},
			io.Discard, func(b workload.Bound) { bound <- b })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	})
	select {
	case b := <-bound:
		return b
	case err := <-errc:
		t.Fatal(err)
	}
	return workload.Bound{}
}

func hello(addr string) (int, string) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/hello")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// TestFaultSubcommands runs each subcommand, in order, against one server.
func TestFaultSubcommands(t *testing.T) {
	const pod = "helloworld-zone-b-7c9d8b5f4-9mxlp"
	b := startServer(t, pod)
	ctl := "--control-port=" + portOf(b.ControlAddr)
	steps := []struct {
		args   []string
		code   int
		stdout string // exact
		stderr string // substring
		status int    // of GET /hello afterwards; 0: refused
	}{
		{[]string{"fault", ctl, "503"}, 0, "workload " + pod + ": fault status 503 (was none): answering 503 to every request\n", "", 503},
		{[]string{"fault", ctl, "status", "500"}, 0, "workload " + pod + ": fault status 500 (was status 503): answering 500 to every request\n", "", 500},
		{[]string{"fault", ctl, "refuse"}, 0, "workload " + pod + ": fault refuse (was status 500): refusing connections on the serving port (health port still answers)\n", "", 0},
		{[]string{"state", ctl}, 0, "workload " + pod + ": fault refuse: refusing connections on the serving port (health port still answers); served 2\n", "", 0},
		{[]string{"fault", ctl, "delay", "50ms"}, 0, "workload " + pod + ": fault delay 50ms (was refuse): answering normally after 50ms\n", "", 200},
		{[]string{"heal", ctl}, 0, "workload " + pod + ": fault none (was delay 50ms): answering normally\n", "", 200},
		{[]string{"fault", ctl, "none"}, 0, "workload " + pod + ": fault none (was none): answering normally\n", "", 200},
		{[]string{"fault", ctl, "42"}, 2, "", "workload fault: fault status 42: want an HTTP status from 200 to 599\nusage:", 200},
		{[]string{"fault", ctl, "explode"}, 2, "", `workload fault: unknown fault "explode"`, 200},
		{[]string{"fault", ctl}, 2, "", "workload fault: no fault given", 200},
		{[]string{"heal", ctl, "now"}, 2, "", `workload heal: heal takes no argument, got ["now"]`, 200},
		{[]string{"fault", "--bogus", "503"}, 2, "", "flag provided but not defined: -bogus", 200},
		{[]string{"frobnicate"}, 2, "", `workload frobnicate: unknown command "frobnicate"`, 200},
	}
	for i, s := range steps {
		var stdout, stderr strings.Builder
		code := run(context.Background(), s.args, func(string) string { return "" }, &stdout, &stderr)
		if code != s.code || stdout.String() != s.stdout || !strings.Contains(stderr.String(), s.stderr) {
			t.Errorf("step %d %q: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr containing %q",
				i, s.args, code, stdout.String(), stderr.String(), s.code, s.stdout, s.stderr)
		}
		if status, body := hello(b.Addr); status != s.status {
			t.Errorf("step %d %q: then GET /hello = %d %q, want %d", i, s.args, status, body, s.status)
		}
	}
}

func TestFaultNoServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := portOf(l.Addr().String())
	l.Close()
	for _, args := range [][]string{{"fault", "503"}, {"heal"}, {"state"}} {
		var stdout, stderr strings.Builder
		args = append([]string{args[0], "--control-port", port, "--timeout=2s"}, args[1:]...)
		code := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
		want := "workload " + args[0] + ": no workload control endpoint on 127.0.0.1:" + port + " (is `workload serve` running in this container, with this --control-port?)"
		if code != 1 || stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}

var servingRe = regexp.MustCompile(`^workload (\S+): serving /hello on (\S+), health (\S+), control (\S+)\n$`)

// TestServe runs `workload serve` itself (pod name from the environment)
// and faults it with `workload fault`.
func TestServe(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		pod  string
	}{
		{"HOSTNAME", map[string]string{"HOSTNAME": "helloworld-a-0"}, nil, "helloworld-a-0"},
		{"POD_NAME first", map[string]string{"HOSTNAME": "h", "POD_NAME": "helloworld-b-0"}, nil, "helloworld-b-0"},
		{"flag first", map[string]string{"POD_NAME": "p"}, []string{"--pod", "helloworld-c-0"}, "helloworld-c-0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			pr, pw := io.Pipe()
			done := make(chan int, 1)
			args := append([]string{"serve", "--port=0", "--health-port=0", "--control-port=0", "--drain=0"}, c.args...)
			go func() {
				done <- run(ctx, args, func(k string) string { return c.env[k] }, pw, io.Discard)
				pw.Close()
			}()
			line := make([]byte, 512)
			n, _ := pr.Read(line)
			m := servingRe.FindStringSubmatch(string(line[:n]))
			if m == nil || m[1] != c.pod || m[3] != "none" {
				t.Fatalf("serve printed %q", line[:n])
			}
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			addr := "127.0.0.1:" + portOf(m[2])
			if status, body := hello(addr); status != 200 || body != workload.Body(c.pod) {
				t.Errorf("GET /hello: %d %q", status, body)
			}
			var out strings.Builder
			if code := run(ctx, []string{"fault", "--control-port", portOf(m[4]), "refuse"}, nil, &out, io.Discard); code != 0 {
				t.Fatalf("fault refuse: exit %d", code)
			}
			if status, _ := hello(addr); status != 0 {
				t.Errorf("GET /hello while refusing: %d", status)
			}
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("serve exit %d", code)
			}
		})
	}
}

func TestServeErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "--port=0", "--control-port=0", "--health-port=0"}, 1, "workload serve: no pod name: set HOSTNAME or POD_NAME, or pass --pod"},
		{[]string{"--pod=p", "extra"}, 2, "workload serve: unexpected arguments [\"extra\"]"},
		{[]string{"--port=x"}, 2, "invalid value \"x\" for flag -port"},
		{[]string{"--pod=p", "--drain=-1s"}, 2, "workload serve: --drain: drain period -1s: want 0 (stop at once) to 5m0s\n"},
		{[]string{"--pod=p", "--drain=6m"}, 2, "workload serve: --drain: drain period 6m0s: want 0 (stop at once) to 5m0s\n"},
		{[]string{"--pod=p", "--drain=5"}, 2, "workload serve: --drain \"5\": not a duration: write it like 5s or 1500ms (0 stops at once)\n"},
	}
	for _, c := range cases {
		var stderr strings.Builder
		code := run(context.Background(), c.args, func(string) string { return "" }, io.Discard, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d, %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
	var stderr0 strings.Builder
	if code := run(context.Background(), []string{"--pod=p"}, func(k string) string { return map[string]string{"WORKLOAD_DRAIN": "soon"}[k] }, io.Discard, &stderr0); code != 2 ||
		!strings.Contains(stderr0.String(), "workload serve: WORKLOAD_DRAIN \"soon\": not a duration: write it like 5s or 1500ms (0 stops at once)\n") {
		t.Errorf("WORKLOAD_DRAIN=soon: exit %d, %q", code, stderr0.String())
	}
	// A taken serving port is an error, not a hang.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var stderr strings.Builder
	port, _ := strconv.Atoi(portOf(l.Addr().String()))
	code := run(context.Background(), []string{"--pod=p", "--port=" + strconv.Itoa(port), "--control-port=0", "--health-port=0"}, nil, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "serving address") {
		t.Errorf("taken port: exit %d, %q", code, stderr.String())
	}
}
