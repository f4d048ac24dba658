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
}

// DefaultConfig serves on the default ports.
func DefaultConfig(pod string) Config {
	return Config{
		Pod:         pod,
		Addr:        PortAddr(DefaultPort),
		HealthAddr:  PortAddr(DefaultHealthPort),
		ControlAddr: ControlAddr(DefaultControlPort),
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

// Run serves cfg until ctx ends: the workload on Addr, /healthz on
// HealthAddr and the control endpoint on ControlAddr (which must be a
// loopback address). started, when not nil, is called once every address
// is bound (port 0 picks one; tests use that).
func Run(ctx context.Context, cfg Config, log io.Writer, started func(Bound)) error {
	if cfg.Pod == "" {
		return errors.New("no pod name: set HOSTNAME or POD_NAME, or pass --pod")
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
		return nil
	case err := <-errc:
		return err
	}
}
