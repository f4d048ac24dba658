package localitye2e

// Every relative link in README.md and docs/*.md must resolve: the file
// exists, and a #fragment names a heading of that file (GitHub's anchor
// rules: lower case, punctuation dropped, spaces to hyphens, a -N suffix
// for repeats). Links to other sites are not followed (no network here).

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// mdLink matches [text](target) and ![alt](target); the target ends at the
// first space or closing parenthesis (titles are not used in our docs).
var mdLink = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// fence matches the start or end of a fenced code block.
var fence = regexp.MustCompile("^\\s*(```|~~~)")

func TestDocLinksResolve(t *testing.T) {
	files := []string{"README.md"}
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, docs...)
	checked := 0
	for _, f := range files {
		for _, l := range linksOf(t, f) {
			checked++
			if err := resolveLink(f, l.target); err != nil {
				t.Errorf("%s:%d: link %q: %v", f, l.line, l.target, err)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative links found in README.md and docs/: the link pattern is broken")
	}
	t.Logf("%d relative links checked in %d files", checked, len(files))
}

type docLink struct {
	line   int
	target string
}

// linksOf lists the relative links of a Markdown file outside code blocks
// and inline code.
func linksOf(t *testing.T, path string) []docLink {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []docLink
	inFence := false
	for i, line := range strings.Split(string(data), "\n") {
		if fence.MatchString(line) {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		for _, m := range mdLink.FindAllStringSubmatch(stripInlineCode(line), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			out = append(out, docLink{line: i + 1, target: target})
		}
	}
	return out
}

// stripInlineCode blanks `code spans`, whose brackets are not links.
func stripInlineCode(line string) string {
	var b strings.Builder
	in := false
	for _, r := range line {
		if r == '`' {
			in = !in
			continue
		}
		if !in {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// resolveLink checks one relative link from the Markdown file from.
func resolveLink(from, target string) error {
	path, frag, _ := strings.Cut(target, "#")
	file := from
	if path != "" {
		file = filepath.Join(filepath.Dir(from), path)
		st, err := os.Stat(file)
		if err != nil {
			return fmt.Errorf("%s does not exist", file)
		}
		if st.IsDir() {
			if frag != "" {
				return fmt.Errorf("a fragment on a folder link")
			}
			return nil
		}
	}
	if frag == "" {
		return nil
	}
	if !strings.HasSuffix(file, ".md") {
		return nil // line anchors (#L10) of source files are GitHub's
	}
	anchors, err := headingAnchors(file)
	if err != nil {
		return err
	}
	if !anchors[frag] {
		return fmt.Errorf("%s has no heading with anchor #%s", file, frag)
	}
	return nil
}

// headingAnchors lists the anchors GitHub gives the headings of a file.
func headingAnchors(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	seen := map[string]int{}
	inFence := false
	for _, line := range strings.Split(string(data), "\n") {
		if fence.MatchString(line) {
			inFence = !inFence
			continue
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(line, "#"))
		a := anchorOf(text)
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out, nil
}

// anchorOf is GitHub's heading anchor: lower case, letters, digits, '-'
// and '_' kept, spaces to '-', everything else dropped.
func anchorOf(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func TestAnchorOf(t *testing.T) {
	for in, want := range map[string]string{
		"Running on kind":                             "running-on-kind",
		"Before you ship: `locality-e2e explain`":     "before-you-ship-locality-e2e-explain",
		"Why no PILOT_ENABLE_LOCALITY_LOAD_BALANCING": "why-no-pilot_enable_locality_load_balancing",
		"Your own services: three ways in":            "your-own-services-three-ways-in",
	} {
		if got := anchorOf(in); got != want {
			t.Errorf("anchorOf(%q) = %q, want %q", in, got, want)
		}
	}
}
