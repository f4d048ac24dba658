package split_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/localitylb/locality-e2e/framework/envoylb"
	"github.com/localitylb/locality-e2e/framework/split"
)

// weightedCluster is a LEAST_REQUEST cluster (Istio's default) with
// locality_weighted_lb_config, and one priority of localities with the
// given weights, three healthy hosts each.
func weightedCluster(weights []uint32) (*clusterv3.Cluster, *endpointv3.ClusterLoadAssignment) {
	c := &clusterv3.Cluster{Name: "outbound|80||svc", LbPolicy: clusterv3.Cluster_LEAST_REQUEST,
		CommonLbConfig: &clusterv3.Cluster_CommonLbConfig{
			LocalityConfigSpecifier: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{
				LocalityWeightedLbConfig: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig{},
			}}}
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: c.Name}
	n := 0
	for i, w := range weights {
		lle := &endpointv3.LocalityLbEndpoints{
			Locality:            &corev3.Locality{Region: "r", Zone: fmt.Sprintf("z%d", i)},
			LoadBalancingWeight: wrapperspb.UInt32(w),
		}
		for range 3 {
			n++
			lle.LbEndpoints = append(lle.LbEndpoints, &endpointv3.LbEndpoint{
				HealthStatus: corev3.HealthStatus_HEALTHY,
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Address:       fmt.Sprintf("10.0.%d.%d", n/256, n%256),
						PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080},
					}}},
				}},
			})
		}
		cla.Endpoints = append(cla.Endpoints, lle)
	}
	return c, cla
}

// TestScheduleBound checks split.ScheduleBound against the Envoy model the
// embedded backend runs: for weighted locality splits of 2 to 4 localities,
// 1, 2 and 4 workers, seeded random schedule starts and a random number of
// picks before the batch, every batch's count per locality stays within
// N·p ± ScheduleBound. It also reports how much of the bound is used.
func TestScheduleBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 5))
	for _, weights := range [][]uint32{{90, 10}, {50, 50}, {2, 2}, {3, 1}, {7, 3}, {1, 1, 1}, {5, 3, 2}, {90, 5, 5}, {1, 1, 1, 1}, {4, 3, 2, 1}} {
		for _, workers := range []int{1, 2, 4} {
			total := 0.0
			for _, w := range weights {
				total += float64(w)
			}
			worst := 0.0 // the largest |count - N·p| / bound seen
			for seed := uint64(1); seed <= 40; seed++ {
				c, cla := weightedCluster(weights)
				lb, err := envoylb.New(c, cla, envoylb.Options{Seed: seed, Workers: workers})
				if err != nil {
					t.Fatal(err)
				}
				pick := func() string {
					_, h, err := lb.Do(func(envoylb.Host) envoylb.Attempt { return envoylb.Attempt{Status: 200} })
					if err != nil {
						t.Fatal(err)
					}
					return h.Locality
				}
				for range rng.IntN(700) { // earlier batches
					pick()
				}
				n := 500 + rng.IntN(1500)
				counts := map[string]int{}
				for range n {
					counts[pick()]++
				}
				for i, w := range weights {
					p := float64(w) / total
					b := split.ScheduleBound(workers, len(weights), p)
					dev := math.Abs(float64(counts[fmt.Sprintf("r/z%d/", i)]) - float64(n)*p)
					worst = max(worst, dev/b)
					if dev > b+1e-9 {
						t.Errorf("weights %v, %d workers, seed %d, N=%d: locality %d got %d, N·p=%.2f, deviation %.2f > bound %.2f",
							weights, workers, seed, n, i, counts[fmt.Sprintf("r/z%d/", i)], float64(n)*p, dev, b)
					}
				}
			}
			t.Logf("weights %v, %d workers: largest deviation %.2f of the bound", weights, workers, worst)
		}
	}
}

// TestScheduleCheck: a deterministic 90/10 schedule accepts 900±2 of 1000
// and rejects a 3-point misweighting, which the binomial range accepts.
func TestScheduleCheck(t *testing.T) {
	exp := split.Expected{"kr/a": 0.9, "kr/b": 0, "kr/c": 0.1}
	for _, tc := range []struct {
		a, c     int
		schedule bool
		ok       bool
	}{
		{900, 100, true, true}, {902, 98, true, true}, {898, 102, true, true},
		{903, 97, true, false}, {930, 70, true, false}, {870, 130, true, false},
		{930, 70, false, true}, // binomial at N=1000 accepts a 3-point misweighting
	} {
		var opts []split.Option
		if tc.schedule {
			opts = append(opts, split.WithSchedule(2))
		}
		tbl, err := split.Report(*split.DistributionOf(map[string]int{"kr/a": tc.a, "kr/c": tc.c}), exp, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if tbl.OK() != tc.ok {
			t.Errorf("%d/%d schedule=%v: OK=%v, want %v\n%s", tc.a, tc.c, tc.schedule, tbl.OK(), tc.ok, tbl)
		}
		want := split.CheckBinomial
		if tc.schedule {
			want = split.CheckSchedule
		}
		if tbl.Check != want {
			t.Errorf("Check %q, want %q", tbl.Check, want)
		}
	}
}
