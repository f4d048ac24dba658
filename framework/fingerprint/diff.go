package fingerprint

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/localitylb/locality-e2e/framework/split"
)

// ChangeKind says which signal a Change comes from. The three are
// reported separately and always: a pass/fail change and an endpoint-table
// change are behavioural whatever the counts say.
type ChangeKind string

const (
	// KindResult: a scenario passed in one run and failed in the other.
	KindResult ChangeKind = "result"
	// KindEndpoints: an endpoint table row (priority, weight, hosts,
	// healthy) or a locality appearing or vanishing.
	KindEndpoints ChangeKind = "endpoints"
	// KindSplit: a split's declared buckets or expected shares differ, or
	// its counts differ beyond sampling noise (the two-sample test, or the
	// schedule bound of deterministic splits).
	KindSplit ChangeKind = "split"
	// KindNotComparable: a scenario that ran in one run only (skipped
	// with a reason, or absent, in the other). NotComparable lists them;
	// they are never a change: the other run did not answer the question.
	KindNotComparable ChangeKind = "not comparable"
)

// Change is one behavioural difference in one scenario.
type Change struct {
	Scenario string
	What     string
	Kind     ChangeKind
	// P is the two-sample test's p-value for a KindSplit change of the
	// counts of a random split; 0 otherwise.
	P float64
}

func (c Change) String() string { return c.Scenario + ": " + c.What }

// DefaultFamilyWiseRate is the probability with which Diff reports a
// change of counts between two runs of unchanged behaviour, over all the
// random splits it compares (Bonferroni): 1% per diff.
const DefaultFamilyWiseRate = 0.01

// DiffOptions tune Diff.
type DiffOptions struct {
	// OnlyCommon leaves scenarios absent from one run out of NotComparable
	// (a filtered run compared with a full one). Diff never reports them.
	OnlyCommon bool
	// FamilyWiseRate is the diff's false-change rate over its random
	// splits, in (0,1); 0 means DefaultFamilyWiseRate.
	FamilyWiseRate float64
}

func (o DiffOptions) rate() float64 {
	if o.FamilyWiseRate > 0 && o.FamilyWiseRate < 1 {
		return o.FamilyWiseRate
	}
	return DefaultFamilyWiseRate
}

// Diff lists the behavioural changes from a to b of the scenarios that ran
// in both (a scenario skipped or absent in either is NotComparable's, never
// a change), in three kinds, each always reported: a scenario's result
// (KindResult); an endpoint table row (priority, weight, hosts, healthy)
// or a locality appearing or vanishing
// (KindEndpoints); and per split (KindSplit) a change of its declared
// buckets or expected shares, or of its counts. Counts are compared
// between the two runs, not against either run's accepted range: a random
// split (a binomial check in either run) by a two-sample test, Fisher's
// exact test when two buckets have traffic and Pearson's chi-squared test
// on the 2×k table otherwise, each at FamilyWiseRate divided by the number
// of random splits compared (Bonferroni); a split that is a deterministic
// schedule in both runs (split.CheckSchedule) changes when the two shares
// differ by more than the two schedule bounds; a split whose buckets are
// all 0% or 100% changes on any difference of shares.
func Diff(a, b Fingerprint, opts DiffOptions) []Change {
	var out []Change
	var random []pendingTest
	am, bm := index(a), index(b)
	for _, name := range keys(am, bm) {
		sa, inA := am[name]
		sb, inB := bm[name]
		// Ran in one run only: NotComparable's business.
		if inA && inB && sa.Skipped == "" && sb.Skipped == "" {
			c, r := diffScenario(sa, sb)
			out = append(out, c...)
			random = append(random, r...)
		}
	}
	alpha := opts.rate() / float64(max(len(random), 1))
	for _, t := range random {
		if t.test.P <= alpha {
			out = append(out, Change{Scenario: t.scenario, Kind: KindSplit, P: t.test.P,
				What: fmt.Sprintf("%s: counts changed (%s p = %s ≤ %s): %s", t.title, t.test.Test, split.FormatP(t.test.P), split.FormatP(alpha), shares(t.test))})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Scenario < out[j].Scenario })
	return out
}

