package split

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

const draws = 10000

// sampler draws multinomial distributions over fixed buckets by sequential
// conditional binomials.
type sampler struct {
	buckets []string
	probs   []float64
	src     rand.Source
}

func newSampler(truth Expected, seed uint64) *sampler {
	s := &sampler{src: rand.NewPCG(seed, 0x5eed)}
	for _, b := range truth.Buckets() {
		s.buckets = append(s.buckets, b)
		s.probs = append(s.probs, truth[b])
	}
	return s
}

func (s *sampler) draw(n int) *Distribution {
	d := NewDistribution()
	left, rest := n, 1.0
	for i, b := range s.buckets {
		if left == 0 {
			break
		}
		if i == len(s.buckets)-1 || rest <= 0 {
			d.AddN(b, left)
			break
		}
		p := min(max(s.probs[i]/rest, 0), 1)
		x := int(distuv.Binomial{N: float64(left), P: p, Src: s.src}.Rand())
		d.AddN(b, x)
		left -= x
		rest -= s.probs[i]
	}
	return d
}

// failureRate is the fraction of draws at truth that fail MatchSplit(exp).
func failureRate(t *testing.T, exp, truth Expected, seed uint64) float64 {
	t.Helper()
	s := newSampler(truth, seed)
	m := MatchSplit(exp, WithN(DefaultRequests))
	fails := 0
	for range draws {
		ok, err := m.Match(s.draw(DefaultRequests))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			fails++
		}
	}
	return float64(fails) / draws
}

// TestMonteCarlo checks the matcher's false-failure rate at the true split
// and its detection rate for a 10-point shift, at DefaultRequests.
func TestMonteCarlo(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo")
	}
	for i, tc := range []struct {
		name           string
		exp, shiftedTo Expected
	}{
		{"90/10", split9010, Expected{"kr/a": 0.8, "kr/b": 0.2}},
		{"50/50", split5050, Expected{"kr/a": 0.6, "kr/b": 0.4}},
		{"4x25", split4x25, Expected{"kr/a": 0.35, "kr/b": 0.15, "us/a": 0.25, "us/b": 0.25}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := uint64(1000 + i)
			falseFail := failureRate(t, tc.exp, tc.exp, seed)
			detect := failureRate(t, tc.exp, tc.shiftedTo, seed+100)
			t.Logf("N=%d: false-failure rate %.4f at %v; detection rate %.4f at %v", DefaultRequests, falseFail, tc.exp, detect, tc.shiftedTo)
			if falseFail > 0.002 {
				t.Errorf("false-failure rate %.4f > 0.002", falseFail)
			}
			if detect < 0.95 {
				t.Errorf("detection rate %.4f < 0.95", detect)
			}
		})
	}
}

// TestMonteCarloAtRequiredN checks that at RequiredN itself a 10-point
// shift is detected at least 95% of the time (per-bucket power is a lower
// bound for the multinomial).
func TestMonteCarloAtRequiredN(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo")
	}
	exp, shifted := split9010, Expected{"kr/a": 0.8, "kr/b": 0.2}
	n := RequiredN(exp, DefaultShift, DefaultPower, DefaultConfidence)
	s := newSampler(shifted, 7)
	m := MatchSplit(exp, WithN(n))
	fails := 0
	for range draws {
		if ok, err := m.Match(s.draw(n)); err != nil {
			t.Fatal(err)
		} else if !ok {
			fails++
		}
	}
	rate := float64(fails) / draws
	t.Logf("N=%d (RequiredN): detection rate %.4f at %v", n, rate, shifted)
	if rate < 0.95-0.006 { // 0.006 ≈ 3 standard errors of the estimate
		t.Errorf("detection rate %.4f at RequiredN=%d, want >= 0.95", rate, n)
	}
}

func BenchmarkRequiredNUncached(b *testing.B) {
	exp := Expected{"a": 0.3, "b": 0.3, "c": 0.2, "d": 0.1, "e": 0.1}
	for i := range b.N {
		c := newConfig([]Option{WithConfidence(0.999 - float64(i%1000)*1e-7)})
		c.required(exp)
	}
}
