package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// addresses hands out loopback addresses 127.b.c.d, never 127.0.0.x (left
// to the host) and never .0/.255, process-wide so concurrent meshes (ginkgo
// -p runs one process each; within a process meshes share this) never
// collide. An address whose port is taken is skipped.
var addresses struct {
	mu   sync.Mutex
	next uint32
}

func nextAddress() string {
	addresses.mu.Lock()
	defer addresses.mu.Unlock()
	n := addresses.next
	addresses.next++
	// 200 × 250 × 250 addresses before wrapping.
	d := n%250 + 1
	c := (n / 250) % 250
	b := 20 + (n/62500)%200
	return fmt.Sprintf("127.%d.%d.%d", b, c, d)
}

// podServer is one pod: a real HTTP server on its own loopback address that
// answers GET /hello like docker.io/istio/examples-helloworld-v1.
type podServer struct {
	name string
	ip   string
	port int

	fault atomic.Value // mesh.Fault

	mu     sync.Mutex
	server *http.Server
	served atomic.Int64
}

// startPod binds a fresh loopback address on port and serves there.
func startPod(name string, port int) (*podServer, error) {
	var lastErr error
	for try := 0; try < 64; try++ {
		ip := nextAddress()
		p := &podServer{name: name, ip: ip, port: port}
		p.fault.Store(mesh.NoFault)
		if err := p.listen(); err != nil {
			lastErr = err
			if errors.Is(err, syscall.EADDRINUSE) {
				continue
			}
			return nil, fmt.Errorf("pod %s: %w", name, err)
		}
		return p, nil
	}
	return nil, fmt.Errorf("pod %s: no free loopback address on port %d: %w", name, port, lastErr)
}

func (p *podServer) addr() string { return net.JoinHostPort(p.ip, fmt.Sprint(p.port)) }

func (p *podServer) listen() error {
	l, err := net.Listen("tcp", p.addr())
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", p.hello)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	p.mu.Lock()
	p.server = srv
	p.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
	return nil
}

func (p *podServer) hello(w http.ResponseWriter, r *http.Request) {
	p.served.Add(1)
	if p.fault.Load().(mesh.Fault) == mesh.Fail5xx {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "fault injected by locality-e2e, instance: %s\n", p.name)
		return
	}
	_, _ = fmt.Fprint(w, traffic.HelloBody(p.name))
}

// setFault changes what the pod does. RefuseConnections closes the listener
// and every open connection, so new connections are refused, as when the
// sidecar's listeners are drained; healing listens again on the same address.
func (p *podServer) setFault(f mesh.Fault) error {
	prev := p.fault.Swap(f).(mesh.Fault)
	switch {
	case f == mesh.RefuseConnections && prev != mesh.RefuseConnections:
		p.stop()
	case f != mesh.RefuseConnections && prev == mesh.RefuseConnections:
		return p.listen()
	}
	return nil
}

func (p *podServer) currentFault() mesh.Fault { return p.fault.Load().(mesh.Fault) }

// stop closes the listener and all connections.
func (p *podServer) stop() {
	p.mu.Lock()
	srv := p.server
	p.server = nil
	p.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
	}
}
