package report

import (
	"strings"
	"testing"

	"github.com/localitylb/locality-e2e/framework/split"
)

func TestFamily(t *testing.T) {
	for _, tc := range []struct {
		labels []string
		want   string
	}{
		{[]string{"locality:failover"}, "locality"},
		{[]string{"multicluster", "mesh-config", "mesh-config:cluster-local"}, "mesh-config"},
		{[]string{"multicluster", "multinetwork", "multicluster:gateway"}, "multicluster"},
		{[]string{"zone-aware:topology"}, "zone-aware"},
		{[]string{"slow"}, "other"},
		{nil, "other"},
	} {
		if got := Family(tc.labels); got != tc.want {
			t.Errorf("Family(%q) = %q, want %q", tc.labels, got, tc.want)
		}
	}
}

// TestFamiliesOrder: by name, "other" last, each keeping the page's order.
func TestFamiliesOrder(t *testing.T) {
	sv := func(name, fam string, r Result) scenarioView {
		return scenarioView{Scenario: Scenario{Name: name, Result: r}, Family: fam}
	}
	got := families([]scenarioView{sv("a", "other", Passed), sv("b", "multicluster", Failed), sv("c", "locality", Passed), sv("d", "multicluster", Passed)})
	var names []string
	for _, f := range got {
		names = append(names, f.Name)
	}
	if strings.Join(names, " ") != "locality multicluster other" {
		t.Fatalf("families %v", names)
	}
	if m := got[1]; m.Failed != 1 || m.Passed != 1 || m.Scenarios[0].Name != "b" {
		t.Errorf("multicluster: %+v", m)
	}
}

func TestRequests(t *testing.T) {
	p := Page{Scenarios: []Scenario{
		{Splits: []Split{{Table: split.Table{N: 3000}}, {Table: split.Table{N: 3000}}}},
		{Splits: []Split{{Table: split.Table{N: 5200}}}},
		{Splits: []Split{{Table: split.Table{N: 1000}}}},
	}}
	if got := p.Requests(); got != "3000 (1000–5200)" {
		t.Errorf("Requests() = %q", got)
	}
	if got := (Page{}).Requests(); got != "" {
		t.Errorf("no batch: %q", got)
	}
}

// TestMiniChart: one bar per bucket in its verdict's colour, heights
// proportional to the observed counts within the batch, an expected tick
// per declared bucket; nothing for a scenario without batches.
func TestMiniChart(t *testing.T) {
	if MiniChart(nil) != "" {
		t.Error("a scenario without batches has an inline chart")
	}
	svg := string(MiniChart([]split.Table{failing, weighted}))
	doc := parse(t, svg)
	var red, green, ticks int
	var heights []string
	for _, r := range all(doc, tag("rect")) {
		switch attr(r, "fill") {
		case hex(colorBad):
			red++
			heights = append(heights, attr(r, "height"))
		case hex(colorOK):
			green++
			heights = append(heights, attr(r, "height"))
		case hex(colorExpected):
			ticks++
		}
	}
	// failing: 3 buckets, all outside; weighted: 3 buckets, all inside.
	if red != 3 || green != 3 {
		t.Errorf("%d red and %d green bars, want 3 and 3", red, green)
	}
	// Declared buckets: kr/a, kr/c of failing; kr/a, kr/b, kr/c of weighted.
	if ticks != 5 {
		t.Errorf("%d expected ticks, want 5", ticks)
	}
	// failing scales to 612/1000 (its largest share): 612 → 22 px, 371 →
	// 13.3, 17 → 0.6 shown as 1; weighted to 0.904 → 22, 0 → 0, 96 → 2.3.
	if want := "22.0 13.3 1.0 22.0 0.0 2.3"; strings.Join(heights, " ") != want {
		t.Errorf("bar heights %v, want %s", heights, want)
	}
	if !strings.Contains(svg, `class="mini"`) || !strings.Contains(svg, "outside their intervals") {
		t.Errorf("inline chart lacks its class or title: %.200s", svg)
	}
}
