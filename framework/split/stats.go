package split

import (
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/stat/distuv"
)

// The suite-level error budget and the defaults that follow from it.
const (
	// RunFalseFailureBudget is the probability with which a whole run of the
	// suite may fail although every split is correct (its family-wise
	// false-failure rate): 0.1% per run.
	RunFalseFailureBudget = 0.001
	// RandomChecksPerRun bounds the number of random (binomial) split
	// assertions in one run; the budget is split evenly over them
	// (TestRandomChecksPerRunCoversTheSuite counts them in the golden
	// fingerprint). Raise it when the suite grows past it.
	RandomChecksPerRun = 40
	// DefaultConfidence is the family-wise confidence of one split
	// assertion's binomial acceptance intervals: 1 - budget/checks, so a
	// correct split fails at most RunFalseFailureBudget/RandomChecksPerRun
	// of the time and a correct run at most RunFalseFailureBudget.
	DefaultConfidence = 1 - RunFalseFailureBudget/RandomChecksPerRun
	// DefaultShift is the shift of a bucket's share (absolute, 0.05 = 5
	// points) the power guard requires a spec to be able to detect.
	DefaultShift = 0.05
	// CoarseShift is the opt-out of the power guard: WithPowerGuard(CoarseShift,
	// DefaultPower) asks for a 10-point shift only.
	CoarseShift = 0.10
	// DefaultPower is the probability with which the power guard requires
	// a DefaultShift to be detected.
	DefaultPower = 0.90
	// DefaultRequests is the number of requests specs send per split check
	// when they name none; steps.SendAndExpectSplit raises it to RequiredN
	// where a split needs more (TestDefaultRequestsPowersTheSuite lists the
	// suite's splits and what they need).
	DefaultRequests = 3100
)

// maxRequiredN bounds the search of RequiredN.
const maxRequiredN = 1 << 22

// Option configures MatchSplit, Report and CheckPower.
type Option func(*config)

type config struct {
	confidence float64
	tolerance  float64 // > 0: accept |share-p| <= tolerance instead of binomial
	workers    int     // > 0: a deterministic schedule of that many workers (WithSchedule)
	n          int     // > 0: the number of requests sent
	guard      bool
	shift      float64
	power      float64
	err        error
}

func newConfig(opts []Option) config {
	c := config{confidence: DefaultConfidence, guard: true, shift: DefaultShift, power: DefaultPower}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

func (c *config) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("split: "+format, args...)
	}
}

// WithConfidence sets the family-wise confidence c in (0,1) of the binomial
// acceptance intervals (default DefaultConfidence).
func WithConfidence(c float64) Option {
	return func(cfg *config) {
		if !(c > 0 && c < 1) {
			cfg.fail("WithConfidence(%v): confidence must be in (0,1), e.g. 0.999", c)
			return
		}
		cfg.confidence = c
	}
}

// WithTolerance replaces the binomial intervals by a fixed tolerance: a
// bucket with expected share p accepts observed shares within p±t (t
// absolute, 0.05 = ±5 points). Shares of 0 and 1 stay exact.
func WithTolerance(t float64) Option {
	return func(cfg *config) {
		if !(t > 0 && t < 1) {
			cfg.fail("WithTolerance(%v): tolerance must be in (0,1), e.g. 0.05 for ±5 points", t)
			return
		}
		cfg.tolerance = t
	}
}

// WithSchedule declares that the split comes from a deterministic
// weighted round-robin over the buckets (Envoy's per-worker EDF locality
// scheduler under locality_weighted_lb_config, as the embedded backend runs
// it: requests dealt to the workers in turn, each worker starting its
// schedule at a random point). Its counts are then checked within the
// schedule's bound instead of a binomial range: a bucket with share p among
// m buckets with 0<p<1 may deviate from N·p by at most
// ScheduleBound(workers, m, p) = workers·(1+(m-2)·p), which is ±workers for
// two buckets. Shares of 0 and 1 stay exact.
func WithSchedule(workers int) Option {
	return func(cfg *config) {
		if workers <= 0 {
			cfg.fail("WithSchedule(%d): the number of workers must be positive", workers)
			return
		}
		cfg.workers = workers
	}
}

// ScheduleBound is the largest deviation |count - N·p| a deterministic
// weighted round-robin (EDF) schedule of the given number of workers can
// show for a bucket with share p among m buckets with 0<p<1, over any run
// of consecutive picks. Per worker, after t picks an EDF scheduler has
// picked bucket i floor(T·w_i) times at its virtual time T (up to ties), so
// n_i - t·p_i = p_i·Σf_j - f_i with f_j in [0,1]: it lies in
// [-(1-p_i), (m-1)·p_i], and a window (the difference of two such states)
// deviates by at most 1+(m-2)·p_i. Summed over the workers, each dealt its
// share of the batch, that is workers·(1+(m-2)·p). TestScheduleBound
// checks it against the Envoy model (framework/envoylb) over many seeds.
func ScheduleBound(workers, m int, p float64) float64 {
	return float64(workers) * (1 + float64(max(m-2, 0))*p)
}

