package main

// The embedded upgrade check (`upgrade-check embedded`): the specs on the
// embedded backend compiled against two istio.io/istio versions, run with
// the same seed and flags, and their fingerprints diffed. No cluster: it
// checks what istiod generates (priorities, weights, common_lb_config,
// retries, mesh config handling); the Envoy side is this repository's
// model in both runs. This file owns that mode: versions, the scratch
// modfiles, the two builds and runs, the diff, the summary and the page.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/localitylb/locality-e2e/framework/fingerprint"
	"github.com/localitylb/locality-e2e/framework/report"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

// Environment read by the embedded mode (the Makefile passes make's
// variables through it, never through a shell command line).
const (
	envFrom        = "LOCALITY_E2E_UPGRADE_FROM"
	envTo          = "LOCALITY_E2E_UPGRADE_TO"
	envReportDir   = "LOCALITY_E2E_UPGRADE_REPORT_DIR"
	envLabelFilter = "LOCALITY_E2E_UPGRADE_LABEL_FILTER"
	envSeed        = "LOCALITY_E2E_UPGRADE_SEED"
	envExpect      = "LOCALITY_E2E_UPGRADE_EXPECT_CHANGED"
	// EnvMeshOverlay is the embedded backend's test hook
	// (framework/embedded): a MeshConfig YAML merged over the default.
	envMeshOverlay = "LOCALITY_E2E_MESH_OVERLAY"
)

// DefaultEmbeddedReportDir holds one folder per comparison, <from>..<to>.
const DefaultEmbeddedReportDir = "reports/upgrade-embedded"

const istioModule = "istio.io/istio"

// endpointsTimeout bounds each endpoint table wait of both runs (the specs'
// --endpoints-timeout; 60 s by default, for kind). In process istiod
// converges in milliseconds, so a wait that runs out is a table that
// differs, and each one would otherwise cost the check a minute (the
// worked example has two).
const endpointsTimeout = 20 * time.Second

