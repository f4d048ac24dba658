package fingerprint

import (
	"fmt"
	"sort"
	"strings"

	"github.com/localitylb/locality-e2e/framework/split"
)

// Change is one behavioural difference in one scenario.
type Change struct {
	Scenario string
	What     string
}

func (c Change) String() string { return c.Scenario + ": " + c.What }

// DiffOptions tune Diff.
type DiffOptions struct {
	// OnlyCommon ignores scenarios present in one run only (a filtered run
	// compared with a full one).
	OnlyCommon bool
}

// Diff lists the behavioural changes from a to b: a scenario's result, an
// endpoint table row (priority, weight, hosts, healthy), a locality
// appearing or vanishing, an expected share, or an observed count of b
// outside a's accepted range for that bucket. Observed counts that stay in
// range are sampling noise and are not reported.
func Diff(a, b Fingerprint, opts DiffOptions) []Change {
	var out []Change
	am, bm := index(a), index(b)
	for _, name := range keys(am, bm) {
		sa, inA := am[name]
		sb, inB := bm[name]
		switch {
		case !inA && !inB:
		case !inA:
			if !opts.OnlyCommon {
				out = append(out, Change{name, "new scenario"})
			}
		case !inB:
			if !opts.OnlyCommon {
				out = append(out, Change{name, "scenario missing"})
			}
		default:
			out = append(out, diffScenario(sa, sb)...)
		}
	}
	return out
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

func diffScenario(a, b Scenario) []Change {
	var out []Change
	add := func(format string, args ...any) { out = append(out, Change{a.Name, fmt.Sprintf(format, args...)}) }
	if a.Passed != b.Passed {
		add("result %s → %s", result(a.Passed), result(b.Passed))
	}
	for i := 0; i < len(a.Endpoints) || i < len(b.Endpoints); i++ {
		if i >= len(a.Endpoints) {
			add("new endpoint check %q", b.Endpoints[i].Title)
			continue
		}
		if i >= len(b.Endpoints) {
			add("endpoint check %q missing", a.Endpoints[i].Title)
			continue
		}
		ta, tb := a.Endpoints[i], b.Endpoints[i]
		for _, loc := range keys(ta.Rows, tb.Rows) {
			ra, okA := ta.Rows[loc]
			rb, okB := tb.Rows[loc]
			switch {
			case !okA:
				add("%s: %s appears (%s)", ta.Title, loc, rb)
			case !okB:
				add("%s: %s vanishes (was %s)", ta.Title, loc, ra)
			default:
				if ra.Priority != rb.Priority {
					add("%s: %s priority %d → %d", ta.Title, loc, ra.Priority, rb.Priority)
				}
				if ra.Weight != rb.Weight {
					add("%s: %s weight %d → %d", ta.Title, loc, ra.Weight, rb.Weight)
				}
				if ra.Hosts != rb.Hosts {
					add("%s: %s hosts %d → %d", ta.Title, loc, ra.Hosts, rb.Hosts)
				}
				if ra.Healthy != rb.Healthy {
					add("%s: %s healthy hosts %d → %d", ta.Title, loc, ra.Healthy, rb.Healthy)
				}
			}
		}
	}
	for i := 0; i < len(a.Splits) || i < len(b.Splits); i++ {
		if i >= len(a.Splits) {
			add("new split %q", b.Splits[i].Title)
			continue
		}
		if i >= len(b.Splits) {
			add("split %q missing", a.Splits[i].Title)
			continue
		}
		out = append(out, diffSplit(a.Name, a.Splits[i], b.Splits[i])...)
	}
	return out
}

func diffSplit(scenario string, a, b Split) []Change {
	var out []Change
	add := func(format string, args ...any) {
		out = append(out, Change{scenario, a.Title + ": " + fmt.Sprintf(format, args...)})
	}
	ra, rb := map[string]int{}, map[string]int{}
	for i, r := range a.Rows {
		ra[r.Bucket] = i
	}
	for i, r := range b.Rows {
		rb[r.Bucket] = i
	}
	for _, bk := range keys(ra, rb) {
		ia, okA := ra[bk]
		ib, okB := rb[bk]
		switch {
		case !okA:
			r := b.Rows[ib]
			if r.Observed > 0 || r.Declared {
				add("%s now gets %d of %d", bk, r.Observed, b.N)
			}
		case !okB:
			r := a.Rows[ia]
			if r.Observed > 0 || r.Declared {
				add("%s no longer listed (had %d of %d)", bk, r.Observed, a.N)
			}
		default:
			x, y := a.Rows[ia], b.Rows[ib]
			if x.Declared != y.Declared || x.Expected != y.Expected {
				add("%s expected %s → %s", bk, share(x), share(y))
				continue
			}
			// Compare as shares so runs with different N stay comparable.
			lo, hi := float64(x.Lo)/float64(max(a.N, 1)), float64(x.Hi)/float64(max(a.N, 1))
			obs := float64(y.Observed) / float64(max(b.N, 1))
			if obs < lo-1e-9 || obs > hi+1e-9 {
				add("%s observed %.1f%% (%d of %d), outside the accepted %.1f%%–%.1f%%", bk, 100*obs, y.Observed, b.N, 100*lo, 100*hi)
			}
		}
	}
	return out
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

// Format prints changes grouped by scenario, for CI logs.
func Format(changes []Change) string {
	if len(changes) == 0 {
		return "no behavioural change\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d behavioural change(s):\n", len(changes))
	last := ""
	for _, c := range changes {
		if c.Scenario != last {
			fmt.Fprintf(&b, "%s\n", c.Scenario)
			last = c.Scenario
		}
		fmt.Fprintf(&b, "  - %s\n", c.What)
	}
	return b.String()
}
