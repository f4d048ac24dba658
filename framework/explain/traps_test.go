package explain

import (
	"errors"
	"strings"
	"testing"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/topology"
)

func isBadInput(err error) bool { return errors.Is(err, ErrBadInput) }

func parse(t *testing.T, spec string) *networkingv1.DestinationRule {
	t.Helper()
	doc := "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: r\nspec:\n  host: helloworld-svc.default.svc.cluster.local\n  trafficPolicy:\n" + spec
	dr, err := destinationrule.Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return dr
}

func TestTraps(t *testing.T) {
	outlier := "    outlierDetection:\n      consecutive5xxErrors: 1\n      interval: 1s\n      baseEjectionTime: 1m\n"
	for _, tc := range []struct {
		name string
		spec string
		topo topology.Topology
		want []string // substrings, one warning each; nil: no warning
	}{
		{"failover without outlierDetection", "    loadBalancer:\n      localityLbSetting:\n        enabled: true\n        failover:\n        - from: kr\n          to: us\n",
			topology.TwoRegions(), []string{"no outlierDetection", "failover does nothing"}},
		{"failoverPriority without outlierDetection", "    loadBalancer:\n      localityLbSetting:\n        failoverPriority:\n        - topology.kubernetes.io/zone\n",
			topology.ThreeZones(), []string{"failoverPriority does nothing"}},
		{"distribute from no client", "    loadBalancer:\n      localityLbSetting:\n        distribute:\n        - from: us/*\n          to:\n            \"kr/a/*\": 100\n",
			topology.ThreeZones(), []string{`distribute[0].from "us/*" matches no client (clients are in kr/b)`}},
		{"distribute from a client: fine", "    loadBalancer:\n      localityLbSetting:\n        distribute:\n        - from: kr/*\n          to:\n            \"kr/a/*\": 100\n",
			topology.ThreeZones(), nil},
		{"maxEjectionPercent default", outlier, topology.ThreeZones(),
			[]string{"maxEjectionPercent is unset (Envoy's default 10): Envoy ejects at most 0 of the cluster's 9 hosts", "locality kr/b has 3", "≥ 34"}},
		{"maxEjectionPercent 30 of 9 hosts", outlier + "      maxEjectionPercent: 30\n", topology.ThreeZones(),
			[]string{"maxEjectionPercent is 30: Envoy ejects at most 2 of the cluster's 9 hosts"}},
		{"maxEjectionPercent 34 is enough", outlier + "      maxEjectionPercent: 34\n", topology.ThreeZones(), nil},
		{"enabled false", "    loadBalancer:\n      localityLbSetting:\n        enabled: false\n", topology.ThreeZones(),
			[]string{"enabled is false"}},
		{"failoverPriority label no pod carries", "    loadBalancer:\n      localityLbSetting:\n        failoverPriority:\n        - tier\n        - topology.kubernetes.io/zone\n" + outlier + "      maxEjectionPercent: 100\n",
			topology.ThreeZones(), []string{`failoverPriority[0] "tier": no pod carries label tier`}},
		{"failoverPriority key=value no pod carries", "    loadBalancer:\n      localityLbSetting:\n        failoverPriority:\n        - tier=bronze\n" + outlier + "      maxEjectionPercent: 100\n",
			topology.ThreeZonesTiers(), []string{"no pod carries label tier=bronze"}},
		{"failoverPriority carried", "    loadBalancer:\n      localityLbSetting:\n        failoverPriority:\n        - tier=gold\n        - topology.kubernetes.io/region\n" + outlier + "      maxEjectionPercent: 100\n",
			topology.ThreeZonesTiers(), nil},
		{"port level setting without outlier", "    portLevelSettings:\n    - port:\n        number: 5000\n      loadBalancer:\n        localityLbSetting:\n          failover:\n          - from: kr\n            to: us\n",
			topology.TwoRegions(), []string{"portLevelSettings[0] has no outlierDetection"}},
		{"zoneAwareLbSetting minClusterSize default 6 above the region's 4 pods", "    loadBalancer:\n      zoneAwareLbSetting:\n        enabled: true\n",
			topology.TwoRegions(), []string{"zoneAwareLbSetting.minClusterSize is unset (Envoy's default 6) but region kr has 4 upstream pods at priority 0"}},
		{"zoneAwareLbSetting minClusterSize 10 above 9 pods", "    loadBalancer:\n      zoneAwareLbSetting:\n        minClusterSize: 10\n",
			topology.ThreeZones(), []string{"minClusterSize is 10 but region kr has 9 upstream pods"}},
		{"zoneAwareLbSetting minClusterSize 9 of 9 pods: fine", "    loadBalancer:\n      zoneAwareLbSetting:\n        minClusterSize: 9\n",
			topology.ThreeZones(), nil},
		{"zoneAwareLbSetting enabled false", "    loadBalancer:\n      zoneAwareLbSetting:\n        enabled: false\n",
			topology.ThreeZones(), []string{"zoneAwareLbSetting.enabled is false: istiod sets routing_enabled 0%"}},
		{"zoneAwareLbSetting failover from no client's region", "    loadBalancer:\n      zoneAwareLbSetting:\n        failover:\n        - from: us\n          to: kr\n",
			topology.ThreeZones(), []string{`zoneAwareLbSetting.failover[0].from "us" matches no client's region`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Traps(parse(t, tc.spec), tc.topo.WithDefaults())
			if tc.want == nil {
				if len(got) != 0 {
					t.Errorf("warnings %q, want none", got)
				}
				return
			}
			all := strings.Join(got, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("warnings lack %q:\n%s", w, all)
				}
			}
		})
	}
	if got := Traps(nil, topology.ThreeZones()); got != nil {
		t.Errorf("no rule: %q", got)
	}
}

// TestTrapsMultiNetworkAndMeshDefault: across networks the prediction stops
// at the gateway; a rule's localityLbSetting replaces the mesh default.
func TestTrapsMultiNetworkAndMeshDefault(t *testing.T) {
	has := func(warns []string, s string) bool {
		for _, w := range warns {
			if strings.Contains(w, s) {
				return true
			}
		}
		return false
	}
	outlier := "    outlierDetection:\n      consecutive5xxErrors: 1\n      interval: 1s\n      baseEjectionTime: 1m\n      maxEjectionPercent: 100\n"
	if w := Traps(nil, topology.LocalityTask(1, true)); !has(w, "spans several networks") {
		t.Errorf("multi-network: %v", w)
	}
	if w := Traps(nil, topology.LocalityTask(1, false)); has(w, "spans several networks") {
		t.Errorf("one network: %v", w)
	}
	topo := topology.ThreeZones()
	topo.Mesh.LocalityLbSetting = parse(t, "    loadBalancer:\n      localityLbSetting:\n        enabled: true\n").Spec.TrafficPolicy.LoadBalancer.LocalityLbSetting
	dr := parse(t, "    loadBalancer:\n      localityLbSetting:\n        enabled: true\n"+outlier)
	if w := Traps(dr, topo); !has(w, "replaces it whole") {
		t.Errorf("mesh default replaced: %v", w)
	}
	if w := Traps(parse(t, outlier), topo); has(w, "replaces it whole") {
		t.Errorf("outlier only keeps the mesh default: %v", w)
	}
}