// WithN declares the number of requests sent: the distribution's total must
// equal n (no request lost or unclassified), and the power guard checks n.
func WithN(n int) Option {
	return func(cfg *config) {
		if n <= 0 {
			cfg.fail("WithN(%d): the number of requests must be positive", n)
			return
		}
		cfg.n = n
	}
}

// WithoutPowerGuard disables the power guard of MatchSplit and CheckPower.
func WithoutPowerGuard() Option { return func(cfg *config) { cfg.guard = false } }

// WithPowerGuard sets the shift (absolute, in (0,1)) the power guard
// requires to be detected and the power in (0,1) to detect it with
// (defaults DefaultShift and DefaultPower), and enables the guard.
func WithPowerGuard(shift, power float64) Option {
	return func(cfg *config) {
		if !(shift > 0 && shift < 1) || !(power > 0 && power < 1) {
			cfg.fail("WithPowerGuard(%v, %v): shift and power must be in (0,1), e.g. 0.10 and 0.95", shift, power)
			return
		}
		cfg.guard, cfg.shift, cfg.power = true, shift, power
	}
}

// The kinds of check a Table records (Table.Check).
const (
	CheckBinomial  = "binomial"
	CheckTolerance = "tolerance"
	CheckSchedule  = "schedule"
)

// check names the acceptance rule's kind.
func (c config) check() string {
	switch {
	case c.workers > 0:
		return CheckSchedule
	case c.tolerance > 0:
		return CheckTolerance
	}
	return CheckBinomial
}

// rule describes the acceptance rule for a split with k Bonferroni tests
// and m buckets with 0<p<1.
func (c config) rule(k, m int) string {
	if c.workers > 0 {
		return fmt.Sprintf("deterministic schedule, %d workers: ±workers·(1+(m-2)·p), m=%d", c.workers, m)
	}
	if c.tolerance > 0 {
		return fmt.Sprintf("tolerance ±%s points", points(c.tolerance))
	}
	return fmt.Sprintf("exact binomial, confidence %v, Bonferroni k=%d", c.confidence, k)
}

// interval is the accepted count range of a bucket with expected share p out
// of n observations, k being the Bonferroni k (Expected.tests) and m the
// number of buckets with 0<p<1.
func (c config) interval(n int, p float64, k, m int) (lo, hi int) {
	switch {
	case n <= 0 || p <= 0:
		return 0, 0
	case p >= 1:
		return n, n
	case c.workers > 0:
		b := ScheduleBound(c.workers, m, p)
		lo = int(math.Ceil(float64(n)*p - b - 1e-9))
		hi = int(math.Floor(float64(n)*p + b + 1e-9))
		return max(lo, 0), min(hi, n)
	case c.tolerance > 0:
		lo = int(math.Ceil(float64(n)*(p-c.tolerance) - 1e-9))
		hi = int(math.Floor(float64(n)*(p+c.tolerance) + 1e-9))
		return max(lo, 0), min(hi, n)
	}
	return Interval(n, p, k, c.confidence)
}

type intervalKey struct {
	n     int
	p     float64
	alpha float64
}

type intervalVal struct{ lo, hi int }

var intervalCache sync.Map // intervalKey -> intervalVal

// Interval returns the exact binomial acceptance interval [lo, hi] of counts
// for a bucket with expected share p out of n observations, when k buckets
// with 0<p<1 are tested at family-wise confidence c: with alpha = (1-c)/k
// (Bonferroni), lo is the alpha/2 quantile of Binomial(n, p) (the largest x
// with P(X < x) <= alpha/2) and hi the 1-alpha/2 quantile (the smallest x
// with P(X > x) <= alpha/2). p = 0 gives [0,0] and p = 1 gives [n,n]; p is
// clamped to [0,1] and k to at least 1.
func Interval(n int, p float64, k int, c float64) (lo, hi int) {
	if n <= 0 || !(p > 0) {
		return 0, 0
	}
	if p >= 1 {
		return n, n
	}
	k = max(k, 1)
	key := intervalKey{n, p, (1 - c) / float64(k)}
	if v, ok := intervalCache.Load(key); ok {
		iv := v.(intervalVal)
		return iv.lo, iv.hi
	}
	half := key.alpha / 2
	b := distuv.Binomial{N: float64(n), P: p}
	// The upper tail P(X > x) is P(Y < n-x) for Y ~ Binomial(n, 1-p),
	// computed as a CDF to keep its precision.
	q := distuv.Binomial{N: float64(n), P: 1 - p}
	lo = search(0, n, func(x int) bool { return b.CDF(float64(x)) > half })
	hi = search(0, n, func(x int) bool { return q.CDF(float64(n-x-1)) <= half })
	intervalCache.Store(key, intervalVal{lo, hi})
	return lo, hi
}

