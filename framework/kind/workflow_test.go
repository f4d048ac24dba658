package kind

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/split"
)

// The nightly workflow runs the latest patch of the two newest Istio
// minors, the first being DefaultIstioVersion (and the Makefile's
// ISTIO_VERSION), each inside the Kubernetes range its release supports
// with kind v0.33.0's default node image; it raises the inotify limits
// kind's known issues ask for with many nodes and sidecars.
func TestNightlyWorkflow(t *testing.T) {
	raw, err := os.ReadFile("../../.github/workflows/nightly.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			TimeoutMinutes int `json:"timeout-minutes"`
			Strategy       struct {
				Matrix struct {
					Istio []string `json:"istio"`
				} `json:"matrix"`
			} `json:"strategy"`
			Steps []struct {
				Name string `json:"name"`
				Run  string `json:"run"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	job, ok := wf.Jobs["e2e-kind"]
	if !ok {
		t.Fatal("no e2e-kind job")
	}
	vs := job.Strategy.Matrix.Istio
	if len(vs) != 2 || vs[0] != DefaultIstioVersion {
		t.Fatalf("matrix %v: want [%s <previous minor>]", vs, DefaultIstioVersion)
	}
	_, m0, ok0 := versionMinor(vs[0])
	_, m1, ok1 := versionMinor(vs[1])
	if !ok0 || !ok1 || m1 != m0-1 {
		t.Errorf("matrix %v: not the two newest minors", vs)
	}
	for _, v := range vs {
		if err := CheckNodeImageSupport(v, DefaultNodeImage); err != nil {
			t.Errorf("matrix %s: %v", v, err)
		}
	}
	var run strings.Builder
	for _, s := range job.Steps {
		run.WriteString(s.Run + "\n")
	}
	for _, want := range []string{"fs.inotify.max_user_watches=524288", "fs.inotify.max_user_instances=512", "make e2e"} {
		if !strings.Contains(run.String(), want) {
			t.Errorf("no step runs %q", want)
		}
	}
	// Ginkgo's --timeout (make e2e) must end before the job's, so the
	// reports and logs are still uploaded.
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^ISTIO_VERSION\s*\?=\s*(\S+)`).FindSubmatch(mk); m == nil || string(m[1]) != DefaultIstioVersion {
		t.Errorf("Makefile ISTIO_VERSION %q, want %s", m, DefaultIstioVersion)
	}
	g := regexp.MustCompile(`e2e:.*\n(?:\t.*\n)*?\t.*--timeout=(\d+)m`).FindSubmatch(mk)
	if g == nil {
		t.Fatal("make e2e has no Ginkgo --timeout")
	}
	if gm := atoi(string(g[1])); gm >= job.TimeoutMinutes {
		t.Errorf("Ginkgo --timeout=%dm does not fit in the job's %d minutes", gm, job.TimeoutMinutes)
	}
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

// The ejection spec's rule must keep the hosts out while, on the wall
// clock, the endpoint gate (at most Sync) and one split batch run; a
// batch of split.DefaultRequests is estimated at ≤ 3 s per 1000 requests
// (README "How long a batch takes"); the margin is 2×.
func TestTimeBudgetEjection(t *testing.T) {
	dr, err := destinationrule.Load("failover-short-ejection")
	if err != nil {
		t.Fatal(err)
	}
	eject := dr.Spec.GetTrafficPolicy().GetOutlierDetection().GetBaseEjectionTime().AsDuration()
	batch := time.Duration(split.DefaultRequests) * 3 * time.Millisecond
	need := 2 * (DefaultTimeouts().Sync + batch)
	if eject < need {
		t.Errorf("baseEjectionTime %v < 2 × (Sync %v + batch of %d ≈ %v) = %v", eject, DefaultTimeouts().Sync, split.DefaultRequests, batch, need)
	}
	// One exec of MaxBatch requests fits the exec timeout with a 10× margin.
	if per := time.Duration(MaxBatch) * 3 * time.Millisecond; DefaultTimeouts().Exec < 10*per {
		t.Errorf("Exec %v < 10 × %v", DefaultTimeouts().Exec, per)
	}
}
