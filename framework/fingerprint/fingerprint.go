// Package fingerprint records what locality load balancing did in one run
// of the specs (per scenario: the client's endpoint tables, each observed
// split with its accepted range, and pass/fail) and compares two runs, so
// an Istio upgrade can be checked for behavioural changes. Sampling noise
// (an observed count that stays inside the other run's accepted range) is
// not a change.
package fingerprint

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
)

// FileName is the fingerprint's name in a report folder.
const FileName = "fingerprint.json"

// Fingerprint is one run.
type Fingerprint struct {
	Backend      string     `json:"backend"`
	IstioVersion string     `json:"istioVersion"`
	Scenarios    []Scenario `json:"scenarios"`
}

// Scenario is one spec.
type Scenario struct {
	Name      string          `json:"name"`
	Labels    []string        `json:"labels,omitempty"`
	Passed    bool            `json:"passed"`
	Endpoints []EndpointTable `json:"endpoints,omitempty"`
	Splits    []Split         `json:"splits,omitempty"`
}

// EndpointTable is a normalized endpoint table: per locality its priority,
// weight, hosts and healthy hosts (addresses and pod names vary per run).
type EndpointTable struct {
	Title string            `json:"title"`
	Rows  endpoints.Summary `json:"rows"`
}

// Split is one batch's verdict.
type Split struct {
	Title string      `json:"title"`
	Rule  string      `json:"rule"`
	N     int         `json:"n"`
	Rows  []split.Row `json:"rows"`
}

// Entry names the steps package gives its report entries.
const (
	endpointsPrefix = "endpoints of "
	splitPrefix     = "split by "
)

// FromReport builds the fingerprint of a suite run. Specs that did not run
// (skipped, pending) are left out.
func FromReport(r types.Report, backend, istioVersion string) (Fingerprint, error) {
	fp := Fingerprint{Backend: backend, IstioVersion: istioVersion}
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt || s.State.Is(types.SpecStateSkipped|types.SpecStatePending) {
			continue
		}
		sc := Scenario{Name: s.FullText(), Labels: s.Labels(), Passed: s.State.Is(types.SpecStatePassed)}
		for _, e := range s.ReportEntries {
			switch {
			case strings.HasPrefix(e.Name, endpointsPrefix):
				var t endpoints.Table
				if err := decode(e, &t); err != nil {
					return fp, fmt.Errorf("scenario %q: report entry %q: %w", sc.Name, e.Name, err)
				}
				sc.Endpoints = append(sc.Endpoints, EndpointTable{Title: e.Name, Rows: t.Summarize()})
			case strings.HasPrefix(e.Name, splitPrefix):
				var t split.Table
				if err := decode(e, &t); err != nil {
					return fp, fmt.Errorf("scenario %q: report entry %q: %w", sc.Name, e.Name, err)
				}
				sc.Splits = append(sc.Splits, Split{Title: e.Name, Rule: t.Rule, N: t.N, Rows: normalizePods(t.Rows)})
			}
		}
		fp.Scenarios = append(fp.Scenarios, sc)
	}
	sort.Slice(fp.Scenarios, func(i, j int) bool { return fp.Scenarios[i].Name < fp.Scenarios[j].Name })
	return fp, nil
}

// Write stores the fingerprint as dir/fingerprint.json.
func Write(dir string, fp Fingerprint) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, FileName)
	return path, WriteFile(path, fp)
}

// WriteFile stores the fingerprint at path, indented for review.
func WriteFile(path string, fp Fingerprint) error {
	data, err := json.MarshalIndent(fp, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// Read loads a fingerprint file.
func Read(path string) (Fingerprint, error) {
	var fp Fingerprint
	data, err := os.ReadFile(path)
	if err != nil {
		return fp, err
	}
	if err := json.Unmarshal(data, &fp); err != nil {
		return fp, fmt.Errorf("%s is not a fingerprint: %w", path, err)
	}
	return fp, nil
}

// decode reads a report entry's value: the object itself within one
// process, its JSON when the report was merged from parallel processes.
func decode[T any](e types.ReportEntry, into *T) error {
	if v, ok := e.GetRawValue().(T); ok {
		*into = v
		return nil
	}
	data := e.Value.AsJSON
	if data == "" {
		if s, ok := e.GetRawValue().(string); ok {
			data = s
		}
	}
	return json.Unmarshal([]byte(data), into)
}

// podName matches Kubernetes ReplicaSet pod names: <deployment>-<hash>-<suffix>.
var podName = regexp.MustCompile(`^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$`)

// normalizePods renames per-pod buckets, whose names change every run, to
// "<deployment> pod <i>" in name order, so runs compare.
func normalizePods(rows []split.Row) []split.Row {
	out := append([]split.Row(nil), rows...)
	count := map[string]int{}
	for i, r := range out {
		if m := podName.FindStringSubmatch(r.Bucket); m != nil {
			count[m[1]]++
			out[i].Bucket = fmt.Sprintf("%s pod %d", m[1], count[m[1]])
		}
	}
	return out
}
