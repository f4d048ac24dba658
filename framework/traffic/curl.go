package traffic

// A batch of requests as ONE curl process: curl fetches every URL of its
// argv in order (reusing the connection), and after each transfer prints a
// write-out marker line with the status, curl's exit code and error message.
// One exec per batch instead of one per request keeps a 500-request batch to
// a second or two on kind.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// CurlMarker starts the line curl writes after each transfer (-w):
// "<marker> <http_code> <exitcode> <errormsg>". %{exitcode} and
// %{errormsg} need curl ≥ 7.75 (the client image has 8.x).
const CurlMarker = "@@le2e-transfer@@"

// curlWriteOut begins with a newline so the marker is on its own line even
// when the body has no trailing newline (Envoy's "no healthy upstream").
const curlWriteOut = "\n" + CurlMarker + " %{http_code} %{exitcode} %{errormsg}\n"

// CurlArgs returns the argv of one curl that sends n GET requests to url,
// each bounded by timeout (--max-time applies per transfer; at least 1 s).
// -sS hides the progress meter but keeps errors on stderr; curl goes on
// with the next URL after a failed transfer, and its own exit status is the
// last transfer's, so callers parse stdout rather than trust the exit code.
func CurlArgs(url string, n int, timeout time.Duration) []string {
	secs := math.Max(1, timeout.Seconds())
	args := []string{
		"curl", "-sS",
		"--max-time", strconv.FormatFloat(secs, 'f', -1, 64),
		"-w", curlWriteOut,
	}
	for i := 0; i < n; i++ {
		args = append(args, url)
	}
	return args
}

// ParseCurlBatch splits the stdout of a CurlArgs run into one Response per
// transfer, in order: the body (trimmed), the HTTP status (0 for "000"),
// the serving pod (PodFromBody) and, when curl's exit code for the transfer
// is not 0, Err = "curl exit <code>: <message>". A marker line that does not
// parse, or output after the last marker, is an error naming the line.
func ParseCurlBatch(stdout string) ([]Response, error) {
	var (
		out  []Response
		body []string
	)
	lines := strings.Split(stdout, "\n")
	// A trailing "\n" leaves one empty last element; it is not a line.
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, line := range lines {
		if !strings.HasPrefix(line, CurlMarker) {
			body = append(body, line)
			continue
		}
		r, err := parseCurlMarker(line)
		if err != nil {
			return nil, fmt.Errorf("curl output line %d (transfer %d): %w", i+1, len(out)+1, err)
		}
		r.Body = strings.TrimSpace(strings.Join(body, "\n"))
		r.Pod = PodFromBody(r.Body)
		body = body[:0]
		out = append(out, r)
	}
	if rest := strings.TrimSpace(strings.Join(body, "\n")); rest != "" {
		return nil, fmt.Errorf("curl output line %d: %q after the last transfer marker: output truncated or curl did not get -w %q",
			len(lines)-len(body)+1, curlShort(rest), curlWriteOut)
	}
	return out, nil
}

func parseCurlMarker(line string) (Response, error) {
	fields := strings.SplitN(strings.TrimPrefix(line, CurlMarker), " ", 4)
	// fields[0] is the empty string before the first space.
	if len(fields) < 3 || fields[0] != "" {
		return Response{}, fmt.Errorf("marker line %q: want %q", line, CurlMarker+" <http_code> <exitcode> <errormsg>")
	}
	status, err := strconv.Atoi(fields[1])
	if err != nil || status < 0 || status > 999 {
		return Response{}, fmt.Errorf("marker line %q: http_code %q is not a number", line, fields[1])
	}
	code, err := strconv.Atoi(strings.TrimSpace(fields[2]))
	if err != nil {
		return Response{}, fmt.Errorf("marker line %q: exitcode %q is not a number", line, fields[2])
	}
	r := Response{Status: status}
	if code != 0 {
		msg := ""
		if len(fields) == 4 {
			msg = strings.TrimSpace(fields[3])
		}
		r.Err = fmt.Sprintf("curl exit %d: %s", code, msg)
	}
	return r, nil
}

func curlShort(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
