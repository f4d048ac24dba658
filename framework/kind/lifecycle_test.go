package kind

// Tests of Own and CloseBackend, the New and Close of both kind backends.

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/localitylb/locality-e2e/framework/mesh"
)

type closer struct {
	name  string
	err   error
	order *[]string
}

func (c closer) Close(context.Context) error { *c.order = append(*c.order, c.name); return c.err }

// TestOwnTearsDownWhenConnectFails: a failed connect tears the prepared
// setup down and reports both errors; a successful one hands the teardown
// to Close, which runs it after closing the open meshes.
func TestOwnTearsDownWhenConnectFails(t *testing.T) {
	ctx := context.Background()
	var torn []string
	prepare := func(context.Context) (string, error) { return "setup-1", nil }
	teardown := func(_ context.Context, s string) error { torn = append(torn, s); return errors.New("teardown failed") }
	_, _, err := Own(ctx, prepare, func(context.Context, string) (mesh.Backend, error) { return nil, errors.New("no API server") }, teardown)
	if err == nil || err.Error() != "no API server; teardown failed" || len(torn) != 1 || torn[0] != "setup-1" {
		t.Fatalf("err %v, torn down %v", err, torn)
	}
	torn = nil
	b, td, err := Own(ctx, prepare, func(context.Context, string) (mesh.Backend, error) { return &backend{}, nil }, teardown)
	if err != nil || b == nil || td == nil || len(torn) != 0 {
		t.Fatalf("backend %v teardown %v err %v torn %v", b, td != nil, err, torn)
	}
	var order []string
	open := []closer{{"m1", nil, &order}, {"m2", errors.New("m2 stuck"), &order}}
	err = CloseBackend(ctx, "kind backend close", open, func(ctx context.Context) error { order = append(order, "teardown"); return td(ctx) })
	if err == nil || err.Error() != "kind backend close: m2 stuck; teardown failed" || strings.Join(order, ",") != "m1,m2,teardown" || len(torn) != 1 {
		t.Fatalf("err %v order %v torn %v", err, order, torn)
	}
	if err := CloseBackend[closer](ctx, "kind backend close", nil, nil); err != nil {
		t.Fatalf("nothing open, no teardown: %v", err)
	}
}
