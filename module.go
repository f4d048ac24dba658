// Package localitye2e is the module root. It only embeds go.mod, so the
// framework can report the exact versions it was built against (the
// istio.io/istio code the embedded backend runs) even in test binaries,
// which carry no module build info.
package localitye2e

import (
	_ "embed"
	"strings"
)

//go:embed go.mod
var goMod string

// ModuleVersion returns the version go.mod requires for a module path, or "".
func ModuleVersion(path string) string {
	for _, line := range strings.Split(goMod, "\n") {
		f := strings.Fields(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "require")))
		if len(f) >= 2 && f[0] == path {
			return f[1]
		}
	}
	return ""
}
