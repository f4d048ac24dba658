package report

// This file owns the report page as a person sees it: pages of real runs
// (the fixture suite in testdata/fixturerun, run red and green through the
// real report writer, and reports/index.html of `make specs` when there is
// one) opened in headless Chromium at 1400×900 over the DevTools protocol
// (github.com/chromedp/chromedp): no console errors, every SVG with a
// non-zero size on screen, and a first screen that shows the failed
// scenario with its failure and diagnostics (red run) or charts (green
// run). Screenshots (first screen and full height) go to
// reports/screenshots/, or to $LOCALITY_E2E_SCREENSHOTS.

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The first screen: a laptop browser window.
const screenW, screenH = 1400, 900

// defaultScreenshots is reports/screenshots of the repository, next to the
// page `make specs` writes (the test runs in framework/report).
var defaultScreenshots = filepath.Join("..", "..", "reports", "screenshots")

func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		dir = defaultScreenshots
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot folder: %v", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// box is an element's rectangle on the page, in CSS pixels from the top
// of the document.
type box struct {
	Top    float64 `json:"top"`
	Bottom float64 `json:"bottom"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

type svgBox struct {
	box
	Where string `json:"where"` // data-name of the scenario (or card) around it
	Class string `json:"class"`
}

type failureBox struct {
	Name        string `json:"name"`
	Title       box    `json:"title"`
	Failure     box    `json:"failure"`
	FailureText string `json:"failureText"`
	Diagnostics box    `json:"diagnostics"`
	DiagText    string `json:"diagText"`
}

// seen is what the browser laid out.
type seen struct {
	Height   float64      `json:"height"`
	SVGs     []svgBox     `json:"svgs"`
	Failures []failureBox `json:"failures"`
	Console  []string     `json:"-"` // errors and uncaught exceptions
	First    image.Image  `json:"-"` // the first 1400×900 screen
}

// measure runs in the page (the page itself has no script).
const measure = `(() => {
  const box = e => { if (!e) return {top: 0, bottom: 0, width: 0, height: 0};
    const r = e.getBoundingClientRect();
    return {top: r.top + scrollY, bottom: r.bottom + scrollY, width: r.width, height: r.height}; };
  const where = e => { const s = e.closest('[data-name]'); return s ? s.dataset.name : ''; };
  return {
    height: document.documentElement.scrollHeight,
    svgs: [...document.querySelectorAll('svg')].filter(s => !s.parentElement.closest('svg'))
      .map(s => ({...box(s), where: where(s), class: s.getAttribute('class') || ''})),
    failures: [...document.querySelectorAll('.failure-card')].map(c => {
      const f = c.querySelector('pre.failure'), d = c.querySelector('.first-diagnostics pre');
      return {name: c.dataset.name, title: box(c.querySelector('h2')), failure: box(f), failureText: f ? f.textContent : '',
        diagnostics: box(d), diagText: d ? d.textContent.slice(0, 2000) : ''};
    }),
  };
})()`

// look opens the page in Chromium at 1400×900 and writes
// <name>-first-screen.png and <name>-full.png into the screenshot folder.
func look(t *testing.T, browser, page, name string) seen {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(screenW, screenH), chromedp.UserDataDir(t.TempDir()))
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start %s: %v", browser, err)
	}

	var mu sync.Mutex
	var console []string
	messages := chromedp.Console(tab)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				console = append(console, m.String())
				mu.Unlock()
			}
		}
	}()

	if err := chromedp.Do(tab, chromedp.EmulateViewport(screenW, screenH), chromedp.Navigate("file://"+page)); err != nil {
		t.Fatalf("open %s: %v", page, err)
	}
	s, err := chromedp.Run(tab, chromedp.Evaluate[seen](measure))
	if err != nil {
		t.Fatalf("measure %s: %v", page, err)
	}
	first, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot of %s: %v", page, err)
	}
	full, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("full screenshot of %s: %v", page, err)
	}
	cancelTab()
	<-done
	mu.Lock()
	s.Console = console
	mu.Unlock()

	dir := screenshotDir(t)
	for suffix, data := range map[string][]byte{"first-screen": first, "full": full} {
		out := filepath.Join(dir, name+"-"+suffix+".png")
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot (%s): %s", suffix, out)
	}
	if s.First, err = png.Decode(bytes.NewReader(first)); err != nil {
		t.Fatalf("first screen: %v", err)
	}
	if b := s.First.Bounds(); b.Dx() != screenW || b.Dy() != screenH {
		t.Errorf("the first screen is %dx%d, want %dx%d", b.Dx(), b.Dy(), screenW, screenH)
	}
	return s
}

// checkRendered: no console errors, and every SVG of the page (charts,
// inline charts) drawn with a non-zero size.
func checkRendered(t *testing.T, s seen, html string) {
	t.Helper()
	for _, m := range s.Console {
		t.Errorf("console: %s", m)
	}
	if want := strings.Count(html, "<svg"); len(s.SVGs) != want {
		t.Errorf("the browser laid out %d SVGs, the page has %d", len(s.SVGs), want)
	}
	for _, b := range s.SVGs {
		if b.Width < 1 || b.Height < 1 {
			t.Errorf("SVG %q of %q is %.0fx%.0f px on screen", b.Class, b.Where, b.Width, b.Height)
		}
	}
}

// checkRedFirstScreen: the failed scenario's name, failure and the first
// lines of its diagnostics are on the first screen, with its red chart.
func checkRedFirstScreen(t *testing.T, s seen, failed string) {
	t.Helper()
	if len(s.Failures) == 0 {
		t.Fatalf("no failed scenario on the page; want %q", failed)
	}
	f := s.Failures[0]
	if failed != "" && f.Name != failed {
		t.Errorf("first failure shown is %q, want %q", f.Name, failed)
	}
	if f.Title.Bottom > screenH || f.Title.Height == 0 {
		t.Errorf("the failed scenario's name is at %.0f–%.0f px, not within the first %d", f.Title.Top, f.Title.Bottom, screenH)
	}
	if f.Failure.Top+30 > screenH || f.Failure.Height == 0 {
		t.Errorf("its failure starts at %.0f px, not within the first %d", f.Failure.Top, screenH)
	}
	// Three lines of diagnostics, at least.
	if f.Diagnostics.Height == 0 || f.Diagnostics.Top+50 > screenH {
		t.Errorf("its diagnostics start at %.0f px (%.0f high), not within the first %d", f.Diagnostics.Top, f.Diagnostics.Height, screenH)
	}
	if n := count(s.First, colorBad); n < 300 {
		t.Errorf("%d red pixels on the first screen: the failing chart is not there", n)
	}
}

// checkGreenFirstScreen: a chart on the first screen, drawn.
func checkGreenFirstScreen(t *testing.T, s seen) {
	t.Helper()
	on := 0
	for _, b := range s.SVGs {
		if b.Top < screenH && b.Bottom > 0 && b.Width >= 1 && b.Height >= 1 {
			on++
		}
	}
	if on == 0 {
		t.Errorf("no chart within the first %d px", screenH)
	}
	if n := count(s.First, colorOK); n < 150 {
		t.Errorf("%d green pixels on the first screen: no chart drawn there", n)
	}
}

// fixtureRun builds testdata/fixturerun and runs it into a report folder;
// labelFilter "" runs every spec, one of which fails on purpose.
func fixtureRun(t *testing.T, bin, dir, labelFilter string) string {
	t.Helper()
	args := []string{"--report-dir=" + dir, "--ginkgo.seed=2718", "--ginkgo.no-color"}
	if labelFilter != "" {
		args = append(args, "--ginkgo.label-filter="+labelFilter)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	red := labelFilter == ""
	if red != (err != nil) {
		t.Fatalf("fixture run (label filter %q): err %v, want a %s run\n%s", labelFilter, err, map[bool]string{true: "failing", false: "passing"}[red], out)
	}
	page := filepath.Join(dir, FileName)
	if _, err := os.Stat(page); err != nil {
		t.Fatalf("the fixture run wrote no page: %v\n%s", err, out)
	}
	return page
}

func buildFixture(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH (go test puts GOROOT/bin there): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "fixturerun.test")
	if out, err := exec.Command(gobin, "test", "-c", "-o", bin, "./testdata/fixturerun").CombinedOutput(); err != nil {
		t.Fatalf("build the fixture suite: %v\n%s", err, out)
	}
	return bin
}

// The failed spec of testdata/fixturerun.
const fixtureFailed = "Fixture: two regions, no DestinationRule keeps every request in kr/a (wrong on purpose: no outlier detection, so no failover priority)"

func TestReportPagesInChromium(t *testing.T) {
	browser := chromium(t)
	bin := buildFixture(t)
	shots := screenshotDir(t)

	t.Run("red run", func(t *testing.T) {
		page := fixtureRun(t, bin, t.TempDir(), "")
		html := copyPage(t, page, filepath.Join(shots, "red-run.html"))
		s := look(t, browser, page, "red-run")
		checkRendered(t, s, html)
		checkRedFirstScreen(t, s, fixtureFailed)
		f := s.Failures[0]
		if !strings.Contains(f.FailureText, "kr/a") {
			t.Errorf("the failure shown lacks the split: %q", f.FailureText)
		}
		if !strings.Contains(f.DiagText, "envoy view") {
			t.Errorf("the diagnostics shown lack the endpoint tables: %.300q", f.DiagText)
		}
	})
	t.Run("green run", func(t *testing.T) {
		page := fixtureRun(t, bin, t.TempDir(), "!fixture:wrong")
		html := copyPage(t, page, filepath.Join(shots, "green-run.html"))
		s := look(t, browser, page, "green-run")
		checkRendered(t, s, html)
		if len(s.Failures) != 0 {
			t.Errorf("a green run shows %d failures", len(s.Failures))
		}
		checkGreenFirstScreen(t, s)
	})
	// The page of the last `make specs` (CI runs it before make test).
	t.Run("make specs page", func(t *testing.T) {
		page, err := filepath.Abs(filepath.Join("..", "..", "reports", FileName))
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(page)
		if err != nil {
			t.Logf("no %s (make specs writes it): only the fixture runs were looked at", page)
			return
		}
		s := look(t, browser, page, "index")
		checkRendered(t, s, string(data))
		if len(s.Failures) > 0 {
			checkRedFirstScreen(t, s, "")
		} else {
			checkGreenFirstScreen(t, s)
		}
		t.Logf("%s: %d SVGs, %.0f px high, %d failed scenarios", page, len(s.SVGs), s.Height, len(s.Failures))
	})
}

// copyPage copies the page next to its screenshots and returns its text.
func copyPage(t *testing.T, from, to string) string {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("page: %s", to)
	return string(data)
}
