package workload

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/localitylb/locality-e2e/framework/traffic"
)

func TestBodyIsHelloworld(t *testing.T) {
	const pod = "helloworld-kr-a-5d8f9c7b6d-4kq2x"
	if Body(pod) != traffic.HelloBody(pod) {
		t.Fatalf("Body %q, traffic.HelloBody %q", Body(pod), traffic.HelloBody(pod))
	}
	if got := traffic.PodFromBody(Body(pod)); got != pod {
		t.Fatalf("PodFromBody(Body) = %q", got)
	}
	if got := traffic.PodFromBody(FaultBody(pod)); got != "" {
		t.Fatalf("a fault body must not name a serving pod, PodFromBody = %q", got)
	}
}

func listen(t *testing.T, pod string) *Server {
	t.Helper()
	s := NewServer(pod)
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// get does one request on a fresh connection.
func get(ctx context.Context, addr, path string) (int, string, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestHandler(t *testing.T) {
	const pod = "helloworld-zone-a-0"
	cases := []struct {
		name      string
		fault     Fault
		path      string
		status    int
		body      string
		refused   bool
		minTime   time.Duration
		countsHit bool
	}{
		{name: "healthy", fault: Healthy, path: "/hello", status: 200, body: Body(pod), countsHit: true},
		{name: "zero fault is healthy", fault: Fault{}, path: "/hello", status: 200, body: Body(pod), countsHit: true},
		{name: "query ignored", fault: Healthy, path: "/hello?r=1", status: 200, body: Body(pod), countsHit: true},
		{name: "other path", fault: Healthy, path: "/", status: 404, body: "404 page not found\n"},
		{name: "503", fault: FailStatus(503), path: "/hello", status: 503, body: FaultBody(pod), countsHit: true},
		{name: "500", fault: FailStatus(500), path: "/hello", status: 500, body: FaultBody(pod), countsHit: true},
		{name: "refuse", fault: RefuseConnections, path: "/hello", refused: true},
		{name: "delay", fault: DelayBy(150 * time.Millisecond), path: "/hello", status: 200, body: Body(pod), minTime: 150 * time.Millisecond, countsHit: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := listen(t, pod)
			addr := s.Addr()
			if _, err := s.SetFault(c.fault); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			status, body, err := get(context.Background(), addr, c.path)
			switch {
			case c.refused:
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Fatalf("want connection refused, got %d %q %v", status, body, err)
				}
			case err != nil:
				t.Fatal(err)
			case status != c.status || body != c.body:
				t.Fatalf("got %d %q, want %d %q", status, body, c.status, c.body)
			}
			if d := time.Since(start); d < c.minTime {
				t.Errorf("answered in %v, want at least %v", d, c.minTime)
			}
			if want := map[bool]int64{true: 1}[c.countsHit]; s.Served() != want {
				t.Errorf("Served %d, want %d", s.Served(), want)
			}
			// Healing always restores normal answers on the same address.
			if _, err := s.SetFault(Healthy); err != nil {
				t.Fatal(err)
			}
			if s.Addr() != addr {
				t.Errorf("address changed from %s to %s", addr, s.Addr())
			}
			if status, body, err := get(context.Background(), addr, "/hello"); err != nil || status != 200 || body != Body(pod) {
				t.Fatalf("after heal: %d %q %v", status, body, err)
			}
		})
	}
}

