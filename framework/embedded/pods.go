package embedded

import (
	"fmt"
	"net"
	"sync/atomic"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/workload"
)

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
	var p *podServer
	_, err := probeAddresses(port, func(ip string) error {
		p = &podServer{name: name, ip: ip, port: port, srv: workload.NewServer(name)}
		p.fault.Store(mesh.NoFault)
		return p.srv.Listen(p.addr())
	})
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", name, err)
	}
	return p, nil
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
