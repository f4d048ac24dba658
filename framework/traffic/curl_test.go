package traffic

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCurlArgs(t *testing.T) {
	url := "http://helloworld-svc.le2e-three-zones-x7k2p.svc.cluster.local:5000/hello"
	got := CurlArgs(url, 3, 2500*time.Millisecond)
	want := []string{"curl", "-sS", "--max-time", "2.5", "-w", "\n" + CurlMarker + " %{http_code} %{exitcode} %{errormsg}\n", url, url, url}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CurlArgs:\n got %q\nwant %q", got, want)
	}
	if got := CurlArgs(url, 1, 0); got[3] != "1" {
		t.Errorf("timeout floor: got --max-time %q, want 1", got[3])
	}
}

// curlOut builds stdout exactly as curl prints it with CurlArgs' -w.
func curlOut(body string, code string, exit int, msg string) string {
	return body + "\n" + CurlMarker + " " + code + " " + fmt.Sprint(exit) + " " + msg + "\n"
}

func TestParseCurlBatch(t *testing.T) {
	const (
		uh = "no healthy upstream"
		uf = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
		cf = "Failed to connect to helloworld-svc.default.svc.cluster.local port 5000 after 2 ms: Couldn't connect to server"
	)
	stdout := curlOut(HelloBody("helloworld-zone-b-5d8f9c7b6d-4kq2x"), "200", 0, "") +
		curlOut(HelloBody("helloworld-zone-a-7c9d8b5f4-9mxlp"), "200", 0, "") +
		curlOut(uh, "503", 0, "") +
		curlOut(uf, "503", 0, "") +
		curlOut("", "000", 7, cf) +
		curlOut("", "000", 28, "Operation timed out after 2001 milliseconds with 0 bytes received")
	got, err := ParseCurlBatch(stdout)
	if err != nil {
		t.Fatal(err)
	}
	want := []Response{
		{Status: 200, Body: "Hello version: v1, instance: helloworld-zone-b-5d8f9c7b6d-4kq2x", Pod: "helloworld-zone-b-5d8f9c7b6d-4kq2x"},
		{Status: 200, Body: "Hello version: v1, instance: helloworld-zone-a-7c9d8b5f4-9mxlp", Pod: "helloworld-zone-a-7c9d8b5f4-9mxlp"},
		{Status: 503, Body: uh},
		{Status: 503, Body: uf},
		{Status: 0, Err: "curl exit 7: " + cf},
		{Status: 0, Err: "curl exit 28: Operation timed out after 2001 milliseconds with 0 bytes received"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%#v\nwant\n%#v", got, want)
	}
	classes := []string{ClassOK, ClassOK, ClassNoHealthyUpstream, ClassConnectFailure, ClassClientError, ClassClientError}
	for i, r := range got {
		if r.Class() != classes[i] {
			t.Errorf("response %d class %q, want %q", i, r.Class(), classes[i])
		}
	}
}

func TestParseCurlBatchEmpty(t *testing.T) {
	got, err := ParseCurlBatch("")
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestParseCurlBatchErrors(t *testing.T) {
	ok := curlOut(HelloBody("p1"), "200", 0, "")
	cases := []struct{ name, stdout, want string }{
		{"bad status", ok + "body\n" + CurlMarker + " 2x0 0 \n", "line 5 (transfer 2)"},
		{"bad exit", ok + CurlMarker + " 200 zero \n", "exitcode \"zero\""},
		{"short marker", CurlMarker + " 200\n", "line 1 (transfer 1)"},
		{"no marker glued", CurlMarker + "200 0 \n", "want"},
		{"truncated", ok + "Hello version: v1, instance: p2\n", "line 4: \"Hello version: v1, instance: p2\" after the last transfer marker"},
	}
	for _, c := range cases {
		_, err := ParseCurlBatch(c.stdout)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

// TestCurlArgsRealCurl runs the local curl (when present) against a loopback
// server answering like helloworld and Envoy, plus a refused port.
func TestCurlArgsRealCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl on PATH")
	}
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n%2 == 0 {
			w.WriteHeader(503)
			fmt.Fprint(w, "no healthy upstream") // Envoy: no trailing newline
			return
		}
		fmt.Fprint(w, HelloBody("helloworld-zone-b-1"))
	}))
	defer srv.Close()
	// A loopback port with nothing listening: curl exit 7.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/hello"
	l.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	run := func(args []string) string {
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).Output()
		if err != nil && len(out) == 0 {
			t.Fatalf("curl: %v", err)
		}
		return string(out)
	}
	got, err := ParseCurlBatch(run(CurlArgs(srv.URL+"/hello", 4, 5*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Pod != "helloworld-zone-b-1" || got[0].Status != 200 ||
		got[1].Status != 503 || got[1].Class() != ClassNoHealthyUpstream || got[3].Status != 503 {
		t.Errorf("got %#v", got)
	}
	got, err = ParseCurlBatch(run(CurlArgs(refused, 2, 5*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Status != 0 || !strings.HasPrefix(got[0].Err, "curl exit 7: ") || got[1].Class() != ClassClientError {
		t.Errorf("got %#v", got)
	}
}
