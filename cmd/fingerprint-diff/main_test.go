package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/localitylb/locality-e2e/framework/fingerprint"
)

const golden = "../../fixtures/fingerprints/embedded.json"

// TestExitCodes: 0 for the same behaviour, 1 when one expectation in a copy
// of the golden file changes (reported for exactly that scenario), 2 for
// bad input.
func TestExitCodes(t *testing.T) {
	var hdr strings.Builder
	if code := run(&hdr, golden, golden, fingerprint.DiffOptions{}); code != 0 {
		t.Fatalf("same file: exit %d, want 0", code)
	}
	if !strings.Contains(hdr.String(), "for a 5-point shift") || !strings.Contains(hdr.String(), "for a 10-point shift") {
		t.Fatalf("the header must state the power:\n%s", hdr.String())
	}

	data, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	var fp map[string]any
	if err := json.Unmarshal(data, &fp); err != nil {
		t.Fatal(err)
	}
	// Change the expected share of one bucket of one scenario.
	scenarios := fp["scenarios"].([]any)
	var changed string
	for _, s := range scenarios {
		sc := s.(map[string]any)
		if !strings.Contains(sc["name"].(string), "b3:") {
			continue
		}
		changed = sc["name"].(string)
		rows := sc["splits"].([]any)[0].(map[string]any)["rows"].([]any)
		for _, r := range rows {
			row := r.(map[string]any)
			if row["Bucket"] == "kr/a" {
				row["Expected"] = 0.8
			}
		}
	}
	if changed == "" {
		t.Fatal("no b3 scenario in the golden file")
	}
	out, _ := json.Marshal(fp)
	copyPath := filepath.Join(t.TempDir(), "changed.json")
	if err := os.WriteFile(copyPath, out, 0o644); err != nil {
		t.Fatal(err)
	}

	var stdout strings.Builder
	code := run(&stdout, golden, copyPath, fingerprint.DiffOptions{})
	text := stdout.String()
	if code != 1 {
		t.Fatalf("changed copy: exit %d, want 1\n%s", code, text)
	}
	if !strings.Contains(text, "1 behavioural change(s)") || !strings.Contains(text, changed) ||
		!strings.Contains(text, "kr/a expected 90.0% → 80.0%") {
		t.Fatalf("diff should report exactly the changed scenario:\n%s", text)
	}

	if code := run(io.Discard, golden, filepath.Join(t.TempDir(), "nope.json"), fingerprint.DiffOptions{}); code != 2 {
		t.Fatalf("missing file: exit %d, want 2", code)
	}
}

// TestBadInputExits2: an empty object, null, a fingerprint without
// scenarios and /dev/zero are bad input (exit 2), with --only-common too.
func TestBadInputExits2(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for name, body := range map[string]string{"obj": "{}", "null": "null", "none": `{"backend":"kind","scenarios":[]}`,
		// n = 2^62 with consistent counts: a panic (makeslice) before the bound.
		"huge-n": `{"scenarios":[{"name":"s","splits":[{"title":"x","n":4611686018427387904,"rows":[{"Bucket":"a","Observed":2305843009213693952},{"Bucket":"b","Observed":2305843009213693952}]}]}]}`} {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		paths = append(paths, "/dev/zero")
	}
	for _, p := range paths {
		for _, only := range []bool{false, true} {
			opts := fingerprint.DiffOptions{OnlyCommon: only}
			if code := run(io.Discard, p, p, opts); code != 2 {
				t.Errorf("%s vs itself (only-common %v): exit %d, want 2", p, only, code)
			}
			if code := run(io.Discard, golden, p, opts); code != 2 {
				t.Errorf("golden vs %s (only-common %v): exit %d, want 2", p, only, code)
			}
		}
	}
}
