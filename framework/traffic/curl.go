package traffic

// A batch of requests as ONE curl process that runs up to Concurrency
// transfers at a time (--parallel): after each transfer curl prints a
// write-out marker line with the status, curl's exit code, the body size,
// the transfer's index among the URLs and curl's error message. One exec
// per batch instead of one per request, and Concurrency requests in flight
// instead of one, keep a 1000-request batch to a few seconds on kind (see
// docs/kind.md).
//
// With --parallel, curl writes each body when it arrives and each marker
// after its transfer completes, so bodies and markers interleave:
//
//	no healthy upstreamHello version: v1, instance: p5
//	<marker> 503 0 19 4
//	<marker> 200 0 31 5
//
// The bodies still come in the order of the markers (a transfer completes
// right after its last body byte, and curl reports completions in that
// order), so ParseCurlBatch cuts the markers out, concatenates what is left
// and hands each marker the next %{size_download} bytes. Then it sorts the
// responses by %{urlnum}: a batch is in request order. Bodies are a few
// dozen bytes, written by curl in one piece; testdata/curl-parallel.txt
// is real curl output with this interleaving.

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Concurrency is how many requests a batch has in flight at once, on both
// backends: the kind backend's curl --parallel-max and the embedded
// backend's senders.
const Concurrency = 8

// maxCurlParallel is curl's own ceiling for --parallel-max.
const maxCurlParallel = 300

// CurlMarker starts the line curl writes after each transfer (-w):
// "<marker> <http_code> <exitcode> <size_download> <urlnum> <errormsg>".
// %{exitcode}, %{urlnum} and %{errormsg} need curl ≥ 7.75 (the client
// image has 8.x).
const CurlMarker = "@@le2e-transfer@@"

// curlWriteOut begins with a newline so the marker is on its own line even
// when the body has no trailing newline (Envoy's "no healthy upstream").
const curlWriteOut = "\n" + CurlMarker + " %{http_code} %{exitcode} %{size_download} %{urlnum} %{errormsg}\n"

// CurlArgs returns the argv of one curl that sends n GET requests to url,
// at most concurrency at a time (1 or less: one after the other), each
// bounded by timeout (--max-time applies per transfer; at least 1 s).
// --parallel-immediate opens connections up front instead of waiting to
// multiplex (HTTP/1.1 cannot). -sS hides the progress meter but keeps
// errors on stderr; curl goes on after a failed transfer, and its exit
// status says little about a batch, so callers parse stdout.
func CurlArgs(url string, n, concurrency int, timeout time.Duration) []string {
	secs := math.Max(1, timeout.Seconds())
	args := []string{"curl", "-sS"}
	if concurrency > 1 {
		args = append(args, "--parallel", "--parallel-immediate", "--parallel-max", strconv.Itoa(min(concurrency, maxCurlParallel)))
	}
	args = append(args,
		"--max-time", strconv.FormatFloat(secs, 'f', -1, 64),
		"-w", curlWriteOut,
	)
	for i := 0; i < n; i++ {
		args = append(args, url)
	}
	return args
}

// curlTransfer is one marker line.
type curlTransfer struct {
	Response
	size   int
	urlnum int
	line   int // 1-based line of stdout
}

// ParseCurlBatch splits the stdout of a CurlArgs run into one Response per
// transfer, in URL order: the body (trimmed), the HTTP status (0 for
// "000"), the serving pod (PodFromBody) and, when curl's exit code for the
// transfer is not 0, Err = "curl exit <code>: <message>". A marker line
// that does not parse, body bytes no marker accounts for, or two markers
// for one URL are errors naming the line.
func ParseCurlBatch(stdout string) ([]Response, error) {
	var (
		bodies strings.Builder // stdout without the marker lines
		ts     []curlTransfer
	)
	rest, line := stdout, 1
	for {
		i := strings.Index(rest, "\n"+CurlMarker)
		start := i + 1
		if strings.HasPrefix(rest, CurlMarker) && len(ts) == 0 && bodies.Len() == 0 {
			i, start = 0, 0
		}
		if i < 0 {
			bodies.WriteString(rest)
			break
		}
		bodies.WriteString(rest[:i])
		line += strings.Count(rest[:start], "\n")
		rest = rest[start:]
		end := strings.IndexByte(rest, '\n')
		if end < 0 {
			return nil, fmt.Errorf("curl output line %d (transfer %d): marker line %q not terminated: output truncated", line, len(ts)+1, curlShort(rest))
		}
		t, err := parseCurlMarker(rest[:end])
		if err != nil {
			return nil, fmt.Errorf("curl output line %d (transfer %d): %w", line, len(ts)+1, err)
		}
		t.line = line
		ts = append(ts, t)
		rest = rest[end+1:]
		line++
	}
	stream := bodies.String()
	pos := 0
	for i := range ts {
		t := &ts[i]
		if pos+t.size > len(stream) {
			return nil, fmt.Errorf("curl output line %d (transfer %d): %d body bytes announced, %d left: output truncated or not from CurlArgs' -w %q",
				t.line, i+1, t.size, len(stream)-pos, curlWriteOut)
		}
		t.Body = strings.TrimSpace(stream[pos : pos+t.size])
		t.Pod = PodFromBody(t.Body)
		pos += t.size
	}
	if extra := strings.TrimSpace(stream[pos:]); extra != "" {
		return nil, fmt.Errorf("curl output: %q after the last transfer's body: output truncated or curl did not get -w %q",
			curlShort(extra), curlWriteOut)
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].urlnum < ts[j].urlnum })
	out := make([]Response, len(ts))
	for i, t := range ts {
		if i > 0 && ts[i-1].urlnum == t.urlnum {
			return nil, fmt.Errorf("curl output line %d: a second transfer for URL #%d", t.line, t.urlnum)
		}
		out[i] = t.Response
	}
	return out, nil
}

func parseCurlMarker(line string) (curlTransfer, error) {
	want := CurlMarker + " <http_code> <exitcode> <size_download> <urlnum> <errormsg>"
	fields := strings.SplitN(strings.TrimPrefix(line, CurlMarker), " ", 6)
	// fields[0] is the empty string before the first space.
	if len(fields) < 5 || fields[0] != "" {
		return curlTransfer{}, fmt.Errorf("marker line %q: want %q", line, want)
	}
	status, err := strconv.Atoi(fields[1])
	if err != nil || status < 0 || status > 999 {
		return curlTransfer{}, fmt.Errorf("marker line %q: http_code %q is not a number", line, fields[1])
	}
	code, err := strconv.Atoi(fields[2])
	if err != nil {
		return curlTransfer{}, fmt.Errorf("marker line %q: exitcode %q is not a number", line, fields[2])
	}
	size, err := strconv.Atoi(fields[3])
	if err != nil || size < 0 {
		return curlTransfer{}, fmt.Errorf("marker line %q: size_download %q is not a number", line, fields[3])
	}
	urlnum, err := strconv.Atoi(strings.TrimSpace(fields[4]))
	if err != nil || urlnum < 0 {
		return curlTransfer{}, fmt.Errorf("marker line %q: urlnum %q is not a number", line, fields[4])
	}
	t := curlTransfer{Response: Response{Status: status}, size: size, urlnum: urlnum}
	if code != 0 {
		msg := ""
		if len(fields) == 6 {
			msg = strings.TrimSpace(fields[5])
		}
		t.Err = fmt.Sprintf("curl exit %d: %s", code, msg)
	}
	return t, nil
}

func curlShort(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
