package backends

import (
	"context"
	"errors"

	"github.com/localitylb/locality-e2e/framework/mesh"
)

func prepareKind(ctx context.Context, o Options) ([]byte, error) {
	return nil, errors.New("kind backend: not wired yet")
}

func connectKind(ctx context.Context, o Options, shared []byte) (mesh.Backend, error) {
	return nil, errors.New("kind backend: not wired yet")
}

func teardownKind(ctx context.Context, o Options) error { return nil }

func istioVersionKind(ctx context.Context, o Options) string { return "unknown" }
