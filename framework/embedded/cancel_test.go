package embedded

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/localitylb/locality-e2e/framework/envoylb"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/timeline"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
	"github.com/localitylb/locality-e2e/framework/workload"
)

// slowZoneB deploys three-zones with the maxEjectionPercent 100 failover
// rule and makes kr/b's pods answer after 10 s, so a request from
// netshoot-b is in flight whenever its batch is cut short.
func slowZoneB(t *testing.T) *Mesh {
	t.Helper()
	m := deployT(t, topology.ThreeZones())
	applyT(t, m, "failover-max-ejection-100")
	for _, p := range m.pods["helloworld-zone-b"] {
		if _, err := p.server.srv.SetFault(workload.DelayBy(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// expectNoRecord: the client's sidecar ejected no host and counted no
// request, then, healed, 300 requests keep the rule's split (all kr/b).
func expectNoRecord(t *testing.T, m *Mesh) {
	t.Helper()
	lb, _, err := m.clients["netshoot-b"].side.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range lb.State().Hosts {
		if h.Stats != (envoylb.HostStats{}) {
			t.Errorf("host %s: stats %+v, want none: an interrupted request was recorded", h.Key(), h.Stats)
		}
	}
	for k, health := range lb.HostHealth() {
		if health != "HEALTHY" {
			t.Errorf("host %s is %s after cancelled batches, want HEALTHY", k, health)
		}
	}
	ctx := context.Background()
	if err := m.SetFault(ctx, "helloworld-zone-b", 3, mesh.NoFault); err != nil {
		t.Fatal(err)
	}
	b, err := m.Send(ctx, "netshoot-b", 300)
	if err != nil {
		t.Fatal(err)
	}
	if d := b.ByLocality(locOf(t, m)); d.Count("kr/b") != 300 {
		t.Errorf("300 requests after the cancelled batches: %v, want all 300 in kr/b", d)
	}
}

func locOf(t *testing.T, m *Mesh) map[string]string {
	t.Helper()
	pods, err := m.Pods(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	loc := map[string]string{}
	for _, p := range pods {
		loc[p.Name] = p.Locality
	}
	return loc
}

// TestCancelledSendIsNoResult is issue 23 item 8: six Sends cancelled
// while a request is in flight eject nothing under a maxEjectionPercent
// 100 rule (before the fix each interrupted request counted as a 504 and
// ejected kr/b's three hosts), and each partial batch says it was cut
// short, counting only answered requests.
func TestCancelledSendIsNoResult(t *testing.T) {
	m := slowZoneB(t)
	for i := range 6 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		b, err := m.Send(ctx, "netshoot-b", 10)
		cancel()
		want := "Send from netshoot-b: timed out after 0 of 10 requests (the request in flight is not counted): context deadline exceeded"
		if err == nil || err.Error() != want || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send %d: err %v, want %q", i, err, want)
		}
		if !b.CutShort || b.Len() != 0 || len(b.Responses) != 0 {
			t.Fatalf("Send %d: batch CutShort %v, %d requests %v; want cut short with none", i, b.CutShort, b.Len(), b.Responses)
		}
	}
	expectNoRecord(t, m)
}

// TestRecorderStopIsNoResult: timeline.Recorder.Stop cuts the batch in
// flight short the same way, six times, and nothing is recorded either.
func TestRecorderStopIsNoResult(t *testing.T) {
	m := slowZoneB(t)
	for i := range 6 {
		r := timeline.Start(context.Background(), m, "netshoot-b", "slow", timeline.Options{})
		time.Sleep(50 * time.Millisecond)
		tl, err := r.Stop()
		if err != nil || len(tl.Slots) != 0 {
			t.Fatalf("Stop %d: %v, %d slots; want no error and no slot (the batch in flight is dropped)", i, err, len(tl.Slots))
		}
	}
	expectNoRecord(t, m)
}

// A batch that completes is not cut short.
func TestCompleteBatchNotCutShort(t *testing.T) {
	m := deployT(t, topology.ThreeZones())
	b, err := m.Send(context.Background(), "netshoot-b", 10)
	if err != nil || b.CutShort || b.Len() != 10 {
		t.Fatalf("complete batch: %v, CutShort %v, %d requests", err, b.CutShort, b.Len())
	}
	if c := b.ByClass().Count(traffic.ClassOK); c != 10 {
		t.Fatalf("complete batch: %d OK", c)
	}
}
