package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"golang.org/x/net/html"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
)

// The known report: three scenarios that ran (one failed) and one skipped.
// The failed one sorts last by name, so "failed first" is the page's doing.

var weighted = split.Table{
	Split: split.Expected{"kr/a": 0.9, "kr/b": 0, "kr/c": 0.1},
	Rule:  "exact binomial, confidence 0.999, Bonferroni k=3",
	N:     1000, WantN: 1000,
	Rows: []split.Row{
		{Bucket: "kr/a", Expected: 0.9, Declared: true, Lo: 867, Hi: 930, Observed: 904, OK: true},
		{Bucket: "kr/b", Expected: 0, Declared: true, Lo: 0, Hi: 0, Observed: 0, OK: true},
		{Bucket: "kr/c", Expected: 0.1, Declared: true, Lo: 70, Hi: 133, Observed: 96, OK: true},
	},
}

var failing = split.Table{
	Split: split.Expected{"kr/a": 0.5, "kr/c": 0.5},
	Rule:  "exact binomial, confidence 0.999, Bonferroni k=2",
	N:     1000, WantN: 1000,
	Rows: []split.Row{
		{Bucket: "kr/a", Expected: 0.5, Declared: true, Lo: 447, Hi: 553, Observed: 612, OK: false},
		{Bucket: "kr/c", Expected: 0.5, Declared: true, Lo: 447, Hi: 553, Observed: 371, OK: false},
		{Bucket: "kr/b", Expected: 0, Declared: false, Lo: 0, Hi: 0, Observed: 17, OK: false},
	},
}

var byPod = split.Table{
	Split: split.Expected{"helloworld-kr-b-abc123def4-aaaaa": 0.5, "helloworld-kr-b-abc123def4-bbbbb": 0.5},
	Rule:  "exact binomial, confidence 0.999, Bonferroni k=2",
	N:     2000, WantN: 2000,
	Rows: []split.Row{
		{Bucket: "helloworld-kr-b-abc123def4-aaaaa", Expected: 0.5, Declared: true, Lo: 924, Hi: 1076, Observed: 1013, OK: true},
		{Bucket: "helloworld-kr-b-abc123def4-bbbbb", Expected: 0.5, Declared: true, Lo: 924, Hi: 1076, Observed: 987, OK: true},
	},
}

func table(view endpoints.View, rows ...endpoints.Locality) endpoints.Table {
	return endpoints.Table{Cluster: "outbound|5000||helloworld.le2e.svc.cluster.local", View: view, Rows: rows}
}

func hosts(h endpoints.Health, pods ...string) []endpoints.Host {
	var out []endpoints.Host
	for i, p := range pods {
		out = append(out, endpoints.Host{Address: fmt.Sprintf("127.20.0.%d", i+2), Port: 5000, Pod: p, Health: h})
	}
	return out
}

func entry(name string, v any) types.ReportEntry {
	return types.ReportEntry{Name: name, Value: types.WrapEntryValue(v), Visibility: types.ReportEntryVisibilityFailureOrVerbose}
}