// NotComparable lists the scenarios that ran in one run only, one
// KindNotComparable entry each whose What says why the other run did not
// answer: the reason it skipped itself with (e.g. the istiod under test
// lacks a feature), or that it was absent (not in that suite, or filtered
// out; left out with OnlyCommon). A scenario skipped in both runs is not
// listed: neither run answered, so nothing moved.
func NotComparable(a, b Fingerprint, opts DiffOptions) []Change {
	var out []Change
	am, bm := index(a), index(b)
	for _, name := range keys(am, bm) {
		sa, inA := am[name]
		sb, inB := bm[name]
		var why string
		switch {
		case inA && inB && sa.Skipped != "" && sb.Skipped == "":
			why = "skipped on old: " + sa.Skipped
		case inA && inB && sa.Skipped == "" && sb.Skipped != "":
			why = "skipped on new: " + sb.Skipped
		case opts.OnlyCommon:
		case !inA && sb.Skipped == "":
			why = "absent from old (not in its suite, or filtered out); ran on new"
		case !inB && sa.Skipped == "":
			why = "absent from new (not in its suite, or filtered out); ran on old"
		}
		if why != "" {
			out = append(out, Change{Scenario: name, Kind: KindNotComparable, What: "not comparable: " + why})
		}
	}
	return out
}

// FormatNotComparable prints NotComparable's list, or "" when empty.
func FormatNotComparable(nc []Change) string {
	if len(nc) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d scenario(s) not comparable (ran in one run only; not a change):\n", len(nc))
	for _, c := range nc {
		fmt.Fprintf(&b, "%s\n  - %s\n", c.Scenario, c.What)
	}
	return b.String()
}

// pendingTest is a random split's two-sample test, decided once the number
// of random splits (the Bonferroni k) is known.
type pendingTest struct {
	scenario, title string
	test            split.TwoSample
}

// shares renders a two-sample comparison as old → new shares per bucket.
func shares(t split.TwoSample) string {
	na, nb := max(sumInts(t.A), 1), max(sumInts(t.B), 1)
	parts := make([]string, len(t.Buckets))
	for i, bk := range t.Buckets {
		parts[i] = fmt.Sprintf("%s %.1f%% → %.1f%% (%d/%d → %d/%d)", bk,
			100*float64(t.A[i])/float64(na), 100*float64(t.B[i])/float64(nb), t.A[i], na, t.B[i], nb)
	}
	return strings.Join(parts, ", ")
}

