package fingerprint

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// SummaryWidth is the widest line PrintSummary writes, in columns.
const SummaryWidth = 120

// Column widths of the summary: result, scenario, split, two spaces
// between columns.
const (
	summaryResultWidth   = 6
	summaryScenarioWidth = 64
	summarySplitWidth    = SummaryWidth - summaryResultWidth - summaryScenarioWidth - 4
)

// PrintSummary writes the run's summary table, at most SummaryWidth
// columns wide: scenario → result → the observed count of every bucket of
// every batch it sent. Scenario names and splits wrap inside their
// columns; nothing is cut, and the full names are also in the reports.
func PrintSummary(w io.Writer, fp Fingerprint) {
	fmt.Fprintf(w, "\n%s\n", clip(fmt.Sprintf("locality-e2e summary: %s backend, %s", fp.Backend, fp.IstioVersion), SummaryWidth))
	row := func(res string, name, splits []string) {
		for i := 0; i < len(name) || i < len(splits); i++ {
			r := ""
			if i == 0 {
				r = res
			}
			line := pad(r, summaryResultWidth) + "  " + pad(at(name, i), summaryScenarioWidth) + "  " + at(splits, i)
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
	}
	row("result", []string{"scenario"}, []string{"split (bucket observed /N)"})
	for _, s := range fp.Scenarios {
		var splits []string
		for _, sp := range s.Splits {
			var parts []string
			for i, r := range sp.Rows {
				mark, sep := "", ","
				if !r.OK {
					mark = " ✗"
				}
				if i == len(sp.Rows)-1 {
					sep = fmt.Sprintf(" /%d", sp.N)
				}
				parts = append(parts, fmt.Sprintf("%s %d%s%s", r.Bucket, r.Observed, mark, sep))
			}
			splits = append(splits, wrapItems(parts, summarySplitWidth)...)
		}
		if len(splits) == 0 {
			splits = []string{"-"}
		}
		res := summaryResult(s.Passed)
		if s.Skipped != "" {
			res, splits = "skip", wrap("skipped: "+s.Skipped, summarySplitWidth)
		}
		row(res, wrap(s.Name, summaryScenarioWidth), splits)
	}
}

func summaryResult(passed bool) string {
	if passed {
		return "passed"
	}
	return "FAILED"
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return ""
}

// pad fills s with spaces to width columns (one column per rune).
func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

// clip shortens s to width columns, ending it with "…" when cut.
func clip(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	return string(r[:width-1]) + "…"
}

// wrap breaks s into lines of at most width columns at spaces; a word
// longer than width is split.
func wrap(s string, width int) []string {
	return wrapItems(strings.Fields(s), width)
}

// wrapItems lays items out on lines of at most width columns, separated by
// a space; an item breaks only when it is wider than a line (at its spaces
// first, then anywhere).
func wrapItems(items []string, width int) []string {
	var lines []string
	var cur []rune
	for _, item := range items {
		wr := []rune(item)
		if len(wr) > width {
			if len(cur) > 0 {
				lines = append(lines, string(cur))
				cur = nil
			}
			var parts []string
			if strings.ContainsRune(item, ' ') {
				parts = wrap(item, width)
			} else {
				for len(wr) > width {
					parts = append(parts, string(wr[:width]))
					wr = wr[width:]
				}
				parts = append(parts, string(wr))
			}
			lines = append(lines, parts[:len(parts)-1]...)
			wr = []rune(parts[len(parts)-1])
		}
		switch {
		case len(cur) == 0:
			cur = wr
		case len(cur)+1+len(wr) <= width:
			cur = append(append(cur, ' '), wr...)
		default:
			lines = append(lines, string(cur))
			cur = wr
		}
	}
	if len(cur) > 0 || len(lines) == 0 {
		lines = append(lines, string(cur))
	}
	return lines
}
