package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// debugServer serves the in-process istiod's own debug handlers
// (pilot/pkg/xds/debug.go: /debug/edsz, /debug/syncz, /debug/config_dump,
// ...) over HTTP on a loopback address, as istiod serves them on its
// monitoring port. The kind backend reads the same documents with
// `pilot-discovery request GET`.
type debugServer struct {
	addr   string
	server *http.Server
	client *http.Client
}

// debugPort is istiod's HTTP debug port (8080: pilot-discovery's
// --httpAddr default, where `pilot-discovery request` sends).
const debugPort = 8080

func startDebugServer(mux http.Handler) (*debugServer, error) {
	if mux == nil {
		return nil, errors.New("embedded: istiod has no debug handlers (features.EnableDebugOnHTTP is off)")
	}
	_, l, err := reserveAddress(debugPort)
	if err != nil {
		return nil, fmt.Errorf("embedded: istiod debug server: %w", err)
	}
	d := &debugServer{
		addr:   l.Addr().String(),
		server: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		client: &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 10 * time.Second},
	}
	go func() { _ = d.server.Serve(l) }()
	return d, nil
}

// reserveAddress binds port on a fresh loopback address (nextAddress),
// skipping addresses another process already uses, and returns the
// address and the listener that holds it.
func reserveAddress(port int) (string, net.Listener, error) {
	var l net.Listener
	ip, err := probeAddresses(port, func(ip string) error {
		var err error
		l, err = net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(port)))
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return ip, l, nil
}

// get fetches one debug document (path with query, e.g.
// /debug/edsz?proxyID=netshoot-b.default).
func (d *debugServer) get(ctx context.Context, path string) ([]byte, error) {
	return httpGet(ctx, d.client, "http://"+d.addr+path)
}

func (d *debugServer) close() { _ = d.server.Close() }

// httpGet returns the body of a 200 answer, or an error with the status
// and the start of the body.
func httpGet(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		head := data
		if len(head) > 200 {
			head = head[:200]
		}
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, head)
	}
	return data, nil
}
