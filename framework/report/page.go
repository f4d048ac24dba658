// Package report writes the page people look at after a run:
// reports/index.html, one self-contained HTML file (inline CSS and SVG, no
// scripts, no network). Its first screen names the suite and the run
// (backend, Istio or istiod module version, seed, requests per split,
// duration), shows each failed scenario with its failure, diagnostics and
// failing chart, then every scenario by label family with an inline chart
// (mini.go). Below, per scenario: its result, labels, the rules applied,
// the endpoint tables, a bar chart of every observed split with its
// accepted interval and expected share, and for failed scenarios their
// failure and diagnostics, failed scenarios first. Charts are drawn with
// gonum.org/v1/plot's SVG backend.
//
// The data comes from what a run already has: the Ginkgo report (in
// process from ReportAfterSuite, or reports/report.json) and its report
// entries, named by framework/steps ("DestinationRule <name>",
// "VirtualService <name>", "endpoints of <client> (<view> view)", "split by
// <bucketing> from <client>", "warm-up from <client>", "diagnostics").
//
// The upgrade check's page (old and new bars side by side, traffic
// timeline) is RenderUpgrade.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/fingerprint"
	"github.com/localitylb/locality-e2e/framework/split"
)

// FileName is the page's name in a report folder.
const FileName = "index.html"

// Report entry names (and prefixes) given by framework/steps.
const (
	entryDestinationRule = "DestinationRule "
	entryVirtualService  = "VirtualService "
	entryEndpoints       = "endpoints of "
	entrySplit           = "split by "
	entryWarmUp          = "warm-up from "
	entryDiagnostics     = "diagnostics"
)

// Page is one run.
type Page struct {
	Title        string // "locality-e2e", or "locality-e2e: <suite>" for another suite
	Suite        string // the Ginkgo suite's description
	Backend      string
	IstioVersion string        // kind: the cluster's Istio; embedded: "istio.io/istio <module version>"
	Seed         int64         // Ginkgo's random seed (--ginkgo.seed reproduces the run)
	Start        time.Time     // zero: unknown
	RunTime      time.Duration // zero: unknown
	Scenarios    []Scenario    // failed first (see Sort)
}

// Result of a scenario.
type Result string

const (
	Passed  Result = "passed"
	Failed  Result = "failed"
	Skipped Result = "skipped"
)

// Scenario is one spec.
type Scenario struct {
	Name      string
	Labels    []string
	Result    Result
	State     string // Ginkgo's state (passed, failed, panicked, timedout, ...)
	RunTime   time.Duration
	Failure   string // the failure message and location; empty when passed
	Rules     []Rule
	Endpoints []EndpointTable
	Splits    []Split
	Notes     []Note // other entries (warm-ups), in order
	// Diagnostics is Diagnose's entry (both endpoint views of every client,
	// the DestinationRules, the pods), present on failure.
	Diagnostics string
	// Output is what the spec wrote to GinkgoWriter, kept for failed specs.
	Output string
}

// Rule is a DestinationRule or VirtualService the scenario applied.
type Rule struct {
	Kind string // DestinationRule or VirtualService
	Name string
	YAML string
}

// EndpointTable is one client's endpoint table as the scenario gated on it.
type EndpointTable struct {
	Title string // e.g. "endpoints of netshoot-b (envoy view)"
	Table endpoints.Table
}

// Split is one batch: its verdict table, drawn as a chart.
type Split struct {
	Title string // e.g. "split by locality from netshoot-b"
	Table split.Table
}

// Note is any other report entry, shown as text.
type Note struct {
	Name string
	Text string
}

// FromReport builds the page of a suite run. Every It is listed; skipped
// ones after the rest, with the reason they were skipped.
func FromReport(r types.Report, backend, istioVersion string) (Page, error) {
	p := Page{
		Title:        "locality-e2e",
		Suite:        r.SuiteDescription,
		Backend:      backend,
		IstioVersion: istioVersion,
		Seed:         r.SuiteConfig.RandomSeed,
		Start:        r.StartTime,
		RunTime:      r.RunTime,
	}
	if d := r.SuiteDescription; d != "" && d != p.Title {
		p.Title += ": " + d
	}
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		sc := Scenario{Name: s.FullText(), Labels: s.Labels(), State: s.State.String(), RunTime: s.RunTime}
		switch {
		case s.State.Is(types.SpecStatePassed):
			sc.Result = Passed
		case s.State.Is(types.SpecStateSkipped | types.SpecStatePending):
			sc.Result = Skipped
			sc.Failure = s.Failure.Message
		default:
			sc.Result = Failed
			sc.Failure = failureText(s)
			sc.Output = s.CapturedGinkgoWriterOutput
		}
		for _, e := range s.ReportEntries {
			if err := sc.add(e); err != nil {
				return p, fmt.Errorf("scenario %q: report entry %q: %w", sc.Name, e.Name, err)
			}
		}
		p.Scenarios = append(p.Scenarios, sc)
	}
	p.Sort()
	return p, nil
}

