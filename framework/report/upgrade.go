package report

import (
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"time"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/localitylb/locality-e2e/framework/fingerprint"
	"github.com/localitylb/locality-e2e/framework/split"
)

// UpgradePage is the Istio upgrade check's page: what changed between the
// run before and the run after the upgrade, each changed scenario's splits
// old and new side by side, and the traffic during the upgrade.
type UpgradePage struct {
	Title    string
	From, To UpgradeRun
	// Verdict is the check's conclusion in a line, e.g. "2 behavioural
	// changes" or "sampling noise only".
	Verdict string
	// Method is how the runs were compared, fingerprint.Header's lines:
	// the tests, the per-split level and the power at the N used; "": none.
	Method    string
	Scenarios []UpgradeScenario // the changed scenarios
	// NotComparable lists the scenarios that ran in one run only
	// (fingerprint.NotComparable: skipped with a reason, or absent, in the
	// other), as "<scenario>: not comparable: <why>". Not changes.
	NotComparable []string
	// Timeline is the traffic sent while the upgrade ran; nil: none recorded.
	Timeline *Timeline
}

// UpgradeRun is one side of the comparison.
type UpgradeRun struct {
	Backend      string
	IstioVersion string
	// Page links that run's own page (e.g. "from/index.html", relative to
	// the upgrade page); empty: no link.
	Page string
}

// UpgradeScenario is one scenario that changed.
type UpgradeScenario struct {
	Name string
	// Changes as fingerprint.Diff words them.
	Changes []string
	// Old and New say how the scenario ended in each run: passed, failed,
	// or "" when it did not run there.
	Old, New Result
	Splits   []SplitPair
}

// SplitPair is one batch of a scenario in both runs; Old or New is nil
// when only one run sent it.
type SplitPair struct {
	Title    string
	Old, New *split.Table
}

// Timeline is traffic over time: one line per series (e.g. requests per
// second answered 200, 503, or sent to kr/a), with events (istiod
// upgraded, deployments restarted) marked.
type Timeline struct {
	Title  string
	YLabel string // e.g. "requests per second"
	Series []Series
	Events []Event
}

// Series is one line of a Timeline.
type Series struct {
	Name   string
	Points []TimePoint
}

// TimePoint is one sample: At since the timeline's start.
type TimePoint struct {
	At    time.Duration
	Value float64
}

// Event is a moment on a Timeline.
type Event struct {
	At    time.Duration
	Label string
}

// UpgradeFromFingerprints builds the page's scenarios from the two runs'
// fingerprints and fingerprint.Diff's changes: every scenario with a
// change, in the order of the changes, with its splits paired by position.
func UpgradeFromFingerprints(from, to fingerprint.Fingerprint, changes []fingerprint.Change) UpgradePage {
	p := UpgradePage{
		Title: fmt.Sprintf("locality-e2e upgrade check: Istio %s → %s", from.IstioVersion, to.IstioVersion),
		From:  UpgradeRun{Backend: from.Backend, IstioVersion: from.IstioVersion},
		To:    UpgradeRun{Backend: to.Backend, IstioVersion: to.IstioVersion},
	}
	switch len(changes) {
	case 0:
		p.Verdict = "no behavioural change (sampling noise only)"
	case 1:
		p.Verdict = "1 behavioural change"
	default:
		p.Verdict = fmt.Sprintf("%d behavioural changes", len(changes))
	}
	index := func(fp fingerprint.Fingerprint) map[string]fingerprint.Scenario {
		m := map[string]fingerprint.Scenario{}
		for _, s := range fp.Scenarios {
			m[s.Name] = s
		}
		return m
	}
	olds, news := index(from), index(to)
	pos := map[string]int{}
	for _, c := range changes {
		i, ok := pos[c.Scenario]
		if !ok {
			i = len(p.Scenarios)
			pos[c.Scenario] = i
			us := UpgradeScenario{Name: c.Scenario}
			o, inOld := olds[c.Scenario]
			n, inNew := news[c.Scenario]
			if inOld {
				us.Old = resultOf(o.Passed)
			}
			if inNew {
				us.New = resultOf(n.Passed)
			}
			for k := 0; k < len(o.Splits) || k < len(n.Splits); k++ {
				var sp SplitPair
				if k < len(o.Splits) {
					sp.Title, sp.Old = o.Splits[k].Title, tableOf(o.Splits[k])
				}
				if k < len(n.Splits) {
					sp.Title, sp.New = n.Splits[k].Title, tableOf(n.Splits[k])
				}
				us.Splits = append(us.Splits, sp)
			}
			p.Scenarios = append(p.Scenarios, us)
		}
		p.Scenarios[i].Changes = append(p.Scenarios[i].Changes, c.What)
	}
	return p
}

