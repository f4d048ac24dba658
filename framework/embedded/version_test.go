package embedded

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"istio.io/istio/pilot/pkg/model"
)

// The sidecars announce the pinned istio module's own version: its VERSION
// file (read from the module cache) with Istio's "-dev" suffix.
func TestIstioSourceVersionMatchesModule(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/istio").Output()
	if err != nil {
		t.Skipf("go list -m istio.io/istio: %v (no go command or module cache)", err)
	}
	dir := strings.TrimSpace(string(out))
	b, err := os.ReadFile(filepath.Join(dir, "VERSION"))
	if err != nil {
		t.Skipf("the istio module's VERSION file: %v", err)
	}
	if got := strings.TrimSpace(string(b)); got != istioSourceVersion {
		t.Fatalf("the pinned istio.io/istio's VERSION is %q, istioSourceVersion is %q: update framework/embedded/version.go", got, istioSourceVersion)
	}
	if proxyVersion != istioSourceVersion+"-dev" {
		t.Errorf("proxyVersion %q", proxyVersion)
	}
	// istiod reads it as that minor (pilot/pkg/model/context.go ParseIstioVersion).
	v := model.ParseIstioVersion(proxyVersion)
	if got := v.String(); !strings.HasPrefix(got, istioSourceVersion+".") {
		t.Errorf("istiod parses %q as %s", proxyVersion, got)
	}
}
