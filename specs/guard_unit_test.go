package specs

import (
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/localitylb/locality-e2e/framework/fingerprint"
)

// Items 7 and 14 of issue 14: the golden cannot be emptied by a filtered
// or interrupted run, an empty golden is refused, an interrupted run is
// not a behavioural change, and a bad --report-dir fails at start.
func TestGoldenAndReportGuards(t *testing.T) {
	one := fingerprint.Fingerprint{Scenarios: make([]fingerprint.Scenario, 1)}
	if err := canUpdateGolden(types.Report{SuiteConfig: types.SuiteConfig{LabelFilter: "locality:disabled"}}, one); err == nil || !strings.Contains(err.Error(), "--label-filter") {
		t.Errorf("filtered --update-golden: err = %v", err)
	}
	if err := canUpdateGolden(types.Report{SuiteConfig: types.SuiteConfig{FocusStrings: []string{"b4"}}}, one); err == nil {
		t.Error("focused --update-golden accepted")
	}
	if err := canUpdateGolden(types.Report{SpecialSuiteFailureReasons: []string{"Interrupted by User"}}, one); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("interrupted --update-golden: err = %v", err)
	}
	if err := canUpdateGolden(types.Report{}, fingerprint.Fingerprint{}); err == nil {
		t.Error("--update-golden with no scenarios accepted")
	}
	if err := canUpdateGolden(types.Report{}, one); err != nil {
		t.Errorf("full run: %v", err)
	}
	if err := checkGolden("g.json", fingerprint.Fingerprint{}); err == nil || !strings.Contains(err.Error(), "no scenarios") {
		t.Errorf("empty golden: err = %v", err)
	}
	if interruption(types.Report{SpecialSuiteFailureReasons: []string{"Interrupted by User"}}) == "" {
		t.Error("an interrupt is not reported as one")
	}
	if interruption(types.Report{SpecReports: types.SpecReports{{State: types.SpecStateInterrupted}}}) == "" {
		t.Error("an interrupted spec is not reported as one")
	}
	if interruption(types.Report{SpecReports: types.SpecReports{{State: types.SpecStateFailed}}}) != "" {
		t.Error("a failed spec is not an interruption")
	}
	for _, dir := range []string{"/dev/null/reports", "/proc/locality-e2e"} {
		if err := checkReportDir(dir); err == nil || !strings.Contains(err.Error(), "--report-dir") {
			t.Errorf("checkReportDir(%q) = %v, want an error naming --report-dir", dir, err)
		}
	}
	if err := checkReportDir(t.TempDir()); err != nil {
		t.Error(err)
	}
}
