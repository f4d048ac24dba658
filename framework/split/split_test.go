package split

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

var (
	split9010 = Expected{"kr/a": 0.9, "kr/b": 0.1}
	split5050 = Expected{"kr/a": 0.5, "kr/b": 0.5}
	split4x25 = Expected{"kr/a": 0.25, "kr/b": 0.25, "us/a": 0.25, "us/b": 0.25}
)

func TestDistribution(t *testing.T) {
	g := NewWithT(t)
	var d Distribution // zero value usable
	d.Add("b")
	d.AddN("a", 3)
	d.AddN("c", 0)
	g.Expect(d.N()).To(Equal(4))
	g.Expect(d.Count("a")).To(Equal(3))
	g.Expect(d.Count("c")).To(Equal(0))
	g.Expect(d.Buckets()).To(Equal([]string{"a", "b"}))
	g.Expect(d.Share("a")).To(BeNumerically("~", 0.75, 1e-12))
	g.Expect(NewDistribution().Share("a")).To(BeZero())
	g.Expect(d.String()).To(And(ContainSubstring("75.0%"), ContainSubstring("total")))
	g.Expect(func() { d.AddN("a", -1) }).To(Panic())
}

func TestExpectedValidate(t *testing.T) {
	g := NewWithT(t)
	g.Expect(split9010.Validate()).To(Succeed())
	g.Expect(Expected{"a": 1}.Validate()).To(Succeed())
	g.Expect(Expected{"a": 0.1, "b": 0.2, "c": 0.7}.Validate()).To(Succeed()) // float sum 0.9999999999999999
	g.Expect(Expected{"a": 0.5, "b": 0.4}.Validate()).To(MatchError(ContainSubstring("sum to 0.9")))
	g.Expect(Expected{"a": 1.2, "b": -0.2}.Validate()).To(MatchError(ContainSubstring(`"a"`)))
	g.Expect(Expected{}.Validate()).To(MatchError(ContainSubstring("empty")))
}

func TestInterval(t *testing.T) {
	g := NewWithT(t)
	lo, hi := Interval(1000, 0.5, 1, DefaultConfidence)
	g.Expect(lo).To(And(BeNumerically(">", 400), BeNumerically("<=", 500)))
	g.Expect(hi).To(And(BeNumerically(">=", 500), BeNumerically("<", 600)))
	g.Expect(500 - lo).To(Equal(hi - 500)) // symmetric at p = 0.5

	lo, hi = Interval(1000, 0, 2, DefaultConfidence)
	g.Expect([]int{lo, hi}).To(Equal([]int{0, 0}))
	lo, hi = Interval(1000, 1, 2, DefaultConfidence)
	g.Expect([]int{lo, hi}).To(Equal([]int{1000, 1000}))

	// Wider with confidence and with the Bonferroni k.
	l90, h90 := Interval(1000, 0.3, 1, 0.9)
	l999, h999 := Interval(1000, 0.3, 1, 0.999)
	l999k, h999k := Interval(1000, 0.3, 5, 0.999)
	g.Expect(l999).To(BeNumerically("<", l90))
	g.Expect(h999).To(BeNumerically(">", h90))
	g.Expect(l999k).To(BeNumerically("<", l999))
	g.Expect(h999k).To(BeNumerically(">", h999))
}

// TestIntervalQuantiles checks the quantile definition exactly against the
// binomial pmf.
func TestIntervalQuantiles(t *testing.T) {
	g := NewWithT(t)
	for _, tc := range []struct {
		n int
		p float64
		k int
	}{{1000, 0.1, 2}, {300, 0.25, 4}, {50, 0.5, 2}, {7, 0.3, 1}} {
		half := (1 - DefaultConfidence) / float64(tc.k) / 2
		pmf := binomialPMF(tc.n, tc.p)
		cdf := func(x int) float64 { // P(X <= x)
			s := 0.0
			for i := 0; i <= x && i <= tc.n; i++ {
				s += pmf[i]
			}
			return s
		}
		lo, hi := Interval(tc.n, tc.p, tc.k, DefaultConfidence)
		g.Expect(cdf(lo-1)).To(BeNumerically("<=", half), "P(X < lo)")
		g.Expect(cdf(lo)).To(BeNumerically(">", half), "lo is the largest such x")
		g.Expect(1-cdf(hi)).To(BeNumerically("<=", half*(1+1e-9)), "P(X > hi)")
		if hi > 0 {
			g.Expect(1-cdf(hi-1)).To(BeNumerically(">", half), "hi is the smallest such x")
		}
	}
}

