package fingerprint

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
)

const golden = "../../fixtures/fingerprints/embedded.json"

func load(t *testing.T) Fingerprint {
	t.Helper()
	fp, err := Read(golden)
	if err != nil {
		t.Fatal(err)
	}
	if len(fp.Scenarios) == 0 {
		t.Fatal("golden fingerprint has no scenarios")
	}
	return fp
}

func TestGoldenEqualsItself(t *testing.T) {
	fp := load(t)
	if c := Diff(fp, fp, DiffOptions{}); len(c) != 0 {
		t.Fatalf("a fingerprint differs from itself: %v", c)
	}
}

// findScenario returns the index of the first scenario whose name contains s.
func findScenario(t *testing.T, fp Fingerprint, s string) int {
	t.Helper()
	for i, sc := range fp.Scenarios {
		if strings.Contains(sc.Name, s) {
			return i
		}
	}
	t.Fatalf("no scenario containing %q", s)
	return -1
}

func TestChangedPriorityIsReportedForThatScenarioOnly(t *testing.T) {
	a := load(t)
	b := load(t) // a deep copy, read again
	i := findScenario(t, b, "at 0 pods")
	tbl := b.Scenarios[i].Endpoints[0]
	row := tbl.Rows["kr/a"]
	row.Priority = 1
	tbl.Rows["kr/a"] = row
	changes := Diff(a, b, DiffOptions{})
	if len(changes) != 1 {
		t.Fatalf("want exactly one change, got %d:\n%s", len(changes), Format(changes))
	}
	c := changes[0]
	if c.Scenario != a.Scenarios[i].Name || !strings.Contains(c.What, "kr/a priority 0 → 1") {
		t.Fatalf("unexpected change: %s", c)
	}
}

func TestSamplingNoiseIsNotAChange(t *testing.T) {
	a := load(t)
	b := load(t)
	i := findScenario(t, b, "enabled: false") // 4×25%, a random split on every backend
	sp := &b.Scenarios[i].Splits[0]
	shift := func(d int) {
		for j := range sp.Rows {
			switch sp.Rows[j].Bucket {
			case "kr/a":
				sp.Rows[j].Observed -= d
			case "kr/b":
				sp.Rows[j].Observed += d
			}
		}
	}
	shift(sp.N / 100) // one point: noise
	if c := Diff(a, b, DiffOptions{}); len(c) != 0 {
		t.Fatalf("a one-point shift reported as a change:\n%s", Format(c))
	}
	shift(sp.N / 10) // eleven points: a change, with the test and shares
	c := Diff(a, b, DiffOptions{})
	if len(c) != 1 || c[0].Kind != KindSplit || !strings.Contains(c[0].What, "chi-squared p =") || c[0].P <= 0 {
		t.Fatalf("a shifted split must be reported once, as a split change with its test:\n%s", Format(c))
	}
}

// TestOppositeSamplesAreAChange: 445/555 against 555/445 on a 50/50 rule,
// both inside the one-sample range, is a change (Fisher's p ≈ 1e-6).
func TestOppositeSamplesAreAChange(t *testing.T) {
	mk := func(x, y int) Fingerprint {
		return Fingerprint{Scenarios: []Scenario{{Name: "s", Passed: true, Splits: []Split{{Title: "split by locality from c", Check: split.CheckBinomial, N: 1000, Rows: []split.Row{
			{Bucket: "kr/a", Expected: 0.5, Declared: true, Lo: 445, Hi: 555, Observed: x, OK: true},
			{Bucket: "kr/c", Expected: 0.5, Declared: true, Lo: 445, Hi: 555, Observed: y, OK: true},
		}}}}}}
	}
	c := Diff(mk(445, 555), mk(555, 445), DiffOptions{})
	if len(c) != 1 || !strings.Contains(c[0].What, "Fisher's exact p = 1.1e-06") || !strings.Contains(c[0].What, "kr/a 44.5% → 55.5%") {
		t.Fatalf("445/555 vs 555/445 must be one split change with Fisher's p:\n%s", Format(c))
	}
	if c := Diff(mk(490, 510), mk(510, 490), DiffOptions{}); len(c) != 0 {
		t.Fatalf("490/510 vs 510/490 is noise:\n%s", Format(c))
	}
	// Deterministic schedules in both runs: within the bounds is no change,
	// beyond them is, however small for a binomial test.
	sched := func(x, y int) Fingerprint {
		fp := mk(x, y)
		sp := &fp.Scenarios[0].Splits[0]
		sp.Check = split.CheckSchedule
		sp.Rows[0].Lo, sp.Rows[0].Hi, sp.Rows[1].Lo, sp.Rows[1].Hi = 498, 502, 498, 502
		return fp
	}
	if c := Diff(sched(500, 500), sched(503, 497), DiffOptions{}); len(c) != 0 {
		t.Fatalf("schedule within its bounds reported:\n%s", Format(c))
	}
	if c := Diff(sched(500, 500), sched(510, 490), DiffOptions{}); len(c) != 2 || !strings.Contains(Format(c), "deterministic schedule moved") {
		t.Fatalf("schedule beyond its bounds must be reported per bucket:\n%s", Format(c))
	}
}

