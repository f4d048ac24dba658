package traffic

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/localitylb/locality-e2e/framework/workload"
)

var updateCurlFixture = flag.Bool("update-curl-fixture", false, "rewrite testdata/curl-parallel.txt with the local curl")

func TestCurlArgs(t *testing.T) {
	url := "http://helloworld-svc.le2e-three-zones-x7k2p.svc.cluster.local:5000/hello"
	wout := "\n" + CurlMarker + " %{http_code} %{exitcode} %{size_download} %{urlnum} %{errormsg}\n"
	cases := []struct {
		name        string
		concurrency int
		timeout     time.Duration
		want        []string
	}{
		{"parallel", Concurrency, 2500 * time.Millisecond,
			[]string{"curl", "-sS", "--parallel", "--parallel-immediate", "--parallel-max", "8", "--max-time", "2.5", "-w", wout, url, url, url}},
		{"sequential", 1, 2500 * time.Millisecond,
			[]string{"curl", "-sS", "--max-time", "2.5", "-w", wout, url, url, url}},
		{"timeout floor", 0, 0,
			[]string{"curl", "-sS", "--max-time", "1", "-w", wout, url, url, url}},
		{"curl's ceiling", 1000, 5 * time.Second,
			[]string{"curl", "-sS", "--parallel", "--parallel-immediate", "--parallel-max", "300", "--max-time", "5", "-w", wout, url, url, url}},
	}
	for _, c := range cases {
		if got := CurlArgs(url, 3, c.concurrency, c.timeout); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

// curlOut builds stdout as curl prints one sequential transfer with
// CurlArgs' -w.
func curlOut(body string, code string, exit, urlnum int, msg string) string {
	return body + "\n" + CurlMarker + " " + code + " " + fmt.Sprint(exit) + " " + fmt.Sprint(len(body)) + " " + fmt.Sprint(urlnum) + " " + msg + "\n"
}

const (
	uh = "no healthy upstream"
	uf = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	cf = "Failed to connect to helloworld-svc.default.svc.cluster.local port 5000 after 2 ms: Couldn't connect to server"
)

func TestParseCurlBatch(t *testing.T) {
	stdout := curlOut(HelloBody("helloworld-zone-b-5d8f9c7b6d-4kq2x"), "200", 0, 0, "") +
		curlOut(HelloBody("helloworld-zone-a-7c9d8b5f4-9mxlp"), "200", 0, 1, "") +
		curlOut(uh, "503", 0, 2, "") +
		curlOut(uf, "503", 0, 3, "") +
		curlOut("", "000", 7, 4, cf) +
		curlOut("", "000", 28, 5, "Operation timed out after 2001 milliseconds with 0 bytes received")
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

// TestParseCurlBatchInterleaved: --parallel output, bodies ahead of their
// markers and glued together, markers out of URL order.
func TestParseCurlBatchInterleaved(t *testing.T) {
	b0, b1, b2 := HelloBody("p0"), HelloBody("p1"), HelloBody("p2")
	m := func(code string, size, urlnum int) string {
		return fmt.Sprintf("\n%s %s 0 %d %d \n", CurlMarker, code, size, urlnum)
	}
	stdout := b2 + uh + m("200", len(b2), 2) + m("503", len(uh), 3) + b0 + uh + b1 + m("200", len(b0), 0) + m("503", len(uh), 4) + m("200", len(b1), 1)
	got, err := ParseCurlBatch(stdout)
	if err != nil {
		t.Fatal(err)
	}
	want := []Response{
		{Status: 200, Body: strings.TrimSpace(b0), Pod: "p0"},
		{Status: 200, Body: strings.TrimSpace(b1), Pod: "p1"},
		{Status: 200, Body: strings.TrimSpace(b2), Pod: "p2"},
		{Status: 503, Body: uh},
		{Status: 503, Body: uh},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%#v\nwant\n%#v", got, want)
	}
}

// TestParseCurlBatchFixture parses real `curl --parallel` output: curl
// 7.88.1 (Debian bookworm) against fixtureServer, written by
//
//	go test ./framework/traffic -run CurlParallelRealCurl -update-curl-fixture
//
// Each
// transfer's body names its URL index, so a body handed to the wrong
// marker shows.
func TestParseCurlBatchFixture(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "curl-parallel.txt"))
	if err != nil {
		t.Fatal(err)
	}
	checkFixtureBatch(t, string(b), fixtureN)
	// The fixture really interleaves: a body right after another body.
	if !interleaved.MatchString(string(b)) {
		t.Errorf("fixture shows no interleaving: regenerate it with -update-curl-fixture")
	}
}

var interleaved = regexp.MustCompile(`(instance: u\d+\n|no healthy upstream)(Hello|no healthy)`)

const fixtureN = 60

// fixtureServer answers URL index i (query ?i=<i>) with "instance: u<i>",
// every 5th with Envoy's 503 "no healthy upstream" (no newline), after a
// random sub-3 ms pause so that transfers finish out of order.
func fixtureServer(t *testing.T) (base string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(rand.Intn(3000)) * time.Microsecond)
		i := r.URL.Query().Get("i")
		var n int
		fmt.Sscan(i, &n)
		if n%5 == 4 {
			w.WriteHeader(503)
			fmt.Fprint(w, uh)
			return
		}
		fmt.Fprint(w, HelloBody("u"+i))
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String() + "/hello"
}

