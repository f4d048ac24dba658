package split

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// goldenSplits reads the splits of the golden fingerprint (the whole
// suite's assertions) as their expected shares and N.
func goldenSplits(t *testing.T) []struct {
	exp Expected
	n   int
} {
	t.Helper()
	data, err := os.ReadFile("../../fixtures/fingerprints/embedded.json")
	if err != nil {
		t.Fatal(err)
	}
	var fp struct {
		Scenarios []struct {
			Splits []struct {
				N    int `json:"n"`
				Rows []Row
			} `json:"splits"`
		} `json:"scenarios"`
	}
	if err := json.Unmarshal(data, &fp); err != nil {
		t.Fatal(err)
	}
	var out []struct {
		exp Expected
		n   int
	}
	for _, s := range fp.Scenarios {
		for _, sp := range s.Splits {
			exp := Expected{}
			for _, r := range sp.Rows {
				if r.Declared {
					exp[r.Bucket] = r.Expected
				}
			}
			out = append(out, struct {
				exp Expected
				n   int
			}{exp, sp.N})
		}
	}
	return out
}

// acceptance is acceptanceAt the default confidence.
func acceptance(exp Expected, n int) float64 { return acceptanceAt(exp, n, DefaultConfidence) }

// TestSuiteFalseFailureRate computes the per-run false-failure rate of the
// whole suite's split assertions, as they would run on kind (every split
// binomial): each split's exact acceptance probability at its true shares
// (acceptance), combined over the independent batches of one run. It must
// stay within RunFalseFailureBudget. A seeded Monte Carlo of the same
// assertions through MatchSplit confirms the per-split figures.
func TestSuiteFalseFailureRate(t *testing.T) {
	if testing.Short() {
		t.Skip("exact computation")
	}
	pass, random := 1.0, 0
	for _, s := range goldenSplits(t) {
		if s.exp.interior() == 0 {
			continue
		}
		random++
		a := acceptance(s.exp, s.n)
		pass *= a
		t.Logf("N=%d %v: false failure %.2e (per-assertion budget %.2e)", s.n, s.exp, 1-a, RunFalseFailureBudget/RandomChecksPerRun)
		if !(1-a <= RunFalseFailureBudget/RandomChecksPerRun*(1+1e-6)) {
			t.Errorf("N=%d %v: false-failure %.3g above its share of the budget", s.n, s.exp, 1-a)
		}
	}
	rate := 1 - pass
	t.Logf("whole suite: %d random split assertions, per-run false-failure rate %.3e (budget %v)", random, rate, RunFalseFailureBudget)
	if random > RandomChecksPerRun {
		t.Errorf("the suite has %d random split assertions, more than RandomChecksPerRun=%d: raise it", random, RandomChecksPerRun)
	}
	if !(rate <= RunFalseFailureBudget) {
		t.Errorf("per-run false-failure rate %.3e > budget %v", rate, RunFalseFailureBudget)
	}

	// Monte Carlo cross-check on one 4×25% split at a looser confidence,
	// where failures are frequent enough to count.
	exp := split4x25
	want := 1 - acceptanceAt(exp, 1000, 0.95)
	s := newSampler(exp, 77)
	m := MatchSplit(exp, WithN(1000), WithConfidence(0.95), WithoutPowerGuard())
	fails := 0
	const draws = 20000
	for range draws {
		if ok, _ := m.Match(s.draw(1000)); !ok {
			fails++
		}
	}
	got := float64(fails) / draws
	se := math.Sqrt(want * (1 - want) / draws)
	t.Logf("cross-check at confidence 0.95: Monte Carlo %.4f, exact %.4f", got, want)
	if !(math.Abs(got-want) <= 4*se) {
		t.Errorf("Monte Carlo %.4f and exact %.4f disagree", got, want)
	}
}

// acceptanceAt is acceptance at confidence conf: the exact probability that
// a multinomial sample of n at the true split exp has every bucket inside
// its interval, by dynamic programming over the buckets (conditional
// binomials: f_j(m) = P(buckets j.. in range | m observations left)).
func acceptanceAt(exp Expected, n int, conf float64) float64 {
	c := newConfig([]Option{WithConfidence(conf)})
	k, m := exp.tests(), exp.interior()
	bs := exp.Buckets()
	f := make([]float64, n+1)
	f[0] = 1
	for j := len(bs) - 1; j >= 0; j-- {
		rest := 0.0
		for _, b := range bs[j:] {
			rest += exp[b]
		}
		lo, hi := c.interval(n, exp[bs[j]], k, m)
		q := 0.0
		if exp[bs[j]] > 0 {
			q = min(exp[bs[j]]/rest, 1)
		}
		g := make([]float64, n+1)
		for left := 0; left <= n; left++ {
			bin := distuv.Binomial{N: float64(left), P: q}
			pmf := func(x int) float64 {
				switch {
				case q <= 0 || left == 0:
					return b2f(x == 0)
				case q >= 1:
					return b2f(x == left)
				}
				return bin.Prob(float64(x))
			}
			s := 0.0
			for x := lo; x <= min(hi, left); x++ {
				s += pmf(x) * f[left-x]
			}
			g[left] = s
		}
		f = g
	}
	return f[n]
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
