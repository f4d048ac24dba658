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

	"github.com/localitylb/locality-e2e/framework/boundedread"
	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/traffic"
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
	Name   string   `json:"name"`
	Labels []string `json:"labels,omitempty"`
	Passed bool     `json:"passed"`
	// Skipped is the reason the spec gave when it skipped itself at run
	// time (Skip("...")), e.g. a backend capability the istiod under test
	// lacks; "" when it ran. Specs left out by a filter are not recorded.
	// Diff never compares a skipped scenario: NotComparable lists it.
	Skipped   string          `json:"skipped,omitempty"`
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
	Title string `json:"title"`
	Rule  string `json:"rule"`
	// Check is the kind of check that applied: split.CheckBinomial (a
	// random split), split.CheckSchedule (a deterministic locality
	// schedule, embedded) or split.CheckTolerance; "" in fingerprints
	// written before it was recorded (read as binomial).
	Check string      `json:"check,omitempty"`
	N     int         `json:"n"`
	Rows  []split.Row `json:"rows"`
}

// Entry names the steps package gives its report entries.
const (
	endpointsPrefix = "endpoints of "
	splitPrefix     = "split by "
)

// FromReport builds the fingerprint of a suite run. A spec that skipped
// itself with a reason is recorded with that reason (Scenario.Skipped);
// specs that did not run otherwise (filtered out, pending) are left out.
func FromReport(r types.Report, backend, istioVersion string) (Fingerprint, error) {
	fp := Fingerprint{Backend: backend, IstioVersion: istioVersion}
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt || s.State.Is(types.SpecStatePending) {
			continue
		}
		if s.State.Is(types.SpecStateSkipped) {
			if reason := strings.TrimSpace(s.Failure.Message); reason != "" {
				fp.Scenarios = append(fp.Scenarios, Scenario{Name: s.FullText(), Labels: s.Labels(), Skipped: reason})
			}
			continue
		}
		sc := Scenario{Name: s.FullText(), Labels: s.Labels(), Passed: s.State.Is(types.SpecStatePassed)}
		for _, e := range s.ReportEntries {
			switch {
			case strings.HasPrefix(e.Name, endpointsPrefix):
				var t endpoints.Table
				if err := DecodeEntry(e, &t); err != nil {
					return fp, fmt.Errorf("scenario %q: report entry %q: %w", sc.Name, e.Name, err)
				}
				sc.Endpoints = append(sc.Endpoints, EndpointTable{Title: e.Name, Rows: t.Summarize()})
			case strings.HasPrefix(e.Name, splitPrefix):
				var t split.Table
				if err := DecodeEntry(e, &t); err != nil {
					return fp, fmt.Errorf("scenario %q: report entry %q: %w", sc.Name, e.Name, err)
				}
				sc.Splits = append(sc.Splits, Split{Title: e.Name, Rule: t.Rule, Check: t.Check, N: t.N, Rows: normalizePods(t.Rows)})
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

// MaxFileSize bounds the size of a fingerprint file Read accepts (a whole
// suite's fingerprint is about 100 kB): the tools' one limit.
const MaxFileSize = boundedread.MaxSize

// Read loads a fingerprint file of at most MaxFileSize bytes and checks it
// with Validate.
func Read(path string) (Fingerprint, error) {
	var fp Fingerprint
	data, err := boundedread.ReadFile(path)
	if err != nil {
		return fp, fmt.Errorf("fingerprint: %w", err)
	}
	if err := json.Unmarshal(data, &fp); err != nil {
		return fp, fmt.Errorf("%s is not a fingerprint: %w", path, err)
	}
	if err := fp.Validate(); err != nil {
		return fp, fmt.Errorf("%s is not a fingerprint: %w", path, err)
	}
	return fp, nil
}

// Validate checks what Diff relies on: at least one scenario, each named
// once, and splits whose counts are non-negative and add up to N.
func (fp Fingerprint) Validate() error {
	if len(fp.Scenarios) == 0 {
		return fmt.Errorf("no scenarios (an empty or null document, or a run where no spec ran)")
	}
	seen := map[string]bool{}
	for i, s := range fp.Scenarios {
		if s.Name == "" {
			return fmt.Errorf("scenario %d has no name", i)
		}
		if seen[s.Name] {
			return fmt.Errorf("scenario %q appears twice", s.Name)
		}
		seen[s.Name] = true
		for _, sp := range s.Splits {
			if sp.N < 0 {
				return fmt.Errorf("scenario %q, %s: negative N %d", s.Name, sp.Title, sp.N)
			}
			// A split is one Send's batch: its N is at most Send's cap. The
			// two-sample tests allocate per count, so a larger N (or an
			// overflowing sum below) is refused here, not met there.
			if sp.N > traffic.MaxRequests {
				return fmt.Errorf("scenario %q, %s: N=%d is more than one Send can produce (traffic.MaxRequests = %d): give a fingerprint the specs wrote", s.Name, sp.Title, sp.N, traffic.MaxRequests)
			}
			sum := 0
			for _, r := range sp.Rows {
				if r.Observed < 0 || r.Observed > sp.N {
					return fmt.Errorf("scenario %q, %s: bucket %q observed %d of N=%d", s.Name, sp.Title, r.Bucket, r.Observed, sp.N)
				}
				sum += r.Observed
			}
			if sum != sp.N {
				return fmt.Errorf("scenario %q, %s: counts add up to %d, not N=%d", s.Name, sp.Title, sum, sp.N)
			}
		}
	}
	return nil
}

// DecodeEntry reads a report entry's value: the object itself within one
// process, its JSON when the report was merged from parallel processes or
// read back from report.json.
func DecodeEntry[T any](e types.ReportEntry, into *T) error {
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
