package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const golden = "../../fixtures/fingerprints/embedded.json"

// TestExitCodes: 0 for the same behaviour, 1 when one expectation in a copy
// of the golden file changes (reported for exactly that scenario), 2 for
// bad input.
func TestExitCodes(t *testing.T) {
	if code := run(golden, golden, false); code != 0 {
		t.Fatalf("same file: exit %d, want 0", code)
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

	stdout := os.Stdout
	r, w, _ := os.Pipe()
	os.Stdout = w
	code := run(golden, copyPath, false)
	w.Close()
	os.Stdout = stdout
	buf := make([]byte, 1<<16)
	n, _ := r.Read(buf)
	text := string(buf[:n])
	if code != 1 {
		t.Fatalf("changed copy: exit %d, want 1\n%s", code, text)
	}
	if !strings.Contains(text, "1 behavioural change(s)") || !strings.Contains(text, changed) ||
		!strings.Contains(text, "kr/a expected 90.0% → 80.0%") {
		t.Fatalf("diff should report exactly the changed scenario:\n%s", text)
	}

	if code := run(golden, filepath.Join(t.TempDir(), "nope.json"), false); code != 2 {
		t.Fatalf("missing file: exit %d, want 2", code)
	}
}
