package envoylb

// Retry vectors (see vectors_test.go for how rows are sourced):
//   - test/common/router/router_test.cc RetryNoneHealthy: the retry finds no
//     host → the downstream gets 503 with the NoHealthyUpstream response
//     flag (the model's ErrNoHealthyUpstream);
//   - test/extensions/retry/priority/previous_priorities/config_test.cc: with
//     the previous_priorities retry priority (update_frequency 1), priorities
//     already attempted get no load on the retry.
//
// The RetryPolicy knob for previous_priorities is located by reflection
// (any field whose name contains "PreviousPriorit"), so this file compiles
// whatever the field is called; a model without it fails the rows.

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// withPreviousPriorities enables previous_priorities with update_frequency 1.
func withPreviousPriorities(t *testing.T, p *RetryPolicy) {
	t.Helper()
	v := reflect.ValueOf(p).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if !strings.Contains(f.Name, "PreviousPriorit") {
			continue
		}
		switch f.Type.Kind() {
		case reflect.Bool:
			v.Field(i).SetBool(true)
		case reflect.Int, reflect.Int32, reflect.Int64:
			v.Field(i).SetInt(1)
		case reflect.Uint, reflect.Uint32, reflect.Uint64:
			v.Field(i).SetUint(1)
		default:
			continue
		}
		return
	}
	t.Errorf("RetryPolicy has no previous_priorities retry priority setting (fields: %+v)", *p)
}

