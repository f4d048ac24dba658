package embedded

import localitye2e "github.com/localitylb/locality-e2e"

// istioModuleVersion is the istio.io/istio version go.mod pins: the istiod
// code this backend runs.
func istioModuleVersion() string {
	if v := localitye2e.ModuleVersion("istio.io/istio"); v != "" {
		return "istio.io/istio " + v
	}
	return "istio.io/istio (unknown version)"
}