func knownReport() types.Report {
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	envoyB := table(endpoints.Envoy,
		endpoints.Locality{Locality: "kr/a", Priority: 0, Weight: 90, Hosts: hosts(endpoints.Healthy, "helloworld-kr-a-1", "helloworld-kr-a-2")},
		endpoints.Locality{Locality: "kr/c", Priority: 0, Weight: 10, Hosts: hosts(endpoints.Healthy, "helloworld-kr-c-1")},
	)
	istiodB := table(endpoints.Raw,
		endpoints.Locality{Locality: "kr/a", Priority: 0, Weight: 90, Hosts: hosts(endpoints.Healthy, "helloworld-kr-a-1", "helloworld-kr-a-2")},
		endpoints.Locality{Locality: "kr/b", Priority: 0, Weight: 0},
		endpoints.Locality{Locality: "kr/c", Priority: 0, Weight: 10, Hosts: hosts(endpoints.Healthy, "helloworld-kr-c-1")},
	)
	ejected := table(endpoints.Envoy,
		endpoints.Locality{Locality: "kr/b", Priority: 0, Weight: 0, Hosts: hosts(endpoints.Ejected, "helloworld-kr-b-1", "helloworld-kr-b-2")},
		endpoints.Locality{Locality: "kr/a", Priority: 1, Weight: 0, Hosts: hosts(endpoints.Healthy, "helloworld-kr-a-1")},
	)
	it := func(container, leaf string, state types.SpecState, entries ...types.ReportEntry) types.SpecReport {
		return types.SpecReport{
			ContainerHierarchyTexts:  []string{container},
			ContainerHierarchyLabels: [][]string{{"locality:test"}},
			LeafNodeType:             types.NodeTypeIt,
			LeafNodeText:             leaf,
			State:                    state,
			StartTime:                start,
			RunTime:                  150 * time.Millisecond,
			ReportEntries:            entries,
		}
	}
	failed := it("Zz failover", "fails over to kr/a and kr/c (≈50/50)", types.SpecStateFailed,
		entry("DestinationRule helloworld-failover", "trafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      enabled: true\n"),
		entry("warm-up from netshoot-b", "200: 40, 503: 10"),
		entry("endpoints of netshoot-b (envoy view)", ejected),
		entry("split by locality from netshoot-b", failing),
		entry("diagnostics", "endpoints of netshoot-b:\ncluster ... (envoy view)\nendpoints of netshoot-b:\ncluster ... (istiod view)\npods:\n  helloworld-kr-b-1 kr/b"),
	)
	failed.Failure = types.Failure{
		Message:  "kr/a observed 612 outside [447, 553]",
		Location: types.CodeLocation{FileName: "/work/main/specs/failover_test.go", LineNumber: 42},
	}
	failed.CapturedGinkgoWriterOutput = "embedded: istiod pushed EDS v7\n"
	skipped := it("Aa skipped", "needs a 5xx", types.SpecStateSkipped)
	skipped.Failure = types.Failure{Message: "the helloworld image cannot answer 5xx"}
	return types.Report{
		SuiteDescription: "locality-e2e",
		SuiteConfig:      types.SuiteConfig{RandomSeed: 4242},
		StartTime:        start,
		RunTime:          4 * time.Second,
		SpecReports: []types.SpecReport{
			{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed},
			it("Weighted distribute", "splits 90/10", types.SpecStatePassed,
				entry("DestinationRule helloworld-weighted", "trafficPolicy: {}\n"),
				entry("VirtualService retry-5xx", "http:\n- retries:\n    attempts: 2\n"),
				entry("split by locality from netshoot-b", weighted),
				entry("endpoints of netshoot-b (envoy view)", envoyB),
				entry("endpoints of netshoot-b (istiod view)", istiodB),
			),
			failed,
			skipped,
			it("Baseline", "spreads over the pods", types.SpecStatePassed,
				entry("split by pod from netshoot-b", byPod),
			),
			it("Subzones", "no traffic", types.SpecStatePassed),
		},
	}
}

