package steps

import (
	"strings"
	"testing"
	"time"
)

func slot(i int, phase string, by map[string]int, errs map[string]int) TimelineSlot {
	n := 0
	for _, c := range by {
		n += c
	}
	for _, c := range errs {
		n += c
	}
	return TimelineSlot{Index: i, Elapsed: time.Duration(i) * time.Second, Phase: phase, ByLocality: by, Errors: errs, Total: n}
}

func TestTimelineViolations(t *testing.T) {
	tl := Timeline{Client: "netshoot-b", Batch: 20, Slots: []TimelineSlot{
		slot(0, "before", map[string]int{"kr/b": 20}, nil),
		slot(1, "restart", map[string]int{"kr/b": 18, "kr/a": 1}, map[string]int{"503 upstream connect error": 1}),
		slot(2, "restart", map[string]int{"kr/b": 20}, nil),
		slot(3, "after", map[string]int{"kr/b": 20}, nil),
	}}
	ok := TimelineInvariants{Phases: []string{"before", "after"}, Stay: []string{"kr/b"}, MinBatches: 1}
	if v := tl.Violations(ok); len(v) != 0 {
		t.Errorf("phases before/after: %v", v)
	}
	v := tl.Violations(TimelineInvariants{Stay: []string{"kr/b"}, MaxErrorFraction: 0.001, MinBatches: 2})
	want := []string{
		"batch 1 (restart, 1s): kr/a 1 left kr/b",
		`phase "before": 1 batches, want at least 2 (traffic did not flow during it)`,
		`phase "after": 1 batches, want at least 2 (traffic did not flow during it)`,
		"1 errors in 80 requests (1.25%), bound 0.10%",
	}
	if strings.Join(v, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations\n%s\nwant\n%s", strings.Join(v, "\n"), strings.Join(want, "\n"))
	}
	// A 2% bound accepts the one error.
	if v := tl.Violations(TimelineInvariants{MaxErrorFraction: 0.02}); len(v) != 0 {
		t.Errorf("bound 2%%: %v", v)
	}
	s := tl.String()
	for _, w := range []string{"steady traffic from netshoot-b, batches of 20", "restart", "503 upstream connect error 1", "Σ"} {
		if !strings.Contains(s, w) {
			t.Errorf("timeline lacks %q:\n%s", w, s)
		}
	}
	if got := tl.Phases(); strings.Join(got, ",") != "before,restart,after" {
		t.Errorf("phases %v", got)
	}
}
