package embedded

// send.go owns traffic: Send's batches through a client sidecar's model to
// the pods, one request and its tries, and Wait.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/localitylb/locality-e2e/framework/envoylb"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// Send sends n requests from the client's sidecar, traffic.Concurrency at
// a time (as the kind backend's curl --parallel does): each goes through the Envoy
// model (priority, locality weights, LB policy, outlier detection, the
// route's retries and timeouts as istiod pushed them) and really travels
// over loopback HTTP to the picked pod.
func (m *Mesh) Send(ctx context.Context, clientName string, n int) (traffic.Batch, error) {
	if err := traffic.CheckRequests(n); err != nil {
		return traffic.Batch{}, err
	}
	if err := ctx.Err(); err != nil {
		return traffic.Batch{}, fmt.Errorf("Send from %s: %s before sending: %w", clientName, cancelWord(err), err)
	}
	m.mu.RLock()
	if err := m.checkOpen(); err != nil {
		m.mu.RUnlock()
		return traffic.Batch{}, err
	}
	c, err := m.client(clientName)
	if err != nil {
		m.mu.RUnlock()
		return traffic.Batch{}, err
	}
	// Close waits for batches in flight (after marking the mesh closing,
	// which stops them), so no request ever reaches a stopped pod.
	m.sends.Add(1)
	m.mu.RUnlock()
	defer m.sends.Done()
	lb, route, err := c.side.snapshot()
	if err != nil {
		return traffic.Batch{}, fmt.Errorf("Send from %s: %w", clientName, err)
	}
	b := traffic.Batch{Client: clientName}
	// traffic.Concurrency requests in flight, as kind's curl --parallel
	// sends them, modelled so that the outcome does not depend on this
	// machine's speed: requests go out one after another, and each pick
	// sees the hosts of the previous Concurrency-1 requests as still active
	// (envoylb.LB.Hold), as they would be with equal latencies. Real
	// concurrency would let LEAST_REQUEST follow loopback scheduling noise.
	window := make([]envoylb.Held, 0, traffic.Concurrency) // no allocation per request
	defer func() {
		for _, held := range window {
			held.Release()
		}
	}()
	for i := 0; i < n && ctx.Err() == nil && !m.closing.Load(); i++ {
		r, host, picked, cancelled := m.request(ctx, lb, route)
		if m.closing.Load() {
			break // the answer may come from a pod being stopped
		}
		if cancelled {
			break // not an upstream result: counted nowhere
		}
		b.Add(r)
		if picked {
			window = append(window, lb.HoldHost(host))
		}
		if len(window) >= traffic.Concurrency {
			window[0].Release()
			window = window[:copy(window, window[1:])]
		}
	}
	if m.closing.Load() {
		b.CutShort = true
		return b, fmt.Errorf("Send from %s: the mesh was closed during the batch, after %d of %d requests: its results are not valid", clientName, b.Len(), n)
	}
	if err := ctx.Err(); err != nil {
		b.CutShort = true
		return b, fmt.Errorf("Send from %s: %s after %d of %d requests (the request in flight is not counted): %w", clientName, cancelWord(err), b.Len(), n, err)
	}
	return b, nil
}

// cancelWord says whether a context ended by cancellation or by deadline.
func cancelWord(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "cancelled"
}

// Envoy's local replies (what curl prints for them).
const (
	bodyNoHealthyUpstream = "no healthy upstream"
	bodyConnectFailure    = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	bodyTimeout           = "upstream request timeout"
)

// request sends one request through the model and returns its response
// and, when a host was picked, the host that answered. A request cut off
// by ctx (the caller's cancellation, not a route or per-try timeout) is
// no upstream result: cancelled is true, and nothing was recorded.
func (m *Mesh) request(ctx context.Context, lb *envoylb.LB, route routeConfig) (_ traffic.Response, _ envoylb.Host, picked, cancelled bool) {
	caller := ctx
	if route.timeout > 0 {
		// The route timeout spans every try (route_components.proto, RouteAction.timeout).
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, route.timeout)
		defer cancel()
	}
	var status int
	var body string
	att, host, err := lb.Do(func(h envoylb.Host) envoylb.Attempt {
		tctx := ctx
		if pt := route.retry.PerTryTimeout; pt > 0 {
			var cancel context.CancelFunc
			tctx, cancel = context.WithTimeout(ctx, pt)
			defer cancel()
		}
		s, bd, cerr := m.get(tctx, h)
		switch {
		case cerr != nil && caller.Err() != nil:
			// The downstream went away (envoylb.Attempt.Cancelled).
			status, body = 0, ""
			return envoylb.Attempt{Cancelled: true}
		case cerr != nil && tctx.Err() != nil:
			status, body = 0, ""
			return envoylb.Attempt{Timeout: true}
		case cerr != nil:
			status, body = 0, ""
			return envoylb.Attempt{ConnectFailure: true}
		}
		status, body = s, bd
		return envoylb.Attempt{Status: s}
	})
	switch {
	case errors.Is(err, envoylb.ErrNoHealthyUpstream):
		return traffic.Response{Status: 503, Body: bodyNoHealthyUpstream}, envoylb.Host{}, false, false
	case err != nil:
		return traffic.Response{Err: err.Error()}, envoylb.Host{}, false, false
	case att.Cancelled:
		return traffic.Response{}, envoylb.Host{}, false, true
	case att.Timeout:
		return traffic.Response{Status: att.DownstreamStatus(), Body: bodyTimeout}, host, true, false
	case att.ConnectFailure:
		return traffic.Response{Status: att.DownstreamStatus(), Body: bodyConnectFailure}, host, true, false
	}
	return traffic.Response{Status: status, Body: body, Pod: traffic.PodFromBody(body)}, host, true, false
}

func (m *Mesh) get(ctx context.Context, h envoylb.Host) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, helloURL(h.Address, h.Port), nil)
	if err != nil {
		return 0, "", err
	}
	// The Host the client's curl sends (helloworld:5000) is kept by Envoy;
	// the FQDN stands for it here. Pods ignore it.
	req.Host = m.hostHeader
	if m.gatewayIPs[h.Address] {
		// A new connection to an east-west gateway for every request: the
		// gateway picks its upstream per request (eastWestGateway.handler),
		// and a gateway that drops the connection must surface as a
		// connection failure, which net/http would hide by silently
		// replaying the GET on a new connection when a reused one closes.
		req.Close = true
	}
	resp, err := m.httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, string(data), nil
}

// Wait advances the sidecars' virtual clock by d: outlier detection
// intervals and ejection times pass at once, with no real sleep.
func (m *Mesh) Wait(ctx context.Context, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("Wait: duration %v is negative", d)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.clock.Advance(d)
	return nil
}
