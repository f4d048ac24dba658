package specs

// One of three local pods answers 503 while the others serve. Rule:
// failover (consecutive5xxErrors 1, default maxEjectionPercent 10). With 9
// hosts Envoy ejects none: (0+1)/9 > 10% (outlier_detection_impl.cc). So
// every request still goes to kr/b (priority 0), and what the client sees
// depends only on the route's retry policy, which istiod pushes over RDS:
//
//   - Istio's default (pilot/pkg/networking/core/route/retry: retry_on
//     connect-failure,refused-stream,unavailable,cancelled,
//     retriable-status-codes with no retriable status code) does not retry
//     a 503 the workload answered: about a third of the responses are 503.
//   - A VirtualService with retries {attempts: 3, retryOn: 5xx} retries it
//     on another host (istiod adds the previous_hosts predicate): the
//     client sees almost no error (see the bound in the spec).

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

var _ = Describe("Partial failure without ejection: one of three local pods answers 503", Label("locality:partial-failure"), Ordered, func() {
	const client = "netshoot-b"
	m := setUp(topology.ThreeZones(), "failover")

	It("returns about a third of the requests as 503 under Istio's default retry policy, every pick local", func(ctx SpecContext) {
		breakPods(ctx, m, "helloworld-zone-b", 1, mesh.Fail5xx)
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: client, By: steps.ByLocality,
			Expected: split.Expected{"kr/b": 2.0 / 3, traffic.ClassServerError: 1.0 / 3, "kr/a": 0, "kr/c": 0}})
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: client, Expected: endpoints.Summary{
			"kr/b": steps.Row(0, steps.NoLocalityWeight, 3),
			"kr/a": steps.Row(1, steps.NoLocalityWeight, 3),
			"kr/c": steps.Row(1, steps.NoLocalityWeight, 3),
		}})
	})

	It("hides the failing pod when a VirtualService retries 5xx on another host", func(ctx SpecContext) {
		steps.ApplyVirtualService(ctx, m, "retry-5xx")
		// Not exactly 0 errors: previous_hosts rejects the failing host at
		// most host_selection_retry_max_attempts (5) times, then a retry
		// takes it anyway. Its requests end fast, so LEAST_REQUEST sees it
		// least loaded and a pick lands on it with probability up to 5/9
		// (either of two samples); a request fails all 4 tries with
		// probability ≤ 5/9 × ((5/9)^6)^3 ≈ 1.4e-5, 0.04 expected errors in
		// 3000 requests. More than 3 happens with probability < 1e-8.
		steps.SendAndExpectFewErrors(ctx, steps.FewErrorsInput{Mesh: m, Client: client, From: "kr/b", MaxErrors: 3})
	})
})
