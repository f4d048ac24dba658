package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	localitye2e "github.com/localitylb/locality-e2e"
	"github.com/localitylb/locality-e2e/framework/fingerprint"
)

// envHookTest runs TestMeshOverlayIsAChange: it builds the specs and runs
// them twice (≈ 1-2 min with a warm build cache), so `go test ./...` leaves
// it out and .ci/run runs it by name.
const envHookTest = "LOCALITY_E2E_UPGRADE_HOOK_TEST"

// A deliberately changed side is reported as a change: FROM = TO = the
// pinned istiod, the real spec binary, the TO run with a mesh config
// overlay that changes the mesh's default localityLbSetting (the embedded
// backend's LOCALITY_E2E_MESH_OVERLAY hook) to distribute kr/a's traffic
// to kr/a only. The baseline spec "spreads requests evenly over the eight
// pods" has no DestinationRule, so the mesh default applies to it: its
// per-pod split must be reported as changed. (The spec fails on that side;
// it asserts no endpoint table, so the run does not wait for one.)
func TestMeshOverlayIsAChange(t *testing.T) {
	if os.Getenv(envHookTest) == "" {
		t.Skipf("builds and runs the specs: set %s=1 (.ci/run does)", envHookTest)
	}
	pinned := localitye2e.ModuleVersion(istioModule)
	if pinned == "" {
		t.Fatal("go.mod pins no istio.io/istio")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(t.TempDir(), "overlay.yaml")
	if err := os.WriteFile(overlay, []byte("localityLbSetting:\n  distribute:\n  - from: kr/a/*\n    to:\n      \"kr/a/*\": 100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reports := t.TempDir()
	d := realEmbeddedDeps()
	d.getwd = func() (string, error) { return root, nil }
	var out, errb bytes.Buffer
	code := runEmbedded(context.Background(), []string{"--from=" + pinned, "--to=" + pinned, "--label-filter=locality:baseline",
		"--focus=eight pods", "--report-dir=" + reports, "--to-mesh-overlay=" + overlay}, &out, &errb, d)
	t.Log(out.String())
	if code != exitChanged {
		t.Fatalf("exit %d, want %d (a change)\nstderr:\n%s", code, exitChanged, errb.String())
	}
	dir := filepath.Join(reports, pinned+".."+pinned)
	a, err := fingerprint.Read(filepath.Join(dir, "from", fingerprint.FileName))
	if err != nil {
		t.Fatal(err)
	}
	b, err := fingerprint.Read(filepath.Join(dir, "to", fingerprint.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var split bool
	for _, c := range fingerprint.Diff(a, b, fingerprint.DiffOptions{}) {
		if strings.Contains(c.Scenario, "spreads requests evenly over the eight pods") && c.Kind == fingerprint.KindSplit {
			split = true
		}
	}
	if !split {
		t.Errorf("the diff does not report the eight-pod split as changed:\n%s", out.String())
	}
}
