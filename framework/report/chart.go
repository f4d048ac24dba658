package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/localitylb/locality-e2e/framework/split"
)

// Colours of the charts; the page's legend uses the same.
var (
	colorOK       = color.NRGBA{R: 0x8f, G: 0xd1, B: 0x9e, A: 0xff} // observed, inside its interval
	colorBad      = color.NRGBA{R: 0xf1, G: 0x8f, B: 0x8f, A: 0xff} // observed, outside it
	colorOld      = color.NRGBA{R: 0xbd, G: 0xc3, B: 0xcb, A: 0xff} // upgrade: the old run's bar
	colorInterval = color.NRGBA{R: 0x22, G: 0x22, B: 0x22, A: 0xff}
	colorExpected = color.NRGBA{R: 0x1f, G: 0x5f, B: 0xd0, A: 0xff}
	colorGrid     = color.NRGBA{R: 0xe3, G: 0xe6, B: 0xea, A: 0xff}
)

// Chart sizes, in points.
const (
	chartHeight   = 230
	minChartWidth = 300
	bucketWidth   = 90 // per bucket (per pair of bars on the upgrade chart)
	barFraction   = 0.5
)

var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// newPlot returns a plot with sans-serif text and a light horizontal grid.
func newPlot() *plot.Plot {
	p := plot.New()
	for _, st := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle,
		&p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		size := st.Font.Size
		st.Font = sans
		st.Font.Size = size
	}
	p.X.Tick.Label.Font.Size = vg.Points(9)
	p.Y.Tick.Label.Font.Size = vg.Points(9)
	p.Y.Label.TextStyle.Font.Size = vg.Points(10)
	p.X.Label.TextStyle.Font.Size = vg.Points(10)
	p.BackgroundColor = color.Transparent
	p.X.Padding, p.Y.Padding = 0, 0
	g := plotter.NewGrid()
	g.Vertical.Color = nil
	g.Horizontal.Color = colorGrid
	p.Add(g)
	return p
}

// shareAxis makes Y a percentage axis from 0 to a round value at or above
// top (the highest bar, interval or expected mark), plus headroom for the
// count labels.
func shareAxis(p *plot.Plot, top float64) {
	p.Y.Label.Text = "share of requests (%)"
	scales := []struct{ max, step float64 }{
		{5, 1}, {10, 2}, {20, 5}, {25, 5}, {40, 10}, {50, 10}, {60, 20}, {80, 20}, {100, 25},
	}
	sc := scales[len(scales)-1]
	for _, c := range scales {
		if top <= c.max {
			sc = c
			break
		}
	}
	p.Y.Min, p.Y.Max = 0, sc.max*1.12
	var ticks []plot.Tick
	for v := 0.0; v <= sc.max+1e-9; v += sc.step {
		ticks = append(ticks, plot.Tick{Value: v, Label: fmt.Sprintf("%g", v)})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
}

// nominalX labels buckets 0..n-1, slanting the labels when they are long.
func nominalX(p *plot.Plot, names []string) {
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(names))-0.4
	long := 0
	for _, n := range names {
		long = max(long, len([]rune(n)))
	}
	if long*6 > bucketWidth-6 {
		p.X.Tick.Label.Rotation = math.Pi / 8
		p.X.Tick.Label.XAlign = text.XRight
		p.X.Tick.Label.YAlign = text.YCenter
	}
}

func chartWidth(buckets int) vg.Length {
	return vg.Length(max(minChartWidth, 60+bucketWidth*buckets))
}

// shareOf returns count as a percentage of n.
func shareOf(count, n int) float64 {
	if n <= 0 {
		return 0
	}
	return 100 * float64(count) / float64(n)
}

// denominator is the N shares are taken of: the observed total, else the
// requests sent.
func denominator(t split.Table) int {
	if t.N > 0 {
		return t.N
	}
	return t.WantN
}

// bars adds one bar per value at x0+i, in the colour of each.
func bars(p *plot.Plot, x0 float64, values []float64, colors []color.Color, width vg.Length) error {
	for i, v := range values {
		b, err := plotter.NewBarChart(plotter.Values{v}, width)
		if err != nil {
			return err
		}
		b.XMin = x0 + float64(i)
		b.Color = colors[i]
		b.LineStyle.Width = vg.Points(0.5)
		b.LineStyle.Color = color.NRGBA{A: 0x80}
		p.Add(b)
	}
	return nil
}

// intervals are the accepted ranges, drawn as error bars (in %).
type intervals struct {
	x      []float64
	lo, hi []float64
}

func (v intervals) Len() int                    { return len(v.x) }
func (v intervals) XY(i int) (float64, float64) { return v.x[i], (v.lo[i] + v.hi[i]) / 2 }
func (v intervals) YError(i int) (float64, float64) {
	mid := (v.lo[i] + v.hi[i]) / 2
	return mid - v.lo[i], v.hi[i] - mid
}

