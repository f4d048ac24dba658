package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/localitylb/locality-e2e/framework/fingerprint"
)

func TestParseExpectedChanges(t *testing.T) {
	e, err := parseExpectedChanges("x.txt", "# worked example\nfrom: "+oldIstio+"\n  to: "+newIstio+"  \n\nScenario A: does a\n  Scenario B  \n")
	if err != nil {
		t.Fatal(err)
	}
	if e.From != oldIstio || e.To != newIstio || !slices.Equal(e.Scenarios, []string{"Scenario A: does a", "Scenario B"}) {
		t.Errorf("parsed %+v", e)
	}
	if e, err := parseExpectedChanges("none.txt", "from: "+oldIstio+"\nto: "+newIstio+"\n"); err != nil || len(e.Scenarios) != 0 {
		t.Errorf("no scenarios (expect no change): %+v, %v", e, err)
	}
	for _, tc := range []struct{ text, want string }{
		{"Scenario A\n", "'from: <module version>'"},
		{"from: " + oldIstio + "\nScenario A\n", "'to: <module version>'"},
		{"from: " + oldIstio + "\nfrom: " + newIstio + "\nto: " + newIstio + "\n", `line 2: a second "from:"`},
		{"from: $(id)\nto: " + newIstio + "\n", "line 1 (from)"},
		{"from: " + oldIstio + "\nto: " + newIstio + "\nA\n# c\nA\n", `line 5: scenario "A" is listed twice`},
	} {
		_, err := parseExpectedChanges("bad.txt", tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--expect-changed bad.txt") {
			t.Errorf("%q: error %v, want one naming the file and %q", tc.text, err, tc.want)
		}
	}
	if _, err := readExpectedChanges(filepath.Join(t.TempDir(), "absent.txt")); err == nil || !strings.Contains(err.Error(), "--expect-changed") {
		t.Errorf("absent file: %v", err)
	}
}

func TestExpectedChangesCheck(t *testing.T) {
	e := expectedChanges{File: "f", From: oldIstio, To: newIstio, Scenarios: []string{"A", "B"}}
	for _, tc := range []struct {
		changed             []string
		met                 bool
		unexpected, missing []string
	}{
		{[]string{"B", "A"}, true, nil, nil},
		{[]string{"A"}, false, nil, []string{"B"}},
		{[]string{"A", "B", "C"}, false, []string{"C"}, nil},
		{nil, false, nil, []string{"A", "B"}},
	} {
		x, err := e.check(oldIstio, newIstio, tc.changed)
		if err != nil || x.Met() != tc.met || !slices.Equal(x.Unexpected, tc.unexpected) || !slices.Equal(x.Missing, tc.missing) {
			t.Errorf("changed %q: %+v, %v", tc.changed, x, err)
		}
	}
	if x, err := (expectedChanges{From: oldIstio, To: newIstio}).check(oldIstio, newIstio, nil); err != nil || !x.Met() {
		t.Errorf("no change expected, none seen: %+v %v", x, err)
	}
	if _, err := e.check(oldIstio, oldIstio, []string{"A", "B"}); err == nil || !strings.Contains(err.Error(), "is for "+oldIstio+" -> "+newIstio) {
		t.Errorf("another comparison: %v", err)
	}
	x, _ := e.check(oldIstio, newIstio, []string{"A", "C"})
	s := x.format(e)
	for _, want := range []string{"NOT AS EXPECTED (f): 1 unexpected changes, 1 expected changes not seen", "changed, not expected: C", "expected, did not change: B"} {
		if !strings.Contains(s, want) {
			t.Errorf("format lacks %q:\n%s", want, s)
		}
	}
}

