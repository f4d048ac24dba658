package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/localitylb/locality-e2e/framework/fingerprint"
	"github.com/localitylb/locality-e2e/framework/split"
)

// knownUpgrade: the weighted scenario's kr/c drops out of its range after
// the upgrade, the failover scenario is unchanged, and a traffic timeline.
func knownUpgrade() (fingerprint.Fingerprint, fingerprint.Fingerprint, *Timeline) {
	sc := func(name string, t split.Table) fingerprint.Scenario {
		return fingerprint.Scenario{Name: name, Passed: t.OK(), Splits: []fingerprint.Split{{Title: "split by locality from netshoot-b", Rule: t.Rule, N: t.N, Rows: t.Rows}}}
	}
	after := weighted
	after.Rows = append([]split.Row(nil), weighted.Rows...)
	after.Rows[0].Observed, after.Rows[2].Observed = 800, 200
	after.Rows[0].OK, after.Rows[2].OK = false, false
	from := fingerprint.Fingerprint{Backend: "kind", IstioVersion: "1.27.3", Scenarios: []fingerprint.Scenario{
		sc("Weighted distribute splits 90/10", weighted), sc("Baseline spreads over the pods", byPod)}}
	to := fingerprint.Fingerprint{Backend: "kind", IstioVersion: "1.28.0", Scenarios: []fingerprint.Scenario{
		sc("Weighted distribute splits 90/10", after), sc("Baseline spreads over the pods", byPod)}}
	tl := &Timeline{Title: "Requests from netshoot-b during the upgrade", YLabel: "requests per second", Events: []Event{
		{At: 20 * time.Second, Label: "istiod 1.28.0 ready"}, {At: 35 * time.Second, Label: "sidecars restarted"}}}
	ok := Series{Name: "200"}
	bad := Series{Name: "503"}
	for s := 0; s <= 60; s += 5 {
		v, e := 95.0, 0.0
		if s >= 35 && s <= 45 {
			v, e = 80, 15
		}
		ok.Points = append(ok.Points, TimePoint{At: time.Duration(s) * time.Second, Value: v})
		bad.Points = append(bad.Points, TimePoint{At: time.Duration(s) * time.Second, Value: e})
	}
	tl.Series = []Series{ok, bad}
	return from, to, tl
}

func renderUpgrade(t *testing.T) string {
	t.Helper()
	from, to, tl := knownUpgrade()
	p := UpgradeFromFingerprints(from, to, fingerprint.Diff(from, to, fingerprint.DiffOptions{}))
	p.Timeline = tl
	p.From.Page, p.To.Page = "from/index.html", "to/index.html"
	var b bytes.Buffer
	if err := RenderUpgrade(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestUpgradePageShowsChangedScenariosSideBySideAndTheTimeline(t *testing.T) {
	doc := parse(t, renderUpgrade(t))
	sections := all(doc, tag("section", "changed"))
	if len(sections) != 1 || attr(sections[0], "data-name") != "Weighted distribute splits 90/10" {
		t.Fatalf("changed sections: %d, want only the weighted scenario", len(sections))
	}
	s := sections[0]
	// The changes are fingerprint.Diff's, word for word.
	from, to, _ := knownUpgrade()
	changes := fingerprint.Diff(from, to, fingerprint.DiffOptions{})
	lis := all(all(s, tag("ul", "changes"))[0], tag("li"))
	if len(changes) == 0 || len(lis) != len(changes) {
		t.Fatalf("%d changes listed, fingerprint.Diff finds %d", len(lis), len(changes))
	}
	for i, c := range changes {
		if got := textOf(lis[i]); got != c.What {
			t.Errorf("change %d: %q, want %q", i, got, c.What)
		}
	}
	figs := all(s, tag("figure", "pair"))
	if len(figs) != 1 {
		t.Fatalf("%d comparison charts, want 1", len(figs))
	}
	svg := all(figs[0], tag("svg"))
	if len(svg) != 1 {
		t.Fatalf("%d svg, want 1", len(svg))
	}
	var texts []string
	for _, tx := range all(svg[0], tag("text")) {
		texts = append(texts, strings.TrimSpace(textOf(tx)))
	}
	joined := "|" + strings.Join(texts, "|") + "|"
	for _, l := range []string{"904", "800", "96", "200", "kr/a", "kr/b", "kr/c"} {
		if !strings.Contains(joined, "|"+l+"|") {
			t.Errorf("comparison chart lacks %q: %q", l, texts)
		}
	}
	// Six bars (three buckets, before and after); the two that left the
	// earlier interval are red, the before bars grey.
	var red, grey int
	for _, p := range all(svg[0], tag("path")) {
		st := strings.ToLower(attr(p, "style"))
		switch {
		case strings.Contains(st, "fill:#f18f8f"):
			red++
		case strings.Contains(st, "fill:#bdc3cb"):
			grey++
		}
	}
	if red != 2 || grey != 3 {
		t.Errorf("red bars %d, grey bars %d; want 2 and 3", red, grey)
	}
	sides := all(figs[0], func(n *html.Node) bool { return n.Data == "div" && hasClass(n, "side") })
	if len(sides) != 2 {
		t.Fatalf("%d data tables, want before and after", len(sides))
	}
	after := all(sides[1], func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-bucket") == "kr/c" })
	if len(after) != 1 || attr(after[0], "data-observed") != "200" || attr(after[0], "data-lo") != "70" || attr(after[0], "data-hi") != "133" {
		t.Errorf("after table's kr/c row wrong")
	}

	tl := all(doc, tag("section", "timeline"))
	if len(tl) != 1 || len(all(tl[0], tag("svg"))) != 1 {
		t.Fatalf("no timeline chart")
	}
	tlText := textOf(tl[0])
	for _, l := range []string{"Requests from netshoot-b during the upgrade", "istiod 1.28.0 ready", "sidecars restarted", "200", "503", "requests per second"} {
		if !strings.Contains(tlText, l) {
			t.Errorf("timeline lacks %q", l)
		}
	}
	if head := textOf(all(doc, tag("header"))[0]); !strings.Contains(head, "1.27.3") || !strings.Contains(head, "1.28.0") || !strings.Contains(head, fmt.Sprintf("%d behavioural change", len(changes))) {
		t.Errorf("header %q lacks the versions or the verdict", head)
	}
}

func TestUpgradePageWithoutChanges(t *testing.T) {
	from, _, _ := knownUpgrade()
	p := UpgradeFromFingerprints(from, from, nil)
	var b bytes.Buffer
	if err := RenderUpgrade(&b, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No scenario changed beyond sampling noise.") || !strings.Contains(b.String(), "no behavioural change") {
		t.Error("an unchanged upgrade does not say so")
	}
}
