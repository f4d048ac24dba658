//go:build !istiod_pre_zoneaware

// The one call of framework/topology into istiod's zone aware routing API
// (the pinned istio.io/istio and later): Istio's own check of
// meshConfig.zoneAwareLbSetting. istiod_pre_zoneaware.go is the same
// function for an istiod without it (the embedded upgrade check builds the
// specs with -tags=istiod_pre_zoneaware for such a version; docs/upgrades.md).
package topology

import (
	networkingapi "istio.io/api/networking/v1alpha3"
	"istio.io/istio/pkg/config/validation/agent"
)

// validateZoneAwareLbSetting is Istio's ValidateMeshConfig check of
// meshConfig.zoneAwareLbSetting (with an empty outlier detection, as
// ValidateMeshConfig passes).
func validateZoneAwareLbSetting(za *networkingapi.ZoneAwareLoadBalancerSetting) error {
	return agent.ValidateZoneAwareLbSetting(za, &networkingapi.OutlierDetection{}).Err
}
