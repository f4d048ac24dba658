// Envoy counterparts: source/common/router/retry_state_impl.cc (retry_on
// parsing, wouldRetryFromHeaders, wouldRetryFromReset, shouldRetry),
// source/common/router/retry_policy_impl.cc (route RetryPolicy defaults),
// source/extensions/retry/host/previous_hosts (PreviousHostsRetryPredicate)
// and source/extensions/retry/priority/previous_priorities
// (PreviousPrioritiesRetryPriority).

package envoylb

import (
	"fmt"
	"strings"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	previoushostsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	previousprioritiesv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"
)

// RetryOn is the set of retry_on conditions (RetryPolicy::RETRY_ON_*).
type RetryOn uint32

// retry_on tokens Envoy knows (Http::Headers EnvoyRetryOnValues and
// EnvoyRetryOnGrpcValues).
const (
	RetryOn5xx RetryOn = 1 << iota
	RetryOnGatewayError
	RetryOnConnectFailure
	RetryOnEnvoyRateLimited
	RetryOnRetriable4xx
	RetryOnRefusedStream
	RetryOnRetriableStatusCodes
	RetryOnRetriableHeaders
	RetryOnReset
	RetryOnResetBeforeRequest
	RetryOnHTTP3PostConnectFailure
	RetryOnGRPCCancelled
	RetryOnGRPCDeadlineExceeded
	RetryOnGRPCResourceExhausted
	RetryOnGRPCUnavailable
	RetryOnGRPCInternal
)

var retryOnTokens = map[string]RetryOn{
	"5xx":                        RetryOn5xx,
	"gateway-error":              RetryOnGatewayError,
	"connect-failure":            RetryOnConnectFailure,
	"envoy-ratelimited":          RetryOnEnvoyRateLimited,
	"retriable-4xx":              RetryOnRetriable4xx,
	"refused-stream":             RetryOnRefusedStream,
	"retriable-status-codes":     RetryOnRetriableStatusCodes,
	"retriable-headers":          RetryOnRetriableHeaders,
	"reset":                      RetryOnReset,
	"reset-before-request":       RetryOnResetBeforeRequest,
	"http3-post-connect-failure": RetryOnHTTP3PostConnectFailure,
	"cancelled":                  RetryOnGRPCCancelled,
	"deadline-exceeded":          RetryOnGRPCDeadlineExceeded,
	"resource-exhausted":         RetryOnGRPCResourceExhausted,
	"unavailable":                RetryOnGRPCUnavailable,
	"internal":                   RetryOnGRPCInternal,
}

// ParseRetryOn parses a retry_on string as RetryStateImpl::parseRetryOn and
// parseRetryGrpcOn do together (comma separated, whitespace trimmed, empty
// tokens skipped). Unknown tokens are an error.
func ParseRetryOn(s string) (RetryOn, error) {
	var on RetryOn
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		v, ok := retryOnTokens[tok]
		if !ok {
			return 0, fmt.Errorf("envoylb: unknown retry_on token %q", tok)
		}
		on |= v
	}
	return on, nil
}

// RetryPolicy is the route retry policy that applies to requests for the
// cluster. The zero value means no retries (a route without retry_policy).
type RetryPolicy struct {
	// NumRetries is num_retries; total tries = NumRetries+1.
	NumRetries int
	// RetryOn are the retry_on conditions.
	RetryOn RetryOn
	// RetriableStatusCodes are retriable_status_codes (used with
	// RetryOnRetriableStatusCodes).
	RetriableStatusCodes []int
	// HostSelectionRetryMaxAttempts > 0 means the route has the
	// envoy.retry_host_predicates.previous_hosts retry host predicate (the only
	// one modelled) with host_selection_retry_max_attempts = this value: on a
	// retry, a host already attempted is re-picked up to this many times, the
	// last pick being used if all are rejected. Envoy's default for the field
	// is 1, so a configured predicate always has a value ≥ 1; without a
	// predicate the field has no effect in Envoy, hence 0 = no predicate.
	HostSelectionRetryMaxAttempts int
	// PreviousPriorities enables the envoy.retry_priorities.previous_priorities
	// retry priority with update frequency PreviousPrioritiesUpdateFrequency
	// (values < 1 are treated as 1).
	PreviousPriorities                bool
	PreviousPrioritiesUpdateFrequency int
	// PerTryTimeout is per_try_timeout (0 = none). The model does not measure
	// time: the caller enforces it and reports Attempt.Timeout.
	PerTryTimeout time.Duration

	// RetryOn5xxCodes is a compatibility alias: these statuses are retried,
	// as with RetryOn |= RetryOnRetriableStatusCodes and RetriableStatusCodes.
	RetryOn5xxCodes []int
	// RetryConnectFailure is a compatibility alias for RetryOnConnectFailure.
	RetryConnectFailure bool
}

