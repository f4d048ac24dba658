package fingerprint

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// PrintSummary writes the run's summary table: scenario → result → the
// observed count of every bucket of every batch it sent.
func PrintSummary(w io.Writer, fp Fingerprint) {
	fmt.Fprintf(w, "\nlocality-e2e summary: %s backend, %s\n", fp.Backend, fp.IstioVersion)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tresult\tsplit (bucket observed/N)")
	for _, s := range fp.Scenarios {
		var splits []string
		for _, sp := range s.Splits {
			var parts []string
			for _, r := range sp.Rows {
				mark := ""
				if !r.OK {
					mark = " ✗"
				}
				parts = append(parts, fmt.Sprintf("%s %d%s", r.Bucket, r.Observed, mark))
			}
			splits = append(splits, fmt.Sprintf("%s /%d", strings.Join(parts, ", "), sp.N))
		}
		if len(splits) == 0 {
			splits = []string{"-"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, result(s.Passed), strings.Join(splits, "; "))
	}
	_ = tw.Flush()
}
