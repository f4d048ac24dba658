package localitye2e

// Tests of the Makefile's recipes against hostile variable values (issue
// 23 items 12, 13): each value must stay one word and never run as shell
// code. Each case runs the real target on a copy of the Makefile in a
// temporary folder, with GINKGO=true and GO=true so nothing heavy runs.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestMakefileHostileValues(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on PATH")
	}
	mk, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	const inject = `1.0.0"; touch X; echo "`
	for _, c := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in the combined output
		wantDirs []string
		noFiles  []string
	}{
		{"report dir with ;", []string{"specs", "REPORT_DIR=D;touch X;#"}, 0, "no report page was written", []string{"D;touch X;#"}, []string{"X"}},
		{"report dir with a space", []string{"specs", "REPORT_DIR=a b"}, 0, "no report page was written", []string{"a b"}, []string{"a", "b"}},
		{"report dir with quotes", []string{"specs", `REPORT_DIR=r"; touch X; echo "`}, 0, "no report page was written", []string{`r"; touch X; echo "`}, []string{"X"}},
		{"istioctl version injection", []string{"istioctl", "ISTIO_VERSION=" + inject}, 2,
			`ISTIO_VERSION="1.0.0"; touch X; echo "" is not an Istio release version: use MAJOR.MINOR.PATCH with an optional -alpha, -beta or -rc suffix`, nil, []string{"X"}},
		{"istioctl version with ; (a rule line would take it as a recipe)", []string{"istioctl", "ISTIO_VERSION=1.0.0;touch X"}, 2,
			`ISTIO_VERSION="1.0.0;touch X" is not an Istio release version`, nil, []string{"X"}},
		{"upgrade-check FROM injection", []string{"upgrade-check", "FROM=" + inject, "TO=1.32.0"}, 2,
			`upgrade-check: "1.0.0"; touch X; echo "" is not an Istio release version: use MAJOR.MINOR.PATCH with an optional -alpha, -beta or -rc suffix, e.g. 1.32.0`, nil, []string{"X"}},
		{"upgrade-check TO injection", []string{"upgrade-check", "FROM=1.31.0", "TO=" + inject}, 2,
			`upgrade-check: "1.0.0"; touch X; echo "" is not an Istio release version`, nil, []string{"X"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "Makefile"), mk, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("make", append([]string{"--no-print-directory", "GINKGO=true", "GO=true"}, c.args...)...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "MAKEFLAGS=", "LOCALITY_E2E_KUBECONFIG=/nonexistent")
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			// make exits 2 for any failed recipe; the message tells which.
			if code != c.wantCode || !strings.Contains(string(out), c.wantOut) {
				t.Errorf("make %q: exit %d, output:\n%s\nwant exit %d with %q", c.args, code, out, c.wantCode, c.wantOut)
			}
			for _, d := range c.wantDirs {
				if st, err := os.Stat(filepath.Join(dir, d)); err != nil || !st.IsDir() {
					t.Errorf("folder %q was not created: %v", d, err)
				}
			}
			for _, f := range c.noFiles {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%q exists: a value ran as shell code or split into words", f)
				}
			}
		})
	}
}
