package fingerprint

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSummaryFitsIn120ColumnsAndKeepsEverything(t *testing.T) {
	fp := load(t)
	fp.Scenarios[0].Passed = false
	fp.Scenarios[0].Name += " with a_word_much_longer_than_the_scenario_column_so_that_it_has_to_be_split_somewhere_in_the_middle"
	var b bytes.Buffer
	PrintSummary(&b, fp)
	out := b.String()
	for i, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > SummaryWidth {
			t.Errorf("line %d is %d columns wide:\n%s", i+1, n, line)
		}
	}
	// Every scenario name survives, wrapped: its words appear in order.
	flat := strings.Join(strings.Fields(out), " ")
	for _, s := range fp.Scenarios {
		pos := 0
		for _, w := range strings.Fields(s.Name) {
			i := strings.Index(flat[pos:], w[:min(len(w), 40)])
			if i < 0 {
				t.Fatalf("scenario %q: word %q missing from the summary", s.Name, w)
			}
			pos += i
		}
		if len(s.Splits) > 0 && !strings.Contains(out, s.Splits[0].Rows[0].Bucket) {
			t.Errorf("scenario %q: bucket %q missing", s.Name, s.Splits[0].Rows[0].Bucket)
		}
	}
	if !strings.Contains(out, "FAILED") {
		t.Error("a failed scenario is not marked FAILED")
	}
}

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		in    string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"a bb ccc", 4, []string{"a bb", "ccc"}},
		{"abcdefghij k", 4, []string{"abcd", "efgh", "ij k"}},
		{"kr/a 900, kr/c 100 /1000", 12, []string{"kr/a 900,", "kr/c 100", "/1000"}},
	} {
		if got := wrap(tc.in, tc.width); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}

func TestWrapItemsKeepsABucketWithItsCount(t *testing.T) {
	items := []string{"helloworld-kr-a pod 1 228,", "helloworld-kr-a pod 2 240,", "kr/b 12 /2000"}
	got := wrapItems(items, 30)
	want := []string{"helloworld-kr-a pod 1 228,", "helloworld-kr-a pod 2 240,", "kr/b 12 /2000"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("wrapItems = %q, want %q", got, want)
	}
	if got := wrapItems([]string{"a very long bucket name indeed 5"}, 12); strings.Join(got, "|") != "a very long|bucket name|indeed 5" {
		t.Errorf("a long item: %q", got)
	}
}
