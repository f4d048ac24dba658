package envoylb

// RetryPolicy models the route retry policy that applies to requests for the
// cluster (https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-retrypolicy).
type RetryPolicy struct {
	// NumRetries is the number of retries (num_retries); total tries = NumRetries+1.
	NumRetries int
	// RetryOn5xxCodes are the retriable_status_codes (retry_on
	// "retriable-status-codes").
	RetryOn5xxCodes []int
	// RetryConnectFailure enables retry_on "connect-failure".
	RetryConnectFailure bool
	// HostSelectionRetryMaxAttempts is host_selection_retry_max_attempts: how
	// many times a host rejected by the previous_hosts predicate is re-picked.
	// The previous_hosts predicate is applied whenever this is > 0.
	HostSelectionRetryMaxAttempts int
}

// IstioDefaultRetryPolicy returns the retry policy istiod puts on every route by
// default: 2 retries on
// "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
// with retriable_status_codes [503], the previous_hosts retry host predicate and
// host_selection_retry_max_attempts 5. refused-stream, unavailable and
// cancelled have no counterpart in Attempt and are not modelled.
func IstioDefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		NumRetries:                    2,
		RetryOn5xxCodes:               []int{503},
		RetryConnectFailure:           true,
		HostSelectionRetryMaxAttempts: 5,
	}
}

// retriable reports whether attempt a triggers a retry under p.
func (p RetryPolicy) retriable(a Attempt) bool {
	if a.ConnectFailure {
		return p.RetryConnectFailure
	}
	for _, c := range p.RetryOn5xxCodes {
		if a.Status == c {
			return true
		}
	}
	return false
}
