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
// them twice (≈ 2 min with a warm build cache), so `go test ./...` leaves
// it out and .ci/run runs it by name.
const envHookTest = "LOCALITY_E2E_UPGRADE_HOOK_TEST"

// A deliberately changed side is reported as a change: FROM = TO = the
// pinned istiod, the real spec binary, the TO run with a mesh config
// overlay that turns the mesh's default localityLbSetting off (the
// embedded backend's LOCALITY_E2E_MESH_OVERLAY hook). The baseline spec
// "with outlier detection alone, keeps every request in kr/a" relies on
// that default (istiod gives kr/b priority 1, us priority 2 only with
// locality load balancing on), so the diff must name it.
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
	if err := os.WriteFile(overlay, []byte("localityLbSetting:\n  enabled: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reports := t.TempDir()
	d := realEmbeddedDeps()
	d.getwd = func() (string, error) { return root, nil }
	var out, errb bytes.Buffer
	code := runEmbedded(context.Background(), []string{"--from=" + pinned, "--to=" + pinned, "--label-filter=locality:baseline",
		"--report-dir=" + reports, "--to-mesh-overlay=" + overlay}, &out, &errb, d)
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
	var named bool
	for _, c := range fingerprint.Diff(a, b, fingerprint.DiffOptions{}) {
		if strings.Contains(c.Scenario, "with outlier detection alone") {
			named = true
		}
	}
	if !named {
		t.Errorf("the diff does not name the outlier-detection-alone scenario:\n%s", out.String())
	}
}
