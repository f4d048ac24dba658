package split

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/onsi/gomega/types"
)

// Row is one bucket of a split Table.
type Row struct {
	Bucket   string
	Expected float64 // expected share in [0,1]; 0 for an undeclared bucket
	Declared bool    // false: traffic outside the declared buckets
	Lo, Hi   int     // accepted count range, inclusive
	Observed int     // observed count
	OK       bool    // Lo <= Observed <= Hi and the bucket is declared
}

// Table is the per-bucket verdict of a Distribution against an Expected
// split. Print it into reports with String, on pass as well as on failure.
type Table struct {
	Split Expected
	Rule  string // the acceptance rule, e.g. "exact binomial, confidence 0.999, Bonferroni k=2"
	// Check is the kind of acceptance rule: CheckBinomial (a random split,
	// exact binomial ranges), CheckSchedule (a deterministic schedule,
	// WithSchedule) or CheckTolerance (WithTolerance).
	Check string `json:",omitempty"`
	N     int    // observed total
	WantN int    // requests sent (WithN); 0 when not given
	Rows  []Row  // declared buckets sorted, then undeclared ones sorted
}

// NMismatch reports whether WithN was given and the observed total differs.
func (t Table) NMismatch() bool { return t.WantN > 0 && t.N != t.WantN }

// OK reports whether the distribution matches the split: something was
// observed, every row is OK and the total equals the requests sent.
func (t Table) OK() bool {
	if t.N == 0 || t.NMismatch() {
		return false
	}
	for _, r := range t.Rows {
		if !r.OK {
			return false
		}
	}
	return true
}

// String renders the table: a header line, one line per bucket with its
// expected share, accepted range (counts and %), observed count (and %),
// failing lines marked ✗, and a line for a total mismatch.
func (t Table) String() string {
	var sb, rows strings.Builder
	fmt.Fprintf(&sb, "split %v, N=%d, %s\n", t.Split, t.N, t.Rule)
	w := tabwriter.NewWriter(&rows, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\tbucket\texpected\taccepted\tobserved\t")
	share := func(c int) string {
		if t.N == 0 {
			return pct(0)
		}
		return pct(float64(c) / float64(t.N))
	}
	for _, r := range t.Rows {
		mark := ""
		if !r.OK {
			mark = "✗"
		}
		exp, note := pct(r.Expected), ""
		if !r.Declared {
			exp, note = "undeclared", "traffic outside the declared buckets"
		}
		acc := fmt.Sprintf("[%d, %d] (%s–%s)", r.Lo, r.Hi, share(r.Lo), share(r.Hi))
		if r.Lo == r.Hi {
			acc = fmt.Sprintf("[%d, %d] (exactly %s)", r.Lo, r.Hi, share(r.Lo))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d (%s)\t%s\n", mark, r.Bucket, exp, acc, r.Observed, share(r.Observed), note)
	}
	_ = w.Flush()
	for _, l := range strings.SplitAfter(rows.String(), "\n") {
		sb.WriteString(strings.TrimRight(l, " "))
	}
	if t.N == 0 {
		sb.WriteString("✗ no observations: the distribution is empty\n")
	}
	if t.NMismatch() {
		fmt.Fprintf(&sb, "✗ total: observed N=%d, want N=%d (the requests sent)\n", t.N, t.WantN)
	}
	return sb.String()
}

// Report checks d against exp under the options (WithConfidence,
// WithTolerance, WithN) and returns the per-bucket Table; the power guard is
// not applied (see CheckPower). It errors on an invalid exp or options.
func Report(d Distribution, exp Expected, opts ...Option) (Table, error) {
	if err := exp.Validate(); err != nil {
		return Table{}, err
	}
	c := newConfig(opts)
	if c.err != nil {
		return Table{}, c.err
	}
	k, m := exp.tests(), exp.interior()
	t := Table{Split: exp, Rule: c.rule(k, m), Check: c.check(), N: d.N(), WantN: c.n}
	for _, b := range exp.Buckets() {
		lo, hi := c.interval(t.N, exp[b], k, m)
		obs := d.Count(b)
		t.Rows = append(t.Rows, Row{Bucket: b, Expected: exp[b], Declared: true, Lo: lo, Hi: hi, Observed: obs, OK: lo <= obs && obs <= hi})
	}
	var extra []string
	for _, b := range d.Buckets() {
		if _, ok := exp[b]; !ok {
			extra = append(extra, b)
		}
	}
	sort.Strings(extra)
	for _, b := range extra {
		t.Rows = append(t.Rows, Row{Bucket: b, Observed: d.Count(b)})
	}
	return t, nil
}

// MatchSplit succeeds when a Distribution (or *Distribution) matches the
// expected split: every declared bucket's count lies in its acceptance
// interval (exact binomial at confidence DefaultConfidence, Bonferroni-
// corrected over the buckets with 0<p<1, or WithTolerance), shares 0 and 1
// are exact, no traffic falls outside the declared buckets, and, with
// WithN, the total equals the requests sent. Unless WithoutPowerGuard is
// given, it errors when N is too small to detect a DefaultShift (see
// CheckPower). Invalid inputs give an error, never a panic.
func MatchSplit(exp Expected, opts ...Option) types.GomegaMatcher {
	return &splitMatcher{exp: exp, opts: opts}
}

type splitMatcher struct {
	exp    Expected
	opts   []Option
	actual string
	table  Table
}

func asDistribution(actual any) (Distribution, error) {
	switch d := actual.(type) {
	case Distribution:
		return d, nil
	case *Distribution:
		if d == nil {
			return Distribution{}, errors.New("split: MatchSplit got a nil *split.Distribution")
		}
		return *d, nil
	case nil:
		return Distribution{}, errors.New("split: MatchSplit got nil, want a split.Distribution or *split.Distribution")
	}
	return Distribution{}, fmt.Errorf("split: MatchSplit got %T, want a split.Distribution or *split.Distribution", actual)
}

// Match implements types.GomegaMatcher.
func (m *splitMatcher) Match(actual any) (bool, error) {
	d, err := asDistribution(actual)
	if err != nil {
		return false, err
	}
	t, err := Report(d, m.exp, m.opts...)
	if err != nil {
		return false, err
	}
	m.actual, m.table = d.compact(), t
	n := t.N
	if t.WantN > 0 {
		n = t.WantN
	}
	if err := CheckPower(m.exp, n, m.opts...); err != nil {
		return false, fmt.Errorf("%w\n%s", err, indent(t.String()))
	}
	return t.OK(), nil
}

func (m *splitMatcher) message(to string) string {
	return fmt.Sprintf("Expected\n    <split.Distribution>: %s\n%s\n%s", m.actual, to, indent(m.table.String()))
}

// FailureMessage implements types.GomegaMatcher.
func (m *splitMatcher) FailureMessage(any) string { return m.message("to match split") }

// NegatedFailureMessage implements types.GomegaMatcher.
func (m *splitMatcher) NegatedFailureMessage(any) string { return m.message("not to match split") }

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "    " + strings.Join(lines, "\n    ") + "\n"
}
