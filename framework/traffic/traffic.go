// Package traffic holds what a batch of requests from a client returned,
// classifies each response, and turns a batch into split.Distributions by
// pod, locality and response class. Both backends produce a Batch; the kind
// backend parses it from curl output (see curl.go).
package traffic

import (
	"fmt"
	"regexp"
	"strings"
)

// Response classes, the buckets of a by-class distribution.
const (
	ClassOK                = "200 OK"
	ClassNoHealthyUpstream = "503 no healthy upstream"      // Envoy response flag UH
	ClassConnectFailure    = "503 upstream connect error"   // Envoy response flag UF/URX
	ClassServerError       = "5xx from the workload"        // the pod itself answered 5xx
	ClassClientError       = "request failed in the client" // curl could not complete
	ClassOther             = "other"
)

// Response is one request's outcome.
type Response struct {
	Status int    // HTTP status; 0 when no HTTP response arrived
	Body   string // response body, trimmed
	Pod    string // serving pod, from the helloworld body; "" when none
	Err    string // client-side error (curl exit, connection), if any
}

// helloworld-v1 answers "Hello version: v1, instance: <pod>".
var helloRe = regexp.MustCompile(`Hello version: (\S+), instance: (\S+)`)

// PodFromBody extracts the serving pod from a helloworld response body.
func PodFromBody(body string) string {
	m := helloRe.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[2]
}

// HelloBody is what docker.io/istio/examples-helloworld-v1 answers.
func HelloBody(pod string) string {
	return fmt.Sprintf("Hello version: v1, instance: %s\n", pod)
}

// Class returns the response class of r.
func (r Response) Class() string {
	switch {
	case r.Err != "":
		return ClassClientError
	case r.Status == 200:
		return ClassOK
	case r.Status == 503 && strings.Contains(r.Body, "no healthy upstream"):
		return ClassNoHealthyUpstream
	case r.Status == 503 && strings.Contains(r.Body, "upstream connect error"):
		return ClassConnectFailure
	case r.Status >= 500:
		return ClassServerError
	default:
		return ClassOther
	}
}

// Batch is the outcome of N requests from one client, in order.
type Batch struct {
	Client    string
	Responses []Response
}

// Len is the number of requests in the batch.
func (b Batch) Len() int { return len(b.Responses) }