func sumInts(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func index(fp Fingerprint) map[string]Scenario {
	m := map[string]Scenario{}
	for _, s := range fp.Scenarios {
		m[s.Name] = s
	}
	return m
}

func result(p bool) string {
	if p {
		return "passed"
	}
	return "failed"
}

func diffScenario(a, b Scenario) ([]Change, []pendingTest) {
	var out []Change
	var random []pendingTest
	add := func(kind ChangeKind, format string, args ...any) {
		out = append(out, Change{Scenario: a.Name, What: fmt.Sprintf(format, args...), Kind: kind})
	}
	if a.Passed != b.Passed {
		add(KindResult, "result %s → %s", result(a.Passed), result(b.Passed))
	}
	for i := 0; i < len(a.Endpoints) || i < len(b.Endpoints); i++ {
		if i >= len(a.Endpoints) {
			add(KindEndpoints, "new endpoint check %q", b.Endpoints[i].Title)
			continue
		}
		if i >= len(b.Endpoints) {
			add(KindEndpoints, "endpoint check %q missing", a.Endpoints[i].Title)
			continue
		}
		ta, tb := a.Endpoints[i], b.Endpoints[i]
		for _, loc := range keys(ta.Rows, tb.Rows) {
			ra, okA := ta.Rows[loc]
			rb, okB := tb.Rows[loc]
			switch {
			case !okA:
				add(KindEndpoints, "%s: %s appears (%s)", ta.Title, loc, rb)
			case !okB:
				add(KindEndpoints, "%s: %s vanishes (was %s)", ta.Title, loc, ra)
			default:
				if ra.Priority != rb.Priority {
					add(KindEndpoints, "%s: %s priority %d → %d", ta.Title, loc, ra.Priority, rb.Priority)
				}
				if ra.Weight != rb.Weight {
					add(KindEndpoints, "%s: %s weight %d → %d", ta.Title, loc, ra.Weight, rb.Weight)
				}
				if ra.Hosts != rb.Hosts {
					add(KindEndpoints, "%s: %s hosts %d → %d", ta.Title, loc, ra.Hosts, rb.Hosts)
				}
				if ra.Healthy != rb.Healthy {
					add(KindEndpoints, "%s: %s healthy hosts %d → %d", ta.Title, loc, ra.Healthy, rb.Healthy)
				}
			}
		}
	}
	for i := 0; i < len(a.Splits) || i < len(b.Splits); i++ {
		if i >= len(a.Splits) {
			add(KindSplit, "new split %q", b.Splits[i].Title)
			continue
		}
		if i >= len(b.Splits) {
			add(KindSplit, "split %q missing", a.Splits[i].Title)
			continue
		}
		c, t := diffSplit(a.Name, a.Splits[i], b.Splits[i])
		out = append(out, c...)
		if t != nil {
			random = append(random, *t)
		}
	}
	return out, random
}

// diffSplit compares one batch of a scenario in two runs: its declared
// buckets and expected shares, then its counts. A random split's test is
// returned for Diff to decide at the Bonferroni level.
func diffSplit(scenario string, a, b Split) ([]Change, *pendingTest) {
	var out []Change
	add := func(format string, args ...any) {
		out = append(out, Change{Scenario: scenario, Kind: KindSplit, What: a.Title + ": " + fmt.Sprintf(format, args...)})
	}
	ra, rb := map[string]split.Row{}, map[string]split.Row{}
	for _, r := range a.Rows {
		ra[r.Bucket] = r
	}
	for _, r := range b.Rows {
		rb[r.Bucket] = r
	}
	interior := false
	for _, bk := range keys(ra, rb) {
		x, okA := ra[bk]
		y, okB := rb[bk]
		switch {
		case !okA:
			if y.Declared {
				add("%s now declared (expected %s)", bk, share(y))
			}
		case !okB:
			if x.Declared {
				add("%s no longer declared (was expected %s)", bk, share(x))
			}
		case x.Declared != y.Declared || x.Expected != y.Expected:
			add("%s expected %s → %s", bk, share(x), share(y))
		}
		if x.Declared && x.Expected > 0 && x.Expected < 1 {
			interior = true
		}
	}
	if len(out) > 0 {
		// A different expectation: the counts answer a different question.
		return out, nil
	}
	ca, cb := map[string]int{}, map[string]int{}
	for _, r := range a.Rows {
		ca[r.Bucket] = r.Observed
	}
	for _, r := range b.Rows {
		cb[r.Bucket] = r.Observed
	}
	na, nb := float64(max(a.N, 1)), float64(max(b.N, 1))
	switch {
	case !interior:
		// Every bucket 0% or 100%: any difference of shares is a change.
		for _, bk := range keys(ca, cb) {
			if sa, sb := float64(ca[bk])/na, float64(cb[bk])/nb; math.Abs(sa-sb) > 1e-12 {
				add("%s observed %.1f%% → %.1f%% (%d of %d → %d of %d)", bk, 100*sa, 100*sb, ca[bk], a.N, cb[bk], b.N)
			}
		}
		return out, nil
	case a.Check == split.CheckSchedule && b.Check == split.CheckSchedule:
		// Deterministic in both runs: the shares may differ by at most the
		// two runs' schedule bounds (each row's half-width).
		for _, bk := range keys(ca, cb) {
			x, y := ra[bk], rb[bk]
			slack := float64(x.Hi-x.Lo)/2/na + float64(y.Hi-y.Lo)/2/nb
			if sa, sb := float64(ca[bk])/na, float64(cb[bk])/nb; math.Abs(sa-sb) > slack+1e-12 {
				add("%s observed %.1f%% → %.1f%% (%d of %d → %d of %d): a deterministic schedule moved beyond its bound (±%.2f points)",
					bk, 100*sa, 100*sb, ca[bk], a.N, cb[bk], b.N, 100*slack)
			}
		}
		return out, nil
	}
	t := split.CompareCounts(ca, cb)
	if t.Test == "" {
		// At most one bucket with traffic in both runs and no change there:
		// nothing random to test (a difference shows in the results).
		if t.P < 1 {
			add("counts changed: %s", shares(t))
		}
		return out, nil
	}
	return out, &pendingTest{scenario: scenario, title: a.Title, test: t}
}

func share(r split.Row) string {
	if !r.Declared {
		return "undeclared"
	}
	return fmt.Sprintf("%.1f%%", 100*r.Expected)
}

func keys[V any](ms ...map[string]V) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Format prints changes grouped by scenario, each marked with its kind
// (result, endpoints, split), for CI logs.
func Format(changes []Change) string {
	if len(changes) == 0 {
		return "no behavioural change\n"
	}
	var b strings.Builder
	n := map[ChangeKind]int{}
	for _, c := range changes {
		n[c.Kind]++
	}
	fmt.Fprintf(&b, "%d behavioural change(s): %d result, %d endpoint table, %d split\n",
		len(changes), n[KindResult], n[KindEndpoints], n[KindSplit])
	last := ""
	for _, c := range changes {
		if c.Scenario != last {
			fmt.Fprintf(&b, "%s\n", c.Scenario)
			last = c.Scenario
		}
		kind := c.Kind
		if kind == "" {
			kind = "change"
		}
		fmt.Fprintf(&b, "  - [%s] %s\n", kind, c.What)
	}
	return b.String()
}

// Header states how Diff compares a and b: the tests, the per-split level
// for the number of random splits the two runs share, and the power of the
// two-bucket test at the smallest N among them to see a 5- and a 10-point
// shift from 50/50 (the hardest split). It is "" when no random split is
// compared.
func Header(a, b Fingerprint, opts DiffOptions) string {
	var random []pendingTest
	am, bm := index(a), index(b)
	nmin := 0
	for name, sa := range am {
		sb, ok := bm[name]
		if !ok {
			continue
		}
		for i := 0; i < len(sa.Splits) && i < len(sb.Splits); i++ {
			if c, t := diffSplit(name, sa.Splits[i], sb.Splits[i]); len(c) == 0 && t != nil {
				random = append(random, *t)
				n := min(sa.Splits[i].N, sb.Splits[i].N)
				if nmin == 0 || n < nmin {
					nmin = n
				}
			}
		}
	}
	if len(random) == 0 {
		return ""
	}
	alpha := opts.rate() / float64(len(random))
	return fmt.Sprintf("counts: two-sample tests (Fisher's exact for 2 buckets, chi-squared on the 2×k table otherwise) over %d random splits, "+
		"family-wise false-change rate %s (Bonferroni: p ≤ %s per split); deterministic schedules within their bounds, 0%%/100%% splits exactly\n"+
		"power at N=%d per run (the smallest), from 50/50: %.0f%% for a 5-point shift, %.0f%% for a 10-point shift\n",
		len(random), split.FormatP(opts.rate()), split.FormatP(alpha), nmin,
		100*split.FisherPower(nmin, nmin, 0.5, 0.55, alpha), 100*split.FisherPower(nmin, nmin, 0.5, 0.6, alpha))
}
