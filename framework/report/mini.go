package report

// This file owns the first screen's data: a scenario's label family and
// its inline chart (every batch it sent as small bars, drawn as a plain
// SVG so a row stays one line high), and the run's requests per split.

import (
	"fmt"
	"html/template"
	"image/color"
	"sort"
	"strings"

	"github.com/localitylb/locality-e2e/framework/split"
)

// Inline chart geometry, in CSS pixels.
const (
	miniHeight = 22 // plot height; the SVG adds 2 px for the expected marks
	miniBar    = 7  // bar width
	miniStep   = 9  // bar pitch
	miniGap    = 8  // between two batches
	miniMaxBat = 6  // batches drawn; more are counted in the title
)

// otherFamily holds scenarios without a "family:name" label.
const otherFamily = "other"

// Family is the scenario's label family: the part before ":" of its first
// label of the form family:name (locality:failover → locality,
// mesh-config:cluster-local → mesh-config), else "other".
func Family(labels []string) string {
	for _, l := range labels {
		if i := strings.Index(l, ":"); i > 0 {
			return l[:i]
		}
	}
	return otherFamily
}

func hex(c color.NRGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// MiniChart draws the batches of one scenario side by side: per bucket a
// bar of its observed share (green inside its accepted interval, red
// outside) with a blue tick at its expected share, each batch scaled to
// its largest share so that an even 4-way split fills the height as a
// 100/0 one does. It returns "" when the scenario sent no batch.
func MiniChart(tables []split.Table) template.HTML {
	if len(tables) == 0 {
		return ""
	}
	shown := tables[:min(len(tables), miniMaxBat)]
	width := 0
	for i, t := range shown {
		if i > 0 {
			width += miniGap
		}
		width += max(1, len(t.Rows)) * miniStep
	}
	h := miniHeight + 2
	var b strings.Builder
	var title []string
	x := 0
	for i, t := range shown {
		if i > 0 {
			x += miniGap
		}
		n := denominator(t)
		x0 := x
		top := 0.0
		for _, r := range t.Rows {
			top = max(top, shareOf(r.Observed, n)/100)
			if r.Declared {
				top = max(top, r.Expected)
			}
		}
		if top == 0 {
			top = 1
		}
		for _, r := range t.Rows {
			frac := shareOf(r.Observed, n) / 100 / top
			bh := frac * miniHeight
			if r.Observed > 0 && bh < 1 {
				bh = 1
			}
			fill := colorOK
			if !r.OK {
				fill = colorBad
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"/>`,
				x, 1+miniHeight-bh, miniBar, bh, hex(fill))
			if r.Declared {
				fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%d" height="1.5" fill="%s"/>`,
					x-1, 1+miniHeight*(1-r.Expected/top)-0.75, miniBar+2, hex(colorExpected))
			}
			x += miniStep
		}
		if len(t.Rows) == 0 {
			x += miniStep
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#8a8f98" stroke-width="1"/>`, x0, x-(miniStep-miniBar), h-1, h-1)
		verdict := "inside"
		for _, r := range t.Rows {
			if !r.OK {
				verdict = "outside"
			}
		}
		title = append(title, fmt.Sprintf("N=%d, %d buckets, %s their intervals (full height: %.0f%%)", t.N, len(t.Rows), verdict, 100*top))
	}
	if more := len(tables) - len(shown); more > 0 {
		title = append(title, fmt.Sprintf("and %d more batches", more))
	}
	svg := fmt.Sprintf(`<svg class="mini" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img"><title>%s</title>%s</svg>`,
		width, h, width, h, template.HTMLEscapeString(strings.Join(title, "; ")), b.String())
	return template.HTML(svg)
}

// Requests summarises the batch sizes of a run: the most common N and the
// range, e.g. "3000" or "3000 (1000–5200)". Empty when no batch was sent.
func (p Page) Requests() string {
	count := map[int]int{}
	for _, s := range p.Scenarios {
		for _, sp := range s.Splits {
			count[sp.Table.N]++
		}
	}
	if len(count) == 0 {
		return ""
	}
	ns := make([]int, 0, len(count))
	for n := range count {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	mode := ns[0]
	for _, n := range ns {
		if count[n] > count[mode] {
			mode = n
		}
	}
	if len(ns) == 1 {
		return fmt.Sprint(mode)
	}
	return fmt.Sprintf("%d (%d–%d)", mode, ns[0], ns[len(ns)-1])
}
