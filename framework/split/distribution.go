// Package split holds traffic-split statistics for the locality
// load-balancing specs: a Distribution of observed counts per bucket (a
// locality, a pod, a response class), the Expected split, exact binomial
// acceptance intervals with a power guard, and the Gomega matcher MatchSplit.
package split

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
)

// Distribution counts observations per bucket. The zero value is ready to
// use. Copies share their counts, so pass a Distribution by value only to
// read it.
type Distribution struct {
	counts map[string]int
}

// NewDistribution returns an empty Distribution.
func NewDistribution() *Distribution {
	return &Distribution{counts: map[string]int{}}
}

// DistributionOf returns a Distribution holding the given counts; zero
// counts are dropped. It panics on a negative count, like AddN.
func DistributionOf(counts map[string]int) *Distribution {
	d := NewDistribution()
	for b, n := range counts {
		d.AddN(b, n)
	}
	return d
}

// Add records one observation in bucket.
func (d *Distribution) Add(bucket string) { d.AddN(bucket, 1) }

// AddN records n observations in bucket. It panics if n is negative.
func (d *Distribution) AddN(bucket string, n int) {
	if n < 0 {
		panic(fmt.Sprintf("split: AddN(%q, %d): negative count", bucket, n))
	}
	if n == 0 {
		return
	}
	if d.counts == nil {
		d.counts = map[string]int{}
	}
	d.counts[bucket] += n
}

// Count returns the number of observations in bucket.
func (d Distribution) Count(bucket string) int { return d.counts[bucket] }

// N returns the total number of observations.
func (d Distribution) N() int {
	n := 0
	for _, c := range d.counts {
		n += c
	}
	return n
}

// Buckets returns the buckets with at least one observation, sorted.
func (d Distribution) Buckets() []string {
	bs := make([]string, 0, len(d.counts))
	for b, c := range d.counts {
		if c > 0 {
			bs = append(bs, b)
		}
	}
	sort.Strings(bs)
	return bs
}

// Share returns the observed share of bucket in [0,1]; 0 when empty.
func (d Distribution) Share(bucket string) float64 {
	n := d.N()
	if n == 0 {
		return 0
	}
	return float64(d.counts[bucket]) / float64(n)
}

// String renders the distribution as a small table: one row per bucket with
// its count and share, then the total.
func (d Distribution) String() string {
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', tabwriter.AlignRight)
	n := d.N()
	for _, b := range d.Buckets() {
		fmt.Fprintf(w, "%s\t%d\t%s\t\n", b, d.counts[b], pct(d.Share(b)))
	}
	fmt.Fprintf(w, "total\t%d\t\t\n", n)
	_ = w.Flush()
	return sb.String()
}

// compact renders the distribution on one line, for failure messages.
func (d Distribution) compact() string {
	parts := make([]string, 0, len(d.counts))
	for _, b := range d.Buckets() {
		parts = append(parts, fmt.Sprintf("%q: %d", b, d.counts[b]))
	}
	return fmt.Sprintf("N=%d {%s}", d.N(), strings.Join(parts, ", "))
}

// Expected maps each bucket to its expected share in [0,1]; the shares must
// sum to 1. A share of 0 means the bucket must get no traffic at all, a share
// of 1 means it must get all of it.
type Expected map[string]float64

// sumTolerance is how far the shares of an Expected may sum from 1.
const sumTolerance = 1e-9

// Validate reports whether e is a valid split: non-empty, every share a
// number in [0,1], and the shares summing to 1 within 1e-9.
func (e Expected) Validate() error {
	if len(e) == 0 {
		return fmt.Errorf("split: Expected is empty: declare at least one bucket with its share, e.g. Expected{%q: 1}", "kr/a")
	}
	sum := 0.0
	for _, b := range e.Buckets() {
		p := e[b]
		if math.IsNaN(p) || p < 0 || p > 1 {
			return fmt.Errorf("split: expected share of bucket %q is %v: a share must be in [0,1] (0.25 means 25%%)", b, p)
		}
		sum += p
	}
	if math.Abs(sum-1) > sumTolerance {
		return fmt.Errorf("split: expected shares sum to %v, not 1: fix the shares of %s so they add up to 1 (100%%)", sum, strings.Join(quoteAll(e.Buckets()), ", "))
	}
	return nil
}

// Buckets returns the declared buckets, sorted.
func (e Expected) Buckets() []string {
	bs := make([]string, 0, len(e))
	for b := range e {
		bs = append(bs, b)
	}
	sort.Strings(bs)
	return bs
}

// String renders the split as "{a: 90%, b: 10%}".
func (e Expected) String() string {
	parts := make([]string, 0, len(e))
	for _, b := range e.Buckets() {
		parts = append(parts, fmt.Sprintf("%q: %s", b, pct(e[b])))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// key is a canonical string for caching.
func (e Expected) key() string {
	var sb strings.Builder
	for _, b := range e.Buckets() {
		fmt.Fprintf(&sb, "%q=%v;", b, e[b])
	}
	return sb.String()
}

// interior is the number of buckets with 0 < p < 1.
func (e Expected) interior() int {
	k := 0
	for _, p := range e {
		if p > 0 && p < 1 {
			k++
		}
	}
	return k
}

// tests is the Bonferroni k: the number of independent tests the
// acceptance rule makes, one per bucket with 0 < p < 1, except that two
// such buckets are complementary (every other share is 0, and an expected
// 0 must be exactly 0, so with the total fixed the second count is N minus
// the first): they make one test, and the exact intervals of the two
// buckets at k = 1 are mirror images (Interval(n, p) = n - Interval(n, 1-p)).
func (e Expected) tests() int {
	if k := e.interior(); k != 2 {
		return k
	}
	return 1
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }
