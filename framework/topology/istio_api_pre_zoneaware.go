//go:build istiod_pre_zoneaware

package topology

// The surface of istio_api.go for an istiod without zone aware routing
// (see there): such an istiod has no zoneAwareLbSetting to validate, so a
// topology that sets one is refused.

import (
	"errors"

	networkingapi "istio.io/api/networking/v1alpha3"
)

// validateZoneAwareLbSetting refuses every setting: this istiod ignores it.
func validateZoneAwareLbSetting(*networkingapi.ZoneAwareLoadBalancerSetting, *networkingapi.OutlierDetection) error {
	return errors.New("this build's istiod (built with -tags=istiod_pre_zoneaware) has no zone aware routing: remove zoneAwareLbSetting or use an istiod that has it")
}
