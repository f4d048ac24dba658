package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Config is what `workload serve` serves.
type Config struct {
	Pod         string // the name in every answer
	Addr        string // serving address, ":5000"
	HealthAddr  string // /healthz, ":5001"; "" for none
	ControlAddr string // control endpoint, "127.0.0.1:5002": loopback only
	// Drain is how long Run keeps serving once its context ends (Server.Drain);
	// 0 stops at once.
	Drain time.Duration
}

// DefaultDrain is how long cmd/workload keeps serving after SIGTERM, and
// the embedded backend's pods after a scale-down. Kubernetes removes a
// terminating pod from its EndpointSlice and signals the pod at the same
// time, and every caller's sidecar keeps sending to the pod until istiod's
// push of the new endpoints reaches it: istiod holds a push back by
// PILOT_DEBOUNCE_AFTER (100 ms) and, while changes keep coming, up to
// PILOT_DEBOUNCE_MAX (10 s) (istio pilot/pkg/features/tuning.go). 5 s is
// many times a push in a quiet mesh and the sidecar's own default drain
// (meshConfig terminationDrainDuration, istio pkg/config/mesh/mesh.go); on
// kind the Deployment's preStop sleep of the same length comes before the
// signal, so the pod serves for PILOT_DEBOUNCE_MAX in all.
const DefaultDrain = 5 * time.Second

// MaxDrain bounds the drain period cmd/workload accepts.
const MaxDrain = 5 * time.Minute

// CheckDrain returns an error naming d and the range when it is not a
// drain period Run accepts.
func CheckDrain(d time.Duration) error {
	if d < 0 || d > MaxDrain {
		return fmt.Errorf("drain period %s: want 0 (stop at once) to %s", d, MaxDrain)
	}
	return nil
}

// DefaultConfig serves on the default ports, with the default drain.
func DefaultConfig(pod string) Config {
	return Config{
		Pod:         pod,
		Addr:        PortAddr(DefaultPort),
		HealthAddr:  PortAddr(DefaultHealthPort),
		ControlAddr: ControlAddr(DefaultControlPort),
		Drain:       DefaultDrain,
	}
}

// PortAddr is ":port", every address of the pod.
func PortAddr(port int) string { return ":" + strconv.Itoa(port) }

// ControlAddr is the control endpoint for a port: always loopback, so only
// processes in the pod (kubectl exec) can set faults.
func ControlAddr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Bound is what Run listens on once started.
type Bound struct {
	Server      *Server
	Addr        string // serving
	HealthAddr  string // "" when none
	ControlAddr string
}

// Run serves cfg until ctx ends, then for cfg.Drain more (Server.Drain):
// the workload on Addr, /healthz on HealthAddr and the control endpoint
// on ControlAddr (which must be a loopback address). started, when not
// nil, is called once every address is bound (port 0 picks one; tests use
// that).
func Run(ctx context.Context, cfg Config, log io.Writer, started func(Bound)) error {
	if cfg.Pod == "" {
		return errors.New("no pod name: set HOSTNAME or POD_NAME, or pass --pod")
	}
	if err := CheckDrain(cfg.Drain); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(cfg.ControlAddr)
	if err != nil {
		return fmt.Errorf("control address %q: %w", cfg.ControlAddr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("control address %q: must be a loopback IP such as 127.0.0.1, so that only the pod can set faults", cfg.ControlAddr)
	}
	s := NewServer(cfg.Pod)
	defer s.Close()
	if err := s.Listen(cfg.Addr); err != nil {
		return fmt.Errorf("serving address: %w", err)
	}
	b := Bound{Server: s, Addr: s.Addr()}
	var side []*http.Server
	defer func() {
		for _, srv := range side {
			_ = srv.Close()
		}
	}()
	errc := make(chan error, 2)
	start := func(what, addr string, h http.Handler) (string, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		side = append(side, srv)
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", what, err)
			}
		}()
		return l.Addr().String(), nil
	}
	if b.ControlAddr, err = start("control endpoint", cfg.ControlAddr, s.ControlHandler()); err != nil {
		return err
	}
	health := "none"
	if cfg.HealthAddr != "" {
		if b.HealthAddr, err = start("health port", cfg.HealthAddr, s.HealthHandler()); err != nil {
			return err
		}
		health = b.HealthAddr + HealthPath
	}
	fmt.Fprintf(log, "workload %s: serving %s on %s, health %s, control %s\n", cfg.Pod, HelloPath, b.Addr, health, b.ControlAddr)
	if started != nil {
		started(b)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	if cfg.Drain > 0 {
		fmt.Fprintf(log, "workload %s: told to stop: serving for the drain period (%s), then exiting\n", cfg.Pod, cfg.Drain)
	}
	s.Drain(context.Background(), cfg.Drain)
	fmt.Fprintf(log, "workload %s: stopped (served %d requests)\n", cfg.Pod, s.Served())
	return nil
}