func resultOf(passed bool) Result {
	if passed {
		return Passed
	}
	return Failed
}

func tableOf(s fingerprint.Split) *split.Table {
	return &split.Table{Rule: s.Rule, N: s.N, Rows: s.Rows}
}

// ComparisonChart draws one batch of both runs: per bucket the old run's
// bar (grey) and the new run's (green when inside the old run's accepted
// interval, red when outside it, as fingerprint.Diff judges), each with
// its own accepted interval and expected share, and the observed counts.
func ComparisonChart(sp SplitPair) (string, error) {
	var buckets []string
	seen := map[string]bool{}
	for _, t := range []*split.Table{sp.Old, sp.New} {
		if t == nil {
			continue
		}
		for _, r := range t.Rows {
			if !seen[r.Bucket] {
				seen[r.Bucket] = true
				buckets = append(buckets, r.Bucket)
			}
		}
	}
	p := newPlot()
	nominalX(p, buckets)
	w := chartWidth(len(buckets))
	bw := barWidth(w, len(buckets), 2)
	rowOf := func(t *split.Table, b string) (split.Row, bool) {
		if t == nil {
			return split.Row{}, false
		}
		for _, r := range t.Rows {
			if r.Bucket == b {
				return r, true
			}
		}
		return split.Row{}, false
	}
	var iv intervals
	var ex, ey, lx, ly []float64
	var labels []string
	for side, t := range []*split.Table{sp.Old, sp.New} {
		if t == nil {
			continue
		}
		off := -0.2
		if side == 1 {
			off = 0.2
		}
		n := denominator(*t)
		for i, b := range buckets {
			r, ok := rowOf(t, b)
			if !ok {
				continue
			}
			x := float64(i) + off
			obs := shareOf(r.Observed, n)
			col := color.Color(colorOld)
			if side == 1 {
				col = colorOK
				if old, ok := rowOf(sp.Old, b); ok && outside(old, denominator(*sp.Old), r, n) || !r.OK {
					col = colorBad
				}
			}
			if err := bars(p, x, []float64{obs}, []color.Color{col}, bw); err != nil {
				return "", err
			}
			lo, hi := shareOf(r.Lo, n), shareOf(r.Hi, n)
			iv.x, iv.lo, iv.hi = append(iv.x, x), append(iv.lo, lo), append(iv.hi, hi)
			if r.Declared {
				ex, ey = append(ex, x), append(ey, 100*r.Expected)
			}
			lx, ly = append(lx, x), append(ly, math.Max(obs, hi))
			labels = append(labels, fmt.Sprintf("%d", r.Observed))
		}
	}
	top := 0.0
	for _, y := range append(append(append([]float64(nil), ly...), ey...), iv.hi...) {
		top = math.Max(top, y)
	}
	shareAxis(p, top)
	if err := addIntervals(p, iv, bw); err != nil {
		return "", err
	}
	if err := addExpected(p, ex, ey, bw); err != nil {
		return "", err
	}
	if len(lx) > 0 {
		if err := addLabels(p, lx, ly, labels, vg.Points(8)); err != nil {
			return "", err
		}
	}
	return svg(p, w, chartHeight)
}

// outside reports whether the new observation lies outside the old run's
// accepted interval, compared as shares (fingerprint.Diff's rule).
func outside(old split.Row, oldN int, r split.Row, n int) bool {
	if oldN <= 0 || n <= 0 {
		return false
	}
	lo, hi := float64(old.Lo)/float64(oldN), float64(old.Hi)/float64(oldN)
	obs := float64(r.Observed) / float64(n)
	return obs < lo-1e-9 || obs > hi+1e-9
}

