package embedded

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMeshOverlayHook(t *testing.T) {
	t.Setenv(EnvMeshOverlay, "")
	def, err := defaultMeshConfig()
	if err != nil || !def.GetLocalityLbSetting().GetEnabled().GetValue() || def.GetLocalityLbSetting().GetDistribute() != nil {
		t.Fatalf("without the hook: istiod's default mesh config (locality load balancing on, no distribute): %v, %v", def.GetLocalityLbSetting(), err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("localityLbSetting:\n  distribute:\n  - from: kr/a/*\n    to:\n      \"kr/a/*\": 100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvMeshOverlay, good)
	mc, err := defaultMeshConfig()
	if err != nil {
		t.Fatal(err)
	}
	if d := mc.GetLocalityLbSetting().GetDistribute(); len(d) != 1 || d[0].GetFrom() != "kr/a/*" || d[0].GetTo()["kr/a/*"] != 100 {
		t.Errorf("overlay not applied: %v", mc.GetLocalityLbSetting())
	}
	if mc.GetDefaultConfig() == nil {
		t.Error("the overlay must merge over istiod's default, not replace it")
	}
	for name, body := range map[string]string{"unknown-field.yaml": "localityLbSettings: {}\n", "bad-weights.yaml": "localityLbSetting:\n  distribute:\n  - from: kr/a/*\n    to:\n      \"kr/a/*\": 50\n"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv(EnvMeshOverlay, p)
		if _, err := defaultMeshConfig(); err == nil || !strings.Contains(err.Error(), EnvMeshOverlay) {
			t.Errorf("%s: %v, want an error naming %s", name, err, EnvMeshOverlay)
		}
	}
	t.Setenv(EnvMeshOverlay, filepath.Join(dir, "missing.yaml"))
	if _, err := defaultMeshConfig(); err == nil || !strings.Contains(err.Error(), EnvMeshOverlay) {
		t.Errorf("missing file: %v", err)
	}
}
