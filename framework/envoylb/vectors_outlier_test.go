package envoylb

// Outlier detection vectors from Envoy's
// test/common/upstream/outlier_detection_impl_test.cc (see vectors_test.go
// for how rows are sourced). Translation of the fixture:
//   - hosts_ become lb_endpoints of one LocalityLbEndpoints (all HEALTHY);
//   - runtime overrides (getInteger(MaxEjectionPercentRuntime) → 100,
//     BaseEjectionTimeMsRuntime → 10000, featureEnabled(Enforcing…) → true /
//     false) become the corresponding OutlierDetection fields;
//   - loadRq(hosts_[i], n, code) becomes n requests served by host i (Do,
//     with send answering `code` for host i and 200 for the others);
//     Result::LocalOriginConnectFailed becomes Attempt{ConnectFailure: true};
//   - time_system_.setMonotonicTime(T); interval_timer_->invokeCallback()
//     becomes advancing the fake clock to T rounded up to the next detector
//     tick (New + k·interval): the model runs the interval timer itself,
//     and one Envoy callback invocation corresponds to one tick. Envoy's
//     tests that invoke the timer every 10 s are tick-aligned already;
//   - EXPECT_TRUE/FALSE(healthFlagGet(FAILED_OUTLIER_CHECK)) becomes
//     HostHealth()[key] == / != "EJECTED".

