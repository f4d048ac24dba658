package localitye2e

// Every package's go doc is one map of the package (issue 25 item 5): one
// file holds the package comment, and it starts "Package <name>" (or
// "Command <name>" for a command). A file comment written directly above
// the package clause of another file would silently become (part of) the
// package's documentation; such comments go below the package clause.

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

func TestPackageDocs(t *testing.T) {
	docs := map[string][]string{} // dir -> files with a package comment
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && p != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			return err
		}
		if f.Doc == nil {
			return nil
		}
		text := f.Doc.Text()
		if !strings.HasPrefix(text, "Package "+f.Name.Name+" ") && !strings.HasPrefix(text, "Command ") {
			first, _, _ := strings.Cut(text, "\n")
			t.Errorf("%s: the comment above its package clause becomes the package's documentation but reads %q: start it with \"Package %s\" or move it below the package clause", p, first, f.Name.Name)
		}
		docs[filepath.Dir(p)] = append(docs[filepath.Dir(p)], p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir, files := range docs {
		if len(files) > 1 {
			t.Errorf("%s: %d files hold a package comment (%s): keep one, so go doc reads as one map", dir, len(files), strings.Join(files, ", "))
		}
	}
	if len(docs) < 10 {
		t.Fatalf("only %d packages with a package comment found: the walk is broken", len(docs))
	}
}
