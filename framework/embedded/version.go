package embedded

import localitye2e "github.com/localitylb/locality-e2e"

// istioSourceVersion is the content of the VERSION file at the root of the
// pinned istio.io/istio module (go.mod pins a master pseudo-version, whose
// VERSION names the minor under development). It cannot be read at build
// time: go:embed reaches only this module's files, and the istio module's
// own version variables (istio.io/istio/pkg/version: buildVersion and
// friends) are "unknown" unless set with -ldflags by Istio's release build.
// TestIstioSourceVersionMatchesModule reads the module's VERSION file from
// the module cache and fails when this constant no longer matches, e.g.
// after a go.mod bump.
const istioSourceVersion = "1.31"

// Set with -ldflags=-X by the embedded upgrade check (cmd/upgrade-check
// embedded), which builds the specs against another istio.io/istio than
// go.mod's through a scratch -modfile: go:embed (module.go) still reads
// this module's go.mod, so without them the fingerprint would name the
// pinned version. Empty in every other build.
var (
	// istioModuleOverride is the istio.io/istio module version the binary
	// was built with, e.g. v0.0.0-20260423205519-b01690e6db7d.
	istioModuleOverride string
	// istioSourceOverride is that module's VERSION file, e.g. 1.30.
	istioSourceOverride string
)

// proxyVersion is the Istio version the simulated sidecars announce
// (node metadata ISTIO_VERSION): the istiod's own version, spelled as
// Istio's Makefile.core.mk names a build from a source tree that is not a
// release ("VERSION := $(VERSION_FROM_FILE)-dev"). istiod parses it with
// model.ParseIstioVersion as that minor with the largest patch, the
// version of a proxy built from the same commit.
var proxyVersion = orString(istioSourceOverride, istioSourceVersion) + "-dev"

// istioModuleVersion is the istio.io/istio version this binary was built
// with: the istiod code this backend runs.
func istioModuleVersion() string {
	if istioModuleOverride != "" {
		return "istio.io/istio " + istioModuleOverride
	}
	if v := localitye2e.ModuleVersion("istio.io/istio"); v != "" {
		return "istio.io/istio " + v
	}
	return "istio.io/istio (unknown version)"
}

func orString(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
