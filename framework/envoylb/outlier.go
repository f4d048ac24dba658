// Envoy counterpart: source/common/upstream/outlier_detection_impl.cc
// (DetectorConfig defaults, DetectorHostMonitorImpl::putHttpResponseCode /
// putResult / localOriginFailure, DetectorImpl::ejectHost,
// onConsecutiveErrorWorker, checkHostForUneject, unejectHost,
// onIntervalTimer) and source/common/router/router.cc / upstream_request.cc
// (which results the router reports for each upstream try).

package envoylb

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
)

type ejectionType uint8

const (
	ejectConsecutive5xx ejectionType = iota
	ejectConsecutiveGatewayFailure
	ejectConsecutiveLocalOriginFailure
	ejectSuccessRate
	ejectSuccessRateLocalOrigin
	ejectFailurePercentage
	ejectFailurePercentageLocalOrigin
)

// outlierConfig is DetectorConfig with Envoy's defaults
// (outlier_detection_impl.h DEFAULT_*).
type outlierConfig struct {
	interval, baseEjection, maxEjection, maxJitter time.Duration
	consec5xx, consecGw, consecLocal               uint64
	enf5xx, enfGw, enfLocal                        uint64
	maxEjectionPct                                 uint64
	alwaysEjectOne                                 bool
	split                                          bool

	srMinHosts, srVolume, srStdevFactor  uint64
	fpThreshold, fpMinHosts, fpVolume    uint64
	enfSR, enfLocalSR, enfFP, enfLocalFP uint64
}

func newOutlierConfig(od *clusterv3.OutlierDetection) (*outlierConfig, error) {
	u := func(v interface{ GetValue() uint32 }, set bool, def uint64) uint64 {
		if !set {
			return def
		}
		return uint64(v.GetValue())
	}
	d := func(v interface{ AsDuration() time.Duration }, set bool, def time.Duration) time.Duration {
		if !set {
			return def
		}
		return v.AsDuration().Truncate(time.Millisecond) // PROTOBUF_GET_MS_OR_DEFAULT
	}
	c := &outlierConfig{
		interval:       d(od.GetInterval(), od.GetInterval() != nil, 10*time.Second),
		baseEjection:   d(od.GetBaseEjectionTime(), od.GetBaseEjectionTime() != nil, 30*time.Second),
		consec5xx:      u(od.GetConsecutive_5Xx(), od.GetConsecutive_5Xx() != nil, 5),
		consecGw:       u(od.GetConsecutiveGatewayFailure(), od.GetConsecutiveGatewayFailure() != nil, 5),
		consecLocal:    u(od.GetConsecutiveLocalOriginFailure(), od.GetConsecutiveLocalOriginFailure() != nil, 5),
		enf5xx:         u(od.GetEnforcingConsecutive_5Xx(), od.GetEnforcingConsecutive_5Xx() != nil, 100),
		enfGw:          u(od.GetEnforcingConsecutiveGatewayFailure(), od.GetEnforcingConsecutiveGatewayFailure() != nil, 0),
		enfLocal:       u(od.GetEnforcingConsecutiveLocalOriginFailure(), od.GetEnforcingConsecutiveLocalOriginFailure() != nil, 100),
		maxEjectionPct: u(od.GetMaxEjectionPercent(), od.GetMaxEjectionPercent() != nil, 10),
		alwaysEjectOne: od.GetAlwaysEjectOneHost().GetValue(),
		split:          od.GetSplitExternalLocalOriginErrors(),
		srMinHosts:     u(od.GetSuccessRateMinimumHosts(), od.GetSuccessRateMinimumHosts() != nil, 5),
		srVolume:       u(od.GetSuccessRateRequestVolume(), od.GetSuccessRateRequestVolume() != nil, 100),
		srStdevFactor:  u(od.GetSuccessRateStdevFactor(), od.GetSuccessRateStdevFactor() != nil, 1900),
		fpThreshold:    u(od.GetFailurePercentageThreshold(), od.GetFailurePercentageThreshold() != nil, 85),
		fpMinHosts:     u(od.GetFailurePercentageMinimumHosts(), od.GetFailurePercentageMinimumHosts() != nil, 5),
		fpVolume:       u(od.GetFailurePercentageRequestVolume(), od.GetFailurePercentageRequestVolume() != nil, 50),
		enfSR:          u(od.GetEnforcingSuccessRate(), od.GetEnforcingSuccessRate() != nil, 100),
		enfLocalSR:     u(od.GetEnforcingLocalOriginSuccessRate(), od.GetEnforcingLocalOriginSuccessRate() != nil, 100),
		enfFP:          u(od.GetEnforcingFailurePercentage(), od.GetEnforcingFailurePercentage() != nil, 0),
		enfLocalFP:     u(od.GetEnforcingFailurePercentageLocalOrigin(), od.GetEnforcingFailurePercentageLocalOrigin() != nil, 0),
	}
	// max_ejection_time defaults to max(300s, base_ejection_time).
	c.maxEjection = d(od.GetMaxEjectionTime(), od.GetMaxEjectionTime() != nil, max(300*time.Second, c.baseEjection))
	c.maxJitter = d(od.GetMaxEjectionTimeJitter(), od.GetMaxEjectionTimeJitter() != nil, 0)
	if c.maxEjection < c.baseEjection {
		// DetectorImpl::create.
		return nil, fmt.Errorf("envoylb: outlier detector's max_ejection_time cannot be smaller than base_ejection_time")
	}
	if c.interval <= 0 {
		return nil, fmt.Errorf("envoylb: outlier_detection.interval must be > 0")
	}
	return c, nil
}

