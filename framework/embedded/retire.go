package embedded

import (
	"context"
	"sync"
	"time"

	"github.com/localitylb/locality-e2e/framework/workload"
)

// retire.go owns how a removed pod stops, on scale-down and on a rolling
// restart: as on Kubernetes, the pod leaves the EndpointSlice and is told
// to stop at the same time (the EndpointSlice controller and the kubelet
// act on the pod's deletion independently), and the pod keeps serving for
// its drain period, with the code cmd/workload runs on SIGTERM
// (workload.Server.Drain), so the sidecars that still hold its endpoint
// until istiod's push reaches them are answered.

// retirer runs the drains of the pods told to stop. Its zero value is
// ready; close ends every drain at once and waits for the pods to stop.
type retirer struct {
	mu     sync.Mutex
	stop   chan struct{} // closed by close
	closed bool
	wg     sync.WaitGroup
}

// drainPeriod is Options.Drain: workload.DefaultDrain when 0, none when
// negative.
func (o Options) drainPeriod() time.Duration {
	switch {
	case o.Drain == 0:
		return workload.DefaultDrain
	case o.Drain < 0:
		return 0
	}
	return o.Drain
}

// retire tells the pods to stop: each serves for d more, in the
// background, then closes (at once when d is 0 or the retirer is closed).
func (r *retirer) retire(pods []*pod, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stop == nil {
		r.stop = make(chan struct{})
	}
	if r.closed {
		d = 0
	}
	stop := r.stop
	for _, p := range pods {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				select {
				case <-stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			p.server.srv.Drain(ctx, d)
		}()
	}
}

// close cuts every drain short and waits until the pods have stopped.
func (r *retirer) close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		if r.stop != nil {
			close(r.stop)
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
}