// versionGrammar is what --from and --to accept before anything reaches
// a path or a command: a Go module version (v1.2.3, a pseudo-version
// v0.0.0-20260423205519-b01690e6db7d), an Istio tag (1.30.0, 1.30.0-rc.1)
// or a branch (master, release-1.30), which the module proxy resolves to
// a pseudo-version. No leading dash or dot, no "..", no path separator.
var versionGrammar = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$`)

// sourceGrammar is an istio source tree's VERSION file (e.g. 1.31).
var sourceGrammar = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

func validVersion(flagName, v string) error {
	if v == "" {
		return fmt.Errorf("%s is required: an istio.io/istio module version (e.g. v0.0.0-20260423205519-b01690e6db7d), an Istio tag (1.30.0) or a branch (release-1.30)", flagName)
	}
	if !versionGrammar.MatchString(v) || strings.Contains(v, "..") {
		return fmt.Errorf("%s=%q is not a version: use letters, digits and . _ + - only (at most 100, no leading . or -, no ..), e.g. v0.0.0-20260423205519-b01690e6db7d, 1.30.0 or release-1.30", flagName, v)
	}
	return nil
}

// embeddedOptions are the embedded mode's inputs.
type embeddedOptions struct {
	From, To    string
	ReportDir   string
	LabelFilter string
	// Focus is a Ginkgo focus regexp for both runs ("" : every spec).
	Focus string
	Seed  int64
	// SeedTo is the seed of the TO run; 0: Seed (the same seed both sides).
	SeedTo int64
	// MeshOverlayTo is a MeshConfig YAML file given to the TO run only
	// (the embedded backend's LOCALITY_E2E_MESH_OVERLAY test hook): a
	// deliberately changed side.
	MeshOverlayTo string
	// MinRequests is the fewest requests of any split in both runs (the
	// suite's --min-requests): DefaultUpgradeRequests gives the diff the
	// power to see a 5-point shift from 50/50.
	MinRequests int
	// Alpha is the diff's family-wise false-change rate
	// (DefaultUpgradeFalseChangeRate).
	Alpha float64
	// Expect is the --expect-changed file's content (nil: none): the exit
	// status then says whether the changes are exactly the expected ones.
	Expect  *expectedChanges
	Go      string
	Timeout time.Duration
}

// DefaultUpgradeRequests and DefaultUpgradeFalseChangeRate are the
// embedded check's requests per split and the family-wise false-change
// rate of its diff. The rate is 0.1%, a tenth of fingerprint-diff's
// default: CI runs the worked example against an exact list of expected
// changes, so a false change is a red CI run (at 1% and ~25 random splits,
// about one FROM = TO comparison in five of twenty showed one: 19 of 20
// measured). 6000 requests per run keep the power to see a 5-point shift
// from 50/50 at about 0.9 at that rate (the suite's own 3100 would give
// about 0.5; the diff header prints the exact figure for the run).
const (
	DefaultUpgradeRequests        = 6000
	DefaultUpgradeFalseChangeRate = 0.001
)

func parseEmbeddedFlags(args []string, getenv func(string) string, stderr io.Writer) (embeddedOptions, error) {
	fs := flag.NewFlagSet("upgrade-check embedded", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := embeddedOptions{Go: orDefault(getenv("GO"), "go")}
	seed := orDefault(getenv(envSeed), "1")
	fs.StringVar(&o.From, "from", getenv(envFrom), "istio.io/istio version to start from (env "+envFrom+")")
	fs.StringVar(&o.To, "to", getenv(envTo), "istio.io/istio version to upgrade to (env "+envTo+")")
	fs.StringVar(&o.ReportDir, "report-dir", orDefault(getenv(envReportDir), DefaultEmbeddedReportDir), "the comparison goes to <dir>/<from>..<to> (env "+envReportDir+")")
	fs.StringVar(&o.LabelFilter, "label-filter", getenv(envLabelFilter), "Ginkgo label filter for both runs (env "+envLabelFilter+")")
	fs.StringVar(&o.Focus, "focus", "", "Ginkgo focus regexp for both runs (spec text)")
	fs.StringVar(&seed, "seed", seed, "Ginkgo random seed of both runs (env "+envSeed+")")
	fs.Int64Var(&o.SeedTo, "seed-to", 0, "seed of the TO run when it must differ (0: --seed)")
	fs.StringVar(&o.MeshOverlayTo, "to-mesh-overlay", "", "test hook: a MeshConfig YAML file merged over the TO run's mesh config (a deliberately changed side)")
	expect := getenv(envExpect)
	fs.StringVar(&expect, "expect-changed", expect, "a file of the changes this comparison must report, exactly (expect.go; CI's worked example): exit 0 when they are, 1 otherwise (env "+envExpect+")")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Minute, "bound of each run of the specs")
	fs.Float64Var(&o.Alpha, "alpha", DefaultUpgradeFalseChangeRate, "family-wise false-change rate of the diff (fingerprint-diff --alpha)")
	fs.IntVar(&o.MinRequests, "min-requests", DefaultUpgradeRequests, "requests of every split in both runs at least (the suite's --min-requests; more requests, more power); 0: each split's own N")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: upgrade-check embedded --from=<istio.io/istio version> --to=<version> [flags]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("upgrade-check embedded: unexpected arguments %q: every input is a flag (--from, --to, ...)", fs.Args())
	}
	s, err := strconv.ParseInt(strings.TrimSpace(seed), 10, 64)
	if err != nil || s <= 0 {
		return o, fmt.Errorf("--seed=%q (or %s): a positive integer, e.g. 1", seed, envSeed)
	}
	o.Seed = s
	if o.SeedTo < 0 {
		return o, fmt.Errorf("--seed-to=%d: a positive integer, or 0 for --seed", o.SeedTo)
	}
	if err := validVersion("--from (FROM)", o.From); err != nil {
		return o, err
	}
	if err := validVersion("--to (TO)", o.To); err != nil {
		return o, err
	}
	if !(o.Alpha > 0 && o.Alpha < 0.5) {
		return o, fmt.Errorf("--alpha=%g: a false-change rate above 0 and below 0.5, e.g. 0.001", o.Alpha)
	}
	if o.MinRequests < 0 || o.MinRequests > traffic.MaxRequests {
		return o, fmt.Errorf("--min-requests=%d: use 0 (each split's own N) to %d", o.MinRequests, traffic.MaxRequests)
	}
	if strings.ContainsAny(o.LabelFilter, "\x00\n") {
		return o, fmt.Errorf("--label-filter: one line of Ginkgo label filter, e.g. 'locality:failover'")
	}
	if strings.ContainsAny(o.Focus, "\x00\n") {
		return o, fmt.Errorf("--focus: one line of Ginkgo focus regexp, e.g. 'eight pods'")
	}
	if o.MeshOverlayTo != "" {
		if _, err := os.Stat(o.MeshOverlayTo); err != nil {
			return o, fmt.Errorf("--to-mesh-overlay: %v", err)
		}
	}
	if expect != "" {
		e, err := readExpectedChanges(expect)
		if err != nil {
			return o, err
		}
		o.Expect = &e
	}
	return o, nil
}

// embeddedDeps is what the embedded mode needs from the machine.
type embeddedDeps struct {
	getenv  func(string) string
	environ func() []string
	// command runs argv in dir with env, its output to out.
	command func(ctx context.Context, dir string, argv, env []string, out io.Writer) error
	now     func() time.Time
	// getwd is the repository root the check runs from.
	getwd func() (string, error)
}

func realEmbeddedDeps() embeddedDeps {
	return embeddedDeps{
		getwd:   os.Getwd,
		getenv:  os.Getenv,
		environ: os.Environ,
		command: func(ctx context.Context, dir string, argv, env []string, out io.Writer) error {
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, out, out
			cmd.WaitDelay = 10 * time.Second
			return cmd.Run()
		},
		now: time.Now,
	}
}

// side is one istiod version of the comparison.
type side struct {
	tag     string // "from" or "to"
	query   string // as given
	version string // resolved module version
	source  string // its VERSION file, e.g. 1.31
	dir     string // <out>/<tag>
	binary  string
	seed    int64
	// getArgs are the go get arguments aligning the Kubernetes modules to
	// this istio version's (alignedModule).
	getArgs []string
	// tags are the build tags choosing framework/embedded's istiod API
	// surface for this version (buildTags).
	tags string
	env  []string // extra environment of the run
}

// moduleInfo is `go mod download -json`'s answer.
type moduleInfo struct {
	Path, Version, Error, Dir, GoMod string
}

func runEmbedded(ctx context.Context, args []string, stdout, stderr io.Writer, d embeddedDeps) int {
	o, err := parseEmbeddedFlags(args, d.getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitSame
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	code, err := (&embeddedCheck{o: o, d: d, out: stdout}).run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "upgrade-check embedded: %v\n", err)
	}
	return code
}

type embeddedCheck struct {
	o    embeddedOptions
	d    embeddedDeps
	out  io.Writer
	root string // this module's root (the current directory)
}

func (c *embeddedCheck) progress(format string, args ...any) {
	fmt.Fprintf(c.out, "upgrade-check embedded: "+format+"\n", args...)
}

func (c *embeddedCheck) run(ctx context.Context) (int, error) {
	start := c.d.now()
	root, err := c.d.getwd()
	if err != nil {
		return exitError, err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return exitError, fmt.Errorf("run it from the locality-e2e repository's root (no go.mod in %s)", root)
	}
	c.root = root
	from := &side{tag: "from", query: c.o.From, seed: c.o.Seed}
	to := &side{tag: "to", query: c.o.To, seed: c.o.Seed}
	if c.o.SeedTo > 0 {
		to.seed = c.o.SeedTo
	}
	for _, s := range []*side{from, to} {
		c.progress("resolving %s %s=%s ...", istioModule, strings.ToUpper(s.tag), s.query)
		if err := c.resolve(ctx, s); err != nil {
			return exitError, err
		}
		c.progress("%s: %s %s (VERSION %s)%s", strings.ToUpper(s.tag), istioModule, s.version, s.source, tagNote(s.tags))
	}
	out := filepath.Join(c.o.ReportDir, from.version+".."+to.version)
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	for _, s := range []*side{from, to} {
		s.dir = filepath.Join(out, s.tag)
		// nothing from an earlier comparison may stand in for this one
		if err := os.RemoveAll(s.dir); err != nil {
			return exitError, err
		}
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return exitError, err
		}
	}
	for _, s := range []*side{from, to} {
		if s == to && to.version == from.version {
			to.binary = from.binary
			c.progress("TO is FROM's version: its binary is reused")
			continue
		}
		t0 := c.d.now()
		c.progress("building side %s (%s %s): scratch modfile, go test -c ./specs (log %s) ...", strings.ToUpper(s.tag), istioModule, s.version, filepath.Join(s.dir, "build.log"))
		if err := c.build(ctx, s); err != nil {
			return exitError, err
		}
		c.progress("side %s built in %s", strings.ToUpper(s.tag), c.d.now().Sub(t0).Round(time.Second))
	}
	if c.o.MeshOverlayTo != "" {
		abs, err := filepath.Abs(c.o.MeshOverlayTo)
		if err != nil {
			return exitError, err
		}
		to.env = append(to.env, envMeshOverlay+"="+abs)
		c.progress("test hook: the TO run merges %s over its mesh config", abs)
	}
	for _, s := range []*side{from, to} {
		t0 := c.d.now()
		c.progress("running the specs on side %s (%s, seed %d; log %s) ...", strings.ToUpper(s.tag), s.version, s.seed, filepath.Join(s.dir, "specs.log"))
		if err := c.runSpecs(ctx, s); err != nil {
			return exitError, err
		}
		c.progress("side %s ran in %s", strings.ToUpper(s.tag), c.d.now().Sub(t0).Round(time.Second))
	}
	code, err := c.diff(out, from, to)
	c.progress("done in %s", c.d.now().Sub(start).Round(time.Second))
	return code, err
}

// goEnv is the environment of the go commands: the inherited one without
// make's flags and without GOFLAGS (a -mod or -modfile there would fight
// the scratch modfile).
func (c *embeddedCheck) goEnv(extra ...string) []string {
	var env []string
	for _, kv := range childEnv(c.d.environ(), nil) {
		if k, _, _ := strings.Cut(kv, "="); k == "GOFLAGS" || k == envMeshOverlay {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// resolve asks the module proxy (through the go command) what s.query is.
func (c *embeddedCheck) resolve(ctx context.Context, s *side) error {
	var buf bytes.Buffer
	argv := []string{c.o.Go, "mod", "download", "-json", istioModule + "@" + s.query}
	err := c.d.command(ctx, c.root, argv, c.goEnv(), &buf)
	var mi moduleInfo
	if jerr := json.Unmarshal(buf.Bytes(), &mi); jerr != nil || mi.Error != "" || err != nil {
		msg := strings.TrimSpace(mi.Error)
		if msg == "" {
			msg = strings.TrimSpace(buf.String())
		}
		return fmt.Errorf("%s=%s: the module proxy does not resolve %s@%s: %s", strings.ToUpper(s.tag), s.query, istioModule, s.query, lastLines(msg, 5))
	}
	if !versionGrammar.MatchString(mi.Version) || strings.Contains(mi.Version, "..") {
		return fmt.Errorf("%s=%s resolved to an unexpected version %q", strings.ToUpper(s.tag), s.query, mi.Version)
	}
	s.version = mi.Version
	b, err := os.ReadFile(filepath.Join(mi.Dir, "VERSION"))
	if err != nil {
		return fmt.Errorf("%s %s: its VERSION file: %v", istioModule, s.version, err)
	}
	s.source = strings.TrimSpace(string(b))
	if !sourceGrammar.MatchString(s.source) {
		return fmt.Errorf("%s %s: VERSION is %q, not MAJOR.MINOR", istioModule, s.version, s.source)
	}
	// The Kubernetes modules that istio version was written against.
	argv = []string{c.o.Go, "mod", "edit", "-json", mi.GoMod}
	buf.Reset()
	if err := c.d.command(ctx, c.root, argv, c.goEnv(), &buf); err != nil {
		return fmt.Errorf("%s %s: read its go.mod: %v: %s", istioModule, s.version, err, lastLines(buf.String(), 5))
	}
	var gm struct {
		Require []struct{ Path, Version string }
	}
	if err := json.Unmarshal(buf.Bytes(), &gm); err != nil {
		return fmt.Errorf("%s %s: its go.mod: %v", istioModule, s.version, err)
	}
	if s.tags, err = buildTags(mi.Dir); err != nil {
		return fmt.Errorf("%s %s: %v", istioModule, s.version, err)
	}
	s.getArgs = nil
	for _, r := range gm.Require {
		if alignedModule(r.Path) {
			s.getArgs = append(s.getArgs, r.Path+"@"+r.Version)
		}
	}
	return nil
}

// preZoneAwareTag builds framework/embedded's istiod_api_pre_zoneaware.go
// instead of istiod_api.go: the istiod API surface of an istio.io/istio
// without self-discovery and zone aware routing.
const preZoneAwareTag = "istiod_pre_zoneaware"

// buildTags chooses framework/embedded's istiod API surface for the
// istio.io/istio source in dir: istiod_pre_zoneaware when its
// pilot/pkg/networking/util does not declare SelfDiscoveryCluster (the
// constant istiod added with self-discovery and zone aware routing).
func buildTags(dir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "pilot", "pkg", "networking", "util", "*.go"))
	if err != nil || len(files) == 0 {
		return "", fmt.Errorf("no pilot/pkg/networking/util in its source (%s): not an istiod this check knows", dir)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		if bytes.Contains(b, []byte("SelfDiscoveryCluster")) {
			return "", nil
		}
	}
	return preZoneAwareTag, nil
}

// alignedModule: the modules set to the istio version's own requirement in
// its scratch modfile. istiod's Kubernetes client code implements
// client-go interfaces, so an older istio does not compile against the
// newer client-go that minimal version selection would keep from our
// go.mod (e.g. v0.0.0-20260423205519-b01690e6db7d against client-go
// v0.36: "neverReady does not implement ResourceEventHandlerRegistration
// (missing method HasSyncedChecker)"). go get moves what depends on them.
func alignedModule(path string) bool {
	return strings.HasPrefix(path, "k8s.io/") || path == "sigs.k8s.io/controller-runtime"
}

// build writes the side's scratch modfile (a copy of go.mod and go.sum
// selecting the version, never the user's go.mod) and compiles the specs
// against it.
func (c *embeddedCheck) build(ctx context.Context, s *side) error {
	mod, sum := filepath.Join(s.dir, "istio.mod"), filepath.Join(s.dir, "istio.sum")
	for _, f := range [][2]string{{"go.mod", mod}, {"go.sum", sum}} {
		b, err := os.ReadFile(filepath.Join(c.root, f[0]))
		if err != nil {
			return err
		}
		if err := os.WriteFile(f[1], b, 0o644); err != nil {
			return err
		}
	}
	logPath := filepath.Join(s.dir, "build.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	var tail bytes.Buffer
	w := io.MultiWriter(logf, &tail)
	get := append([]string{c.o.Go, "get", "-modfile=" + mod, istioModule + "@" + s.version}, s.getArgs...)
	steps := [][]string{
		get,
		{c.o.Go, "mod", "tidy", "-modfile=" + mod},
		{c.o.Go, "test", "-c", "-modfile=" + mod, "-o", filepath.Join(s.dir, "specs.test"), "-tags=" + s.tags,
			"-ldflags=-X github.com/localitylb/locality-e2e/framework/embedded.istioModuleOverride=" + s.version +
				" -X github.com/localitylb/locality-e2e/framework/embedded.istioSourceOverride=" + s.source,
			"./specs"},
	}
	for _, argv := range steps {
		fmt.Fprintf(logf, "$ %s\n", strings.Join(argv, " "))
		tail.Reset()
		t0 := c.d.now()
		err := c.d.command(ctx, c.root, argv, c.goEnv(), w)
		fmt.Fprintf(logf, "# %s %s: %s\n", argv[1], argv[2], c.d.now().Sub(t0).Round(time.Second))
		if err != nil && argv[1] != "test" {
			return fmt.Errorf("%s %s (%s): its scratch modfile could not be prepared (%s %s: %v):\n%s\n(full log: %s)",
				istioModule, s.version, strings.ToUpper(s.tag), argv[1], argv[2], err, lastLines(tail.String(), 15), logPath)
		}
		if err != nil {
			return fmt.Errorf("%s %s (%s) does not build against this repository's framework/embedded and specs (%s %s: %v); the compiler says:\n%s\n(full log: %s)",
				istioModule, s.version, strings.ToUpper(s.tag), argv[1], argv[2], err, lastLines(tail.String(), 15), logPath)
		}
	}
	s.binary = filepath.Join(s.dir, "specs.test")
	return nil
}

// runSpecs runs the side's spec binary from specs/ (as go test does) with
// the fingerprint and report page going to s.dir. The golden check is off:
// the golden fingerprint is the pinned istiod's.
func (c *embeddedCheck) runSpecs(ctx context.Context, s *side) error {
	logPath := filepath.Join(s.dir, "specs.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	// -test.run: the Ginkgo suite only; the package's other tests (e.g.
	// TestShippedScenariosMatchGoSpecs and its child run) are not part of
	// the fingerprint.
	argv := []string{s.binary, "-test.run=^TestSpecs$", "-test.timeout=" + (c.o.Timeout + time.Minute).String(),
		"--ginkgo.seed=" + strconv.FormatInt(s.seed, 10), "--ginkgo.timeout=" + c.o.Timeout.String(), "--ginkgo.no-color",
		"--ginkgo.json-report=" + filepath.Join(s.dir, "report.json")}
	if c.o.LabelFilter != "" {
		argv = append(argv, "--ginkgo.label-filter="+c.o.LabelFilter)
	}
	if c.o.Focus != "" {
		argv = append(argv, "--ginkgo.focus="+c.o.Focus)
	}
	argv = append(argv, "--backend=embedded", "--report-dir="+s.dir, "--golden=", "--endpoints-timeout="+endpointsTimeout.String())
	if c.o.MinRequests > 0 {
		argv = append(argv, "--min-requests="+strconv.Itoa(c.o.MinRequests))
	}
	fmt.Fprintf(logf, "$ %s\n", strings.Join(argv, " "))
	if err := c.d.command(ctx, filepath.Join(c.root, "specs"), argv, c.goEnv(s.env...), logf); err != nil {
		c.progress("the specs on side %s (%s) failed (%v); going on: the failures are in the fingerprint", strings.ToUpper(s.tag), s.version, err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, fingerprint.FileName)); err != nil {
		return fmt.Errorf("the specs on %s %s wrote no fingerprint (%v): see %s", istioModule, s.version, err, logPath)
	}
	return nil
}

// diff compares the two fingerprints, writes the page and the summary.
func (c *embeddedCheck) diff(out string, from, to *side) (int, error) {
	a, err := fingerprint.Read(filepath.Join(from.dir, fingerprint.FileName))
	if err != nil {
		return exitError, err
	}
	b, err := fingerprint.Read(filepath.Join(to.dir, fingerprint.FileName))
	if err != nil {
		return exitError, err
	}
	opts := fingerprint.DiffOptions{FamilyWiseRate: c.o.Alpha}
	changes := fingerprint.Diff(a, b, opts)
	nc := fingerprint.NotComparable(a, b, opts)
	header := fingerprint.Header(a, b, opts)
	var sum strings.Builder
	headline := fmt.Sprintf("NO CHANGE: %s %s -> %s: no behavioural change in %d comparable scenarios", istioModule, from.version, to.version, comparable(a, b))
	if len(changes) > 0 {
		headline = fmt.Sprintf("CHANGED: %s %s -> %s changes locality load balancing behaviour in %d scenarios: %s",
			istioModule, from.version, to.version, len(changedScenarios(changes)), strings.Join(changedScenarios(changes), "; "))
	}
	if len(nc) > 0 {
		headline += fmt.Sprintf(" (%d not comparable)", len(nc))
	}
	fmt.Fprintln(&sum, headline)
	fmt.Fprintf(&sum, "embedded upgrade check: %s %s -> %s (seeds %d, %d)\n", istioModule, from.version, to.version, from.seed, to.seed)
	fmt.Fprintf(&sum, "old: %s on %s (%d scenarios)\nnew: %s on %s (%d scenarios)\n",
		a.IstioVersion, a.Backend, len(a.Scenarios), b.IstioVersion, b.Backend, len(b.Scenarios))
	if from.version == to.version {
		fmt.Fprintf(&sum, "the same istiod on both sides: only the seeds%s differ\n", map[bool]string{true: " and the TO run's mesh config overlay (test hook)"}[c.o.MeshOverlayTo != ""])
	} else {
		fmt.Fprintf(&sum, "istiod is the only difference; the Envoy side is this repository's model in both runs (data-plane changes need make upgrade-check on kind)\n")
	}
	fmt.Fprint(&sum, header)
	fmt.Fprint(&sum, fingerprint.Format(changes))
	fmt.Fprint(&sum, fingerprint.FormatNotComparable(nc))
	page := report.UpgradeFromFingerprints(a, b, changes)
	page.Title = fmt.Sprintf("locality-e2e embedded upgrade check: %s %s → %s", istioModule, from.version, to.version)
	page.From.Page, page.To.Page = "from/"+report.FileName, "to/"+report.FileName
	page.Method = strings.TrimSpace(header)
	for _, x := range nc {
		page.NotComparable = append(page.NotComparable, x.Scenario+": "+x.What)
	}
	code := exitSame
	if len(changes) > 0 {
		code = exitChanged
		fmt.Fprintf(&sum, "verdict: %s %s -> %s changes locality load balancing behaviour (%d changes in %d scenarios)\n",
			istioModule, from.version, to.version, len(changes), len(page.Scenarios))
	} else {
		fmt.Fprintf(&sum, "verdict: %s %s -> %s: no behavioural change\n", istioModule, from.version, to.version)
	}
	if e := c.o.Expect; e != nil {
		x, err := e.check(from.version, to.version, changedScenarios(changes))
		if err != nil {
			return exitError, err
		}
		fmt.Fprint(&sum, x.format(*e))
		code = exitSame
		if !x.Met() {
			code = exitChanged
		}
	}
	if path, err := report.WriteUpgrade(out, page); err != nil {
		fmt.Fprintf(&sum, "the upgrade page could not be written: %v\n", err)
	} else {
		fmt.Fprintf(&sum, "upgrade page: %s (open it in a browser)\n", path)
	}
	summaryPath := filepath.Join(out, "summary.txt")
	if err := os.WriteFile(summaryPath, []byte(sum.String()), 0o644); err != nil {
		return exitError, err
	}
	fmt.Fprint(c.out, sum.String())
	fmt.Fprintf(c.out, "summary: %s\n", summaryPath)
	return code, nil
}

func tagNote(tags string) string {
	if tags == "" {
		return ""
	}
	return ", built with -tags=" + tags + " (no self-discovery/zone aware routing in this istiod)"
}

// changedScenarios names the scenarios with a change, in Diff's order.
func changedScenarios(changes []fingerprint.Change) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range changes {
		if !seen[c.Scenario] {
			seen[c.Scenario] = true
			out = append(out, c.Scenario)
		}
	}
	return out
}

// comparable counts the scenarios that ran in both fingerprints.
func comparable(a, b fingerprint.Fingerprint) int {
	ran := map[string]bool{}
	for _, s := range a.Scenarios {
		if s.Skipped == "" {
			ran[s.Name] = true
		}
	}
	n := 0
	for _, s := range b.Scenarios {
		if s.Skipped == "" && ran[s.Name] {
			n++
		}
	}
	return n
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
