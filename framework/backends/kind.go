package backends

import (
	"context"
	"fmt"

	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/kind/multicluster"
	"github.com/localitylb/locality-e2e/framework/mesh"
)

// kindSetup is what process 1 created, kept for Teardown.
var kindSetup *kind.Setup

// kindMultiSetup is the same for the multi-cluster setup
// (kind.EnvKindMultiCluster).
var kindMultiSetup *multicluster.Setup

func prepareKind(ctx context.Context, o Options) ([]byte, error) {
	cfg, err := kind.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	if multi, err := multicluster.Enabled(); err != nil {
		return nil, err
	} else if multi {
		topos := cfg.Topologies
		if len(topos) == 0 {
			topos = kind.SuiteTopologies()
		}
		want, err := multicluster.Selection()
		if err != nil {
			return nil, err
		}
		topos, skipped, err := multicluster.Select(topos, want)
		if err != nil {
			return nil, err
		}
		if len(skipped) > 0 && o.Log != nil {
			fmt.Fprintf(o.Log, "kind multi-cluster: this setup serves %s; specs of %v (other Clusters) will be skipped: run again with %s=<one of them>\n",
				topos[0].Name, skipped, kind.EnvKindMultiCluster)
		}
		s, err := multicluster.PrepareTopologies(ctx, cfg, topos, o.Log)
		if err != nil {
			return nil, err
		}
		kindMultiSetup = s
		return s.Marshal(), nil
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
	if multi, err := multicluster.Enabled(); err != nil {
		return nil, err
	} else if multi {
		s, err := multicluster.UnmarshalSetup(shared)
		if err != nil {
			return nil, err
		}
		return multicluster.Connect(ctx, cfg, s, o.Log)
	}
	s, err := kind.UnmarshalSetup(shared)
	if err != nil {
		return nil, err
	}
	return kind.Connect(ctx, cfg, s, o.Log)
}

func teardownKind(ctx context.Context, o Options) error {
	if kindSetup == nil && kindMultiSetup == nil {
		return nil
	}
	cfg, err := kind.ConfigFromEnv()
	if err != nil {
		return err
	}
	if kindMultiSetup != nil {
		return multicluster.Teardown(ctx, cfg, kindMultiSetup, o.Log)
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
