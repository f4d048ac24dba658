package embedded

// podclient.go owns the HTTP client side of the embedded sidecar: the
// transport every request to a pod (or east-west gateway) goes through,
// and the request URL. BenchmarkPlainHTTP uses the same transport, so the
// Send/PlainHTTP ratio compares the same HTTP work.

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// podResponseTimeout bounds how long one request waits for a pod's response
// headers. It is a guard against a model bug hanging a spec, not Envoy
// behaviour: route timeouts and per-try timeouts come from the pushed route
// (Mesh.request). It is a transport setting (ResponseHeaderTimeout) rather
// than http.Client.Timeout, which would give every request its own deadline
// context and timer goroutine bookkeeping (about 10 allocations a request,
// BenchmarkSend's profile).
const podResponseTimeout = 5 * time.Second

// newPodTransport is the keep-alive transport to loopback pods.
func newPodTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // never through an HTTP proxy: pods are on loopback
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: podResponseTimeout,
	}
}

// helloURL is http://address:port/hello, built with one allocation.
func helloURL(address string, port uint32) string {
	if strings.IndexByte(address, ':') >= 0 { // IPv6 literal
		return "http://" + net.JoinHostPort(address, strconv.FormatUint(uint64(port), 10)) + "/hello"
	}
	var buf [64]byte
	b := append(buf[:0], "http://"...)
	b = append(b, address...)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(port), 10)
	b = append(b, "/hello"...)
	return string(b)
}