// hostMonitor is DetectorHostMonitorImpl's consecutive-error state.
type hostMonitor struct {
	consec5xx, consecGw, consecLocal uint64
	ejected                          bool // FAILED_OUTLIER_CHECK
	numEjections                     uint32
	backoff                          uint32 // ejectTimeBackoff()
	lastEjection                     time.Time
	lastUnejection                   time.Time
	unejectedOnce                    bool
	jitter                           time.Duration

	// Success rate monitors (SuccessRateAccumulator): the bucket being
	// written and the one of the last interval.
	ext, local srMonitor
}

type srBucket struct{ total, success uint64 }

type srMonitor struct{ cur, backup srBucket }

// updateCurrentWriter is SuccessRateAccumulator::updateCurrentWriter.
func (m *srMonitor) updateCurrentWriter() {
	m.backup = srBucket{}
	m.cur, m.backup = m.backup, m.cur
}

func (m *srMonitor) empty() bool { return m.cur.total == 0 && m.backup.total == 0 }

// detector is DetectorImpl: one per cluster, driven by the injected clock.
type detector struct {
	cfg    *outlierConfig
	start  time.Time // the interval timer is armed when the detector is created
	tick   int64     // interval timer callbacks already run
	active int       // ejections_active
	rng    *rand.Rand
}

// result is what the router reports to the outlier detector for one try.
// Without split_external_local_origin_errors, local-origin results are
// mapped to HTTP codes (resultToHttpCode: connect failure → 503) or carry
// the router's code (per-try timeout → 504).
func (lb *LB) recordOutlier(h *hostState, a Attempt, now time.Time) {
	d := lb.od
	if d == nil || lb.hosts[h.key] != h {
		return // no detector, or host removed while the try was in flight.
	}
	connected := !a.ConnectFailure
	if d.cfg.split && connected {
		// upstream_request.cc onPoolReady: putResult(LocalOriginConnectSuccess)
		// → localOriginNoFailure: a local-origin success, counter reset.
		h.od.local.cur.total++
		h.od.local.cur.success++
		h.od.consecLocal = 0
	}
	switch {
	case a.ConnectFailure, a.Reset, a.RefusedStream:
		// onPoolFailure / Filter::onUpstreamReset: LocalOriginConnectFailed.
		if d.cfg.split {
			lb.localOriginFailure(h, now)
		} else {
			lb.putHTTPResponseCode(h, 503, now)
		}
	case a.Timeout:
		// Filter::onPerTryTimeoutCommon: LocalOriginTimeout with code 504.
		if d.cfg.split {
			lb.localOriginFailure(h, now)
		} else {
			lb.putHTTPResponseCode(h, 504, now)
		}
	default:
		lb.putHTTPResponseCode(h, a.Status, now)
	}
}

