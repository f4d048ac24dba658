package fingerprint

import (
	"testing"

	"github.com/localitylb/locality-e2e/framework/split"
)

// millionSplits is a fingerprint of three scenarios whose splits each have
// n = traffic.MaxRequests (1,000,000), the largest a run can produce.
func millionSplits(shift int) Fingerprint {
	var fp Fingerprint
	for _, name := range []string{"a", "b", "c"} {
		fp.Scenarios = append(fp.Scenarios, Scenario{Name: name, Passed: true, Splits: []Split{
			{Title: "split by locality from c", Check: split.CheckBinomial, N: 1_000_000, Rows: []split.Row{
				{Bucket: "kr/a", Expected: 0.5, Declared: true, Observed: 500_000 + shift, OK: true},
				{Bucket: "kr/c", Expected: 0.5, Declared: true, Observed: 500_000 - shift, OK: true},
			}},
			{Title: "split by locality from d", Check: split.CheckBinomial, N: 1_000_000, Rows: []split.Row{
				{Bucket: "kr/a", Expected: 0.2, Declared: true, Observed: 200_000 + shift, OK: true},
				{Bucket: "kr/b", Expected: 0.3, Declared: true, Observed: 300_000, OK: true},
				{Bucket: "kr/c", Expected: 0.5, Declared: true, Observed: 500_000 - shift, OK: true},
			}},
		}})
	}
	return fp
}

// BenchmarkDiffMillion: the whole fingerprint-diff work (header with its
// power figures, and the diff) on two fingerprints with n = 1,000,000 per
// split; issue 23 asks for under a second (it took ~16 minutes while the
// header's power was summed exactly).
func BenchmarkDiffMillion(b *testing.B) {
	x, y := millionSplits(0), millionSplits(700)
	for b.Loop() {
		_ = Header(x, y, DiffOptions{})
		_ = Diff(x, y, DiffOptions{})
	}
}
