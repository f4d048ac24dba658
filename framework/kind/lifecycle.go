package kind

// How every kind backend (this package's and framework/kind/multicluster's)
// is made for one process (Own, behind New) and closed (CloseBackend): one
// shape for both.

import (
	"context"
	"fmt"
	"strings"

	"github.com/localitylb/locality-e2e/framework/mesh"
)

// Own is New for every kind backend: prepare what every process shares,
// connect to it and, if connecting fails, tear it down. The returned
// teardown is for the backend's Close (CloseBackend).
func Own[S any](ctx context.Context, prepare func(context.Context) (S, error), connect func(context.Context, S) (mesh.Backend, error), teardown func(context.Context, S) error) (mesh.Backend, func(context.Context) error, error) {
	s, err := prepare(ctx)
	if err != nil {
		return nil, nil, err
	}
	b, err := connect(ctx, s)
	if err != nil {
		if terr := teardown(ctx, s); terr != nil {
			err = fmt.Errorf("%w; %v", err, terr)
		}
		return nil, nil, err
	}
	return b, func(ctx context.Context) error { return teardown(ctx, s) }, nil
}

// CloseBackend is Close for every kind backend: it closes the meshes
// still open, then runs teardown (set by New through Own; nil for a
// backend from Connect), and joins the errors after prefix.
func CloseBackend[M interface{ Close(context.Context) error }](ctx context.Context, prefix string, open []M, teardown func(context.Context) error) error {
	var errs []string
	for _, m := range open {
		if err := m.Close(ctx); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if teardown != nil {
		if err := teardown(ctx); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %s", prefix, strings.Join(errs, "; "))
	}
	return nil
}