// RetryPolicyFromRoute converts a route's retry_policy into a RetryPolicy
// with Envoy's defaults (RetryPolicyImpl): num_retries 1 when unset,
// host_selection_retry_max_attempts 1 when unset. A nil policy means no
// retries. Fields the model cannot honour are an error.
func RetryPolicyFromRoute(rp *routev3.RetryPolicy) (RetryPolicy, error) {
	if rp == nil {
		return RetryPolicy{}, nil
	}
	on, err := ParseRetryOn(rp.GetRetryOn())
	if err != nil {
		return RetryPolicy{}, err
	}
	p := RetryPolicy{NumRetries: 1, RetryOn: on}
	if n := rp.GetNumRetries(); n != nil {
		p.NumRetries = int(n.GetValue())
	}
	for _, c := range rp.GetRetriableStatusCodes() {
		p.RetriableStatusCodes = append(p.RetriableStatusCodes, int(c))
	}
	for _, pred := range rp.GetRetryHostPredicate() {
		tc := pred.GetTypedConfig()
		switch {
		case tc != nil && tc.MessageIs(&previoushostsv3.PreviousHostsPredicate{}),
			tc == nil && pred.GetName() == "envoy.retry_host_predicates.previous_hosts":
			// host_selection_retry_max_attempts defaults to 1 (RetryPolicyImpl
			// host_selection_attempts_{1}).
			p.HostSelectionRetryMaxAttempts = 1
			if n := rp.GetHostSelectionRetryMaxAttempts(); n != 0 {
				p.HostSelectionRetryMaxAttempts = int(n)
			}
		default:
			return RetryPolicy{}, fmt.Errorf("envoylb: retry_host_predicate %q (%s) is not modelled; "+
				"only envoy.retry_host_predicates.previous_hosts (VirtualService retries.retryIgnorePreviousHosts) is",
				pred.GetName(), tc.GetTypeUrl())
		}
	}
	if pr := rp.GetRetryPriority(); pr != nil {
		var cfg previousprioritiesv3.PreviousPrioritiesConfig
		tc := pr.GetTypedConfig()
		if tc == nil || !tc.MessageIs(&cfg) {
			return RetryPolicy{}, fmt.Errorf("envoylb: retry_priority %q (%s) is not modelled; "+
				"only envoy.retry_priorities.previous_priorities (VirtualService retries.retryRemoteLocalities) is",
				pr.GetName(), tc.GetTypeUrl())
		}
		if err := tc.UnmarshalTo(&cfg); err != nil {
			return RetryPolicy{}, fmt.Errorf("envoylb: retry_priority previous_priorities: %w", err)
		}
		if cfg.GetUpdateFrequency() <= 0 {
			return RetryPolicy{}, fmt.Errorf("envoylb: previous_priorities update_frequency must be > 0")
		}
		p.PreviousPriorities = true
		p.PreviousPrioritiesUpdateFrequency = int(cfg.GetUpdateFrequency())
	}
	if d := rp.GetPerTryTimeout(); d != nil {
		p.PerTryTimeout = d.AsDuration()
	}
	if on&RetryOnRetriableHeaders != 0 && len(rp.GetRetriableHeaders()) > 0 {
		return RetryPolicy{}, fmt.Errorf("envoylb: retry_on retriable-headers with retriable_headers needs " +
			"response headers, which the model does not have")
	}
	if len(rp.GetRetriableRequestHeaders()) > 0 {
		return RetryPolicy{}, fmt.Errorf("envoylb: retry_policy.retriable_request_headers is not modelled")
	}
	if len(rp.GetRetryOptionsPredicates()) > 0 {
		return RetryPolicy{}, fmt.Errorf("envoylb: retry_policy.retry_options_predicates is not modelled")
	}
	return p, nil
}

