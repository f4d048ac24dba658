package main

// The expected result of an embedded upgrade check
// (`upgrade-check embedded --expect-changed=<file>`): the file's grammar,
// its parsing, and the comparison of the diff's changed scenarios with it.
// CI runs the worked example with
// fixtures/upgrade-embedded/worked-example-expected-changes.txt, so it
// asserts the known result instead of failing on any change.

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// expectedChanges is an --expect-changed file: the comparison it is for
// and the scenarios whose behaviour changes in it, by their fingerprint
// names (the names the summary lists).
//
// Grammar, one item a line; blank lines and lines starting with # are
// ignored; surrounding spaces are trimmed:
//
//	from: <istio.io/istio module version>   (required, once)
//	to: <istio.io/istio module version>     (required, once)
//	<scenario name>                         (any number, each once)
type expectedChanges struct {
	File      string
	From, To  string
	Scenarios []string
}

func readExpectedChanges(path string) (expectedChanges, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return expectedChanges{}, fmt.Errorf("--expect-changed: %v", err)
	}
	return parseExpectedChanges(path, string(b))
}

func parseExpectedChanges(name, text string) (expectedChanges, error) {
	e := expectedChanges{File: name}
	seen := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		at := fmt.Sprintf("--expect-changed %s line %d", name, i+1)
		for _, d := range []struct {
			key string
			v   *string
		}{{"from:", &e.From}, {"to:", &e.To}} {
			if v, ok := strings.CutPrefix(line, d.key); ok {
				v = strings.TrimSpace(v)
				if *d.v != "" {
					return e, fmt.Errorf("%s: a second %q: the file is for one comparison", at, d.key)
				}
				if err := validVersion(at+" ("+strings.TrimSuffix(d.key, ":")+")", v); err != nil {
					return e, err
				}
				*d.v = v
				line = ""
				break
			}
		}
		if line == "" {
			continue
		}
		if seen[line] {
			return e, fmt.Errorf("%s: scenario %q is listed twice", at, line)
		}
		seen[line] = true
		e.Scenarios = append(e.Scenarios, line)
	}
	if e.From == "" || e.To == "" {
		return e, fmt.Errorf("--expect-changed %s: name the comparison it is for with 'from: <module version>' and 'to: <module version>' lines", name)
	}
	return e, nil
}

// expectation is the comparison of a diff's changed scenarios with an
// expectedChanges.
type expectation struct {
	// Unexpected are changed scenarios the file does not list, Missing
	// listed scenarios that did not change, both in order.
	Unexpected, Missing []string
}

// Met reports whether the changes are exactly the expected ones.
func (x expectation) Met() bool { return len(x.Unexpected) == 0 && len(x.Missing) == 0 }

// check compares the changed scenarios of the comparison from -> to (the
// resolved module versions) with e. A file for another comparison is an
// error: its list says nothing about this one.
func (e expectedChanges) check(from, to string, changed []string) (expectation, error) {
	if e.From != from || e.To != to {
		return expectation{}, fmt.Errorf("--expect-changed %s is for %s -> %s, but this comparison is %s -> %s: update the file's from:/to: lines and its scenarios for this comparison",
			e.File, e.From, e.To, from, to)
	}
	var x expectation
	for _, s := range changed {
		if !slices.Contains(e.Scenarios, s) {
			x.Unexpected = append(x.Unexpected, s)
		}
	}
	for _, s := range e.Scenarios {
		if !slices.Contains(changed, s) {
			x.Missing = append(x.Missing, s)
		}
	}
	return x, nil
}

// format is the expectation's lines for the summary.
func (x expectation) format(e expectedChanges) string {
	var b strings.Builder
	if x.Met() {
		fmt.Fprintf(&b, "AS EXPECTED: the changed scenarios are exactly the %d listed in %s\n", len(e.Scenarios), e.File)
		return b.String()
	}
	fmt.Fprintf(&b, "NOT AS EXPECTED (%s): %d unexpected changes, %d expected changes not seen\n", e.File, len(x.Unexpected), len(x.Missing))
	for _, s := range x.Unexpected {
		fmt.Fprintf(&b, "  - changed, not expected: %s\n", s)
	}
	for _, s := range x.Missing {
		fmt.Fprintf(&b, "  - expected, did not change: %s\n", s)
	}
	return b.String()
}
