//go:build istiod_pre_zoneaware

// istiod_zoneaware.go's function for an istio.io/istio without zone aware
// routing (e.g. v0.0.0-20260423205519-b01690e6db7d: no
// agent.ValidateZoneAwareLbSetting). Built only by the embedded upgrade
// check (cmd/upgrade-check embedded, -tags=istiod_pre_zoneaware).
package topology

import networkingapi "istio.io/api/networking/v1alpha3"

// validateZoneAwareLbSetting: this istiod has no check of
// meshConfig.zoneAwareLbSetting, and ignores the setting; the zone-aware
// specs skip themselves on it (embedded Capabilities.ZoneAwareRouting).
func validateZoneAwareLbSetting(*networkingapi.ZoneAwareLoadBalancerSetting) error { return nil }
