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
