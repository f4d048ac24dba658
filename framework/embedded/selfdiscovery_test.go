package embedded

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/localitylb/locality-e2e/framework/topology"
)

// TestSelfDiscoveryLocalCluster: a self-discovering client's sidecar
// receives istiod's local_cluster (its Service sleep's pods in its
// region, per zone), the model holds it, and the outbound cluster carries
// zone_aware_lb_config under a zoneAwareLbSetting rule.
func TestSelfDiscoveryLocalCluster(t *testing.T) {
	g := NewWithT(t)
	m := deployT(t, topology.ZoneAwareUneven())
	applyT(t, m, "zone-aware")
	local, err := m.ClientLocalCluster("sleep-a-1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(local).NotTo(BeNil())
	perZone := map[string]int{}
	for _, le := range local.GetEndpoints() {
		perZone[le.GetLocality().GetZone()] += len(le.GetLbEndpoints())
	}
	g.Expect(perZone).To(Equal(map[string]int{"a": 2, "b": 1, "c": 1}))
	cl, _, err := m.ClientConfig("sleep-a-1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cl.GetCommonLbConfig().GetZoneAwareLbConfig()).NotTo(BeNil())
	g.Expect(m.Capabilities().ZoneAwareRouting).To(BeTrue())

	// Envoy's calculateLocalityPercentages (load_balancer_impl.cc), in
	// 1/10000: callers a 5000, b 2500, c 2500; upstream hosts a 2500,
	// b 3750, c 3750. From kr/a, upstream a < local a, so
	// local_percent_to_route = 2500*10000/5000 = 5000 (50%); the residual
	// capacities b 3750-2500 = 1250 and c 1250 share the rest: 25% each.
	b, err := m.Send(context.Background(), "sleep-a-1", 400)
	g.Expect(err).NotTo(HaveOccurred())
	zone := map[string]int{}
	for _, r := range b.Responses {
		for _, z := range []string{"a", "b", "c"} {
			if strings.HasPrefix(r.Pod, "helloworld-zone-"+z+"-") {
				zone[z]++
			}
		}
	}
	// Binomial sd for n=400: 10 at p=0.5, 8.7 at p=0.25; ±5 sd.
	g.Expect(zone["a"]).To(BeNumerically("~", 200, 50), "%v", zone)
	g.Expect(zone["b"]).To(BeNumerically("~", 100, 44), "%v", zone)
	g.Expect(zone["c"]).To(BeNumerically("~", 100, 44), "%v", zone)
}
