package fingerprint

import (
	"path/filepath"
	"strings"
	"testing"

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
	i := findScenario(t, b, "b3:")
	rows := b.Scenarios[i].Splits[0].Rows
	for j := range rows {
		switch rows[j].Bucket {
		case "kr/a":
			rows[j].Observed -= 20 // 880 of 1000: inside [866, 931]
		case "kr/c":
			rows[j].Observed += 20
		}
	}
	if c := Diff(a, b, DiffOptions{}); len(c) != 0 {
		t.Fatalf("noise inside the accepted range reported as change:\n%s", Format(c))
	}
	// Outside the range it is a change.
	for j := range rows {
		switch rows[j].Bucket {
		case "kr/a":
			rows[j].Observed -= 100
		case "kr/c":
			rows[j].Observed += 100
		}
	}
	c := Diff(a, b, DiffOptions{})
	if len(c) != 2 || !strings.Contains(Format(c), "outside the accepted") {
		t.Fatalf("a shifted split must be reported for both buckets:\n%s", Format(c))
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
	for _, want := range []string{"result passed → failed", "kr/a vanishes", "kr/b appears", "kr/a observed 0.0%", "kr/b now gets 100 of 100", "new scenario"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(Format(Diff(a, b, DiffOptions{OnlyCommon: true})), "new scenario") {
		t.Error("OnlyCommon must ignore scenarios present in one run only")
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