func binomialPMF(n int, p float64) []float64 {
	pmf := make([]float64, n+1)
	pmf[0] = 1
	for i := 0; i < n; i++ { // convolve with Bernoulli(p)
		for j := i + 1; j > 0; j-- {
			pmf[j] = pmf[j]*(1-p) + pmf[j-1]*p
		}
		pmf[0] *= 1 - p
	}
	return pmf
}

func dist(counts map[string]int) *Distribution { return DistributionOf(counts) }

func TestMatchSplit(t *testing.T) {
	g := NewWithT(t)
	N := DefaultRequests

	g.Expect(dist(map[string]int{"kr/a": 2700, "kr/b": 300})).To(MatchSplit(split9010, WithN(N)))
	g.Expect(*dist(map[string]int{"kr/a": 1500, "kr/b": 1500})).To(MatchSplit(split5050))
	g.Expect(dist(map[string]int{"kr/a": 750, "kr/b": 750, "us/a": 750, "us/b": 750})).To(MatchSplit(split4x25, WithN(N)))
	g.Expect(dist(map[string]int{"kr/a": 2400, "kr/b": 600})).NotTo(MatchSplit(split9010, WithN(N)))
	g.Expect(dist(map[string]int{"kr/a": 3000})).To(MatchSplit(Expected{"kr/a": 1, "kr/b": 0}, WithN(N)))

	// Traffic outside the declared buckets.
	d := dist(map[string]int{"kr/a": 2699, "kr/b": 300, "503 no healthy upstream": 1})
	m := MatchSplit(split9010, WithN(N))
	g.Expect(m.Match(d)).To(BeFalse())
	g.Expect(m.FailureMessage(d)).To(ContainSubstring("traffic outside the declared buckets"))

	// A 0-bucket gets one request; a 100% bucket misses one.
	g.Expect(dist(map[string]int{"kr/a": 2999, "kr/b": 1})).NotTo(MatchSplit(Expected{"kr/a": 1, "kr/b": 0}, WithN(N)))

	// N mismatch: a request went missing.
	m = MatchSplit(split9010, WithN(N))
	d = dist(map[string]int{"kr/a": 2699, "kr/b": 300})
	g.Expect(m.Match(d)).To(BeFalse())
	g.Expect(m.FailureMessage(d)).To(ContainSubstring("observed N=2999, want N=3000"))
}

func TestFailureMessage(t *testing.T) {
	g := NewWithT(t)
	d := dist(map[string]int{"kr/a": 2460, "kr/b": 540})
	m := MatchSplit(split9010, WithN(DefaultRequests))
	g.Expect(m.Match(d)).To(BeFalse())
	msg := m.FailureMessage(d)
	g.Expect(msg).To(HavePrefix("Expected\n    <split.Distribution>: N=3000 {\"kr/a\": 2460, \"kr/b\": 540}\nto match split\n"))
	for _, b := range []string{"kr/a", "kr/b"} {
		lo, hi := Interval(3000, split9010[b], 1, DefaultConfidence) // two complementary buckets: one test
		line := lineWith(msg, b)
		desc := func() string { return msg }
		g.Expect(line).To(ContainSubstring("[%d, %d]", lo, hi), desc)
		g.Expect(line).To(ContainSubstring("%d (", d.Count(b)), desc)
		g.Expect(line).To(ContainSubstring("✗"), desc)
	}
	g.Expect(m.NegatedFailureMessage(d)).To(ContainSubstring("not to match split"))

	tb, err := Report(*dist(map[string]int{"kr/a": 900, "kr/b": 100}), split9010)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tb.OK()).To(BeTrue())
	g.Expect(tb.Rows).To(HaveLen(2))
	g.Expect(tb.Rows[1]).To(Equal(Row{Bucket: "kr/b", Expected: 0.1, Declared: true, Lo: tb.Rows[1].Lo, Hi: tb.Rows[1].Hi, Observed: 100, OK: true}))
	g.Expect(tb.String()).NotTo(ContainSubstring("✗"))
}

