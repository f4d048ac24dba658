package backends

import (
	"context"

	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/mesh"
)

// kindSetup is what process 1 created, kept for Teardown.
var kindSetup *kind.Setup

func prepareKind(ctx context.Context, o Options) ([]byte, error) {
	cfg, err := kind.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	s, err := kind.Prepare(ctx, cfg, o.Log)
	if err != nil {
		return nil, err
	}
	kindSetup = s
	return s.Marshal(), nil
}

func connectKind(ctx context.Context, o Options, shared []byte) (mesh.Backend, error) {
	cfg, err := kind.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	s, err := kind.UnmarshalSetup(shared)
	if err != nil {
		return nil, err
	}
	return kind.Connect(ctx, cfg, s, o.Log)
}

func teardownKind(ctx context.Context, o Options) error {
	if kindSetup == nil {
		return nil
	}
	cfg, err := kind.ConfigFromEnv()
	if err != nil {
		return err
	}
	return kind.Teardown(ctx, cfg, kindSetup, o.Log)
}

func istioVersionKind(ctx context.Context, o Options) string {
	cfg, err := kind.ConfigFromEnv()
	if err != nil {
		return "istio " + kind.DefaultIstioVersion
	}
	return "istio " + cfg.IstioVersion
}