// wouldRetry is RetryStateImpl::wouldRetryFromReset for tries that ended
// without a response (connect failure: LocalConnectionFailure before the
// request was sent; per-try timeout: router onPerTryTimeout resets with
// LocalReset after the request started; Reset / RefusedStream: upstream
// reset after the request started) and wouldRetryFromHeaders otherwise.
func (p *RetryPolicy) wouldRetry(a Attempt) bool {
	on := p.RetryOn
	if p.RetryConnectFailure {
		on |= RetryOnConnectFailure
	}
	switch {
	case a.ConnectFailure:
		if on&RetryOnConnectFailure != 0 {
			return true
		}
		return on&(RetryOnResetBeforeRequest|RetryOnReset|RetryOn5xx|RetryOnGatewayError) != 0
	case a.Timeout, a.Reset, a.RefusedStream:
		if on&(RetryOnReset|RetryOn5xx|RetryOnGatewayError) != 0 {
			return true
		}
		return a.RefusedStream && on&RetryOnRefusedStream != 0
	}
	s := a.Status
	if on&RetryOn5xx != 0 && s >= 500 && s < 600 {
		return true
	}
	if on&RetryOnGatewayError != 0 && (s == 502 || s == 503 || s == 504) {
		return true
	}
	if on&RetryOnRetriable4xx != 0 && s == 409 {
		return true
	}
	if on&RetryOnRetriableStatusCodes != 0 {
		for _, c := range p.RetriableStatusCodes {
			if s == c {
				return true
			}
		}
	}
	for _, c := range p.RetryOn5xxCodes {
		if s == c {
			return true
		}
	}
	switch a.GRPCStatus {
	case 1:
		return on&RetryOnGRPCCancelled != 0
	case 4:
		return on&RetryOnGRPCDeadlineExceeded != 0
	case 8:
		return on&RetryOnGRPCResourceExhausted != 0
	case 13:
		return on&RetryOnGRPCInternal != 0
	case 14:
		return on&RetryOnGRPCUnavailable != 0
	}
	return false
}

// retryState is the per-request state of the retry plugins.
type retryState struct {
	attempted [8]*hostState // inline storage for attempted hosts
	hosts     []*hostState

	// PreviousPrioritiesRetryPriority state.
	freq      int
	pAttempt  []uint32 // priorities of attempted_hosts_
	excluded  []bool
	healthy   []uint32
	degraded  []uint32
	computedP bool
}

func (rs *retryState) onHostAttempted(h *hostState, prevPriorities bool) {
	if rs.hosts == nil {
		rs.hosts = rs.attempted[:0]
	}
	rs.hosts = append(rs.hosts, h)
	if prevPriorities {
		rs.pAttempt = append(rs.pAttempt, h.Priority)
	}
}

// shouldSelectAnotherHost is PreviousHostsRetryPredicate::shouldSelectAnotherHost.
func (rs *retryState) shouldSelectAnotherHost(h *hostState) bool {
	for _, a := range rs.hosts {
		if a == h {
			return true
		}
	}
	return false
}

// determinePriorityLoad is PreviousPrioritiesRetryPriority::determinePriorityLoad.
func (rs *retryState) determinePriorityLoad(ps *priorityState, nLevels int) (healthy, degraded []uint32) {
	n := len(rs.pAttempt)
	if n < rs.freq {
		return ps.healthyLoad, ps.degradedLoad
	}
	if n%rs.freq == 0 {
		for len(rs.excluded) < nLevels {
			rs.excluded = append(rs.excluded, false)
		}
		for _, p := range rs.pAttempt {
			rs.excluded[p] = true
		}
		if !rs.adjustForAttemptedPriorities(ps) {
			return ps.healthyLoad, ps.degradedLoad
		}
	}
	if !rs.computedP {
		// per_priority_load_ never computed: empty loads, choosePriority
		// falls back to P0 healthy.
		return nil, nil
	}
	return rs.healthy, rs.degraded
}

func (rs *retryState) adjustedAvailability(ps *priorityState, ah, ad []uint32) uint32 {
	total := uint32(0)
	for i := range ps.health {
		if !rs.excluded[i] {
			ah[i], ad[i] = ps.health[i], ps.degraded[i]
			total += ps.health[i] + ps.degraded[i]
		} else {
			ah[i], ad[i] = 0, 0
		}
	}
	return min(total, 100)
}

// adjustForAttemptedPriorities: availability of attempted priorities is set
// to 0 and the load redistributed; when nothing is left the attempted
// priorities are forgotten (attempted_hosts_ cleared).
func (rs *retryState) adjustForAttemptedPriorities(ps *priorityState) bool {
	n := len(ps.health)
	ah, ad := make([]uint32, n), make([]uint32, n)
	total := rs.adjustedAvailability(ps, ah, ad)
	if total == 0 {
		clear(rs.excluded)
		rs.pAttempt = rs.pAttempt[:0]
		total = rs.adjustedAvailability(ps, ah, ad)
	}
	if total == 0 {
		return false
	}
	rs.healthy, rs.degraded = make([]uint32, n), make([]uint32, n)
	rs.computedP = true
	load := uint32(100)
	for load != 0 {
		for i := range ah {
			delta := min(load, ah[i]*100/total)
			rs.healthy[i] += delta
			load -= delta
		}
		for i := range ad {
			delta := min(load, ad[i]*100/total)
			rs.degraded[i] += delta
			load -= delta
		}
	}
	return true
}