// TestRefuseClosesOpenConnections: a keep-alive connection opened before
// the fault does not keep getting answers.
func TestRefuseClosesOpenConnections(t *testing.T) {
	s := listen(t, "p")
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if n, err := conn.Read(buf); err != nil || !strings.Contains(string(buf[:n]), Body("p")) {
		t.Fatalf("first answer %q %v", buf[:n], err)
	}
	if _, err := s.SetFault(RefuseConnections); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.WriteString(conn, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
	if n, err := conn.Read(buf); err == nil {
		t.Fatalf("the open connection still answers after refuse: %q", buf[:n])
	}
	if s.Listening() {
		t.Fatal("Listening after refuse")
	}
}

func TestFaultTransitions(t *testing.T) {
	s := listen(t, "p")
	steps := []struct {
		f         Fault
		status    int // 0: refused
		listening bool
	}{
		{RefuseConnections, 0, false},
		{RefuseConnections, 0, false}, // twice is fine
		{FailStatus(503), 503, true},  // refuse → status listens again
		{DelayBy(time.Millisecond), 200, true},
		{RefuseConnections, 0, false},
		{Healthy, 200, true},
		{Healthy, 200, true},
	}
	prev := Healthy
	for i, st := range steps {
		got, err := s.SetFault(st.f)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got != prev {
			t.Errorf("step %d: previous fault %v, want %v", i, got, prev)
		}
		prev = st.f
		status, _, err := get(context.Background(), s.Addr(), "/hello")
		if st.status == 0 && err == nil || st.status != 0 && status != st.status {
			t.Errorf("step %d (%v): got %d %v, want %d", i, st.f, status, err, st.status)
		}
		if s.Listening() != st.listening {
			t.Errorf("step %d: Listening %v", i, s.Listening())
		}
	}
}

func TestRefuseBeforeListen(t *testing.T) {
	s := NewServer("p")
	defer s.Close()
	if _, err := s.SetFault(RefuseConnections); err != nil {
		t.Fatal(err)
	}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(context.Background(), s.Addr(), "/hello"); err == nil {
		t.Fatal("answers while refusing")
	}
	if _, err := s.SetFault(Healthy); err != nil {
		t.Fatal(err)
	}
	if status, _, err := get(context.Background(), s.Addr(), "/hello"); err != nil || status != 200 {
		t.Fatalf("after heal: %d %v", status, err)
	}
}

func TestSetFaultInvalid(t *testing.T) {
	s := listen(t, "p")
	for _, f := range []Fault{FailStatus(99), FailStatus(600), DelayBy(0), {Kind: "explode"}, {Kind: Refuse, Status: 503}} {
		if _, err := s.SetFault(f); err == nil {
			t.Errorf("SetFault(%#v) accepted", f)
		}
	}
	if s.Fault() != Healthy {
		t.Errorf("fault %v after invalid ones", s.Fault())
	}
}

func TestParseFault(t *testing.T) {
	cases := []struct {
		args []string
		want Fault
		err  string
	}{
		{[]string{"503"}, FailStatus(503), ""},
		{[]string{"status", "500"}, FailStatus(500), ""},
		{[]string{"refuse"}, RefuseConnections, ""},
		{[]string{"delay", "2s"}, DelayBy(2 * time.Second), ""},
		{[]string{"none"}, Healthy, ""},
		{[]string{"heal"}, Healthy, ""},
		{nil, Fault{}, "no fault given"},
		{[]string{"explode"}, Fault{}, `unknown fault "explode"`},
		{[]string{"99"}, Fault{}, "from 200 to 599"},
		{[]string{"status"}, Fault{}, "takes one HTTP status"},
		{[]string{"status", "x"}, Fault{}, "not a number"},
		{[]string{"delay", "soon"}, Fault{}, `fault delay "soon"`},
		{[]string{"delay", "-1s"}, Fault{}, "positive duration"},
		{[]string{"refuse", "now"}, Fault{}, "takes no argument"},
		{[]string{"503", "now"}, Fault{}, "takes no further argument"},
	}
	for _, c := range cases {
		got, err := ParseFault(c.args)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseFault(%q): error %v, want %q", c.args, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseFault(%q) = %#v, %v; want %#v", c.args, got, err, c.want)
		}
		if c.err == "" {
			if back, err := ParseFault(got.Args()); err != nil || back != got {
				t.Errorf("round trip of %v via %q: %#v %v", got, got.Args(), back, err)
			}
		}
	}
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bound := make(chan Bound, 1)
	errc := make(chan error, 1)
	var log strings.Builder
	go func() {
		errc <- Run(ctx, Config{Pod: "helloworld-a-0", Addr: "127.0.0.1:0", HealthAddr: "127.0.0.1:0", ControlAddr: "127.0.0.1:0"}, &log, func(b Bound) { bound <- b })
	}()
	var b Bound
	select {
	case b = <-bound:
	case err := <-errc:
		t.Fatal(err)
	}
	c := Client{Addr: b.ControlAddr}
	if _, err := c.SetFault(ctx, RefuseConnections); err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(ctx, b.Addr, "/hello"); err == nil {
		t.Error("serving port answers while refusing")
	}
	status, body, err := get(ctx, b.HealthAddr, HealthPath)
	if err != nil || status != 200 || body != "ok helloworld-a-0 fault=refuse\n" {
		t.Errorf("health while refusing: %d %q %v", status, body, err)
	}
	st, err := c.SetFault(ctx, Healthy)
	if err != nil || st.Previous == nil || *st.Previous != RefuseConnections || !st.Listening || st.Addr != b.Addr || st.Pod != "helloworld-a-0" {
		t.Fatalf("heal: %+v %v", st, err)
	}
	if status, body, err := get(ctx, b.Addr, "/hello"); err != nil || status != 200 || body != Body("helloworld-a-0") {
		t.Errorf("after heal: %d %q %v", status, body, err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "workload helloworld-a-0: serving /hello on "+b.Addr) {
		t.Errorf("log %q", log.String())
	}
}

