package split

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Two-sample comparison of two observed splits of the same buckets (two runs
// of one scenario): did the shares change, beyond sampling noise?

// TwoSample is the result of comparing two splits' counts.
type TwoSample struct {
	// Test names the test: "Fisher's exact" (two buckets with traffic) or
	// "chi-squared" (Pearson's test of homogeneity on the 2×k table, k-1
	// degrees of freedom); "" when at most one bucket has traffic (nothing
	// random to compare: P is 1 if the runs agree on it, 0 otherwise).
	Test string
	// P is the two-sided p-value.
	P float64
	// Buckets are the compared buckets (those with traffic in either run),
	// sorted; A and B their counts.
	Buckets []string
	A, B    []int
}

// CompareCounts tests whether two samples of counts over the same buckets
// come from the same split: Fisher's exact test when two buckets have
// traffic, Pearson's chi-squared test of homogeneity otherwise. Buckets
// with no traffic in either sample are left out.
func CompareCounts(a, b map[string]int) TwoSample {
	seen := map[string]bool{}
	var r TwoSample
	for _, m := range []map[string]int{a, b} {
		for k, v := range m {
			if v > 0 && !seen[k] {
				seen[k] = true
				r.Buckets = append(r.Buckets, k)
			}
		}
	}
	sort.Strings(r.Buckets)
	for _, k := range r.Buckets {
		r.A, r.B = append(r.A, max(a[k], 0)), append(r.B, max(b[k], 0))
	}
	na, nb := sum(r.A), sum(r.B)
	switch {
	case na == 0 || nb == 0:
		// One side saw nothing: nothing to compare as shares.
		r.P = 1
		if na != nb {
			r.P = 0
		}
	case len(r.Buckets) <= 1:
		r.P = 1
	case len(r.Buckets) == 2:
		r.Test = "Fisher's exact"
		r.P = FisherExact(r.A[0], r.A[1], r.B[0], r.B[1])
	default:
		r.Test = "chi-squared"
		r.P = ChiSquaredHomogeneity(r.A, r.B)
	}
	return r
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// logChoose is log(n choose k).
func logChoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// hypergeom returns the support [lo, hi] and the log-probabilities of the
// first cell x of a 2×2 table with row totals n1, n2 and first column total
// t, under independence (Fisher's conditional distribution).
func hypergeom(n1, n2, t int) (lo int, logp []float64) {
	lo, hi := max(0, t-n2), min(n1, t)
	logp = make([]float64, hi-lo+1)
	logp[0] = logChoose(n1, lo) + logChoose(n2, t-lo) - logChoose(n1+n2, t)
	for x := lo; x < hi; x++ {
		// P(x+1)/P(x) = (n1-x)(t-x) / ((x+1)(n2-t+x+1)).
		logp[x-lo+1] = logp[x-lo] + math.Log(float64(n1-x)*float64(t-x)/(float64(x+1)*float64(n2-t+x+1)))
	}
	return lo, logp
}

// fisherRelTol is the relative tolerance with which probabilities equal to
// the observed table's count as "as extreme" (R's fisher.test uses 1+1e-7).
const fisherRelTol = 1e-7

// FisherExact is the two-sided p-value of Fisher's exact test on the 2×2
// table [[a1, a2], [b1, b2]] (rows: the two samples, columns: the two
// buckets): the probability, given the margins, of a table no more likely
// than the observed one.
func FisherExact(a1, a2, b1, b2 int) float64 {
	lo, logp := hypergeom(a1+a2, b1+b2, a1+b1)
	obs := logp[a1-lo]
	p := 0.0
	for _, l := range logp {
		if l <= obs+fisherRelTol {
			p += math.Exp(l)
		}
	}
	return math.Min(p, 1)
}

// ChiSquaredHomogeneity is the p-value of Pearson's chi-squared test that
// two samples of counts over the same k buckets (k >= 2, every bucket with
// traffic in at least one sample) come from the same distribution, with k-1
// degrees of freedom.
func ChiSquaredHomogeneity(a, b []int) float64 {
	na, nb := float64(sum(a)), float64(sum(b))
	n := na + nb
	stat := 0.0
	k := 0
	for i := range a {
		col := float64(a[i] + b[i])
		if col == 0 {
			continue
		}
		k++
		ea, eb := na*col/n, nb*col/n
		stat += (float64(a[i])-ea)*(float64(a[i])-ea)/ea + (float64(b[i])-eb)*(float64(b[i])-eb)/eb
	}
	if k < 2 {
		return 1
	}
	return distuv.ChiSquared{K: float64(k - 1)}.Survival(stat)
}

// FisherPowerExactMax is the largest sample (in each of the two runs)
// for which FisherPower sums the exact rejection region; above it the
// exact sum costs O(n^1.5) (20,000: 2.5 s, 1,000,000: 16 min) and the
// normal approximation (fisherPowerNormal) is used, within 0.01 of the
// exact power at this size (TestFisherPowerNormalAtSwitchOver).
const FisherPowerExactMax = 5000

// FisherPower is the probability that Fisher's exact test at level alpha
// rejects when sample A (n1 observations) has share p1 in the first of two
// buckets and sample B (n2 observations) has p2. Up to FisherPowerExactMax
// observations in each sample it is exact (fisherPowerExact); above, the
// normal approximation of the continuity-corrected test
// (fisherPowerNormal).
func FisherPower(n1, n2 int, p1, p2, alpha float64) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 0
	}
	if max(n1, n2) > FisherPowerExactMax {
		return fisherPowerNormal(n1, n2, p1, p2, alpha)
	}
	return fisherPowerExact(n1, n2, p1, p2, alpha)
}