func checkFixtureBatch(t *testing.T, stdout string, n int) {
	t.Helper()
	got, err := ParseCurlBatch(stdout)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d responses, want %d", len(got), n)
	}
	for i, r := range got {
		want := Response{Status: 200, Body: strings.TrimSpace(HelloBody(fmt.Sprintf("u%d", i))), Pod: fmt.Sprintf("u%d", i)}
		if i%5 == 4 {
			want = Response{Status: 503, Body: uh}
		}
		if r != want {
			t.Errorf("response %d: got %#v, want %#v", i, r, want)
		}
	}
}

func needCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl on PATH")
	}
}

// runCurl runs argv with URL i replaced by urls[i].
func runCurl(t *testing.T, argv []string, urls []string) string {
	t.Helper()
	args := append([]string(nil), argv[:len(argv)-len(urls)]...)
	args = append(args, urls...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("curl: %v", err)
	}
	return string(out)
}

// TestCurlParallelRealCurl runs the local curl with CurlArgs' flags against
// fixtureServer, several times, and (with -update-curl-fixture) keeps one
// output as testdata/curl-parallel.txt.
func TestCurlParallelRealCurl(t *testing.T) {
	needCurl(t)
	base := fixtureServer(t)
	urls := make([]string, fixtureN)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s?i=%d", base, i)
	}
	for round := 0; round < 5; round++ {
		out := runCurl(t, CurlArgs(base, fixtureN, Concurrency, 5*time.Second), urls)
		checkFixtureBatch(t, out, fixtureN)
		if *updateCurlFixture && round == 0 {
			if err := os.WriteFile(filepath.Join("testdata", "curl-parallel.txt"), []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestCurlRealWorkload runs the local curl with CurlArgs against real
// workload servers on loopback (framework/workload, what the pods run):
// healthy ones, one answering 503, one refusing connections, one too slow
// for --max-time; every transfer is classified, in URL order.
func TestCurlRealWorkload(t *testing.T) {
	needCurl(t)
	start := func(pod string, f workload.Fault) *workload.Server {
		s := workload.NewServer(pod)
		if err := s.Listen("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		if _, err := s.SetFault(f); err != nil {
			t.Fatal(err)
		}
		return s
	}
	pods := []*workload.Server{
		start("helloworld-zone-a-1", workload.Healthy),
		start("helloworld-zone-b-1", workload.Healthy),
		start("helloworld-zone-b-2", workload.FailStatus(503)),
		start("helloworld-zone-c-1", workload.RefuseConnections),
		start("helloworld-zone-c-2", workload.DelayBy(3*time.Second)),
	}
	for _, conc := range []int{1, Concurrency} {
		n := 10 // sequential: each slow transfer costs its whole second
		if conc > 1 {
			n = 40
		}
		var urls []string
		for i := 0; i < n; i++ {
			urls = append(urls, "http://"+pods[i%len(pods)].Addr()+"/hello")
		}
		startT := time.Now()
		got, err := ParseCurlBatch(runCurl(t, CurlArgs(urls[0], len(urls), conc, time.Second), urls))
		if err != nil {
			t.Fatalf("concurrency %d: %v", conc, err)
		}
		t.Logf("concurrency %d: %d requests (%d of them timing out after 1 s) in %v", conc, len(urls), len(urls)/len(pods), time.Since(startT).Round(time.Millisecond))
		if len(got) != len(urls) {
			t.Fatalf("concurrency %d: %d responses, want %d", conc, len(got), len(urls))
		}
		for i, r := range got {
			p := pods[i%len(pods)]
			var ok bool
			switch i % len(pods) {
			case 0, 1:
				ok = r.Status == 200 && r.Pod == p.Pod() && r.Class() == ClassOK
			case 2:
				ok = r.Status == 503 && r.Class() == ClassServerError && r.Body == strings.TrimSpace(workload.FaultBody(p.Pod()))
			case 3:
				ok = r.Status == 0 && strings.HasPrefix(r.Err, "curl exit 7: ") && r.Class() == ClassClientError
			case 4:
				ok = r.Status == 0 && strings.HasPrefix(r.Err, "curl exit 28: ") && r.Class() == ClassClientError
			}
			if !ok {
				t.Errorf("concurrency %d: response %d (pod %s, fault %s): %#v", conc, i, p.Pod(), p.Fault(), r)
			}
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
	ok := curlOut(HelloBody("p1"), "200", 0, 0, "")
	cases := []struct{ name, stdout, want string }{
		{"bad status", ok + "body\n" + CurlMarker + " 2x0 0 4 1 \n", "line 5 (transfer 2)"},
		{"bad exit", ok + "\n" + CurlMarker + " 200 zero 0 1 \n", "line 5 (transfer 2): marker line \"@@le2e-transfer@@ 200 zero 0 1 \": exitcode \"zero\""},
		{"bad size", ok + "\n" + CurlMarker + " 200 0 -1 1 \n", "size_download \"-1\""},
		{"bad urlnum", ok + "\n" + CurlMarker + " 200 0 0 x \n", "urlnum \"x\""},
		{"short marker", CurlMarker + " 200 0 0\n", "line 1 (transfer 1)"},
		{"old format", CurlMarker + " 200 0 \n", "want"},
		{"no space after marker", CurlMarker + "200 0 0 0 \n", "want"},
		{"unterminated", ok + "\n" + CurlMarker + " 200 0 0 1 ", "not terminated"},
		{"size beyond output", "short\n" + CurlMarker + " 200 0 40 0 \n", "40 body bytes announced, 5 left"},
		{"truncated", ok + "Hello version: v1, instance: p2\n", "\"Hello version: v1, instance: p2\" after the last transfer's body"},
		{"same URL twice", ok + curlOut(HelloBody("p2"), "200", 0, 0, ""), "a second transfer for URL #0"},
	}
	for _, c := range cases {
		_, err := ParseCurlBatch(c.stdout)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
}
