package embedded

import "runtime/debug"

// istioModuleVersion reads the istio.io/istio version this binary was built
// with from the module build info.
func istioModuleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "istio.io/istio (unknown version)"
	}
	for _, d := range bi.Deps {
		if d.Path == "istio.io/istio" {
			if d.Replace != nil {
				return "istio.io/istio " + d.Replace.Version
			}
			return "istio.io/istio " + d.Version
		}
	}
	return "istio.io/istio (unknown version)"
}
