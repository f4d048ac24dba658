package topology

import (
	"time"

	"github.com/localitylb/locality-e2e/framework/workload"
)

// How a workload pod stops on kind (the Deployment template's preStop hook
// and grace period). Kubernetes removes a terminating pod from the
// EndpointSlice and runs its preStop hook at the same time; callers'
// sidecars keep sending to the pod until istiod's push reaches them.
//
// lifecycle.preStop.sleep is kubelet-native (no shell in the FROM-scratch
// image): the PodLifecycleSleepAction feature, alpha in Kubernetes 1.29,
// beta and on by default since 1.30, GA in 1.34 (KEP-3960). kind v0.33.0's
// default node image runs 1.37, and every Kubernetes the suite accepts for
// an Istio release (framework/kind/support.go) is 1.30 or newer.
const (
	// PreStopSleepSeconds: the pod serves this long before SIGTERM, then
	// cmd/workload serves workload.DefaultDrain more; in all they span
	// istiod's PILOT_DEBOUNCE_MAX (10 s).
	PreStopSleepSeconds = int(workload.DefaultDrain / time.Second)
	// TerminationGracePeriodSeconds covers the preStop sleep, the drain
	// and the wait for requests in flight (workload.ShutdownWait), so the
	// kubelet never kills a pod that is still draining.
	TerminationGracePeriodSeconds = PreStopSleepSeconds + int(workload.DefaultDrain/time.Second) + int(workload.ShutdownWait/time.Second)
)