func TestEnvoyVectorsRetry(t *testing.T) {
	const (
		routerTest = "test/common/router/router_test.cc"
		ppTest     = "test/extensions/retry/priority/previous_priorities/config_test.cc"
	)
	t.Run("00_RetryNoneHealthy", func(t *testing.T) {
		t.Logf("envoy: %s RetryNoneHealthy (retry finds no host: 503 + NoHealthyUpstream)", routerTest)
		// The host fails the first try and is ejected (consecutive_5xx 1,
		// max_ejection_percent 100); with panic mode off the retry's
		// chooseHost returns nullptr, as the test's mocked LB does.
		c := vecCluster(clusterv3.Cluster_ROUND_ROBIN, panicAt(0))
		c.OutlierDetection = &clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(1), MaxEjectionPercent: wrapperspb.UInt32(100)}
		lb := vecNew(t, c, vecCLA([]vecLoc{{hosts: vecHosts(vH)}}),
			Options{Seed: 1, Retry: &RetryPolicy{NumRetries: 1, RetryOn5xxCodes: []int{503}}})
		tries := 0
		_, _, err := lb.Do(func(Host) Attempt { tries++; return Attempt{Status: 503} })
		if tries != 1 || err != ErrNoHealthyUpstream {
			t.Errorf("tries %d, err %v; want 1 try then ErrNoHealthyUpstream (503 no healthy upstream)", tries, err)
		}
	})

	t.Run("00b_HostSelectionWithFilter_previous_hosts", func(t *testing.T) {
		t.Logf("envoy: test/extensions/load_balancing_policies/round_robin/round_robin_lb_test.cc HostSelectionWithFilter " +
			"(a host rejected by the retry host predicate is re-picked while hostSelectionRetryCount lasts: always the other host)")
		// The predicate is previous_hosts (test/extensions/retry/host/previous_hosts):
		// the host of the failed first try is rejected. RANDOM over 2 hosts
		// with 50 re-picks makes the chance of keeping the rejected host 2^-51.
		lb := vecNew(t, vecCluster(clusterv3.Cluster_RANDOM), vecCLA([]vecLoc{{hosts: vecHosts(vH, vH)}}),
			Options{Seed: 5, Retry: &RetryPolicy{NumRetries: 1, RetryOn5xxCodes: []int{503}, HostSelectionRetryMaxAttempts: 50}})
		for i := 0; i < 200; i++ {
			var keys []string
			_, _, err := lb.Do(func(h Host) Attempt {
				keys = append(keys, h.Key())
				if len(keys) == 1 {
					return Attempt{Status: 503}
				}
				return Attempt{Status: 200}
			})
			if err != nil || len(keys) != 2 || keys[0] == keys[1] {
				t.Fatalf("request %d: attempts %v err %v; want a retry on the other host", i, keys, err)
			}
		}
	})

	type row struct {
		envoy   string
		levels  []vecLoc
		retries int
		// fail: priorities whose hosts answer 503 (retriable).
		fail map[uint32]bool
		// want: allowed priority of attempt i (nil = any).
		want [][]uint32
		n    int
	}
	L := vecLevel
	rows := []row{
		{envoy: ppTest + " DefaultFrequency (after a P0 attempt P1 gets all the load {0,100})",
			levels: []vecLoc{L(0, 2, 2, 0), L(1, 2, 2, 0)}, retries: 1, fail: map[uint32]bool{0: true},
			want: [][]uint32{{0}, {1}}, n: 50},
		{envoy: ppTest + " DefaultFrequencyUnhealthyPriorities (load {42,28,30}; after P0 {0,28,72}; after P0,P1 {0,0,100})",
			levels: []vecLoc{L(0, 10, 3, 0), L(1, 10, 2, 0), L(2, 10, 10, 0)}, retries: 2,
			fail: map[uint32]bool{0: true, 1: true},
			want: nil, n: 3000},
	}
	for i, r := range rows {
		t.Run(fmt.Sprintf("%02d_%s", i+1, shortName(r.envoy)), func(t *testing.T) {
			t.Logf("envoy: %s", r.envoy)
			pol := &RetryPolicy{NumRetries: r.retries, RetryOn5xxCodes: []int{503}}
			withPreviousPriorities(t, pol)
			lb := vecNew(t, vecCluster(clusterv3.Cluster_ROUND_ROBIN), vecCLA(r.levels), Options{Seed: 3, Retry: pol})
			// Per attempt position: counts by priority, conditioned on the
			// priorities attempted before.
			type key struct {
				pos  int
				prev string
			}
			cnt := map[key]map[uint32]int{}
			for i := 0; i < r.n; i++ {
				var seen []uint32
				_, _, err := lb.Do(func(h Host) Attempt {
					k := key{len(seen), fmt.Sprint(seen)}
					if cnt[k] == nil {
						cnt[k] = map[uint32]int{}
					}
					cnt[k][h.Priority]++
					seen = append(seen, h.Priority)
					if r.fail[h.Priority] {
						return Attempt{Status: 503}
					}
					return Attempt{Status: 200}
				})
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
			}
			if r.want != nil {
				for k, c := range cnt {
					for p := range c {
						ok := false
						for _, w := range r.want[k.pos] {
							ok = ok || w == p
						}
						if !ok {
							t.Errorf("attempt %d after priorities %s went to P%d, want one of %v (%v)", k.pos, k.prev, p, r.want[k.pos], c)
						}
					}
				}
				return
			}
			// DefaultFrequencyUnhealthyPriorities.
			share := func(k key, p uint32) (float64, int) {
				tot := 0
				for _, v := range cnt[k] {
					tot += v
				}
				if tot == 0 {
					return 0, 0
				}
				return 100 * float64(cnt[k][p]) / float64(tot), tot
			}
			check := func(k key, want []float64, tol float64) {
				for p, w := range want {
					s, tot := share(k, uint32(p))
					if tot == 0 {
						t.Errorf("no attempt %d after %s", k.pos, k.prev)
						return
					}
					if s < w-tol || s > w+tol {
						t.Errorf("attempt %d after priorities %s: P%d share %.1f%% of %d, want %.0f%% (%v)", k.pos, k.prev, p, s, tot, w, cnt[k])
					}
				}
			}
			check(key{0, "[]"}, []float64{42, 28, 30}, 3)
			check(key{1, "[0]"}, []float64{0, 28, 72}, 4)
			check(key{2, "[0 1]"}, []float64{0, 0, 100}, 0)
			check(key{2, "[1 0]"}, []float64{0, 0, 100}, 0)
		})
	}
}
