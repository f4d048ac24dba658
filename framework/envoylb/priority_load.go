// Envoy counterpart: the priority part of
// source/extensions/load_balancing_policies/common/load_balancer_impl.cc
// (LoadBalancerBase: recalculatePerPriorityState, distributeLoad,
// recalculatePerPriorityPanic, isHostSetInPanic, recalculateLoadInTotalPanic,
// choosePriority).

package envoylb

// priorityState is the LoadBalancerBase state shared by every worker's load
// balancer (all of them compute the same values from the same host sets).
type priorityState struct {
	healthyLoad  []uint32 // per_priority_load_.healthy_priority_load_
	degradedLoad []uint32 // per_priority_load_.degraded_priority_load_
	health       []uint32 // per_priority_health_
	degraded     []uint32 // per_priority_degraded_
	panic        []bool   // per_priority_panic_
}

// distributeLoad is load_balancer_impl.cc distributeLoad.
func distributeLoad(load, avail []uint32, total, normalized uint32) (first int, rest uint32) {
	first = -1
	for i := range avail {
		if first < 0 && avail[i] > 0 {
			first = i
		}
		load[i] = min(total, avail[i]*100/normalized)
		total -= load[i]
	}
	return first, total
}

// availability computes per_priority_health_ and per_priority_degraded_ for
// one host set: min(100, overprovisioning × healthy / (hosts − excluded)),
// counted in hosts, or in endpoint weights with weighted_priority_health.
func availability(lv *level, overprov uint32, weighted bool) (health, degraded uint32) {
	n := len(lv.hosts) - lv.excluded
	if n <= 0 {
		return 0, 0
	}
	var hw, dw, tw uint64
	if weighted {
		for _, h := range lv.healthy {
			hw += uint64(h.weight)
		}
		for _, h := range lv.degraded {
			dw += uint64(h.weight)
		}
		for _, h := range lv.hosts {
			if !h.excluded() {
				tw += uint64(h.weight)
			}
		}
	} else {
		hw, dw, tw = uint64(len(lv.healthy)), uint64(len(lv.degraded)), uint64(n)
	}
	return uint32(min(100, uint64(overprov)*hw/tw)), uint32(min(100, uint64(overprov)*dw/tw))
}

// recalculate recomputes priority loads and panic flags after any host set
// change. Loads are kept from the previous computation where Envoy keeps them
// (normalized total availability 0), which only matters for entries that
// choosePriority can no longer reach.
func (ps *priorityState) recalculate(levels []*level, overprov uint32, weighted bool, panicThreshold uint64) {
	n := len(levels)
	for len(ps.healthyLoad) < n {
		ps.healthyLoad = append(ps.healthyLoad, 0)
		ps.degradedLoad = append(ps.degradedLoad, 0)
		ps.health = append(ps.health, 0)
		ps.degraded = append(ps.degraded, 0)
		ps.panic = append(ps.panic, false)
	}
	for i, lv := range levels {
		ps.health[i], ps.degraded[i] = availability(lv, overprov, weighted)
	}
	normalized := normalizedTotalAvailability(ps.health, ps.degraded)
	if normalized != 0 {
		firstH, rest := distributeLoad(ps.healthyLoad, ps.health, 100, normalized)
		firstD, rest := distributeLoad(ps.degradedLoad, ps.degraded, rest, normalized)
		if rest != 0 {
			if firstH != -1 {
				ps.healthyLoad[firstH] += rest
			} else {
				ps.degradedLoad[firstD] += rest
			}
		}
	}

	// recalculatePerPriorityPanic.
	if panicThreshold == 0 && normalized == 0 {
		ps.healthyLoad[0] = 100
		return
	}
	total := true
	for i, lv := range levels {
		ps.panic[i] = normalized != 100 && hostSetInPanic(lv, panicThreshold)
		total = total && ps.panic[i]
	}
	if total {
		ps.loadInTotalPanic(levels)
	}
}

func normalizedTotalAvailability(health, degraded []uint32) uint32 {
	var s uint32
	for i := range health {
		s += health[i] + degraded[i]
	}
	return min(s, 100)
}

// hostSetInPanic is LoadBalancerBase::isHostSetInPanic: healthy% + degraded%
// of the non-excluded hosts below the panic threshold.
func hostSetInPanic(lv *level, threshold uint64) bool {
	n := len(lv.hosts) - lv.excluded
	hp, dp := 0.0, 0.0
	if n > 0 {
		hp = 100.0 * float64(len(lv.healthy)) / float64(n)
		dp = 100.0 * float64(len(lv.degraded)) / float64(n)
	}
	return hp+dp < float64(threshold)
}

// loadInTotalPanic is recalculateLoadInTotalPanic: load by host count
// (excluded hosts included), remainder on the first non-empty priority.
func (ps *priorityState) loadInTotalPanic(levels []*level) {
	total := 0
	for _, lv := range levels {
		total += len(lv.hosts)
	}
	if total == 0 {
		ps.healthyLoad[0] = 100
		return
	}
	rest, first := uint32(100), -1
	for i, lv := range levels {
		if first == -1 && len(lv.hosts) != 0 {
			first = i
		}
		ps.healthyLoad[i] = uint32(100 * len(lv.hosts) / total)
		ps.degradedLoad[i] = 0
		rest -= ps.healthyLoad[i]
	}
	ps.healthyLoad[first] += rest
}

// choosePriority is LoadBalancerBase::choosePriority: hash%100+1 is located
// on the cumulative healthy loads, then on the cumulative degraded loads.
func choosePriority(hash uint64, healthy, degraded []uint32) (p int, isDegraded bool) {
	h := uint32(hash%100 + 1)
	agg := uint32(0)
	for i, l := range healthy {
		agg += l
		if h <= agg {
			return i, false
		}
	}
	for i, l := range degraded {
		agg += l
		if h <= agg {
			return i, true
		}
	}
	return 0, false // IS_ENVOY_BUG("unexpected load error") in Envoy.
}