// search returns the smallest x in [lo, hi] with f(x), f monotone, or hi.
func search(lo, hi int, f func(int) bool) int {
	for lo < hi {
		mid := lo + (hi-lo)/2
		if f(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// detection is the probability that a count drawn from Binomial(n, p) falls
// outside [lo, hi].
func detection(n int, p float64, lo, hi int) float64 {
	b := distuv.Binomial{N: float64(n), P: p}
	return 1 - (b.CDF(float64(hi)) - b.CDF(float64(lo-1)))
}

// powered reports whether, at n observations, shifting any bucket with
// 0<p<1 by shift (either direction that stays in [0,1]) is detected with
// probability >= power.
func (c config) powered(exp Expected, n int) bool {
	k, m := exp.tests(), exp.interior()
	for _, p := range exp {
		if !(p > 0 && p < 1) {
			continue
		}
		lo, hi := c.interval(n, p, k, m)
		for _, q := range [2]float64{p + c.shift, p - c.shift} {
			if q < -1e-12 || q > 1+1e-12 {
				continue
			}
			if detection(n, min(max(q, 0), 1), lo, hi) < c.power {
				return false
			}
		}
	}
	return true
}

type requiredKey struct {
	exp                                 string
	shift, power, confidence, tolerance float64
	workers                             int
}

var requiredCache sync.Map // requiredKey -> int

// required returns the smallest n from which on the config's power guard
// holds for exp, or -1 if none up to maxRequiredN does. exp and c must be
// valid.
func (c config) required(exp Expected) int {
	key := requiredKey{exp.key(), c.shift, c.power, c.confidence, c.tolerance, c.workers}
	if v, ok := requiredCache.Load(key); ok {
		return v.(int)
	}
	if c.tolerance >= c.shift && c.power >= 0.5 && exp.interior() > 0 {
		// A shifted count is centred on the edge of the tolerance or
		// inside it: detected at most about half the time, at any N.
		requiredCache.Store(key, -1)
		return -1
	}
	n := 1
	for !c.powered(exp, n) {
		if n >= maxRequiredN {
			requiredCache.Store(key, -1)
			return -1
		}
		n *= 2
	}
	if n > 1 {
		n = search(n/2+1, n, func(m int) bool { return c.powered(exp, m) })
	}
	// Power saw-tooths in N (the intervals move in whole counts): move past
	// any unpowered N just above the bisection's answer, so that every N
	// from the result on is powered.
	for m, end := n+1, n+n/8+16; m <= end && m <= maxRequiredN; m++ {
		if !c.powered(exp, m) {
			n, end = m+1, max(end, m+1+m/8+16)
		}
	}
	requiredCache.Store(key, n)
	return n
}

// RequiredN returns the smallest number of observations N from which on, for
// every declared bucket with 0<p<1, shifting its share by shift (absolute;
// both directions that stay in [0,1] are checked) moves the count outside
// the bucket's exact binomial acceptance interval at the given confidence
// with probability >= power (power saw-tooths slightly in N because counts
// are whole; RequiredN skips past the teeth). It returns 1 when no bucket has 0<p<1 and 0
// when the inputs are invalid (CheckPower explains why). Results are cached.
func RequiredN(exp Expected, shift, power, confidence float64) int {
	if exp.Validate() != nil {
		return 0
	}
	c := newConfig([]Option{WithConfidence(confidence), WithPowerGuard(shift, power)})
	if c.err != nil {
		return 0
	}
	return max(c.required(exp), 0)
}

// CheckPower returns an error if n observations are too few to detect a
// shift of any bucket's share with the configured power (defaults
// DefaultShift and DefaultPower, see WithPowerGuard) under the configured
// acceptance rule, and nil otherwise or under WithoutPowerGuard. It also
// reports an invalid exp or options.
func CheckPower(exp Expected, n int, opts ...Option) error {
	if err := exp.Validate(); err != nil {
		return err
	}
	c := newConfig(opts)
	if c.err != nil {
		return c.err
	}
	if !c.guard {
		return nil
	}
	at := fmt.Sprintf("confidence %v", c.confidence)
	if c.tolerance > 0 {
		at = fmt.Sprintf("tolerance ±%s points", points(c.tolerance))
	}
	if c.workers > 0 {
		at = fmt.Sprintf("a deterministic schedule of %d workers", c.workers)
	}
	need := c.required(exp)
	if need < 0 {
		return fmt.Errorf("split: %s can never detect a %s-point shift with power %v for split %v: use a tolerance below the shift, the binomial rule, or WithoutPowerGuard()",
			at, points(c.shift), c.power, exp)
	}
	if n < need {
		return fmt.Errorf("split: N=%d is too small to detect a %s-point shift with power %v at %s: need at least %d",
			n, points(c.shift), c.power, at, need)
	}
	return nil
}

// points formats a share as percentage points without trailing zeros.
func points(f float64) string {
	return fmt.Sprintf("%g", math.Round(f*100*1e6)/1e6)
}
