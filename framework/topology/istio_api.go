//go:build !istiod_pre_zoneaware

package topology

// The istio.io/istio API this package uses that older istiod versions lack
// (zone aware routing), for the pinned istiod and later ones;
// istio_api_pre_zoneaware.go is the same surface for an istiod without it.
// The embedded upgrade check (cmd/upgrade-check embedded) builds with
// -tags=istiod_pre_zoneaware for such a version, as it does for
// framework/embedded's istiod_api.go.

import (
	networkingapi "istio.io/api/networking/v1alpha3"
	"istio.io/istio/pkg/config/validation/agent"
)

// validateZoneAwareLbSetting is Istio's own check of a zoneAwareLbSetting
// (pkg/config/validation/agent ValidateZoneAwareLbSetting).
func validateZoneAwareLbSetting(za *networkingapi.ZoneAwareLoadBalancerSetting, od *networkingapi.OutlierDetection) error {
	return agent.ValidateZoneAwareLbSetting(za, od).Err
}
