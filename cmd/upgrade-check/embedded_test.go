package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/localitylb/locality-e2e/framework/fingerprint"
)

const (
	oldIstio = "v0.0.0-20260423205519-b01690e6db7d"
	newIstio = "v0.0.0-20260827124520-eed52ebb66ad"
)

func TestEmbeddedVersionGrammar(t *testing.T) {
	for _, v := range []string{oldIstio, "1.30.0", "1.30.0-rc.1", "release-1.30", "master", "v1.30.0+incompatible"} {
		if err := validVersion("--from", v); err != nil {
			t.Errorf("%q rejected: %v", v, err)
		}
	}
	for _, v := range []string{"", "; rm -rf /", "$(id)", "../../etc/passwd", "a/b", "-x", ".hidden", "v1..2", "a b", "a\nb", "`id`", strings.Repeat("a", 101)} {
		err := validVersion("--from (FROM)", v)
		if err == nil {
			t.Errorf("%q accepted", v)
			continue
		}
		if !strings.Contains(err.Error(), "--from (FROM)") {
			t.Errorf("%q: the error does not name the input: %v", v, err)
		}
	}
	// Through the flags and the environment (the Makefile's way).
	env := map[string]string{envFrom: oldIstio, envTo: "x;y", envSeed: "7"}
	if _, err := parseEmbeddedFlags(nil, func(k string) string { return env[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), "--to (TO)") {
		t.Errorf("TO=x;y: %v", err)
	}
	env[envTo] = newIstio
	o, err := parseEmbeddedFlags(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || o.From != oldIstio || o.To != newIstio || o.Seed != 7 || o.ReportDir != DefaultEmbeddedReportDir || o.MinRequests != DefaultUpgradeRequests || o.Alpha != DefaultUpgradeFalseChangeRate {
		t.Errorf("parse from the environment: %+v, %v", o, err)
	}
	for _, args := range [][]string{{"--seed=0"}, {"--seed=x"}, {"stray"}, {"--label-filter=a\nb"}, {"--to-mesh-overlay=/nonexistent/overlay.yaml"}, {"--min-requests=-1"}, {"--min-requests=1000001"}, {"--alpha=0"}, {"--alpha=0.5"}, {"--alpha=x"}} {
		if _, err := parseEmbeddedFlags(args, func(k string) string { return env[k] }, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestBuildTags(t *testing.T) {
	dir := t.TempDir()
	if _, err := buildTags(dir); err == nil {
		t.Error("a tree without pilot/pkg/networking/util must be refused")
	}
	util := filepath.Join(dir, "pilot", "pkg", "networking", "util")
	writeFile(t, filepath.Join(util, "util.go"), "package util\n")
	if tags, err := buildTags(dir); err != nil || tags != preZoneAwareTag {
		t.Errorf("istiod without SelfDiscoveryCluster: %q, %v", tags, err)
	}
	writeFile(t, filepath.Join(util, "util.go"), "package util\nconst SelfDiscoveryCluster = \"local_cluster\"\n")
	if tags, err := buildTags(dir); err != nil || tags != "" {
		t.Errorf("istiod with SelfDiscoveryCluster: %q, %v", tags, err)
	}
	// The two istiods of the worked example, when the module cache has them.
	if gomodcache := os.Getenv("GOMODCACHE"); gomodcache != "" {
		for v, want := range map[string]string{oldIstio: preZoneAwareTag, newIstio: ""} {
			d := filepath.Join(gomodcache, "istio.io", "istio@"+v)
			if _, err := os.Stat(d); err != nil {
				continue
			}
			if tags, err := buildTags(d); err != nil || tags != want {
				t.Errorf("%s: tags %q, %v; want %q", v, tags, err, want)
			}
		}
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeGo plays the go command and the spec binaries: the module proxy's
// answers come from fake module trees, builds write an empty binary, and
// a spec run writes a fingerprint made by fingerprintFor.
type fakeGo struct {
	t       *testing.T
	modRoot string
	// resolve maps a query to a module version ("" : unknown).
	resolve map[string]string
	// zoneAware: versions whose source has SelfDiscoveryCluster.
	zoneAware map[string]bool
	// broken: versions whose build fails.
	broken map[string]bool
	// getFails: versions whose go get fails (e.g. the proxy is down).
	getFails       map[string]bool
	fingerprintFor func(side string, env []string) fingerprint.Fingerprint
	calls          [][]string
	envs           [][]string
}

func argValue(argv []string, prefix string) string {
	for _, a := range argv {
		if strings.HasPrefix(a, prefix) {
			return strings.TrimPrefix(a, prefix)
		}
	}
	return ""
}

func (f *fakeGo) command(_ context.Context, _ string, argv, env []string, out io.Writer) error {
	f.calls = append(f.calls, argv)
	f.envs = append(f.envs, env)
	if strings.HasSuffix(argv[0], "specs.test") {
		side := filepath.Base(argValue(argv, "--report-dir="))
		_, err := fingerprint.Write(argValue(argv, "--report-dir="), f.fingerprintFor(side, env))
		return err
	}
	if argv[1] == "get" {
		if f.getFails[strings.TrimPrefix(argv[3], istioModule+"@")] {
			fmt.Fprintln(out, "go: k8s.io/api@v0.35.3: reading https://proxy.golang.org/k8s.io/api/@v/v0.35.3.zip: 403 Forbidden")
			return errors.New("exit status 1")
		}
		return nil
	}
	switch strings.Join(argv[1:3], " ") {
	case "mod download":
		q := strings.TrimPrefix(argv[4], istioModule+"@")
		v := f.resolve[q]
		if v == "" {
			fmt.Fprintf(out, `{"Path":"istio.io/istio","Version":%q,"Error":"istio.io/istio@%s: invalid version: unknown revision %s"}`, q, q, q)
			return errors.New("exit status 1")
		}
		dir := filepath.Join(f.modRoot, v)
		writeFile(f.t, filepath.Join(dir, "VERSION"), "1.31\n")
		src := "package util\n"
		if f.zoneAware[v] {
			src += "const SelfDiscoveryCluster = \"local_cluster\"\n"
		}
		writeFile(f.t, filepath.Join(dir, "pilot", "pkg", "networking", "util", "util.go"), src)
		writeFile(f.t, filepath.Join(dir, "go.mod"), "module istio.io/istio\n")
		return json.NewEncoder(out).Encode(moduleInfo{Path: istioModule, Version: v, Dir: dir, GoMod: filepath.Join(dir, "go.mod")})
	case "mod edit":
		_, err := io.WriteString(out, `{"Require":[{"Path":"k8s.io/api","Version":"v0.35.3"},{"Path":"sigs.k8s.io/controller-runtime","Version":"v0.23.3"},{"Path":"github.com/other/mod","Version":"v1.0.0"}]}`)
		return err
	case "mod tidy":
		return nil
	case "test -c":
		mod := argValue(argv, "-modfile=")
		for v := range f.broken {
			if strings.Contains(argValue(argv, "-ldflags="), v) {
				fmt.Fprintf(out, "# github.com/localitylb/locality-e2e/framework/embedded\nframework/embedded/sidecar.go:121:57: p.Metadata.NewThing undefined\n")
				return errors.New("exit status 1")
			}
		}
		if mod == "" {
			f.t.Errorf("build without a scratch modfile: %q", argv)
		}
		return os.WriteFile(argv[indexOf(argv, "-o")+1], []byte("binary"), 0o755)
	}
	f.t.Errorf("unexpected command %q", argv)
	return errors.New("unexpected")
}

func indexOf(argv []string, s string) int {
	for i, a := range argv {
		if a == s {
			return i
		}
	}
	return -1
}

// realFingerprint is the suite's own fingerprint of the pinned istiod (the
// golden file `make golden` writes from a real run).
func realFingerprint(t *testing.T) fingerprint.Fingerprint {
	t.Helper()
	fp, err := fingerprint.Read(filepath.Join("..", "..", "fixtures", "fingerprints", "embedded.json"))
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func newFakeCheck(t *testing.T) (*fakeGo, embeddedDeps, string) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "go.mod"), "module github.com/localitylb/locality-e2e\n")
	writeFile(t, filepath.Join(root, "go.sum"), "")
	fp := realFingerprint(t)
	f := &fakeGo{t: t, modRoot: t.TempDir(),
		resolve:   map[string]string{oldIstio: oldIstio, newIstio: newIstio, "release-1.31": newIstio},
		zoneAware: map[string]bool{newIstio: true}, broken: map[string]bool{}, getFails: map[string]bool{},
		fingerprintFor: func(string, []string) fingerprint.Fingerprint { return fp },
	}
	d := embeddedDeps{
		getwd:   func() (string, error) { return root, nil },
		getenv:  func(string) string { return "" },
		environ: func() []string { return []string{"PATH=/usr/bin", "GOFLAGS=-mod=mod", "MAKEFLAGS=-j2"} },
		command: f.command,
		now:     time.Now,
	}
	return f, d, root
}

// FROM=old, TO=new through fakes: every go command uses the side's scratch
// modfile (go.mod untouched), the old side builds with the pre-zone-aware
// tag, the Kubernetes modules are aligned to the istio's own go.mod, both
// runs get the same seed and flags, and the outputs land under
// <report-dir>/<from>..<to>/.
func TestEmbeddedEndToEndWithFakes(t *testing.T) {
	f, d, root := newFakeCheck(t)
	var out, errb bytes.Buffer
	code := runEmbedded(context.Background(), []string{"--from=" + oldIstio, "--to=release-1.31", "--seed=42"}, &out, &errb, d)
	if code != exitSame {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	dir := filepath.Join(root, DefaultEmbeddedReportDir, oldIstio+".."+newIstio)
	for _, p := range []string{"from/fingerprint.json", "to/fingerprint.json", "from/build.log", "to/build.log", "from/specs.log", "to/specs.log", "from/istio.mod", "to/istio.mod", "index.html", "summary.txt"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "go.mod")); string(b) != "module github.com/localitylb/locality-e2e\n" {
		t.Errorf("go.mod was edited: %q", b)
	}
	var builds, runs [][]string
	for i, argv := range f.calls {
		for _, kv := range f.envs[i] {
			if strings.HasPrefix(kv, "GOFLAGS=") || strings.HasPrefix(kv, "MAKEFLAGS=") {
				t.Errorf("%q runs with %s", argv, kv)
			}
		}
		switch {
		case argv[1] == "get":
			side := filepath.Base(filepath.Dir(strings.TrimPrefix(argv[2], "-modfile=")))
			want := map[string]string{"from": oldIstio, "to": newIstio}[side]
			got := strings.Join(argv[3:], " ")
			if got != istioModule+"@"+want+" k8s.io/api@v0.35.3 sigs.k8s.io/controller-runtime@v0.23.3" {
				t.Errorf("%s side: go get %s", side, got)
			}
		case argv[1] == "test":
			builds = append(builds, argv)
		case strings.HasSuffix(argv[0], "specs.test"):
			runs = append(runs, argv)
		}
	}
	if len(builds) != 2 || argValue(builds[0], "-tags=") != preZoneAwareTag || argValue(builds[1], "-tags=") != "" {
		t.Errorf("builds %q: want the old side with -tags=%s, the new without", builds, preZoneAwareTag)
	}
	if len(runs) != 2 {
		t.Fatalf("runs %q", runs)
	}
	for _, r := range runs {
		if argValue(r, "-test.run=") != "^TestSpecs$" || argValue(r, "--ginkgo.seed=") != "42" || argValue(r, "--backend=") != "embedded" || indexOf(r, "--golden=") < 0 ||
			argValue(r, "--endpoints-timeout=") != "20s" || argValue(r, "--min-requests=") != strconv.Itoa(DefaultUpgradeRequests) {
			t.Errorf("run %q: want seed 42, the embedded backend, no golden check, 20s endpoint waits, --min-requests=%d", r, DefaultUpgradeRequests)
		}
	}
	sum, _ := os.ReadFile(filepath.Join(dir, "summary.txt"))
	for _, want := range []string{"TO=release-1.31", "built with -tags=" + preZoneAwareTag, "building side FROM", "running the specs on side TO"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.HasPrefix(string(sum), fmt.Sprintf("NO CHANGE: %s %s -> %s: no behavioural change in %d comparable scenarios\n", istioModule, oldIstio, newIstio, len(realFingerprint(t).Scenarios))) || !strings.Contains(string(sum), oldIstio+" -> "+newIstio) {
		t.Errorf("summary:\n%s", sum)
	}
}

// One side's scenario failing (a behavioural change) gives exit 1 and a
// summary naming the scenario; a scenario skipped on the old side only
// (e.g. zone aware routing) is "not comparable", not a change.
func TestEmbeddedReportsChangesAndNotComparable(t *testing.T) {
	f, d, root := newFakeCheck(t)
	fp := realFingerprint(t)
	changed := fp.Scenarios[0].Name
	skipped := fp.Scenarios[1].Name
	f.fingerprintFor = func(side string, _ []string) fingerprint.Fingerprint {
		c := fp
		c.Scenarios = append([]fingerprint.Scenario(nil), fp.Scenarios...)
		if side == "from" {
			c.Scenarios[1] = fingerprint.Scenario{Name: skipped, Skipped: "this istiod has no zone aware routing"}
		} else {
			c.Scenarios[0].Passed = !c.Scenarios[0].Passed
		}
		return c
	}
	var out bytes.Buffer
	code := runEmbedded(context.Background(), []string{"--from=" + oldIstio, "--to=" + newIstio}, &out, io.Discard, d)
	if code != exitChanged {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	sum, _ := os.ReadFile(filepath.Join(root, DefaultEmbeddedReportDir, oldIstio+".."+newIstio, "summary.txt"))
	if first, _, _ := strings.Cut(string(sum), "\n"); !strings.HasPrefix(first, "CHANGED: ") || !strings.Contains(first, "in 1 scenarios: "+changed+" (1 not comparable)") {
		t.Errorf("headline %q", first)
	}
	for _, want := range []string{changed, "[result]", "not comparable: skipped on old: this istiod has no zone aware routing", "changes locality load balancing behaviour (1 changes in 1 scenarios)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	page, _ := os.ReadFile(filepath.Join(root, DefaultEmbeddedReportDir, oldIstio+".."+newIstio, "index.html"))
	if !bytes.Contains(page, []byte("Not comparable")) || !bytes.Contains(page, []byte("this istiod has no zone aware routing")) {
		t.Error("the upgrade page lacks the not comparable scenario")
	}
	if !bytes.Contains(page, []byte("for a 5-point shift")) {
		t.Error("the upgrade page lacks the power statement")
	}
}

// The test hook reaches the TO run only.
func TestEmbeddedMeshOverlayOnToOnly(t *testing.T) {
	f, d, _ := newFakeCheck(t)
	overlay := filepath.Join(t.TempDir(), "overlay.yaml")
	writeFile(t, overlay, "localityLbSetting:\n  enabled: false\n")
	seen := map[string]string{}
	fp := realFingerprint(t)
	f.fingerprintFor = func(side string, env []string) fingerprint.Fingerprint {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, envMeshOverlay+"="); ok {
				seen[side] = v
			}
		}
		return fp
	}
	if code := runEmbedded(context.Background(), []string{"--from=" + newIstio, "--to=" + newIstio, "--to-mesh-overlay=" + overlay}, io.Discard, io.Discard, d); code != exitSame {
		t.Fatalf("exit %d", code)
	}
	if seen["to"] != overlay || seen["from"] != "" {
		t.Errorf("overlay seen by %v", seen)
	}
	builds := 0
	for _, argv := range f.calls {
		if argv[1] == "test" {
			builds++
		}
	}
	if builds != 1 {
		t.Errorf("FROM=TO built %d times, want once", builds)
	}
}

// A version that does not build names itself and the compiler's errors;
// one the proxy does not know names itself too.
func TestEmbeddedBuildAndResolveErrors(t *testing.T) {
	f, d, _ := newFakeCheck(t)
	f.broken[oldIstio] = true
	var errb bytes.Buffer
	if code := runEmbedded(context.Background(), []string{"--from=" + oldIstio, "--to=" + newIstio}, io.Discard, &errb, d); code != exitError {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{oldIstio + " (FROM) does not build", "framework/embedded/sidecar.go:121:57: p.Metadata.NewThing undefined", "build.log"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("error lacks %q:\n%s", want, errb.String())
		}
	}
	delete(f.broken, oldIstio)
	f.getFails[newIstio] = true
	errb.Reset()
	if code := runEmbedded(context.Background(), []string{"--from=" + oldIstio, "--to=" + newIstio}, io.Discard, &errb, d); code != exitError {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errb.String(), newIstio+" (TO): its scratch modfile could not be prepared (get ") || !strings.Contains(errb.String(), "403 Forbidden") {
		t.Errorf("error:\n%s", errb.String())
	}
	errb.Reset()
	if code := runEmbedded(context.Background(), []string{"--from=1.99.0", "--to=" + newIstio}, io.Discard, &errb, d); code != exitError {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errb.String(), "FROM=1.99.0: the module proxy does not resolve istio.io/istio@1.99.0: istio.io/istio@1.99.0: invalid version") {
		t.Errorf("error:\n%s", errb.String())
	}
}
