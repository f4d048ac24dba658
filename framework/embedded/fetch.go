package embedded

import (
	"context"
	"fmt"
	"strings"
)

// fetcher is the embedded backend's transport for endpoints.Read: HTTP to
// the loopback addresses where each sidecar serves Envoy's admin API and
// the in-process istiod serves its debug API. The kind backend fetches
// the same paths by exec.
type fetcher struct{ m *Mesh }

// EnvoyAdmin answers GET <path> on the client sidecar's admin API.
// Caller holds m.mu.
func (f fetcher) EnvoyAdmin(ctx context.Context, client, path string) ([]byte, error) {
	c, err := f.m.client(client)
	if err != nil {
		return nil, err
	}
	if c.side == nil || c.side.adminURL == "" {
		return nil, fmt.Errorf("the sidecar of %s serves no admin API", client)
	}
	return httpGet(ctx, f.m.debug.client, c.side.adminURL+strings.TrimPrefix(path, "/"))
}

// IstiodDebug answers GET <path> on istiod's debug API.
func (f fetcher) IstiodDebug(ctx context.Context, path string) ([]byte, error) {
	return f.m.debug.get(ctx, path)
}

// AdminURL is where the client's sidecar serves Envoy's admin API
// (http://<pod IP>:15000/), e.g. for curl while debugging a scenario.
func (m *Mesh) AdminURL(client string) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c, err := m.client(client)
	if err != nil {
		return "", err
	}
	if c.side == nil {
		return "", fmt.Errorf("the sidecar of %s is not connected", client)
	}
	return c.side.adminURL, nil
}

// IstiodDebugURL is where the in-process istiod serves its debug API
// (http://127.x.y.z:8080; paths /debug/edsz?proxyID=..., /debug/syncz, ...).
func (m *Mesh) IstiodDebugURL() string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.debug == nil {
		return ""
	}
	return "http://" + m.debug.addr
}
