package embedded

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/workload"
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

// podServer is one pod: framework/workload's server (what cmd/workload
// runs in the kind backend's pods) on its own loopback address.
type podServer struct {
	name string
	ip   string
	port int

	fault atomic.Value // mesh.Fault
	srv   *workload.Server
}

// startPod binds a fresh loopback address on port and serves there.
func startPod(name string, port int) (*podServer, error) {
	var lastErr error
	for try := 0; try < 64; try++ {
		ip := nextAddress()
		p := &podServer{name: name, ip: ip, port: port, srv: workload.NewServer(name)}
		p.fault.Store(mesh.NoFault)
		if err := p.srv.Listen(p.addr()); err != nil {
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

// served counts the /hello requests the pod handled.
func (p *podServer) served() int64 { return p.srv.Served() }

// setFault changes what the pod does.
func (p *podServer) setFault(f mesh.Fault) error {
	wf, err := f.Workload()
	if err != nil {
		return err
	}
	if _, err := p.srv.SetFault(wf); err != nil {
		return err
	}
	p.fault.Store(f)
	return nil
}

func (p *podServer) currentFault() mesh.Fault { return p.fault.Load().(mesh.Fault) }

// stop closes the listener and all connections.
func (p *podServer) stop() { _ = p.srv.Close() }