func failureText(s types.SpecReport) string {
	f := s.Failure
	if f.IsZero() {
		return s.State.String()
	}
	var b strings.Builder
	b.WriteString(f.Message)
	if f.Location.FileName != "" {
		fmt.Fprintf(&b, "\nat %s", f.Location)
	}
	if f.FailureNodeType != types.NodeTypeIt && f.FailureNodeType != types.NodeTypeInvalid {
		fmt.Fprintf(&b, " (in %s", f.FailureNodeType)
		if f.FailureNodeContainerIndex >= 0 && f.FailureNodeContainerIndex < len(s.ContainerHierarchyTexts) && f.FailureNodeContext == types.FailureNodeInContainer {
			fmt.Fprintf(&b, " of %q", s.ContainerHierarchyTexts[f.FailureNodeContainerIndex])
		}
		b.WriteString(")")
	}
	return b.String()
}

func (sc *Scenario) add(e types.ReportEntry) error {
	switch {
	case strings.HasPrefix(e.Name, entryDestinationRule):
		sc.Rules = append(sc.Rules, Rule{Kind: "DestinationRule", Name: strings.TrimPrefix(e.Name, entryDestinationRule), YAML: entryText(e)})
	case strings.HasPrefix(e.Name, entryVirtualService):
		sc.Rules = append(sc.Rules, Rule{Kind: "VirtualService", Name: strings.TrimPrefix(e.Name, entryVirtualService), YAML: entryText(e)})
	case strings.HasPrefix(e.Name, entryEndpoints):
		var t endpoints.Table
		if err := fingerprint.DecodeEntry(e, &t); err != nil {
			return err
		}
		sc.Endpoints = append(sc.Endpoints, EndpointTable{Title: e.Name, Table: t})
	case strings.HasPrefix(e.Name, entrySplit):
		var t split.Table
		if err := fingerprint.DecodeEntry(e, &t); err != nil {
			return err
		}
		sc.Splits = append(sc.Splits, Split{Title: e.Name, Table: t})
	case e.Name == entryDiagnostics:
		sc.Diagnostics = entryText(e)
	default:
		sc.Notes = append(sc.Notes, Note{Name: e.Name, Text: entryText(e)})
	}
	return nil
}

// Sort puts failed scenarios first, then passed, then skipped, each group
// by name.
func (p *Page) Sort() {
	rank := map[Result]int{Failed: 0, Passed: 1, Skipped: 2}
	sort.SliceStable(p.Scenarios, func(i, j int) bool {
		a, b := p.Scenarios[i], p.Scenarios[j]
		if rank[a.Result] != rank[b.Result] {
			return rank[a.Result] < rank[b.Result]
		}
		return a.Name < b.Name
	})
}

// Count returns how many scenarios have the result.
func (p Page) Count(r Result) int {
	n := 0
	for _, s := range p.Scenarios {
		if s.Result == r {
			n++
		}
	}
	return n
}

// entryText is an entry's value as text: a string value itself, anything else
// as Ginkgo represents it.
func entryText(e types.ReportEntry) string {
	if s, ok := e.GetRawValue().(string); ok {
		return s
	}
	var s string
	if e.Value.AsJSON != "" && json.Unmarshal([]byte(e.Value.AsJSON), &s) == nil {
		return s
	}
	return e.StringRepresentation()
}

// ReadGinkgoReport loads a Ginkgo JSON report (--json-report) and merges
// its suites into one report.
func ReadGinkgoReport(path string) (types.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return types.Report{}, err
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		return types.Report{}, fmt.Errorf("%s is not a Ginkgo JSON report: %w", path, err)
	}
	if len(reports) == 0 {
		return types.Report{}, fmt.Errorf("%s holds no suite", path)
	}
	r := reports[0]
	for _, o := range reports[1:] {
		r.SpecReports = append(r.SpecReports, o.SpecReports...)
		r.RunTime += o.RunTime
	}
	return r, nil
}

// Write renders the page into dir/index.html and returns its path.
func Write(dir string, p Page) (string, error) {
	return writePage(dir, func(w io.Writer) error { return Render(w, p) })
}

// writePage creates dir/index.html with what render writes.
func writePage(dir string, render func(io.Writer) error) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, FileName)
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := render(f); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// WriteFromFiles writes dir/index.html from a Ginkgo JSON report (e.g.
// dir/report.json) for a CLI that only has the files of a run.
func WriteFromFiles(dir, ginkgoJSON, backend, istioVersion string) (string, error) {
	r, err := ReadGinkgoReport(ginkgoJSON)
	if err != nil {
		return "", err
	}
	p, err := FromReport(r, backend, istioVersion)
	if err != nil {
		return "", err
	}
	return Write(dir, p)
}