func addIntervals(p *plot.Plot, v intervals, width vg.Length) error {
	if v.Len() == 0 {
		return nil
	}
	eb, err := plotter.NewYErrorBars(v)
	if err != nil {
		return err
	}
	eb.LineStyle.Width = vg.Points(1.6)
	eb.LineStyle.Color = colorInterval
	eb.CapWidth = width * 0.6
	p.Add(eb)
	return nil
}

// dash is a glyph: a horizontal bar as wide as the glyph's diameter, the
// marker of an expected share.
type dash struct{}

func (dash) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	ls := draw.LineStyle{Color: sty.Color, Width: vg.Points(2.2), Dashes: []vg.Length{vg.Points(4), vg.Points(2)}}
	c.StrokeLine2(ls, pt.X-sty.Radius, pt.Y, pt.X+sty.Radius, pt.Y)
}

func addExpected(p *plot.Plot, xs, ys []float64, width vg.Length) error {
	if len(xs) == 0 {
		return nil
	}
	pts := make(plotter.XYs, len(xs))
	for i := range xs {
		pts[i] = plotter.XY{X: xs[i], Y: ys[i]}
	}
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	s.GlyphStyle = draw.GlyphStyle{Color: colorExpected, Radius: width/2 + vg.Points(5), Shape: dash{}}
	p.Add(s)
	return nil
}

func addLabels(p *plot.Plot, xs, ys []float64, labels []string, size vg.Length) error {
	pts := make(plotter.XYs, len(xs))
	for i := range xs {
		pts[i] = plotter.XY{X: xs[i], Y: ys[i]}
	}
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: labels})
	if err != nil {
		return err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].Font = sans
		l.TextStyle[i].Font.Size = size
		l.TextStyle[i].XAlign = text.XCenter
	}
	l.Offset = vg.Point{Y: vg.Points(4)}
	p.Add(l)
	return nil
}

// SplitChart draws one batch: a bar per bucket with its observed share
// (green inside its accepted interval, red outside), the accepted interval
// as an error bar and the expected share as a blue dashed mark, and the
// observed count over each bar. It returns the SVG element.
func SplitChart(t split.Table) (string, error) {
	p := newPlot()
	n := denominator(t)
	names := make([]string, len(t.Rows))
	obs := make([]float64, len(t.Rows))
	cols := make([]color.Color, len(t.Rows))
	var iv intervals
	var ex, ey []float64
	xs := make([]float64, len(t.Rows))
	labels := make([]string, len(t.Rows))
	for i, r := range t.Rows {
		names[i] = r.Bucket
		xs[i] = float64(i)
		obs[i] = shareOf(r.Observed, n)
		cols[i] = colorOK
		labels[i] = fmt.Sprintf("%d", r.Observed)
		if !r.OK {
			cols[i] = colorBad
			labels[i] = "✗ " + labels[i]
		}
		iv.x = append(iv.x, float64(i))
		iv.lo = append(iv.lo, shareOf(r.Lo, n))
		iv.hi = append(iv.hi, shareOf(r.Hi, n))
		if r.Declared {
			ex = append(ex, float64(i))
			ey = append(ey, 100*r.Expected)
		}
	}
	top := 0.0
	for i := range obs {
		top = math.Max(top, math.Max(obs[i], iv.hi[i]))
	}
	for _, y := range ey {
		top = math.Max(top, y)
	}
	shareAxis(p, top)
	nominalX(p, names)
	w := chartWidth(len(t.Rows))
	bw := barWidth(w, len(t.Rows), 1)
	if err := bars(p, 0, obs, cols, bw); err != nil {
		return "", err
	}
	if err := addIntervals(p, iv, bw); err != nil {
		return "", err
	}
	if err := addExpected(p, ex, ey, bw); err != nil {
		return "", err
	}
	tops := make([]float64, len(xs))
	for i := range xs {
		tops[i] = math.Max(obs[i], iv.hi[i])
	}
	if len(xs) > 0 {
		if err := addLabels(p, xs, tops, labels, vg.Points(9)); err != nil {
			return "", err
		}
	}
	return svg(p, w, chartHeight)
}

// barWidth is the width of one bar when per bucket slot `per` bars share
// barFraction of it.
func barWidth(w vg.Length, buckets, per int) vg.Length {
	plotArea := float64(w) - 60
	slot := plotArea / float64(max(buckets, 1))
	return vg.Length(slot * barFraction / float64(per))
}

// svg renders the plot and returns it as an <svg> element to inline in
// HTML (without the XML prologue).
func svg(p *plot.Plot, w, h vg.Length) (string, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	s := b.String()
	i := strings.Index(s, "<svg")
	if i < 0 {
		return "", fmt.Errorf("vgsvg wrote no <svg> element")
	}
	return strings.TrimSpace(s[i:]), nil
}