// lineWith returns the table line of bucket sub.
func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, " "+sub+" ") {
			return l
		}
	}
	return ""
}

func TestTolerance(t *testing.T) {
	g := NewWithT(t)
	tol := WithTolerance(0.05)
	guard := WithPowerGuard(CoarseShift, DefaultPower) // a ±5-point tolerance cannot see a 5-point shift
	g.Expect(dist(map[string]int{"kr/a": 860, "kr/b": 140})).To(MatchSplit(split9010, tol, guard))
	g.Expect(dist(map[string]int{"kr/a": 849, "kr/b": 151})).NotTo(MatchSplit(split9010, tol, guard))
	g.Expect(dist(map[string]int{"kr/a": 999, "us/a": 1})).NotTo(MatchSplit(Expected{"kr/a": 1, "us/a": 0}, tol))
	_, err := MatchSplit(split9010, tol).Match(dist(map[string]int{"kr/a": 900, "kr/b": 100}))
	g.Expect(err).To(MatchError(ContainSubstring("never detect a 5-point shift")))
	tb, err := Report(*dist(map[string]int{"kr/a": 900, "kr/b": 100}), split9010, tol)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tb.Check).To(Equal(CheckTolerance))
	g.Expect(tb.Rows[0].Lo).To(Equal(850))
	g.Expect(tb.Rows[0].Hi).To(Equal(950))
	// A tolerance as wide as the shift can never detect it.
	g.Expect(CheckPower(split9010, 1000, WithTolerance(0.1), guard)).To(MatchError(ContainSubstring("never detect")))
}

func TestInvalidInputs(t *testing.T) {
	g := NewWithT(t)
	for _, actual := range []any{nil, (*Distribution)(nil), map[string]int{"a": 1}, 42} {
		ok, err := MatchSplit(split9010).Match(actual)
		g.Expect(ok).To(BeFalse())
		g.Expect(err).To(HaveOccurred(), "%#v", actual)
	}
	d := dist(map[string]int{"kr/a": 900, "kr/b": 100})
	for _, exp := range []Expected{nil, {"kr/a": 0.9}, {"kr/a": 0.5, "kr/b": 0.4}} {
		_, err := MatchSplit(exp).Match(d)
		g.Expect(err).To(HaveOccurred(), "%v", exp)
	}
	_, err := MatchSplit(Expected{"kr/a": 0.5, "kr/b": 0.4}).Match(d)
	g.Expect(err).To(MatchError(ContainSubstring("sum to 0.9")))
	for _, o := range []Option{WithConfidence(1), WithConfidence(0), WithTolerance(-1), WithN(0), WithPowerGuard(0, 0.9)} {
		_, err := MatchSplit(split9010, o).Match(d)
		g.Expect(err).To(HaveOccurred())
	}
	g.Expect(RequiredN(Expected{"a": 0.5}, 0.1, 0.95, 0.999)).To(BeZero())
	ok, err := MatchSplit(split9010, WithoutPowerGuard()).Match(NewDistribution())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeFalse(), "an empty distribution never matches")
}

