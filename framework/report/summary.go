// Package report turns a Ginkgo suite report into the summary table printed
// at the end of a run (scenario → result → split) and the behaviour
// fingerprint used to compare Istio versions.
package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/onsi/ginkgo/v2/types"
)

// PrintSummary writes one line per spec: its name, its result, and the
// observed split of each batch it sent.
func PrintSummary(w io.Writer, r types.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nscenario\tresult\tsplit (observed)")
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		var splits []string
		for _, e := range s.ReportEntries {
			if strings.HasPrefix(e.Name, "split by ") {
				splits = append(splits, observed(e.StringRepresentation()))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.FullText(), s.State, strings.Join(splits, "; "))
	}
	_ = tw.Flush()
}

// observed pulls "bucket count" pairs out of a split table's text.
func observed(table string) string {
	var out []string
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(strings.TrimLeft(strings.TrimSpace(line), "✗✓ "))
		if len(f) < 4 || !strings.Contains(line, "%") || strings.HasPrefix(strings.TrimSpace(line), "split") || f[0] == "bucket" {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, " | ")
}
