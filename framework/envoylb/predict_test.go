package envoylb

import (
	"math"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestPredictKnownShares checks Predict against hand-computed shares.
func TestPredictKnownShares(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster *clusterv3.Cluster
		groups  []group
		want    map[string]float64 // by locality
		nhu     float64
	}{
		{"uniform over hosts without locality weights", makeCluster(clusterv3.Cluster_LEAST_REQUEST),
			[]group{{zone: "a", weight: 90, healthy: 3}, {zone: "b", weight: 10, healthy: 1}},
			map[string]float64{"r/a/": 0.75, "r/b/": 0.25}, 0},
		{"locality weights 90/10", withLocalityLB(makeCluster(clusterv3.Cluster_LEAST_REQUEST)),
			[]group{{zone: "a", weight: 90, healthy: 3}, {zone: "b", weight: 10, healthy: 3}},
			map[string]float64{"r/a/": 0.9, "r/b/": 0.1}, 0},
		{"effective locality weight 42/52", withLocalityLB(makeCluster(clusterv3.Cluster_ROUND_ROBIN)),
			[]group{{zone: "a", weight: 90, healthy: 1, unhealthy: 2}, {zone: "b", weight: 10, healthy: 3}},
			map[string]float64{"r/a/": 42.0 / 52, "r/b/": 10.0 / 52}, 0},
		{"priority spill 2/3 healthy: 93/7", withPanic(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 0),
			[]group{{zone: "b", healthy: 2, unhealthy: 1}, {priority: 1, zone: "a", healthy: 3}, {priority: 1, zone: "c", healthy: 3}},
			map[string]float64{"r/b/": 0.93, "r/a/": 0.035, "r/c/": 0.035}, 0},
		{"empty priority 0 with panic off: priority 1 takes all", withPanic(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 0),
			[]group{{zone: "b", unhealthy: 3}, {priority: 1, zone: "a", healthy: 3}},
			map[string]float64{"r/b/": 0, "r/a/": 1}, 0},
		{"nothing healthy, panic off: no healthy upstream", withPanic(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 0),
			[]group{{zone: "b", unhealthy: 3}},
			map[string]float64{"r/b/": 0}, 1},
		{"nothing healthy, panic 50: all hosts", makeCluster(clusterv3.Cluster_ROUND_ROBIN),
			[]group{{zone: "b", unhealthy: 2}, {zone: "c", unhealthy: 2}},
			map[string]float64{"r/b/": 0.5, "r/c/": 0.5}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Predict(tc.cluster, makeCLA(tc.groups...), PredictOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := p.ByLocality()
			for l, w := range tc.want {
				if !near(got[l], w) {
					t.Errorf("%s: share %.6f, want %.6f (all %v)", l, got[l], w, got)
				}
			}
			if !near(p.NoHealthyUpstream, tc.nhu) {
				t.Errorf("no healthy upstream %.4f, want %.4f", p.NoHealthyUpstream, tc.nhu)
			}
			sum := p.NoHealthyUpstream
			for _, s := range got {
				sum += s
			}
			if !near(sum, 1) {
				t.Errorf("shares sum to %v", sum)
			}
		})
	}
}

// TestPredictMatchesPicks runs the model's own picks and compares them with
// Predict: the weighted locality schedule within ±2 per locality, random
// priority and host choices within 5 standard deviations.
func TestPredictMatchesPicks(t *testing.T) {
	const n = 20000
	for _, tc := range []struct {
		name    string
		cluster *clusterv3.Cluster
		groups  []group
	}{
		{"least request, no locality weights", makeCluster(clusterv3.Cluster_LEAST_REQUEST),
			[]group{{zone: "a", weight: 2, healthy: 2}, {zone: "b", weight: 5, healthy: 5}}},
		{"locality weights with unhealthy hosts", withLocalityLB(makeCluster(clusterv3.Cluster_ROUND_ROBIN)),
			[]group{{zone: "a", weight: 70, healthy: 1, unhealthy: 2}, {zone: "b", weight: 30, healthy: 3}}},
		{"priority spill", withPanic(withLocalityLB(makeCluster(clusterv3.Cluster_LEAST_REQUEST)), 0),
			[]group{{zone: "b", weight: 3, healthy: 1, unhealthy: 2}, {priority: 1, zone: "a", weight: 3, healthy: 3}, {priority: 1, zone: "c", weight: 1, healthy: 1}}},
		{"random", makeCluster(clusterv3.Cluster_RANDOM),
			[]group{{zone: "a", healthy: 1}, {zone: "b", healthy: 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cla := makeCLA(tc.groups...)
			p, err := Predict(tc.cluster, cla, PredictOptions{})
			if err != nil {
				t.Fatal(err)
			}
			lb := mustNew(t, tc.cluster, cla, Options{Seed: 7})
			if got := lb.Prediction().ByLocality(); !equalShares(got, p.ByLocality()) {
				t.Errorf("LB.Prediction %v != Predict %v", got, p.ByLocality())
			}
			got := localityCounts(t, lb, n)
			for l, s := range p.ByLocality() {
				sd := math.Sqrt(n * s * (1 - s))
				if d := math.Abs(float64(got[l]) - n*s); d > 5*sd+2 {
					t.Errorf("%s: %d picks, predicted %.1f (share %.4f)", l, got[l], n*s, s)
				}
			}
		})
	}
}

func equalShares(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !near(v, b[k]) {
			return false
		}
	}
	return true
}

func TestPredictEjectedAndErrors(t *testing.T) {
	cla := makeCLA(group{zone: "b", healthy: 3}, group{priority: 1, zone: "a", healthy: 3})
	ej := map[string]bool{}
	for _, h := range cla.Endpoints[0].LbEndpoints[:1] {
		sa := h.GetEndpoint().GetAddress().GetSocketAddress()
		ej[Host{Address: sa.GetAddress(), Port: sa.GetPortValue()}.Key()] = true
	}
	p, err := Predict(withPanic(makeCluster(clusterv3.Cluster_ROUND_ROBIN), 0), cla, PredictOptions{Ejected: ej})
	if err != nil {
		t.Fatal(err)
	}
	if !near(p.ByLocality()["r/b/"], 0.93) || p.HealthyLoad[0] != 93 || p.Priorities[0].Health != 93 {
		t.Errorf("one of three ejected: %+v", p)
	}
	if p.Hosts[0].Health != "EJECTED" || p.Hosts[0].Share != 0 {
		t.Errorf("ejected host: %+v", p.Hosts[0])
	}
	if _, err := Predict(nil, cla, PredictOptions{}); err == nil {
		t.Error("nil cluster accepted")
	}
	if _, err := Predict(makeCluster(clusterv3.Cluster_ROUND_ROBIN), nil, PredictOptions{}); err == nil {
		t.Error("nil CLA accepted")
	}
	if _, err := Predict(makeCluster(clusterv3.Cluster_MAGLEV), cla, PredictOptions{}); err == nil {
		t.Error("MAGLEV accepted")
	}
	withStatus(cla, 0, corev3.HealthStatus_DRAINING)
	p, _ = Predict(makeCluster(clusterv3.Cluster_ROUND_ROBIN), cla, PredictOptions{})
	if p.Hosts[0].Health != "DRAINING" || p.Priorities[0].Excluded != 1 {
		t.Errorf("draining host: %+v", p.Hosts[0])
	}
}