// putHTTPResponseCode is DetectorHostMonitorImpl::putHttpResponseCode.
func (lb *LB) putHTTPResponseCode(h *hostState, code int, now time.Time) {
	cfg := lb.od.cfg
	h.od.ext.cur.total++
	if code >= 500 && code < 600 {
		if code == 502 || code == 503 || code == 504 {
			h.od.consecGw++
			if h.od.consecGw == cfg.consecGw {
				lb.onConsecutiveError(h, ejectConsecutiveGatewayFailure, now)
			}
		} else {
			h.od.consecGw = 0
		}
		h.od.consec5xx++
		if h.od.consec5xx == cfg.consec5xx {
			lb.onConsecutiveError(h, ejectConsecutive5xx, now)
		}
		return
	}
	h.od.ext.cur.success++
	h.od.consec5xx, h.od.consecGw = 0, 0
}

// localOriginFailure is DetectorHostMonitorImpl::localOriginFailure.
func (lb *LB) localOriginFailure(h *hostState, now time.Time) {
	h.od.local.cur.total++
	h.od.consecLocal++
	if h.od.consecLocal == lb.od.cfg.consecLocal {
		lb.onConsecutiveError(h, ejectConsecutiveLocalOriginFailure, now)
	}
}

// onConsecutiveError is DetectorImpl::onConsecutiveErrorWorker: an already
// ejected host is ignored (and its counter not reset); otherwise ejection is
// attempted and the counter of that type reset whether or not it happened.
func (lb *LB) onConsecutiveError(h *hostState, t ejectionType, now time.Time) {
	if h.od.ejected {
		return
	}
	lb.ejectHost(h, t, now)
	switch t {
	case ejectConsecutive5xx:
		h.od.consec5xx = 0
	case ejectConsecutiveGatewayFailure:
		h.od.consecGw = 0
	case ejectConsecutiveLocalOriginFailure:
		h.od.consecLocal = 0
	}
}

// featureEnabled is Runtime::Snapshot::featureEnabled with a default
// percentage (random % 100 < percent).
func (d *detector) featureEnabled(pct uint64) bool {
	switch {
	case pct >= 100:
		return true
	case pct == 0:
		return false
	}
	return d.rng.Uint64()%100 < pct
}

// ejectHost is DetectorImpl::ejectHost: the max_ejection_percent check counts
// every host of the cluster (all priorities):
// 100 × (ejections_active + 1) / hosts ≤ min(100, max_ejection_percent), or
// always_eject_one_host with nothing ejected; then the enforcing percentage.
func (lb *LB) ejectHost(h *hostState, t ejectionType, now time.Time) {
	d := lb.od
	if h.od.ejected {
		return // eject() asserts the host is not ejected yet.
	}
	maxPct := min(100, d.cfg.maxEjectionPct)
	pct := 100.0 * float64(d.active+1) / float64(len(lb.order))
	should := pct <= float64(maxPct)
	if d.cfg.alwaysEjectOne {
		should = d.active == 0 || should
	}
	if !should {
		return // ejections_overflow
	}
	enf := d.cfg.enf5xx
	switch t {
	case ejectConsecutiveGatewayFailure:
		enf = d.cfg.enfGw
	case ejectConsecutiveLocalOriginFailure:
		enf = d.cfg.enfLocal
	case ejectSuccessRate:
		enf = d.cfg.enfSR
	case ejectSuccessRateLocalOrigin:
		enf = d.cfg.enfLocalSR
	case ejectFailurePercentage:
		enf = d.cfg.enfFP
	case ejectFailurePercentageLocalOrigin:
		enf = d.cfg.enfLocalFP
	}
	if !d.featureEnabled(enf) {
		return
	}
	d.active++
	h.od.ejected = true
	h.od.numEjections++
	h.od.lastEjection = now
	h.od.jitter = 0
	if d.cfg.maxJitter > 0 {
		h.od.jitter = time.Duration(d.rng.Uint64()%uint64(d.cfg.maxJitter/time.Millisecond+1)) * time.Millisecond
	}
	if time.Duration(h.od.backoff)*d.cfg.baseEjection < d.cfg.maxEjection+d.cfg.baseEjection {
		h.od.backoff++
	}
	lb.hostHealthChanged(h)
}

// advanceOutlier runs the interval timer callbacks (DetectorImpl::
// onIntervalTimer) due at or before now. The timer fires at start + k ×
// interval on the injected clock. Caller holds lb.mu.
func (lb *LB) advanceOutlier(now time.Time) {
	d := lb.od
	if d == nil {
		return
	}
	target := int64(now.Sub(d.start) / d.cfg.interval)
	for d.tick < target {
		if !lb.outlierTickMatters() {
			d.tick = target
			break
		}
		d.tick++
		lb.onIntervalTimer(d.start.Add(time.Duration(d.tick) * d.cfg.interval))
	}
}