// fisherPowerNormal is the power of the two-sided two-proportion z-test
// with Yates's continuity correction, the large-sample form of Fisher's
// exact test (Fleiss, Levin & Paik, Statistical Methods for Rates and
// Proportions, 3rd ed., §4.2-4.3): with pooled share p̄, null standard
// error s0 = sqrt(p̄(1-p̄)(1/n1+1/n2)), alternative standard error
// s1 = sqrt(p1(1-p1)/n1 + p2(1-p2)/n2) and d = |p2-p1| - (1/n1+1/n2)/2,
// power = Φ((d - z·s0)/s1) + Φ((-d' - z·s0)/s1), z the 1-alpha/2 quantile
// (d' = |p2-p1| + (1/n1+1/n2)/2, the far tail).
func fisherPowerNormal(n1, n2 int, p1, p2, alpha float64) float64 {
	f1, f2 := float64(n1), float64(n2)
	pbar := (f1*p1 + f2*p2) / (f1 + f2)
	s0 := math.Sqrt(pbar * (1 - pbar) * (1/f1 + 1/f2))
	s1 := math.Sqrt(p1*(1-p1)/f1 + p2*(1-p2)/f2)
	if s1 == 0 {
		if p1 != p2 {
			return 1
		}
		return 0
	}
	std := distuv.UnitNormal
	z := std.Quantile(1 - alpha/2)
	cc := (1/f1 + 1/f2) / 2
	delta := math.Abs(p2 - p1)
	return math.Min(std.CDF((delta-cc-z*s0)/s1)+std.CDF((-delta-cc-z*s0)/s1), 1)
}

// fisherPowerExact is the exact probability that Fisher's exact test at
// level alpha rejects: the sum, over every table whose p-value is <=
// alpha, of its probability under the two binomials. It costs
// O((n1+n2)·sqrt(n1+n2)).
func fisherPowerExact(n1, n2 int, p1, p2, alpha float64) float64 {
	b1 := distuv.Binomial{N: float64(n1), P: p1}
	b2 := distuv.Binomial{N: float64(n2), P: p2}
	pa := make([]float64, n1+1)
	pb := make([]float64, n2+1)
	for x := range pa {
		pa[x] = b1.Prob(float64(x))
	}
	for x := range pb {
		pb[x] = b2.Prob(float64(x))
	}
	// T = the first bucket's total over both samples; tables with a T
	// more than 12 standard deviations from its mean carry no mass.
	mean := float64(n1)*p1 + float64(n2)*p2
	sd := math.Sqrt(float64(n1)*p1*(1-p1) + float64(n2)*p2*(1-p2))
	tlo := max(0, int(math.Floor(mean-12*sd-1)))
	thi := min(n1+n2, int(math.Ceil(mean+12*sd+1)))
	power := 0.0
	for t := tlo; t <= thi; t++ {
		lo, logp := hypergeom(n1, n2, t)
		// The rejection region of the conditional test: the least likely
		// tables while their cumulative mass (the p-value of the last one
		// taken) stays <= alpha. The hypergeometric is unimodal, so they
		// are taken from both ends inwards, ties together.
		l, r, cum := 0, len(logp)-1, 0.0
		for l <= r {
			take := []int{l}
			switch {
			case l == r:
			case math.Abs(logp[l]-logp[r]) <= fisherRelTol:
				take = []int{l, r}
			case logp[r] < logp[l]:
				take = []int{r}
			}
			for _, i := range take {
				cum += math.Exp(logp[i])
			}
			if cum > alpha*(1+1e-12) {
				break
			}
			for _, i := range take {
				x := lo + i
				power += pa[x] * pb[t-x]
				if i == l {
					l++
				} else {
					r--
				}
			}
		}
	}
	return math.Min(power, 1)
}

// DiffPower is the power of the upgrade diff's two-bucket test (Fisher's
// exact at level alpha, n observations in each run) to see a shift of the
// given size (absolute, 0.05 = 5 points) from a 50/50 split, the split
// where a shift is hardest to see.
func DiffPower(n int, shift, alpha float64) float64 {
	return FisherPower(n, n, 0.5, 0.5+shift, alpha)
}

// FormatP renders a p-value for reports.
func FormatP(p float64) string {
	switch {
	case p < 1e-300:
		return "< 1e-300"
	case p < 1e-3:
		return fmt.Sprintf("%.1e", p)
	}
	return fmt.Sprintf("%.3f", p)
}
