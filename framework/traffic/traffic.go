// Package traffic holds what a batch of requests from a client returned,
// classifies each response, and turns a batch into split.Distributions by
// pod, locality and response class. Both backends produce a Batch; the kind
// backend parses it from curl output (see curl.go).
package traffic

import (
	"fmt"
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
const (
	helloPrefix   = "Hello version: "
	helloInstance = ", instance: "
)

// PodFromBody extracts the serving pod from a helloworld response body: the
// first submatch of `Hello version: (\S+), instance: (\S+)`'s second group,
// without a regexp (it runs once per response; TestPodFromBodyMatchesRegexp
// checks it against that regexp).
func PodFromBody(body string) string {
	for rest := body; ; {
		i := strings.Index(rest, helloPrefix)
		if i < 0 {
			return ""
		}
		rest = rest[i+len(helloPrefix):]
		// The version is \S+ and ", instance: " starts with its last
		// character (','): the version's non-space run must end in ','
		// followed by "instance: ".
		v := nonSpaceRun(rest)
		if v >= 2 && strings.HasPrefix(rest[v-1:], helloInstance) {
			pod := rest[v-1+len(helloInstance):]
			if n := nonSpaceRun(pod); n > 0 {
				return pod[:n]
			}
		}
	}
}

// nonSpaceRun is the length of s's leading run of regexp \S (not one of
// \t \n \f \r and space).
func nonSpaceRun(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\t', '\n', '\f', '\r', ' ':
			return i
		}
	}
	return len(s)
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

// MaxRequests caps one batch (Send's n on every backend). A split needs
// far fewer requests (split.DefaultRequests is 1000); at the embedded
// backend's rate a batch this size takes about a minute.
const MaxRequests = 1_000_000

// SampleSize is how many responses a Batch keeps (the first ones, in the
// order they were added) for diagnostics; the counts cover every response.
const SampleSize = 10_000

// CheckRequests returns an error naming n and the fix when n is not a
// batch size Send accepts: 1..MaxRequests.
func CheckRequests(n int) error {
	switch {
	case n <= 0:
		return fmt.Errorf("Send: n is %d: send at least one request", n)
	case n > MaxRequests:
		return fmt.Errorf("Send: n is %d: at most traffic.MaxRequests (%d) requests per batch; send several batches", n, MaxRequests)
	}
	return nil
}

// Batch is the outcome of N requests from one client. It counts responses
// as they are added (Add) and keeps only the first SampleSize of them, so
// its memory does not grow with N. A Batch built as a literal with
// Responses and no Add is counted from Responses.
type Batch struct {
	Client string
	// Responses holds the first SampleSize responses (every response of a
	// batch of at most SampleSize requests), in the order they were added.
	Responses []Response

	n       int
	classes map[string]int // every response, by class
	pods    map[string]int // 200 OK responses naming their pod, by pod
}

// Add counts one response and keeps it if the sample is not full.
// Not safe for concurrent use.
func (b *Batch) Add(r Response) {
	if b.n == 0 && len(b.Responses) > 0 {
		// A literal batch gaining responses: count the literal ones first.
		for _, old := range b.Responses {
			b.count(old)
		}
	}
	b.count(r)
	if len(b.Responses) < SampleSize {
		b.Responses = append(b.Responses, r)
	}
}

func (b *Batch) count(r Response) {
	if b.classes == nil {
		b.classes = map[string]int{}
		b.pods = map[string]int{}
	}
	b.n++
	c := r.Class()
	b.classes[c]++
	if c == ClassOK && r.Pod != "" {
		b.pods[r.Pod]++
	}
}

// tally returns the batch's counts: the ones Add kept, or for a literal
// batch, counted from Responses.
func (b Batch) tally() (n int, classes, pods map[string]int) {
	if b.n > 0 || len(b.Responses) == 0 {
		return b.n, b.classes, b.pods
	}
	var t Batch
	for _, r := range b.Responses {
		t.count(r)
	}
	return t.n, t.classes, t.pods
}

// Len is the number of requests in the batch (not only the sample).
func (b Batch) Len() int {
	n, _, _ := b.tally()
	return n
}