// outlierTickMatters: some host is ejected, has a non-zero ejection backoff
// or success-rate data; otherwise interval ticks change nothing and are
// skipped.
func (lb *LB) outlierTickMatters() bool {
	for _, h := range lb.order {
		if h.od.ejected || h.od.backoff != 0 || !h.od.ext.empty() || !h.od.local.empty() {
			return true
		}
	}
	return false
}

// onIntervalTimer: checkHostForUneject and the success rate bucket swap for
// every host, success rate / failure percentage ejections, then the ejection
// time backoff of every host that is not ejected and was unejected at least
// one interval ago is decremented.
func (lb *LB) onIntervalTimer(t time.Time) {
	d := lb.od
	for _, h := range lb.order {
		if h.od.ejected {
			// checkHostForUneject.
			eject := min(d.cfg.baseEjection*time.Duration(h.od.backoff), d.cfg.maxEjection) + h.od.jitter
			if eject <= t.Sub(h.od.lastEjection) {
				// unejectHost: consecutive counters reset.
				d.active--
				h.od.ejected = false
				h.od.consec5xx, h.od.consecGw, h.od.consecLocal = 0, 0, 0
				h.od.lastUnejection, h.od.unejectedOnce = t, true
				lb.hostHealthChanged(h)
			}
		}
		h.od.ext.updateCurrentWriter()
		h.od.local.updateCurrentWriter()
	}
	lb.processSuccessRateEjections(false, t)
	lb.processSuccessRateEjections(true, t)
	for _, h := range lb.order {
		if !h.od.ejected && h.od.unejectedOnce && t.Sub(h.od.lastUnejection) >= d.cfg.interval && h.od.backoff != 0 {
			h.od.backoff--
		}
	}
}

type hostRate struct {
	h    *hostState
	rate float64
}

// processSuccessRateEjections is DetectorImpl::processSuccessRateEjections
// for the external-origin (or, with local, the local-origin) monitor: hosts
// with at least success_rate_request_volume requests in the last interval
// are compared with mean − stdev_factor/1000 × stdev when there are at least
// success_rate_minimum_hosts of them; hosts with at least
// failure_percentage_request_volume requests are ejected when their failure
// percentage reaches failure_percentage_threshold, when there are at least
// failure_percentage_minimum_hosts of them.
func (lb *LB) processSuccessRateEjections(local bool, now time.Time) {
	cfg := lb.od.cfg
	if uint64(len(lb.order)) < cfg.srMinHosts && uint64(len(lb.order)) < cfg.fpMinHosts {
		return
	}
	var validSR, validFP []hostRate
	sum := 0.0
	for _, h := range lb.order {
		if h.od.ejected {
			continue
		}
		b := h.od.ext.backup
		if local {
			b = h.od.local.backup
		}
		if b.total == 0 {
			continue
		}
		rate := float64(b.success) * 100.0 / float64(b.total)
		if b.total >= cfg.srVolume {
			validSR = append(validSR, hostRate{h, rate})
			sum += rate
		}
		if b.total >= cfg.fpVolume {
			validFP = append(validFP, hostRate{h, rate})
		}
	}
	if len(validSR) > 0 && uint64(len(validSR)) >= cfg.srMinHosts {
		mean := sum / float64(len(validSR))
		variance := 0.0
		for _, v := range validSR {
			variance += math.Pow(v.rate-mean, 2)
		}
		variance /= float64(len(validSR))
		threshold := mean - float64(cfg.srStdevFactor)/1000.0*math.Sqrt(variance)
		t := ejectSuccessRate
		if local {
			t = ejectSuccessRateLocalOrigin
		}
		for _, v := range validSR {
			if v.rate < threshold {
				lb.ejectHost(v.h, t, now)
			}
		}
	}
	if len(validFP) > 0 && uint64(len(validFP)) >= cfg.fpMinHosts {
		t := ejectFailurePercentage
		if local {
			t = ejectFailurePercentageLocalOrigin
		}
		for _, v := range validFP {
			if 100.0-v.rate >= float64(cfg.fpThreshold) {
				lb.ejectHost(v.h, t, now)
			}
		}
	}
}