func TestReadRejectsEmptyAndHugeDocuments(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"empty-object": "{}", "null": "null", "no-scenarios": `{"backend":"embedded","scenarios":[]}`,
		"unnamed": `{"scenarios":[{"passed":true}]}`, "bad-counts": `{"scenarios":[{"name":"s","splits":[{"title":"x","n":10,"rows":[{"Bucket":"a","Observed":3}]}]}]}`} {
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(path); err == nil {
			t.Errorf("%s: Read accepted %s", name, body)
		}
	}
	// A split larger than Send can produce (n = 2^62 with consistent counts
	// made split's hypergeometric helper panic in makeslice).
	huge := filepath.Join(dir, "huge-n.json")
	if err := os.WriteFile(huge, []byte(`{"scenarios":[{"name":"s","splits":[{"title":"x","n":4611686018427387904,"rows":[{"Bucket":"a","Observed":2305843009213693952},{"Bucket":"b","Observed":2305843009213693952}]}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	want := huge + ` is not a fingerprint: scenario "s", x: N=4611686018427387904 is more than one Send can produce (traffic.MaxRequests = 1000000): give a fingerprint the specs wrote`
	if _, err := Read(huge); err == nil || err.Error() != want {
		t.Errorf("Read(huge-n): %v, want %q", err, want)
	}
	// /dev/zero and a FIFO: refused without reading (framework/boundedread).
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/dev/zero":                     "fingerprint: /dev/zero is a device, not a regular file: give the path of a file",
		filepath.Join(dir, "fifo.json"): "fingerprint: " + filepath.Join(dir, "fifo.json") + " is a named pipe (FIFO), not a regular file: give the path of a file",
	} {
		if _, err := Read(path); err == nil || err.Error() != want {
			t.Errorf("Read(%s): %v, want %q", path, err, want)
		}
	}
}

func TestResultAndLocalityChanges(t *testing.T) {
	a := Fingerprint{Scenarios: []Scenario{{
		Name: "s", Passed: true,
		Endpoints: []EndpointTable{{Title: "endpoints of c (envoy view)", Rows: endpoints.Summary{
			"kr/a": {Priority: 0, Weight: 3, Hosts: 3, Healthy: 3},
		}}},
		Splits: []Split{{Title: "split by locality from c", N: 100, Rows: []split.Row{
			{Bucket: "kr/a", Expected: 1, Declared: true, Lo: 100, Hi: 100, Observed: 100, OK: true},
		}}},
	}}}
	b := Fingerprint{Scenarios: []Scenario{{
		Name: "s", Passed: false,
		Endpoints: []EndpointTable{{Title: "endpoints of c (envoy view)", Rows: endpoints.Summary{
			"kr/b": {Priority: 0, Weight: 3, Hosts: 3, Healthy: 3},
		}}},
		Splits: []Split{{Title: "split by locality from c", N: 100, Rows: []split.Row{
			{Bucket: "kr/a", Expected: 1, Declared: true, Lo: 100, Hi: 100, Observed: 0},
			{Bucket: "kr/b", Observed: 100},
		}}},
	}, {Name: "new one", Passed: true}}}
	out := Format(Diff(a, b, DiffOptions{}))
	for _, want := range []string{"[result] result passed → failed", "[endpoints] endpoints of c (envoy view): kr/a vanishes", "kr/b appears",
		"[split] split by locality from c: kr/a observed 100.0% → 0.0%", "kr/b observed 0.0% → 100.0% (0 of 100 → 100 of 100)"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "new one") {
		t.Errorf("a scenario present in one run only is not a change:\n%s", out)
	}
	nc := NotComparable(a, b, DiffOptions{})
	if len(nc) != 1 || nc[0].Scenario != "new one" || !strings.Contains(nc[0].What, "absent from old") {
		t.Errorf("NotComparable = %v", nc)
	}
	if nc := NotComparable(a, b, DiffOptions{OnlyCommon: true}); len(nc) != 0 {
		t.Errorf("OnlyCommon must leave out scenarios present in one run only: %v", nc)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	fp := load(t)
	path, err := Write(t.TempDir(), fp)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != FileName {
		t.Fatalf("written to %s", path)
	}
	back, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if c := Diff(fp, back, DiffOptions{}); len(c) != 0 {
		t.Fatalf("round trip changed the fingerprint: %v", c)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("reading a missing file must fail")
	}
}

// A scenario that skipped itself on one side (e.g. zone-aware routing on
// an istiod without it) is "not comparable: <reason>", never a change,
// whatever the other side did; skipped on both sides, it is neither.
func TestSkippedIsNotComparable(t *testing.T) {
	ran := Scenario{Name: "zone-aware", Passed: false, Splits: []Split{{Title: "split by zone from c", N: 100, Rows: []split.Row{
		{Bucket: "kr/a", Expected: 1, Declared: true, Lo: 100, Hi: 100, Observed: 40},
		{Bucket: "kr/b", Observed: 60},
	}}}}
	skipped := Scenario{Name: "zone-aware", Skipped: "istiod has no zone-aware routing"}
	common := Scenario{Name: "common", Passed: true}
	old := Fingerprint{Scenarios: []Scenario{common, skipped}}
	upgraded := Fingerprint{Scenarios: []Scenario{common, ran}}
	for _, tc := range []struct {
		name string
		a, b Fingerprint
		want string
	}{
		{"skipped on old", old, upgraded, "not comparable: skipped on old: istiod has no zone-aware routing"},
		{"skipped on new", upgraded, old, "not comparable: skipped on new: istiod has no zone-aware routing"},
		{"absent from old", Fingerprint{Scenarios: []Scenario{common}}, upgraded, "not comparable: absent from old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c := Diff(tc.a, tc.b, DiffOptions{}); len(c) != 0 {
				t.Errorf("Diff reports %v, want no change", c)
			}
			nc := NotComparable(tc.a, tc.b, DiffOptions{})
			if len(nc) != 1 || nc[0].Scenario != "zone-aware" || nc[0].Kind != KindNotComparable || !strings.HasPrefix(nc[0].What, tc.want) {
				t.Fatalf("NotComparable = %v, want one %q", nc, tc.want)
			}
			if out := FormatNotComparable(nc); !strings.Contains(out, tc.want) {
				t.Errorf("FormatNotComparable:\n%s", out)
			}
		})
	}
	if nc := NotComparable(old, old, DiffOptions{}); len(nc) != 0 {
		t.Errorf("skipped on both sides: %v", nc)
	}
	// The same scenario running on both sides is compared again.
	if c := Diff(Fingerprint{Scenarios: []Scenario{ran}}, Fingerprint{Scenarios: []Scenario{{Name: "zone-aware", Passed: true}}}, DiffOptions{}); len(c) == 0 {
		t.Error("a scenario that ran on both sides must be compared")
	}
}

// FromReport keeps a spec that skipped itself with its reason, and leaves
// out specs a filter skipped (no reason) and pending ones.
func TestFromReportRecordsSkipReason(t *testing.T) {
	spec := func(text string, state types.SpecState, msg string) types.SpecReport {
		return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, State: state,
			Failure: types.Failure{Message: msg}}
	}
	r := types.Report{SpecReports: types.SpecReports{
		spec("ran", types.SpecStatePassed, ""),
		spec("skipped itself", types.SpecStateSkipped, "istiod has no zone-aware routing"),
		spec("filtered out", types.SpecStateSkipped, ""),
		spec("pending", types.SpecStatePending, ""),
	}}
	fp, err := FromReport(r, "embedded", "istio.io/istio v0.0.0-x")
	if err != nil {
		t.Fatal(err)
	}
	if len(fp.Scenarios) != 2 || fp.Scenarios[0].Name != "ran" || fp.Scenarios[1].Name != "skipped itself" {
		t.Fatalf("scenarios %+v", fp.Scenarios)
	}
	if s := fp.Scenarios[1]; s.Skipped != "istiod has no zone-aware routing" || s.Passed {
		t.Errorf("skipped scenario %+v", s)
	}
	if fp.Scenarios[0].Skipped != "" || !fp.Scenarios[0].Passed {
		t.Errorf("ran %+v", fp.Scenarios[0])
	}
}