func TestRunConfigErrors(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Addr: ":0", ControlAddr: "127.0.0.1:0"}, "no pod name"},
		{Config{Pod: "p", Addr: ":0", ControlAddr: "0.0.0.0:0"}, "must be a loopback IP"},
		{Config{Pod: "p", Addr: ":0", ControlAddr: "localhost"}, "control address"},
		{Config{Pod: "p", Addr: ":0", ControlAddr: "127.0.0.1:0", Drain: -time.Second}, "drain period -1s: want 0 (stop at once) to 5m0s"},
	}
	for _, c := range cases {
		err := Run(context.Background(), c.cfg, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestControlEndpoint(t *testing.T) {
	s := listen(t, "p")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.ControlHandler()}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	ctx := context.Background()
	c := Client{Addr: l.Addr().String()}
	cases := []struct {
		name    string
		f       Fault
		wantErr string
	}{
		{"503", FailStatus(503), ""},
		{"delay", DelayBy(2 * time.Second), ""},
		{"refuse", RefuseConnections, ""},
		{"heal", Healthy, ""},
		{"invalid caught by the client", FailStatus(42), "from 200 to 599"},
	}
	for _, cs := range cases {
		st, err := c.SetFault(ctx, cs.f)
		if cs.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), cs.wantErr) {
				t.Errorf("%s: %v", cs.name, err)
			}
			continue
		}
		if err != nil || st.Fault != cs.f || s.Fault() != cs.f {
			t.Errorf("%s: state %+v, server fault %v, err %v", cs.name, st, s.Fault(), err)
		}
	}
	// The server validates too.
	req, _ := http.NewRequest(http.MethodPut, "http://"+c.Addr+FaultPath, strings.NewReader(`{"kind":"status","status":7}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "from 200 to 599") {
		t.Errorf("bad fault: %d %q", resp.StatusCode, b)
	}
	// No endpoint: a clear error.
	l2, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l2.Addr().String()
	l2.Close()
	if _, err := (Client{Addr: dead}).State(ctx); err == nil || !strings.Contains(err.Error(), "no workload control endpoint on "+dead) {
		t.Errorf("dead endpoint: %v", err)
	}
}

// TestCloseDoesNotWaitForUnusedConnections: a connection that never
// carried a request (a client pool's spare) is closed at once; http.Server's
// Shutdown alone would wait for it until shutdownWait ran out.
func TestCloseDoesNotWaitForUnusedConnections(t *testing.T) {
	s := listen(t, "p")
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Let the server accept it (StateNew) by serving one request on
	// another connection first.
	resp, err := http.Get("http://" + s.Addr() + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited >= shutdownWait {
		t.Fatalf("Close waited %v for a connection without a request", waited)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("the unused connection is still open after Close")
	}
}

// TestRunDrains: once told to stop, Run keeps answering for the drain
// period (each answer closing its connection), then stops listening and
// returns.
func TestRunDrains(t *testing.T) {
	const drain = 400 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	bound := make(chan Bound, 1)
	errc := make(chan error, 1)
	var log syncBuilder
	go func() {
		errc <- Run(ctx, Config{Pod: "helloworld-a-0", Addr: "127.0.0.1:0", ControlAddr: "127.0.0.1:0", Drain: drain}, &log, func(b Bound) { bound <- b })
	}()
	b := <-bound
	// A keep-alive client, as a sidecar's connection pool is.
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + b.Addr + HelloPath)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.Close {
		t.Error("before the drain: the answer closes its connection")
	}
	stopped := time.Now()
	cancel()
	for time.Since(stopped) < drain/2 {
		if !b.Server.Draining() {
			time.Sleep(time.Millisecond)
			continue
		}
		resp, err := c.Get("http://" + b.Addr + HelloPath)
		if err != nil {
			t.Fatalf("during the drain, %s after the stop: %v", time.Since(stopped), err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != Body("helloworld-a-0") || !resp.Close {
			t.Fatalf("during the drain: %d %q, Connection: close %v; want 200, the hello body, close", resp.StatusCode, body, resp.Close)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(stopped); took < drain {
		t.Errorf("Run returned %s after the stop, before the %s drain period", took, drain)
	}
	if _, _, err := get(context.Background(), b.Addr, HelloPath); err == nil {
		t.Error("the serving port answers after the drain")
	}
	for _, want := range []string{"told to stop: serving for the drain period (400ms), then exiting", "stopped (served "} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log %q lacks %q", log.String(), want)
		}
	}
}

// TestDrainCutShort: a context that ends first cuts the drain short, and
// a zero drain stops at once.
func TestDrainCutShort(t *testing.T) {
	for _, d := range []time.Duration{time.Hour, 0} {
		s := listen(t, "helloworld-a-0")
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		s.Drain(ctx, d)
		cancel()
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Drain(%s) with a context ending after 50ms took %s", d, took)
		}
		if s.Listening() {
			t.Errorf("Drain(%s): still listening", d)
		}
	}
}

// syncBuilder is a strings.Builder safe for Run's writes and the test's
// reads.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