func TestPowerGuard(t *testing.T) {
	g := NewWithT(t)
	small := dist(map[string]int{"kr/a": 45, "kr/b": 5})
	_, err := MatchSplit(split9010).Match(small)
	g.Expect(err).To(MatchError(MatchRegexp(`N=50 is too small to detect a 5-point shift with power 0\.9 at confidence %s: need at least \d+`, regexp.QuoteMeta(fmt.Sprint(DefaultConfidence)))))
	g.Expect(MatchSplit(split9010, WithoutPowerGuard()).Match(small)).To(BeTrue())
	g.Expect(CheckPower(split9010, 50)).To(HaveOccurred())
	// WithN is what the guard checks.
	_, err = MatchSplit(split9010, WithN(50)).Match(dist(map[string]int{"kr/a": 900, "kr/b": 100}))
	g.Expect(err).To(MatchError(ContainSubstring("N=50 is too small")))

	for _, exp := range []Expected{split9010, split5050, split4x25, {"a": 0.3, "b": 0.3, "c": 0.2, "d": 0.1, "e": 0.1}} {
		need := RequiredN(exp, DefaultShift, DefaultPower, DefaultConfidence)
		g.Expect(need).To(And(BeNumerically(">", 100), BeNumerically("<=", DefaultRequests)), "%v", exp)
		g.Expect(CheckPower(exp, DefaultRequests)).To(Succeed())
		g.Expect(CheckPower(exp, need)).To(Succeed())
		g.Expect(CheckPower(exp, need-1)).To(MatchError(ContainSubstring("need at least %d", need)))
		// Every N from need on is powered, including past the saw-teeth.
		c := newConfig(nil)
		for n := need; n < need+100; n++ {
			g.Expect(c.powered(exp, n)).To(BeTrue(), "%v at N=%d", exp, n)
		}
		// Exactness: at need the shift is detected with power >= 0.95.
		k := exp.tests()
		for _, p := range exp {
			lo, hi := Interval(need, p, k, DefaultConfidence)
			for _, q := range []float64{p - DefaultShift, p + DefaultShift} {
				if q >= 0 && q <= 1 {
					g.Expect(detection(need, q, lo, hi)).To(BeNumerically(">=", DefaultPower))
				}
			}
		}
	}
	// Degenerate splits need nothing; larger shifts need fewer requests.
	g.Expect(RequiredN(Expected{"a": 1, "b": 0}, 0.1, 0.95, 0.999)).To(Equal(1))
	g.Expect(RequiredN(split9010, 0.2, 0.95, 0.999)).To(BeNumerically("<", RequiredN(split9010, 0.1, 0.95, 0.999)))
}

// TestFisherPowerNormalAtSwitchOver: at the largest size FisherPower still
// sums exactly, the normal approximation it switches to above is within
// 0.01 of the exact power (measured: at most 0.002 balanced, 0.006 at
// 5000 vs 3000), for balanced and
// unbalanced samples, around 50/50 and near the edge.
func TestFisherPowerNormalAtSwitchOver(t *testing.T) {
	n := FisherPowerExactMax
	for _, c := range []struct {
		n1, n2 int
		p1, p2 float64
	}{
		{n, n, 0.5, 0.51}, {n, n, 0.5, 0.52}, {n, n, 0.5, 0.53}, {n, n, 0.5, 0.55},
		{n, n, 0.9, 0.92}, {n, n, 0.1, 0.085}, {n, n * 3 / 5, 0.5, 0.53},
	} {
		exact := fisherPowerExact(c.n1, c.n2, c.p1, c.p2, 0.01)
		approx := fisherPowerNormal(c.n1, c.n2, c.p1, c.p2, 0.01)
		if math.Abs(exact-approx) > 0.01 {
			t.Errorf("n=%d/%d p=%.3f→%.3f: exact power %.4f, normal approximation %.4f", c.n1, c.n2, c.p1, c.p2, exact, approx)
		}
	}
	// Above the switch-over FisherPower is the approximation.
	if got, want := FisherPower(n+1, n+1, 0.5, 0.52, 0.01), fisherPowerNormal(n+1, n+1, 0.5, 0.52, 0.01); got != want {
		t.Errorf("FisherPower above FisherPowerExactMax = %v, want the normal approximation %v", got, want)
	}
}
