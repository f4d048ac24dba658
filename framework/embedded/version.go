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

// proxyVersion is the Istio version the simulated sidecars announce
// (node metadata ISTIO_VERSION): the pinned istiod's own version, spelled
// as Istio's Makefile.core.mk names a build from a source tree that is not
// a release ("VERSION := $(VERSION_FROM_FILE)-dev"). istiod parses it with
// model.ParseIstioVersion as 1.31 with the largest patch, the version of
// a proxy built from the same commit.
const proxyVersion = istioSourceVersion + "-dev"

// istioModuleVersion is the istio.io/istio version go.mod pins: the istiod
// code this backend runs.
func istioModuleVersion() string {
	if v := localitye2e.ModuleVersion("istio.io/istio"); v != "" {
		return "istio.io/istio " + v
	}
	return "istio.io/istio (unknown version)"
}
