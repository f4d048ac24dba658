// Package backends creates the backend a suite asked for by name, so the
// specs never import a backend directly.
package backends

import (
	"context"
	"fmt"
	"io"

	"github.com/localitylb/locality-e2e/framework/embedded"
	"github.com/localitylb/locality-e2e/framework/mesh"
)

// Options select and tune a backend.
type Options struct {
	Name      string // "embedded" (default) or "kind"
	Seed      uint64
	IstioLogs bool
	Log       io.Writer
}

// Names lists the known backends.
var Names = []string{"embedded", "kind"}

func (o Options) name() (string, error) {
	switch o.Name {
	case "", "embedded":
		return "embedded", nil
	case "kind":
		return "kind", nil
	default:
		return "", fmt.Errorf("unknown backend %q: use --backend=embedded or --backend=kind (or LOCALITY_E2E_BACKEND)", o.Name)
	}
}

// Prepare sets up what every parallel process shares (on kind: the cluster
// with Istio) and returns how to reach it. Run it once per suite.
func Prepare(ctx context.Context, o Options) ([]byte, error) {
	name, err := o.name()
	if err != nil {
		return nil, err
	}
	switch name {
	case "kind":
		return prepareKind(ctx, o)
	default:
		return nil, nil
	}
}

// Connect returns this process's backend, given what Prepare returned.
func Connect(ctx context.Context, o Options, shared []byte) (mesh.Backend, error) {
	name, err := o.name()
	if err != nil {
		return nil, err
	}
	switch name {
	case "kind":
		return connectKind(ctx, o, shared)
	default:
		return embedded.New(embedded.Options{Seed: o.Seed, IstioLogs: o.IstioLogs, Log: o.Log}), nil
	}
}

// Teardown releases what Prepare set up (unless asked to keep it).
func Teardown(ctx context.Context, o Options) error {
	name, err := o.name()
	if err != nil {
		return err
	}
	if name == "kind" {
		return teardownKind(ctx, o)
	}
	return nil
}

// IstioVersion reports the Istio version under test.
func IstioVersion(ctx context.Context, o Options) string {
	name, _ := o.name()
	if name == "kind" {
		return istioVersionKind(ctx, o)
	}
	return embedded.IstioVersion()
}
