// Envoy counterpart: source/common/upstream/edf_scheduler.h (EdfScheduler,
// including createWithPicks) and
// source/extensions/load_balancing_policies/common/locality_wrr.cc
// (LocalityWrr: the per-priority healthy / degraded locality schedulers).

package envoylb

import "math"

// edfEntry mirrors EdfScheduler::EdfEntry: ties on deadline are broken by
// insertion order (order_offset_), giving FIFO behaviour.
type edfEntry[T any] struct {
	deadline float64
	order    uint64
	item     T
}

// edf is Envoy's earliest-deadline-first scheduler
// (source/common/upstream/edf_scheduler.h). Every pick takes the entry with the
// earliest deadline, advances the scheduler's current time to it and re-adds
// the entry with deadline current_time + 1/weight.
type edf[T any] struct {
	now    float64 // current_time_
	order  uint64  // order_offset_
	q      []edfEntry[T]
	weight func(T) float64 // calculate_weight, consulted when an entry is re-added
}

func (e edfEntry[T]) less(o edfEntry[T]) bool {
	return e.deadline < o.deadline || (e.deadline == o.deadline && e.order < o.order)
}

func (s *edf[T]) push(e edfEntry[T]) {
	s.q = append(s.q, e)
	i := len(s.q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s.q[i].less(s.q[p]) {
			break
		}
		s.q[i], s.q[p] = s.q[p], s.q[i]
		i = p
	}
}

func (s *edf[T]) pop() edfEntry[T] {
	top := s.q[0]
	n := len(s.q) - 1
	s.q[0] = s.q[n]
	s.q = s.q[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s.q[l].less(s.q[m]) {
			m = l
		}
		if r < n && s.q[r].less(s.q[m]) {
			m = r
		}
		if m == i {
			break
		}
		s.q[i], s.q[m] = s.q[m], s.q[i]
		i = m
	}
	return top
}

// add is EdfScheduler::add.
func (s *edf[T]) add(weight float64, item T) {
	s.push(edfEntry[T]{deadline: s.now + 1.0/weight, order: s.order, item: item})
	s.order++
}

// pickAndAdd is EdfScheduler::pickAndAdd (without the peek list, the model
// does not preconnect).
func (s *edf[T]) pickAndAdd() (T, bool) {
	if len(s.q) == 0 {
		var zero T
		return zero, false
	}
	e := s.pop()
	s.now = e.deadline
	s.add(s.weight(e.item), e.item)
	return e.item, true
}

// newEDFWithPicks is EdfScheduler::createWithPicks: it builds the scheduler as
// if `picks` picks had already been made, so that every load balancer (one
// per worker, each with its own random seed) starts at a different point of
// the schedule. picks is reduced modulo 429496729 as Envoy does.
func newEDFWithPicks[T any](items []T, weight func(T) float64, picks uint32) *edf[T] {
	picks = picks % 429496729
	s := &edf[T]{weight: weight}
	if len(items) == 0 {
		return s
	}
	aug := func(it T) float64 { return weight(it) + 1e-13 }
	sum := 0.0
	for _, it := range items {
		sum += aug(it)
	}
	floor := make([]uint32, len(items))
	for i, it := range items {
		floor[i] = uint32(aug(it) * float64(picks) / sum)
	}
	s.q = make([]edfEntry[T], 0, len(items))
	picksSoFar := uint32(0)
	maxPickTime := 0.0
	for i, it := range items {
		w := aug(it)
		if floor[i] > 0 && float64(floor[i])/w >= float64(picks)/sum {
			floor[i]--
		}
		pickTime := float64(floor[i]) / w
		deadline := float64(floor[i]+1) / w
		s.push(edfEntry[T]{deadline: deadline, order: uint64(i), item: it})
		maxPickTime = math.Max(maxPickTime, pickTime)
		picksSoFar += floor[i]
	}
	s.now = maxPickTime
	s.order = uint64(len(items))
	for picksSoFar < picks {
		s.pickAndAdd()
		picksSoFar++
	}
	return s
}

// localityWrr mirrors LocalityWrr: one EDF scheduler over the localities of a
// priority with positive effective weight, for healthy and for degraded hosts.
// Envoy rebuilds it (ZoneAwareLoadBalancerBase::rebuildLocalityWrrForPriority)
// on every update of the priority with a fresh random seed, which becomes the
// number of initial picks of createWithPicks.
type localityWrr struct {
	healthy, degraded *edf[int]
}

func newLocalityWrr(lv *level, overprov uint32, seed uint64) *localityWrr {
	w := &localityWrr{}
	w.healthy = buildLocalityScheduler(lv, overprov, uint32(seed), len(lv.healthy) > 0,
		func(l *locality) int { return len(l.healthy) })
	w.degraded = buildLocalityScheduler(lv, overprov, uint32(seed), len(lv.degraded) > 0,
		func(l *locality) int { return len(l.degraded) })
	return w
}

// buildLocalityScheduler is LocalityWrr::rebuildLocalityScheduler: no
// scheduler when there is no eligible host in the priority or no locality has
// a positive effective weight.
func buildLocalityScheduler(lv *level, overprov uint32, picks uint32, anyEligible bool, eligible func(*locality) int) *edf[int] {
	if !anyEligible || !lv.hasLocalityWeights {
		return nil
	}
	eff := make([]float64, len(lv.localities))
	var idx []int
	for i, l := range lv.localities {
		eff[i] = effectiveLocalityWeight(l, eligible(l), overprov)
		if eff[i] > 0 {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	return newEDFWithPicks(idx, func(i int) float64 { return eff[i] }, picks)
}

// effectiveLocalityWeight is LocalityWrr::effectiveLocalityWeight:
// weight × min(1, overprovisioning/100 × eligible/(hosts − excluded)).
func effectiveLocalityWeight(l *locality, eligible int, overprov uint32) float64 {
	n := len(l.hosts) - l.excluded
	if n == 0 {
		return 0
	}
	ratio := 1.0 * float64(eligible) / float64(n)
	return float64(l.weight) * math.Min(1.0, (float64(overprov)/100.0)*ratio)
}

func (w *localityWrr) choose(degraded bool) (int, bool) {
	if w == nil {
		return 0, false
	}
	s := w.healthy
	if degraded {
		s = w.degraded
	}
	if s == nil {
		return 0, false
	}
	return s.pickAndAdd()
}