import (
	"fmt"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

type vecClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *vecClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *vecClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

// odOp is one step of an outlier script.
type odOp struct {
	kind  byte // 'L' load, 'T' invokeCallback at ms, 'E' expect
	host  int
	n     int
	a     Attempt
	ms    int64
	eject bool
}

func load(host, n int, a Attempt) odOp { return odOp{kind: 'L', host: host, n: n, a: a} }
func tick(ms int64) odOp               { return odOp{kind: 'T', ms: ms} }
func ejected(host int) odOp            { return odOp{kind: 'E', host: host, eject: true} }
func notEjected(host int) odOp         { return odOp{kind: 'E', host: host} }

var (
	r500 = Attempt{Status: 500}
	r503 = Attempt{Status: 503}
	r200 = Attempt{Status: 200}
	rCF  = Attempt{ConnectFailure: true}
)

// ejectCycles is the body of MaxEjectTime / MaxEjectTimeNotAlligned / the
// saturated part of it: for each duration d (in ticks) eject the host at the
// current tick, check it stays ejected for d-1 ticks and is back at tick d.
func ejectCycles(startTick *int64, durations ...int) []odOp {
	var ops []odOp
	for _, d := range durations {
		ops = append(ops, load(0, 5, r500), ejected(0))
		for j := 1; j < d; j++ {
			*startTick++
			ops = append(ops, tick(*startTick*10000), ejected(0))
		}
		*startTick++
		ops = append(ops, tick(*startTick*10000), notEjected(0))
	}
	return ops
}

func TestEnvoyVectorsOutlier(t *testing.T) {
	const odTest = "test/common/upstream/outlier_detection_impl_test.cc"
	type row struct {
		envoy string
		hosts int
		od    *clusterv3.OutlierDetection
		ops   []odOp
	}
	u32 := wrapperspb.UInt32
	sec := func(s int) *durationpb.Duration { return durationpb.New(time.Duration(s) * time.Second) }

	// EjectTimeBackoff: base 10 s, interval 10 s (default), max % 100.
	backoff := []odOp{
		tick(0), load(0, 5, r500), ejected(0),
		tick(10000), notEjected(0), // 1st ejection: 10 s
		load(0, 5, r500), ejected(0),
		tick(20000), ejected(0),
		tick(30000), notEjected(0), // 2nd: 20 s
		load(0, 5, r500), ejected(0),
		tick(40000), ejected(0),
		tick(50000), ejected(0),
		tick(60000), notEjected(0), // 3rd: 30 s
		tick(70000), tick(80000), // two healthy intervals lower the backoff
		load(0, 5, r500), ejected(0),
		tick(90000), ejected(0),
		tick(100000), notEjected(0), // 4th: 20 s
	}
	for i := int64(1); i <= 50; i++ {
		backoff = append(backoff, tick(100000+i*10000))
	}
	backoff = append(backoff, tick(610000), load(0, 5, r500), ejected(0),
		tick(620000), notEjected(0)) // back to 1 × base after a long healthy period

	var t1 int64
	maxEject := ejectCycles(&t1, seq(1, 30)...)
	maxEject = append(maxEject, ejectCycles(&t1, rep(30, 9)...)...)
	var t2 int64
	maxEjectNA := ejectCycles(&t2, seq(1, 31)...)
	maxEjectNA = append(maxEjectNA, ejectCycles(&t2, rep(31, 9)...)...)

	rows := []row{
		{envoy: odTest + " BasicFlow5xxViaHttpCodes", hosts: 2,
			od: &clusterv3.OutlierDetection{MaxEjectionPercent: u32(100)},
			ops: []odOp{
				load(0, 1, r500), load(0, 1, r200), load(0, 4, r500), notEjected(0),
				tick(0), load(0, 1, r500), ejected(0),
				tick(9999), ejected(0),
				tick(30001), notEjected(0),
				load(0, 4, r500), notEjected(0),
				tick(40000), load(0, 1, r500), ejected(0),
			}},
		{envoy: odTest + " BasicFlow5xxViaNonHttpCodes (connect failures count as 5xx when not split)", hosts: 2,
			od: &clusterv3.OutlierDetection{MaxEjectionPercent: u32(100)},
			ops: []odOp{
				load(0, 1, rCF), load(0, 1, r200), load(0, 4, rCF), notEjected(0),
				tick(0), load(0, 1, rCF), ejected(0),
				tick(9999), ejected(0),
				tick(30001), notEjected(0),
				load(0, 4, rCF), notEjected(0),
				tick(40000), load(0, 1, rCF), ejected(0),
			}},
		{envoy: odTest + " BasicFlowGatewayFailure (enforcing_consecutive_5xx off, gateway failure enforced)", hosts: 2,
			od: &clusterv3.OutlierDetection{MaxEjectionPercent: u32(100),
				EnforcingConsecutive_5Xx: u32(0), EnforcingConsecutiveGatewayFailure: u32(100)},
			ops: []odOp{
				load(0, 1, r503), load(0, 1, r500), load(0, 2, r503), load(0, 2, r503), notEjected(0),
				tick(0), load(0, 1, r503), ejected(0),
				tick(9999), ejected(0),
				tick(30001), notEjected(0),
				load(0, 4, r503), notEjected(0),
				tick(40000), load(0, 1, r503), ejected(0),
			}},
		{envoy: odTest + " BasicFlowGatewayFailureAnd5xx (gateway failure fires on 5x503 before 5xx)", hosts: 2,
			od: &clusterv3.OutlierDetection{MaxEjectionPercent: u32(100), EnforcingConsecutiveGatewayFailure: u32(100)},
			ops: []odOp{
				load(0, 1, r503), load(0, 1, r200), load(0, 4, r503), notEjected(0),
				tick(0), load(0, 1, r503), ejected(0),
				tick(9999), ejected(0),
				tick(30001), notEjected(0),
			}},
		{envoy: odTest + " BasicFlowLocalOriginFailure (split_external_local_origin_errors)", hosts: 1,
			od: &clusterv3.OutlierDetection{MaxEjectionPercent: u32(100), SplitExternalLocalOriginErrors: true},
			ops: []odOp{
				tick(0), load(0, 5, rCF), ejected(0),
				load(0, 5, rCF),
				tick(9999), ejected(0),
				tick(30001), notEjected(0),
				load(0, 5, rCF), ejected(0),
				tick(40000), ejected(0),
				tick(90002), notEjected(0), // 2nd ejection: 2 × 30 s
				load(0, 4, rCF), load(0, 1, r200), load(0, 2, rCF), notEjected(0),
			}},
		{envoy: odTest + " NotEnforcing (enforcing_consecutive_5xx off: 5x503 does not eject)", hosts: 3,
			od:  &clusterv3.OutlierDetection{MaxEjectionPercent: u32(35), EnforcingConsecutive_5Xx: u32(0)},
			ops: []odOp{load(0, 5, r503), notEjected(0)}},
		{envoy: odTest + " Overflow (max_ejection_percent 60, 2 hosts: second ejection overflows)", hosts: 2,
			od:  &clusterv3.OutlierDetection{MaxEjectionPercent: u32(60)},
			ops: []odOp{load(0, 5, r500), ejected(0), load(1, 5, r500), notEjected(1), ejected(0)}},
		{envoy: odTest + " MaxEjectionPercentage (50%, 3 hosts: (ejected+1)/total rule ejects only one)", hosts: 3,
			od:  &clusterv3.OutlierDetection{MaxEjectionPercent: u32(50), MaxEjectionTimeJitter: sec(13)},
			ops: []odOp{load(0, 5, r500), load(1, 5, r500), load(2, 5, r500), ejected(0), notEjected(1), notEjected(2)}},
		{envoy: odTest + " MaxEjectionPercentageSingleHost (90%, 1 host: not ejected)", hosts: 1,
			od:  &clusterv3.OutlierDetection{MaxEjectionPercent: u32(90), MaxEjectionTimeJitter: sec(13)},
			ops: []odOp{load(0, 5, r500), notEjected(0)}},
		{envoy: odTest + " EjectTimeBackoff (10/20/30 s, 2 healthy ticks → 20 s, long healthy → 10 s)", hosts: 1,
			od:  &clusterv3.OutlierDetection{MaxEjectionPercent: u32(100), BaseEjectionTime: sec(10)},
			ops: backoff},
		{envoy: odTest + " MaxEjectTime (base 10 s, max 300 s: 30 growing ejections, then 300 s each)", hosts: 1,
			od:  &clusterv3.OutlierDetection{MaxEjectionPercent: u32(100), BaseEjectionTime: sec(10), MaxEjectionTime: sec(300)},
			ops: maxEject},
		{envoy: odTest + " MaxEjectTimeNotAlligned (base 10 s, max 305 s: then 310 s each)", hosts: 1,
			od: &clusterv3.OutlierDetection{MaxEjectionPercent: u32(100), Interval: sec(10), BaseEjectionTime: sec(10),
				MaxEjectionTime: durationpb.New(305 * time.Second)},
			ops: maxEjectNA},
	}
	for i, r := range rows {
		t.Run(fmt.Sprintf("%02d_%s", i, shortName(r.envoy)), func(t *testing.T) {
			t.Logf("envoy: %s", r.envoy)
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			clk := &vecClock{t: start}
			c := vecCluster(clusterv3.Cluster_ROUND_ROBIN)
			c.OutlierDetection = r.od
			var hs []vecHost
			for i := 0; i < r.hosts; i++ {
				hs = append(hs, vecHost{st: vH})
			}
			lb := vecNew(t, c, vecCLA([]vecLoc{{hosts: hs}}), Options{Seed: 1, Clock: clk.Now})
			interval := r.od.GetInterval().AsDuration()
			if r.od.GetInterval() == nil {
				interval = 10 * time.Second
			}
			for si, op := range r.ops {
				switch op.kind {
				case 'T':
					d := time.Duration(op.ms) * time.Millisecond
					k := (d + interval - 1) / interval
					clk.Set(start.Add(k * interval))
				case 'L':
					key := vecKey(0, op.host)
					served := 0
					for guard := 0; served < op.n; guard++ {
						if guard > 100*op.n+100 {
							t.Fatalf("step %d: host %d not picked (served %d of %d)", si, op.host, served, op.n)
						}
						_, _, err := lb.Do(func(h Host) Attempt {
							if h.Key() == key {
								served++
								return op.a
							}
							return r200
						})
						if err != nil {
							t.Fatalf("step %d: Do: %v", si, err)
						}
					}
				case 'E':
					got := lb.HostHealth()[vecKey(0, op.host)]
					if (got == "EJECTED") != op.eject {
						t.Fatalf("step %d (clock +%v): host %d is %s, want ejected=%v", si, clk.Now().Sub(start), op.host, got, op.eject)
					}
				}
			}
		})
	}
}

func seq(a, b int) []int {
	var s []int
	for i := a; i <= b; i++ {
		s = append(s, i)
	}
	return s
}

func rep(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}
