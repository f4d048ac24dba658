// Package workload is the test workload of locality-e2e: one HTTP server
// that answers GET /hello like istio's helloworld-v1 sample (same body, so
// the response parsers are unchanged) but in microseconds instead of a
// million square roots, and that can be told to fail through a control
// endpoint on 127.0.0.1. The kind backend runs it as cmd/workload in every
// workload pod (faults through `kubectl exec ... workload fault 503`); the
// embedded backend runs the same Server in process for its pods.
package workload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Default ports of cmd/workload. Port is the topology's service port.
const (
	DefaultPort        = 5000
	DefaultHealthPort  = 5001
	DefaultControlPort = 5002
	// HelloPath is the path clients request.
	HelloPath = "/hello"
	// HealthPath answers 200 on the health port whenever the process
	// serves, whatever the fault: readiness is not the serving port's.
	HealthPath = "/healthz"
	// FaultPath on the control endpoint: GET reads, PUT sets the fault.
	FaultPath = "/fault"
)

// Body is what GET /hello answers: exactly the body of
// docker.io/istio/examples-helloworld-v1 (traffic.HelloBody).
func Body(pod string) string { return "Hello version: v1, instance: " + pod + "\n" }

// FaultBody is the body of an answer of a Status fault.
func FaultBody(pod string) string {
	return fmt.Sprintf("fault injected by locality-e2e, instance: %s\n", pod)
}

// ShutdownWait is how long stopping (Refuse, Close, the end of a drain)
// lets requests in flight finish before their connections are closed.
const ShutdownWait = time.Second

var (
	textPlain    = []string{"text/plain; charset=utf-8"}
	connClose    = []string{"close"}
	shutdownWait = ShutdownWait
)

// Server is one pod's workload: the /hello handler, its fault state and,
// once Listen was called, its serving listener.
type Server struct {
	pod   string
	body  []byte
	clen  []string
	fault atomic.Pointer[Fault]

	served   atomic.Int64
	draining atomic.Bool // Drain started: answers close their connection

	mu     sync.Mutex // serializes Listen, SetFault, Close
	addr   string     // bound serving address, kept across Refuse
	srv    *http.Server
	ln     net.Listener // srv's, closed by stop itself: Serve may not have run yet
	closed bool
	// conns are srv's connections with their last state (http.Server's
	// ConnState hook), so stop can close the ones no request is on.
	conns map[net.Conn]http.ConnState
	cmu   sync.Mutex
}

// NewServer returns the workload of pod, healthy and not listening.
func NewServer(pod string) *Server {
	s := &Server{pod: pod, body: []byte(Body(pod))}
	s.clen = []string{strconv.Itoa(len(s.body))}
	f := Healthy
	s.fault.Store(&f)
	return s
}

// Pod is the pod name the server answers with.
func (s *Server) Pod() string { return s.pod }

// Served counts the /hello requests that reached the handler.
func (s *Server) Served() int64 { return s.served.Load() }

// Fault is the current fault.
func (s *Server) Fault() Fault { return *s.fault.Load() }

// ServeHTTP answers GET /hello (any method, like helloworld's Flask route)
// according to the fault; other paths are 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != HelloPath {
		http.NotFound(w, r)
		return
	}
	s.served.Add(1)
	if s.draining.Load() {
		// Told to stop: every answer closes its connection, so no
		// keep-alive connection is left idle for the final close to race
		// with a request a caller is about to send on it.
		w.Header()["Connection"] = connClose
	}
	f := s.fault.Load()
	switch f.Kind {
	case Status:
		w.Header()["Content-Type"] = textPlain
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(FaultBody(s.pod)))
		return
	case Delay:
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	h := w.Header()
	h["Content-Type"] = textPlain
	h["Content-Length"] = s.clen
	_, _ = w.Write(s.body)
}

// Listen binds addr ("host:port"; port 0 picks one) and serves the handler
// there in the background. The bound address is kept: healing a Refuse
// fault listens on it again. With a Refuse fault already set, Listen only
// binds once to learn the address, then closes it.
func (s *Server) Listen(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("workload server closed")
	}
	if s.srv != nil {
		return fmt.Errorf("workload server of %s already listens on %s", s.pod, s.addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.addr = l.Addr().String()
	if s.Fault().Kind == Refuse {
		return l.Close()
	}
	s.serve(l)
	return nil
}

// serve starts an http.Server on l; s.mu is held.
func (s *Server) serve(l net.Listener) {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute,
		ConnState: s.track}
	s.srv, s.ln = srv, l
	go func() { _ = srv.Serve(l) }()
}

// Addr is the bound serving address ("" before Listen).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Listening reports whether the serving port accepts connections now.
func (s *Server) Listening() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv != nil
}

// SetFault applies f and returns the previous fault. Entering Refuse
// closes the serving listener and every open connection (in-flight
// requests get up to a second); leaving it listens on the same address
// again, before the new fault takes effect for nobody to see a gap.
func (s *Server) SetFault(f Fault) (Fault, error) {
	f = f.normal()
	if err := f.Validate(); err != nil {
		return s.Fault(), err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.Fault(), errors.New("workload server closed")
	}
	prev := *s.fault.Load()
	if f.Kind != Refuse && s.srv == nil && s.addr != "" {
		l, err := net.Listen("tcp", s.addr)
		if err != nil {
			return prev, fmt.Errorf("heal %s: listen again on %s: %w", s.pod, s.addr, err)
		}
		s.fault.Store(&f)
		s.serve(l)
		return prev, nil
	}
	s.fault.Store(&f)
	if f.Kind == Refuse {
		s.stop()
	}
	return prev, nil
}

// track is srv's ConnState hook.
func (s *Server) track(c net.Conn, st http.ConnState) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if s.conns == nil {
		s.conns = map[net.Conn]http.ConnState{}
	}
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	default:
		s.conns[c] = st
	}
}

// stop closes the serving listener and connections; s.mu is held.
func (s *Server) stop() {
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	if srv == nil {
		return
	}
	// Refused from now on, even if the Serve goroutine has not started.
	_ = ln.Close()
	// Shutdown would wait for connections that were accepted but never
	// carried a request (http.Server treats StateNew as active for 5 s);
	// close those and the idle ones now, and give only requests in flight
	// their time.
	s.cmu.Lock()
	for c, st := range s.conns {
		if st == http.StateNew || st == http.StateIdle {
			_ = c.Close()
		}
	}
	s.cmu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	_ = srv.Shutdown(ctx)
	_ = srv.Close()
}

// Draining reports whether Drain has started.
func (s *Server) Draining() bool { return s.draining.Load() }

// Drain is what the pod does when told to stop (SIGTERM on Kubernetes, a
// scale-down on the embedded backend): it keeps serving for d, as a
// well-run service does, because the callers learn that the pod is gone
// only when their proxies get the endpoint update, which Kubernetes starts
// at the same time as it signals the pod (see DefaultDrain). Answers
// during the drain close their connection. Then it closes for good (Close:
// requests in flight get ShutdownWait). A ctx that ends first cuts the
// drain short; d <= 0 closes at once.
func (s *Server) Drain(ctx context.Context, d time.Duration) {
	s.draining.Store(true)
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	_ = s.Close()
}

// Close stops serving for good.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.stop()
	return nil
}
