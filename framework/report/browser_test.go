package report

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnvChromium names the browser binary TestPageInHeadlessChromium uses;
// unset, it looks for chromium, chromium-browser, google-chrome on PATH.
const EnvChromium = "LOCALITY_E2E_CHROMIUM"

// EnvScreenshots is the folder the browser tests write their screenshots
// into, for a person to look at; unset, reports/screenshots of the
// repository (TestReportPagesInChromium) or the test's temp dir (the older
// known-report tests).
const EnvScreenshots = "LOCALITY_E2E_SCREENSHOTS"

func chromium(t *testing.T) string {
	t.Helper()
	if b := os.Getenv(EnvChromium); b != "" {
		return b
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const why = "no headless browser to render the page in: install Debian's chromium package " +
		"(apt-get install chromium; .ci/run does) or set " + EnvChromium + "=<path to chromium or chrome>"
	if os.Getenv("CI") == "true" {
		// CI must look at the page: a missing browser is a broken CI setup.
		t.Fatal("CI=true: " + why)
	}
	t.Skip(why)
	return ""
}

// headless runs the browser on a local file with extra flags and returns
// its stdout.
func headless(t *testing.T, browser, page string, flags ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--no-first-run", "--disable-extensions", "--user-data-dir=" + t.TempDir()}, flags...)
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, browser, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", browser, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func screenshot(t *testing.T, browser, page string, w, h int) image.Image {
	t.Helper()
	shot := filepath.Join(t.TempDir(), "page.png")
	headless(t, browser, page, "--window-size="+strconv.Itoa(w)+","+strconv.Itoa(h), "--screenshot="+shot)
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("the browser wrote no screenshot: %v", err)
	}
	if dir := os.Getenv(EnvScreenshots); dir != "" {
		_ = os.MkdirAll(dir, 0o755)
		out := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".png")
		if err := os.WriteFile(out, data, 0o644); err == nil {
			t.Logf("screenshot: %s", out)
		}
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// count returns how many pixels have exactly the colour.
func count(img image.Image, c color.NRGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(bl>>8) == c.B {
				n++
			}
		}
	}
	return n
}

// TestPageInHeadlessChromium opens the known report's page in a real
// browser: the DOM it builds has every chart as an SVG element, failed
// scenario first, and the screenshot shows red (failed) and green bars.
func TestPageInHeadlessChromium(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, FileName)
	if err := os.WriteFile(page, []byte(render(t, knownReport())), 0o644); err != nil {
		t.Fatal(err)
	}

	dom := parse(t, string(headless(t, browser, page, "--dump-dom")))
	sections := all(dom, tag("section", "scenario"))
	if len(sections) != len(want) || attr(sections[0], "data-result") != "failed" {
		t.Fatalf("the browser sees %d scenarios, the first %q; want %d, failed first", len(sections), attr(sections[0], "data-result"), len(want))
	}
	charts := 0
	for _, f := range all(dom, tag("figure", "split")) {
		charts += len(all(f, tag("svg")))
	}
	if charts != 3 {
		t.Errorf("the browser sees %d chart SVGs, want 3", charts)
	}

	img := screenshot(t, browser, page, 1280, 3000)
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 3000 {
		t.Errorf("screenshot is %v", b)
	}
	if n := count(img, colorBad); n < 2000 {
		t.Errorf("%d pixels of the failed bars' red: the failed scenario's chart did not render", n)
	}
	if n := count(img, colorOK); n < 2000 {
		t.Errorf("%d pixels of the passed bars' green: the passed scenarios' charts did not render", n)
	}
}

func TestUpgradePageInHeadlessChromium(t *testing.T) {
	browser := chromium(t)
	page := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(page, []byte(renderUpgrade(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	img := screenshot(t, browser, page, 1280, 1400)
	if n := count(img, colorOld); n < 1000 {
		t.Errorf("%d pixels of the earlier run's grey bars", n)
	}
	if n := count(img, colorBad); n < 1000 {
		t.Errorf("%d pixels of the red bars", n)
	}
}