// Through the command with fakes: the expected change gives exit 0 and
// "AS EXPECTED"; the same file without the change, or a file for another
// comparison, does not pass.
func TestEmbeddedExpectChanged(t *testing.T) {
	fp := realFingerprint(t)
	changed := fp.Scenarios[0].Name
	flip := func(side string, _ []string) fingerprint.Fingerprint {
		c := fp
		c.Scenarios = append([]fingerprint.Scenario(nil), fp.Scenarios...)
		if side == "to" {
			c.Scenarios[0].Passed = !c.Scenarios[0].Passed
		}
		return c
	}
	file := filepath.Join(t.TempDir(), "expected.txt")
	writeFile(t, file, "from: "+oldIstio+"\nto: "+newIstio+"\n"+changed+"\n")
	args := []string{"--from=" + oldIstio, "--to=" + newIstio, "--expect-changed=" + file}

	f, d, root := newFakeCheck(t)
	f.fingerprintFor = flip
	var out bytes.Buffer
	if code := runEmbedded(context.Background(), args, &out, io.Discard, d); code != exitSame {
		t.Fatalf("the expected change: exit %d, want 0:\n%s", code, out.String())
	}
	sum, _ := os.ReadFile(filepath.Join(root, DefaultEmbeddedReportDir, oldIstio+".."+newIstio, "summary.txt"))
	if !strings.HasPrefix(string(sum), "CHANGED: ") || !strings.Contains(string(sum), "AS EXPECTED: the changed scenarios are exactly the 1 listed in "+file) {
		t.Errorf("summary:\n%s", sum)
	}

	_, d, _ = newFakeCheck(t) // no change at all
	out.Reset()
	if code := runEmbedded(context.Background(), args, &out, io.Discard, d); code != exitChanged || !strings.Contains(out.String(), "expected, did not change: "+changed) {
		t.Errorf("the expected change missing: exit %d, want 1:\n%s", code, out.String())
	}

	// Through the environment (the Makefile's way), for another comparison.
	f, d, _ = newFakeCheck(t)
	f.fingerprintFor = flip
	d.getenv = func(k string) string { return map[string]string{envExpect: file}[k] }
	var errb bytes.Buffer
	if code := runEmbedded(context.Background(), []string{"--from=" + newIstio, "--to=" + newIstio}, io.Discard, &errb, d); code != exitError || !strings.Contains(errb.String(), "is for "+oldIstio) {
		t.Errorf("a file for another comparison: exit %d, want 2: %s", code, errb.String())
	}

	// A bad file is refused before anything is built.
	bad := filepath.Join(t.TempDir(), "bad.txt")
	writeFile(t, bad, "A\n")
	f, d, _ = newFakeCheck(t)
	errb.Reset()
	if code := runEmbedded(context.Background(), []string{"--from=" + oldIstio, "--to=" + newIstio, "--expect-changed=" + bad}, io.Discard, &errb, d); code != exitError || len(f.calls) != 0 || !strings.Contains(errb.String(), "from:") {
		t.Errorf("bad file: exit %d, %d commands run: %s", code, len(f.calls), errb.String())
	}
}

// The worked example's file (.ci/run) parses, is for the pinned istiod,
// and names scenarios of the suite (the golden fingerprint's names).
func TestWorkedExampleExpectation(t *testing.T) {
	e, err := readExpectedChanges(filepath.Join("..", "..", "fixtures", "upgrade-embedded", "worked-example-expected-changes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	pinned := ""
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == istioModule {
			pinned = f[1]
		}
	}
	if e.From != oldIstio || e.To != pinned {
		t.Errorf("the file is for %s -> %s, want %s -> %s (go.mod's istio.io/istio): update it with the worked example's new output", e.From, e.To, oldIstio, pinned)
	}
	names := map[string]bool{}
	for _, s := range realFingerprint(t).Scenarios {
		names[s.Name] = true
	}
	if len(e.Scenarios) == 0 {
		t.Error("no expected change listed")
	}
	for _, s := range e.Scenarios {
		if !names[s] {
			t.Errorf("expected change %q is not a scenario of the golden fingerprint", s)
		}
	}
}
