package traffic

import (
	"strings"
	"testing"
)

// Issue 14 item 3: a batch counts as it goes and keeps a bounded sample;
// n is capped with a clear error.
func TestBatchCountsWithBoundedSample(t *testing.T) {
	var b Batch
	const n = 3*SampleSize + 7
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 0:
			b.Add(Response{Status: 200, Body: HelloBody("pod-a"), Pod: "pod-a"})
		case 1:
			b.Add(Response{Status: 200, Body: HelloBody("pod-b"), Pod: "pod-b"})
		default:
			b.Add(Response{Status: 503, Body: "no healthy upstream"})
		}
	}
	if b.Len() != n || len(b.Responses) != SampleSize {
		t.Fatalf("Len %d (want %d), sample %d (want %d)", b.Len(), n, len(b.Responses), SampleSize)
	}
	byPod := b.ByPod()
	if byPod.Count("pod-a") != 10_003 || byPod.Count("pod-b") != 10_002 || byPod.Count(ClassNoHealthyUpstream) != 10_002 || byPod.N() != n {
		t.Fatalf("ByPod %s", byPod)
	}
	byLoc := b.ByLocality(map[string]string{"pod-a": "kr/a"})
	if byLoc.Count("kr/a") != 10_003 || byLoc.Count("unknown pod pod-b") != 10_002 || byLoc.N() != n {
		t.Fatalf("ByLocality %s", byLoc)
	}
	if b.ByClass().Count(ClassOK) != 20_005 {
		t.Fatalf("ByClass %s", b.ByClass())
	}
	// A literal batch (kind's tests, fixtures) is counted from Responses.
	lit := Batch{Responses: []Response{{Status: 200, Pod: "p"}, {Err: "exit 7"}}}
	if lit.Len() != 2 || lit.ByPod().Count("p") != 1 || lit.ByClass().Count(ClassClientError) != 1 {
		t.Fatalf("literal batch: %d %s", lit.Len(), lit.ByPod())
	}
	lit.Add(Response{Status: 200, Pod: "p"})
	if lit.Len() != 3 || lit.ByPod().Count("p") != 2 {
		t.Fatalf("literal batch after Add: %d %s", lit.Len(), lit.ByPod())
	}
	for _, bad := range []int{0, -5, MaxRequests + 1, 1_000_000_000} {
		if err := CheckRequests(bad); err == nil || !strings.Contains(err.Error(), "n is") {
			t.Errorf("CheckRequests(%d) = %v", bad, err)
		}
	}
	if err := CheckRequests(MaxRequests); err != nil {
		t.Error(err)
	}
}
