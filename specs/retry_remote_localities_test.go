package specs

// Every kr/b pod answers 503, none is ejected (rule failover, default
// maxEjectionPercent: (0+1)/9 > 10%), so priority 0 keeps all the load.
// Retries then decide everything (istio/api VirtualService HTTPRetry):
//
//   - retryOn 5xx without retryRemoteLocalities: every retry stays in
//     priority 0, where every host fails: the client sees only 503.
//   - retryRemoteLocalities: istiod adds Envoy's previous_priorities retry
//     priority with update_frequency 2 (pilot/pkg/networking/core/route/
//     retry). Envoy recomputes the retry's priority load only once two
//     hosts were attempted (previous_priorities.cc determinePriorityLoad),
//     so with attempts 1 the only retry stays in priority 0 and fails too;
//     with attempts 2 the second retry goes to priority 1, kr/a and kr/c,
//     ≈50/50, and every request succeeds.

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

var _ = Describe("retryRemoteLocalities: a failed local try is retried in the next priority", Label("locality:retry-remote-localities"), Ordered, func() {
	const client = "netshoot-b"
	m := setUp(topology.ThreeZones(), "failover")

	It("keeps retrying in kr/b without it: every response is the workload's 503", func(ctx SpecContext) {
		breakLocalZone(ctx, m)
		steps.ApplyVirtualService(ctx, m, "retry-5xx")
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByClass,
			Expected: split.Expected{traffic.ClassServerError: 1}})
	})

	It("still retries in kr/b with it and a single retry (update_frequency 2)", func(ctx SpecContext) {
		steps.ApplyVirtualService(ctx, m, "retry-remote-localities-once")
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByClass,
			Expected: split.Expected{traffic.ClassServerError: 1}})
	})

	It("retries in kr/a and kr/c with it and two retries: every request succeeds, ≈50/50", func(ctx SpecContext) {
		steps.ApplyVirtualService(ctx, m, "retry-remote-localities")
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/a": 0.5, "kr/b": 0, "kr/c": 0.5}})
	})
})
