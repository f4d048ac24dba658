package report

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
)

//go:embed templates/*.html templates/*.css
var templates embed.FS

var funcs = template.FuncMap{
	"pct": func(count, n int) string { return fmt.Sprintf("%.1f%%", shareOf(count, n)) },
	"share": func(f float64) string {
		return fmt.Sprintf("%.1f%%", 100*f)
	},
	"num":   func(f float64) string { return fmt.Sprintf("%g", f) },
	"denom": denominator,
	"dur": func(d time.Duration) string {
		if d <= 0 {
			return ""
		}
		return d.Round(time.Millisecond).String()
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"hosts": hostsText,
	"css":   func() template.CSS { return template.CSS(mustRead("templates/page.css")) },
	"join":  strings.Join,
	"add":   func(a, b int) int { return a + b },
}

var (
	pageTmpl    = template.Must(template.New("page.html").Funcs(funcs).ParseFS(templates, "templates/page.html", "templates/common.html"))
	upgradeTmpl = template.Must(template.New("upgrade.html").Funcs(funcs).ParseFS(templates, "templates/upgrade.html", "templates/common.html"))
)

func mustRead(name string) string {
	b, err := templates.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func hostsText(r endpoints.Locality) string {
	if len(r.Hosts) == 0 {
		return "(none)"
	}
	parts := make([]string, len(r.Hosts))
	for i, h := range r.Hosts {
		s := h.Address + " " + string(h.Health)
		if h.Pod != "" {
			s += " " + h.Pod
		}
		if h.Cluster != "" {
			where := h.Cluster
			if h.Network != "" {
				where += "/" + h.Network
			}
			if h.Gateway {
				where += " (east-west gateway)"
			}
			s += " [" + where + "]"
		}
		parts[i] = s
	}
	return strings.Join(parts, "\n")
}

// chartView is one split as the template shows it.
type chartView struct {
	Title string
	Table split.Table
	SVG   template.HTML
}

type scenarioView struct {
	Scenario
	ID     string
	Family string
	Mini   template.HTML // the inline chart of the first screen; "" without batches
	Charts []chartView
	Key    *chartView // failed scenarios: the first chart with a bucket outside its interval
}

// familyView is one label family of the first screen's index.
type familyView struct {
	Name                    string
	Failed, Passed, Skipped int
	Scenarios               []scenarioView
}

type pageView struct {
	Page
	Failed, Passed, Skipped int
	Requests                string
	Failures                []scenarioView // the failed scenarios, for the first screen
	Families                []familyView   // by name, "other" last
	Scenarios               []scenarioView
}

// families groups the scenarios by Family, keeping their order.
func families(scs []scenarioView) []familyView {
	var out []familyView
	at := map[string]int{}
	for _, s := range scs {
		i, ok := at[s.Family]
		if !ok {
			i = len(out)
			at[s.Family] = i
			out = append(out, familyView{Name: s.Family})
		}
		f := &out[i]
		f.Scenarios = append(f.Scenarios, s)
		switch s.Result {
		case Failed:
			f.Failed++
		case Passed:
			f.Passed++
		default:
			f.Skipped++
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if (out[i].Name == otherFamily) != (out[j].Name == otherFamily) {
			return out[j].Name == otherFamily
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Render writes the page as one self-contained HTML document.
func Render(w io.Writer, p Page) error {
	v := pageView{Page: p, Failed: p.Count(Failed), Passed: p.Count(Passed), Skipped: p.Count(Skipped), Requests: p.Requests()}
	for i, s := range p.Scenarios {
		sv := scenarioView{Scenario: s, ID: fmt.Sprintf("scenario-%d", i+1), Family: Family(s.Labels)}
		tables := make([]split.Table, len(s.Splits))
		for k, sp := range s.Splits {
			tables[k] = sp.Table
		}
		sv.Mini = MiniChart(tables)
		for _, sp := range s.Splits {
			svg, err := SplitChart(sp.Table)
			if err != nil {
				return fmt.Errorf("scenario %q, %s: %w", s.Name, sp.Title, err)
			}
			sv.Charts = append(sv.Charts, chartView{Title: sp.Title, Table: sp.Table, SVG: template.HTML(svg)})
		}
		for k := range sv.Charts {
			if sv.Key == nil || (sv.Key.Table.OK() && !sv.Charts[k].Table.OK()) {
				sv.Key = &sv.Charts[k]
			}
		}
		v.Scenarios = append(v.Scenarios, sv)
		if s.Result == Failed {
			v.Failures = append(v.Failures, sv)
		}
	}
	v.Families = families(v.Scenarios)
	return pageTmpl.Execute(w, v)
}
