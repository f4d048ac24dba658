// Command workload is the test workload of locality-e2e's kind backend (the
// embedded backend runs the same framework/workload in process).
//
//	workload [serve] [--pod NAME] [--port 5000] [--health-port 5001] [--control-port 5002] [--drain 5s]
//	workload fault [--control-port 5002] 503 | status <code> | refuse | delay <duration> | none
//	workload heal  [--control-port 5002]
//	workload state [--control-port 5002]
//
// serve answers GET /hello with "Hello version: v1, instance: <pod>" like
// istio's helloworld-v1 (the pod name from --pod, POD_NAME or HOSTNAME,
// which Kubernetes sets to the pod name), /healthz on the health port
// whatever the fault (the readiness probe), and the control endpoint on
// 127.0.0.1 only. On SIGTERM (or SIGINT) serve keeps serving for the
// drain period (--drain, $WORKLOAD_DRAIN, default 5s: see
// workload.DefaultDrain), then exits 0; a second signal ends it at once
// (exit 128+signal).
// fault, heal and state run in the same container (kubectl
// exec) and talk to that control endpoint; they print what they did and
// exit 1 with the reason when they cannot.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/localitylb/locality-e2e/framework/workload"
)

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		// The first signal starts the drain; a second one ends the
		// process at once. (Explicitly: as PID 1 of a container the
		// process would ignore a signal left to its default action.)
		<-sigs
		stop()
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "workload: second %s: exiting without finishing the drain\n", sig)
		os.Exit(128 + int(sig.(syscall.Signal)))
	}()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return workload.Main(ctx, args, getenv, stdout, stderr)
}
