package multicluster

// Tests of the MetalLB pool step's retry while the webhook starts.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/localitylb/locality-e2e/framework/topology"
)

// The pool apply right after MetalLB's rollout may hit the webhook before
// it answers: retried until it does, within MetalLBPoolRetry.
func TestMetalLBPoolApplyRetriesUntilWebhookAnswers(t *testing.T) {
	in := mcInput(t, topology.ThreeZonesTwoClusters("network1", "network2"))
	steps, err := Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	var pool Step
	for _, s := range steps {
		if s.What == "MetalLB address pool" {
			pool = s
			break
		}
	}
	if pool.Retry != MetalLBPoolRetry || pool.RetryEvery != MetalLBPoolRetryEvery || pool.Argv[len(pool.Argv)-1] != "/tmp/mc/metallb-cluster1.yaml" {
		t.Fatalf("pool step %+v", pool)
	}
	webhook := errors.New(`kubectl apply: exit status 1: Error from server (InternalError): error when creating "/tmp/mc/metallb-cluster1.yaml": Internal error occurred: failed calling webhook "ipaddresspoolvalidationwebhook.metallb.io": failed to call webhook: Post "https://metallb-webhook-service.metallb-system.svc:443/validate-metallb-io-v1beta1-ipaddresspool?timeout=10s": dial tcp 10.96.1.1:443: connect: connection refused`)
	clock := time.Unix(0, 0)
	var runs int
	var log bytes.Buffer
	env := mcEnv{
		run: func(_ context.Context, argv []string, _ io.Writer) error {
			runs++
			if strings.Join(argv, " ") != strings.Join(pool.Argv, " ") {
				t.Errorf("ran %q", argv)
			}
			if runs < 3 {
				return webhook
			}
			return nil
		},
		now:   func() time.Time { return clock },
		sleep: func(_ context.Context, d time.Duration) error { clock = clock.Add(d); return nil },
		log:   &log,
	}
	if err := runRetrying(context.Background(), env, pool); err != nil || runs != 3 {
		t.Fatalf("err %v after %d runs", err, runs)
	}
	if !strings.Contains(log.String(), "attempt 2 failed, retrying in 5s") {
		t.Errorf("log %s", log.String())
	}
	// A webhook that never answers: the step fails after the bound, with
	// the last error.
	runs, clock = -1000, time.Unix(0, 0)
	err = runRetrying(context.Background(), env, pool)
	if err == nil || !strings.Contains(err.Error(), "failed calling webhook") || !strings.Contains(err.Error(), "24 attempts in 2m0s") {
		t.Errorf("never answers: %v", err)
	}
	if elapsed := clock.Sub(time.Unix(0, 0)); elapsed > MetalLBPoolRetry {
		t.Errorf("retried for %v, bound %v", elapsed, MetalLBPoolRetry)
	}
	// Cancelled while waiting: stops at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env.sleep = sleepContext
	runs = -1000
	if err := runRetrying(ctx, env, pool); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
