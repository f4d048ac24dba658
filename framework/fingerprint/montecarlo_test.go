package fingerprint

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/localitylb/locality-e2e/framework/split"
)

// twoRuns builds k random 50/50 splits of n requests per run, the second
// run's first bucket at share p2 in split 0 and 0.5 elsewhere.
func twoRuns(rng *rand.Rand, k, n int, p2 float64) (Fingerprint, Fingerprint) {
	draw := func(p float64) int {
		return int(distuv.Binomial{N: float64(n), P: p, Src: rng}.Rand())
	}
	mk := func(x int) Split {
		return Split{Title: "split by locality from c", Check: split.CheckBinomial, N: n, Rows: []split.Row{
			{Bucket: "kr/a", Expected: 0.5, Declared: true, Observed: x},
			{Bucket: "kr/c", Expected: 0.5, Declared: true, Observed: n - x},
		}}
	}
	var a, b Fingerprint
	for i := range k {
		name := fmt.Sprintf("s%02d", i)
		q := 0.5
		if i == 0 {
			q = p2
		}
		a.Scenarios = append(a.Scenarios, Scenario{Name: name, Passed: true, Splits: []Split{mk(draw(0.5))}})
		b.Scenarios = append(b.Scenarios, Scenario{Name: name, Passed: true, Splits: []Split{mk(draw(q))}})
	}
	return a, b
}

// TestDiffSizeAndPower measures, by seeded Monte Carlo through Diff, the
// diff's family-wise false-change rate (size) over 10 random 50/50 splits
// at N=3000 (the default), which must stay within DefaultFamilyWiseRate,
// and its power to see a 5- and a 10-point shift of one of them, which must
// agree with split.FisherPower (what Header states).
func TestDiffSizeAndPower(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo")
	}
	const k, n, runs = 10, split.DefaultRequests, 1500
	rng := rand.New(rand.NewPCG(2026, 13))
	changed := 0
	for range runs {
		a, b := twoRuns(rng, k, n, 0.5)
		if len(Diff(a, b, DiffOptions{})) > 0 {
			changed++
		}
	}
	size := float64(changed) / runs
	se := math.Sqrt(DefaultFamilyWiseRate * (1 - DefaultFamilyWiseRate) / runs)
	t.Logf("size: %d of %d diffs of unchanged behaviour report a change: %.4f (family-wise rate %v)", changed, runs, size, DefaultFamilyWiseRate)
	if size > DefaultFamilyWiseRate+3*se {
		t.Errorf("size %.4f > %v + 3 SE", size, DefaultFamilyWiseRate)
	}
	alpha := DefaultFamilyWiseRate / k
	for _, shift := range []float64{0.05, 0.10} {
		seen := 0
		for range runs {
			a, b := twoRuns(rng, k, n, 0.5+shift)
			for _, c := range Diff(a, b, DiffOptions{}) {
				if c.Scenario == "s00" {
					seen++
					break
				}
			}
		}
		got := float64(seen) / runs
		want := split.FisherPower(n, n, 0.5, 0.5+shift, alpha)
		se := math.Sqrt(want*(1-want)/runs) + 1e-3
		t.Logf("power for a %.0f-point shift at N=%d, %d random splits: measured %.3f, exact %.3f", 100*shift, n, k, got, want)
		if math.Abs(got-want) > 4*se {
			t.Errorf("measured power %.3f differs from FisherPower %.3f by more than 4 SE", got, want)
		}
	}
}