// Series colours of the timeline (Okabe–Ito, readable by colour-blind
// people).
var seriesColors = []color.Color{
	color.NRGBA{R: 0x00, G: 0x72, B: 0xb2, A: 0xff},
	color.NRGBA{R: 0xd5, G: 0x5e, B: 0x00, A: 0xff},
	color.NRGBA{R: 0x00, G: 0x9e, B: 0x73, A: 0xff},
	color.NRGBA{R: 0xcc, G: 0x79, B: 0xa7, A: 0xff},
	color.NRGBA{R: 0xe6, G: 0x9f, B: 0x00, A: 0xff},
	color.NRGBA{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff},
	color.NRGBA{R: 0x00, G: 0x00, B: 0x00, A: 0xff},
}

// TimelineChart draws the timeline: a line per series over seconds since
// the start, events as dashed vertical lines labelled at the top.
func TimelineChart(tl Timeline) (string, error) {
	p := newPlot()
	p.X.Label.Text = "seconds since the upgrade began"
	p.Y.Label.Text = tl.YLabel
	p.X.Padding, p.Y.Padding = vg.Points(2), vg.Points(2)
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	ymax, xmax := 0.0, 0.0
	for _, s := range tl.Series {
		for _, pt := range s.Points {
			ymax = math.Max(ymax, pt.Value)
			xmax = math.Max(xmax, pt.At.Seconds())
		}
	}
	for _, e := range tl.Events {
		xmax = math.Max(xmax, e.At.Seconds())
	}
	if ymax == 0 {
		ymax = 1
	}
	// Headroom for the legend and the event labels.
	p.Y.Min, p.Y.Max = 0, ymax*1.3
	p.X.Min, p.X.Max = 0, math.Max(xmax, 1)
	for i, s := range tl.Series {
		if len(s.Points) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(s.Points))
		for k, pt := range s.Points {
			pts[k] = plotter.XY{X: pt.At.Seconds(), Y: pt.Value}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return "", fmt.Errorf("series %q: %w", s.Name, err)
		}
		l.LineStyle.Width = vg.Points(1.8)
		l.LineStyle.Color = seriesColors[i%len(seriesColors)]
		p.Add(l)
		p.Legend.Add(s.Name, l)
	}
	if len(tl.Events) > 0 {
		xs := make([]float64, len(tl.Events))
		ys := make([]float64, len(tl.Events))
		names := make([]string, len(tl.Events))
		for i, e := range tl.Events {
			l, err := plotter.NewLine(plotter.XYs{{X: e.At.Seconds(), Y: 0}, {X: e.At.Seconds(), Y: ymax * 1.08}})
			if err != nil {
				return "", err
			}
			l.LineStyle = draw.LineStyle{Color: color.NRGBA{A: 0x99}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(3), vg.Points(3)}}
			p.Add(l)
			xs[i], ys[i], names[i] = e.At.Seconds(), ymax*1.08, e.Label
		}
		if err := addLabels(p, xs, ys, names, vg.Points(8)); err != nil {
			return "", err
		}
	}
	return svg(p, 760, 280)
}

type upgradeScenarioView struct {
	UpgradeScenario
	ID     string
	Charts []chartPairView
}

type chartPairView struct {
	SplitPair
	SVG template.HTML
}

type upgradeView struct {
	UpgradePage
	Scenarios []upgradeScenarioView
	Timeline  template.HTML
}

// RenderUpgrade writes the upgrade page as one self-contained HTML
// document.
func RenderUpgrade(w io.Writer, p UpgradePage) error {
	v := upgradeView{UpgradePage: p}
	if p.Title == "" {
		v.Title = "locality-e2e upgrade check"
	}
	for i, s := range p.Scenarios {
		sv := upgradeScenarioView{UpgradeScenario: s, ID: fmt.Sprintf("change-%d", i+1)}
		for _, sp := range s.Splits {
			svg, err := ComparisonChart(sp)
			if err != nil {
				return fmt.Errorf("scenario %q, %s: %w", s.Name, sp.Title, err)
			}
			sv.Charts = append(sv.Charts, chartPairView{SplitPair: sp, SVG: template.HTML(svg)})
		}
		v.Scenarios = append(v.Scenarios, sv)
	}
	if p.Timeline != nil {
		svg, err := TimelineChart(*p.Timeline)
		if err != nil {
			return fmt.Errorf("timeline: %w", err)
		}
		v.Timeline = template.HTML(svg)
	}
	return upgradeTmpl.Execute(w, v)
}

// WriteUpgrade renders the upgrade page into dir/index.html.
func WriteUpgrade(dir string, p UpgradePage) (string, error) {
	return writePage(dir, func(w io.Writer) error { return RenderUpgrade(w, p) })
}