// asJSON round-trips the report through Ginkgo's JSON report, as
// reports/report.json holds it.
func asJSON(t *testing.T, r types.Report) string {
	t.Helper()
	data, err := json.Marshal([]types.Report{r})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func render(t *testing.T, r types.Report) string {
	t.Helper()
	p, err := FromReport(r, "embedded", "1.28.0")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Render(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// --- a small DOM helper -----------------------------------------------------

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, c string) bool {
	for _, f := range strings.Fields(attr(n, "class")) {
		if f == c {
			return true
		}
	}
	return false
}

// all returns the element descendants of n (n included) that match.
func all(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func tag(name string, class ...string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		if n.Data != name {
			return false
		}
		for _, c := range class {
			if !hasClass(n, c) {
				return false
			}
		}
		return true
	}
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func parse(t *testing.T, page string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// --- tests ------------------------------------------------------------------

type wantScenario struct {
	name   string
	result Result
	splits []split.Table
}

var want = []wantScenario{
	{"Zz failover fails over to kr/a and kr/c (≈50/50)", Failed, []split.Table{failing}},
	{"Baseline spreads over the pods", Passed, []split.Table{byPod}},
	{"Subzones no traffic", Passed, nil},
	{"Weighted distribute splits 90/10", Passed, []split.Table{weighted}},
	{"Aa skipped needs a 5xx", Skipped, nil},
}

func TestPageHasAChartPerBatchWithItsNumbersFailedFirst(t *testing.T) {
	r := knownReport()
	for _, tc := range []struct {
		name string
		page func() string
	}{
		{"in process", func() string { return render(t, r) }},
		{"from report.json", func() string {
			rr, err := ReadGinkgoReport(asJSON(t, r))
			if err != nil {
				t.Fatal(err)
			}
			return render(t, rr)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkPage(t, parse(t, tc.page()), "embedded")
		})
	}
}

func checkPage(t *testing.T, doc *html.Node, backend string) {
	sections := all(doc, tag("section", "scenario"))
	if len(sections) != len(want) {
		t.Fatalf("%d scenario sections, want %d", len(sections), len(want))
	}
	for i, w := range want {
		s := sections[i]
		if got := attr(s, "data-name"); got != w.name {
			t.Errorf("section %d is %q, want %q", i, got, w.name)
		}
		if got := attr(s, "data-result"); got != string(w.result) {
			t.Errorf("section %d (%s) result %q, want %q", i, w.name, got, w.result)
		}
		figs := all(s, tag("figure", "split"))
		if len(figs) != len(w.splits) {
			t.Fatalf("%s: %d charts, want %d", w.name, len(figs), len(w.splits))
		}
		for k, fig := range figs {
			checkFigure(t, w.name, fig, w.splits[k])
		}
		h := textOf(all(s, tag("p", "meta"))[0])
		if !strings.Contains(h, "backend "+backend) || !strings.Contains(h, " 1.28.0") {
			t.Errorf("%s: meta line %q lacks backend or Istio version", w.name, h)
		}
	}

	failed := sections[0]
	if pre := all(failed, tag("pre", "failure")); len(pre) != 1 || !strings.Contains(textOf(pre[0]), "612 outside [447, 553]") ||
		!strings.Contains(textOf(pre[0]), "failover_test.go:42") {
		t.Errorf("the failed scenario does not show its failure and location")
	}
	if d := all(failed, tag("details", "diagnostics")); len(d) != 1 || !strings.Contains(textOf(d[0]), "(istiod view)") {
		t.Errorf("the failed scenario does not show its diagnostics")
	}
	if d := all(failed, tag("details", "rule")); len(d) != 1 || !strings.Contains(textOf(d[0]), "helloworld-failover") {
		t.Errorf("the failed scenario does not show its DestinationRule")
	}

	weightedSec := sections[3]
	rules := all(weightedSec, tag("details", "rule"))
	if len(rules) != 2 || !strings.Contains(textOf(rules[1]), "VirtualService retry-5xx") || !strings.Contains(textOf(rules[1]), "attempts: 2") {
		t.Errorf("weighted: rules %d, want the DestinationRule and the VirtualService", len(rules))
	}
	eps := all(weightedSec, tag("div", "endpoints"))
	if len(eps) != 2 || attr(eps[0], "data-title") != "endpoints of netshoot-b (envoy view)" || attr(eps[1], "data-title") != "endpoints of netshoot-b (istiod view)" {
		t.Fatalf("weighted: endpoint tables %d, want both views", len(eps))
	}
	rows := all(eps[1], tag("tr"))[1:] // after the header
	if len(rows) != 3 {
		t.Fatalf("istiod view: %d rows, want 3", len(rows))
	}
	cells := all(rows[0], tag("td"))
	if got := []string{textOf(cells[0]), textOf(cells[1]), textOf(cells[2]), textOf(cells[3])}; strings.Join(got, " ") != "kr/a 0 90 2" {
		t.Errorf("istiod view row 1: %v, want kr/a 0 90 2", got)
	}
	if !strings.Contains(textOf(cells[4]), "helloworld-kr-a-2") {
		t.Errorf("istiod view row 1 lacks its pods: %q", textOf(cells[4]))
	}

	// The first screen: the failed scenario's card (failure, diagnostics,
	// its failing chart), then the index by label family, failed first,
	// each row with its inline chart when it sent a batch.
	cards := all(doc, tag("div", "failure-card"))
	if len(cards) != 1 || attr(cards[0], "data-name") != want[0].name {
		t.Fatalf("failure cards %d, want one for %q", len(cards), want[0].name)
	}
	if d := all(cards[0], tag("details", "first-diagnostics")); len(d) != 1 || !strings.Contains(textOf(d[0]), "(istiod view)") {
		t.Errorf("the failure card does not show the diagnostics")
	}
	if f := all(cards[0], tag("figure", "key-chart")); len(f) != 1 || len(all(f[0], tag("svg"))) != 1 {
		t.Errorf("the failure card does not show the failing chart")
	}
	fams := all(doc, tag("div", "family"))
	if len(fams) != 1 || attr(fams[0], "data-family") != "locality" {
		t.Fatalf("families %d, want the one of locality:test", len(fams))
	}
	rows = all(fams[0], tag("div", "row"))
	if len(rows) != len(want) {
		t.Fatalf("index rows %d, want %d", len(rows), len(want))
	}
	for i, w := range want {
		if got := attr(rows[i], "data-name"); got != w.name {
			t.Errorf("index row %d is %q, want %q", i, got, w.name)
		}
		if got, wantMini := len(all(rows[i], tag("svg", "mini"))), min(1, len(w.splits)); got != wantMini {
			t.Errorf("index row %q: %d inline charts, want %d", w.name, got, wantMini)
		}
	}
	run := textOf(all(doc, tag("p", "run"))[0])
	for _, part := range []string{"backend " + backend, "seed 4242", "requests per split 1000 (1000–2000)", "duration 4s"} {
		if !strings.Contains(strings.Join(strings.Fields(run), " "), part) {
			t.Errorf("header %q lacks %q", run, part)
		}
	}
	if h1 := strings.Join(strings.Fields(textOf(all(doc, tag("h1"))[0])), " "); !strings.HasPrefix(h1, "locality-e2e 1 failed") {
		t.Errorf("h1 %q: want the suite's name once, then the counts", h1)
	}
}

func checkFigure(t *testing.T, scenario string, fig *html.Node, tb split.Table) {
	t.Helper()
	if got := attr(fig, "data-n"); got != strconv.Itoa(tb.N) {
		t.Errorf("%s: chart N %s, want %d", scenario, got, tb.N)
	}
	svgs := all(fig, tag("svg"))
	if len(svgs) != 1 {
		t.Fatalf("%s: %d svg in the figure, want 1", scenario, len(svgs))
	}
	// The SVG prints the buckets under the axis and the counts over the bars.
	var texts []string
	for _, tx := range all(svgs[0], tag("text")) {
		texts = append(texts, strings.TrimSpace(textOf(tx)))
	}
	joined := "\n" + strings.Join(texts, "\n") + "\n"
	for _, r := range tb.Rows {
		label := strconv.Itoa(r.Observed)
		if !r.OK {
			label = "✗ " + label
		}
		if !strings.Contains(joined, "\n"+label+"\n") {
			t.Errorf("%s: chart lacks the count label %q (texts %q)", scenario, label, texts)
		}
		if !strings.Contains(joined, "\n"+r.Bucket+"\n") {
			t.Errorf("%s: chart lacks the bucket %q", scenario, r.Bucket)
		}
	}
	// Bars: one filled rectangle per bucket, red for those outside their
	// interval.
	red := 0
	for _, p := range all(svgs[0], tag("path")) {
		if strings.Contains(strings.ToLower(attr(p, "style")), "fill:#f18f8f") {
			red++
		}
	}
	bad := 0
	for _, r := range tb.Rows {
		if !r.OK {
			bad++
		}
	}
	if red != bad {
		t.Errorf("%s: %d red bars, want %d", scenario, red, bad)
	}
	// The data table under the chart: every bucket's expected share,
	// accepted interval and observed count.
	trs := all(fig, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-bucket") != "" })
	if len(trs) != len(tb.Rows) {
		t.Fatalf("%s: %d rows, want %d", scenario, len(trs), len(tb.Rows))
	}
	for i, r := range tb.Rows {
		tr := trs[i]
		got := fmt.Sprintf("%s exp=%s lo=%s hi=%s obs=%s ok=%s", attr(tr, "data-bucket"), attr(tr, "data-expected"),
			attr(tr, "data-lo"), attr(tr, "data-hi"), attr(tr, "data-observed"), attr(tr, "data-ok"))
		wantRow := fmt.Sprintf("%s exp=%g lo=%d hi=%d obs=%d ok=%v", r.Bucket, r.Expected, r.Lo, r.Hi, r.Observed, r.OK)
		if got != wantRow {
			t.Errorf("%s: row %d %s, want %s", scenario, i, got, wantRow)
		}
		interval := fmt.Sprintf("%d–%d (%.1f%%–%.1f%%)", r.Lo, r.Hi, shareOf(r.Lo, tb.N), shareOf(r.Hi, tb.N))
		if r.Lo == r.Hi {
			interval = fmt.Sprintf("exactly %d (%.1f%%)", r.Lo, shareOf(r.Lo, tb.N))
		}
		if txt := textOf(tr); !strings.Contains(txt, interval) {
			t.Errorf("%s: row %d shows %q, lacks the interval %q", scenario, i, txt, interval)
		}
	}
}

func TestPageIsSelfContained(t *testing.T) {
	page := render(t, knownReport())
	for _, bad := range []string{"<script", "http://", "https://", "<link", "@import", "url("} {
		// The SVG namespace URIs are identifiers, not fetches.
		rest := strings.NewReplacer(`xmlns="http://www.w3.org/2000/svg"`, "", `xmlns:xlink="http://www.w3.org/1999/xlink"`, "").Replace(page)
		if strings.Contains(rest, bad) {
			t.Errorf("page contains %q: it must need no network", bad)
		}
	}
}

func TestWriteFromFiles(t *testing.T) {
	dir := t.TempDir()
	path, err := WriteFromFiles(dir, asJSON(t, knownReport()), "kind", "1.28.0")
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "index.html") {
		t.Errorf("written to %s", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkPage(t, parse(t, string(data)), "kind")
}

func TestReadGinkgoReportRejectsOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.json")
	_ = os.WriteFile(path, []byte(`{"backend":"embedded"}`), 0o644)
	if _, err := ReadGinkgoReport(path); err == nil || !strings.Contains(err.Error(), "not a Ginkgo JSON report") {
		t.Errorf("err = %v", err)
	}
}

// TestHostsTextPlacement: a multi-cluster table's hosts show their
// cluster/network, gateway endpoints marked; single-cluster hosts do not.
func TestHostsTextPlacement(t *testing.T) {
	r := endpoints.Locality{Locality: "region2/zone3", Hosts: []endpoints.Host{
		{Address: "127.20.0.9", Health: endpoints.Healthy, Pod: "istio-eastwestgateway-x", Cluster: "cluster3", Network: "network2", Gateway: true},
		{Address: "127.20.0.10", Health: endpoints.Healthy, Pod: "helloworld-1", Cluster: "cluster1"},
		{Address: "127.20.0.11", Health: endpoints.Healthy, Pod: "helloworld-2"},
	}}
	want := "127.20.0.9 HEALTHY istio-eastwestgateway-x [cluster3/network2 (east-west gateway)]\n" +
		"127.20.0.10 HEALTHY helloworld-1 [cluster1]\n" +
		"127.20.0.11 HEALTHY helloworld-2"
	if got := hostsText(r); got != want {
		t.Errorf("hostsText:\n%s\nwant\n%s", got, want)
	}
}
