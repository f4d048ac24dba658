package specs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/localitylb/locality-e2e/framework/fingerprint"
)

// checkReportDir makes sure --report-dir can be written before any spec
// runs (a bad one used to fail only after the whole run, with a raw mkdir
// error). Empty means no report.
func checkReportDir(dir string) error {
	if dir == "" {
		return nil
	}
	fix := "pass a writable folder to --report-dir (or LOCALITY_E2E_REPORT_DIR), or leave it empty for no fingerprint"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--report-dir %q cannot be created: %v: %s", dir, err, fix)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("--report-dir %q is not writable: %v: %s", dir, err, fix)
	}
	name := f.Name()
	_ = f.Close()
	_ = os.Remove(filepath.Clean(name))
	return nil
}

// runFilter says why this run did not run the whole suite ("" if it did):
// label filters, focus or skip flags, or programmatic focus (FIt, FDescribe).
func runFilter(r types.Report) string {
	c := r.SuiteConfig
	var why []string
	if c.LabelFilter != "" {
		why = append(why, fmt.Sprintf("--label-filter=%q", c.LabelFilter))
	}
	for _, s := range c.FocusStrings {
		why = append(why, fmt.Sprintf("--focus=%q", s))
	}
	for _, s := range c.SkipStrings {
		why = append(why, fmt.Sprintf("--skip=%q", s))
	}
	for _, s := range c.FocusFiles {
		why = append(why, fmt.Sprintf("--focus-file=%q", s))
	}
	for _, s := range c.SkipFiles {
		why = append(why, fmt.Sprintf("--skip-file=%q", s))
	}
	if r.SuiteHasProgrammaticFocus {
		why = append(why, "programmatic focus (FIt/FDescribe)")
	}
	return strings.Join(why, ", ")
}

// interruption says why the run was cut short ("" if it was not): an
// interrupt, a timeout, or an aborted or interrupted spec. Such a run is
// reported as interrupted, never as a behavioural change.
func interruption(r types.Report) string {
	for _, reason := range r.SpecialSuiteFailureReasons {
		if strings.Contains(reason, "Interrupted") || strings.Contains(reason, "Timeout") {
			return reason
		}
	}
	for _, s := range r.SpecReports {
		if s.State.Is(types.SpecStateInterrupted | types.SpecStateAborted) {
			return fmt.Sprintf("spec %q %s", s.FullText(), s.State)
		}
	}
	return ""
}

// canUpdateGolden refuses to rewrite the golden fingerprint from a run
// that did not run every scenario to its end, or that has none.
func canUpdateGolden(r types.Report, fp fingerprint.Fingerprint) error {
	if why := runFilter(r); why != "" {
		return fmt.Errorf("--update-golden on a filtered run (%s) would drop every scenario that did not run from the golden: run make golden without filters", why)
	}
	if why := interruption(r); why != "" {
		return fmt.Errorf("--update-golden on an interrupted run (%s): run make golden again to the end", why)
	}
	if len(fp.Scenarios) == 0 {
		return errors.New("--update-golden: this run has no scenarios: refusing to write an empty golden fingerprint")
	}
	return nil
}

// checkGolden rejects a golden fingerprint that cannot check anything.
func checkGolden(path string, golden fingerprint.Fingerprint) error {
	if len(golden.Scenarios) == 0 {
		return fmt.Errorf("golden fingerprint %s has no scenarios, so it would pass every run: restore it (git checkout) or rewrite it with make golden", path)
	}
	return nil
}
