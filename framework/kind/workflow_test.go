package kind

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/split"
)

// workflow is what the tests read of a GitHub Actions workflow.
type workflow struct {
	// The key `on`, which YAML 1.1 (sigs.k8s.io/yaml, go-yaml v2) reads as
	// the boolean true, so it arrives as "true".
	On struct {
		Schedule []struct {
			Cron string `json:"cron"`
		} `json:"schedule"`
	} `json:"true"`
	Env  map[string]string `json:"env"`
	Jobs map[string]struct {
		RunsOn         string            `json:"runs-on"`
		TimeoutMinutes int               `json:"timeout-minutes"`
		Env            map[string]string `json:"env"`
		Strategy       struct {
			Matrix map[string][]string `json:"matrix"`
		} `json:"strategy"`
		Steps []struct {
			Name           string `json:"name"`
			Run            string `json:"run"`
			TimeoutMinutes int    `json:"timeout-minutes"`
		} `json:"steps"`
	} `json:"jobs"`
}

func readWorkflow(t *testing.T, name string) workflow {
	t.Helper()
	raw, err := os.ReadFile("../../.github/workflows/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return wf
}

// The nightly workflow runs the latest patch of the two newest Istio
// minors, the first being DefaultIstioVersion (and the Makefile's
// ISTIO_VERSION), each inside the Kubernetes range its release supports
// with kind v0.33.0's default node image; it raises the inotify limits
// kind's known issues ask for with many nodes and sidecars, and preloads
// the images (Istio's too).
func TestNightlyWorkflow(t *testing.T) {
	wf := readWorkflow(t, "nightly.yaml")
	job, ok := wf.Jobs["e2e-kind"]
	if !ok {
		t.Fatal("no e2e-kind job")
	}
	vs := job.Strategy.Matrix["istio"]
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
	for _, want := range []string{"fs.inotify.max_user_watches=524288", "fs.inotify.max_user_instances=512", "make specs-bin", "make e2e SPECS_PKG=specs/specs.test"} {
		if !strings.Contains(run.String(), want) {
			t.Errorf("no step runs %q", want)
		}
	}
	if wf.Env[EnvPreloadImages] != "true" {
		t.Errorf("%s = %q, want true", EnvPreloadImages, wf.Env[EnvPreloadImages])
	}
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^ISTIO_VERSION\s*\?=\s*(\S+)`).FindSubmatch(mk); m == nil || string(m[1]) != DefaultIstioVersion {
		t.Errorf("Makefile ISTIO_VERSION %q, want %s", m, DefaultIstioVersion)
	}
}

// The multi-cluster specs run somewhere: a weekly workflow, one job per
// setup, each setting LOCALITY_E2E_KIND_MULTICLUSTER to a suite
// topology's name and filtering the multicluster specs.
func TestWeeklyMultiClusterWorkflow(t *testing.T) {
	wf := readWorkflow(t, "weekly-multicluster.yaml")
	if len(wf.On.Schedule) != 1 || !regexp.MustCompile(`^\d+ \d+ \* \* [0-6]$`).MatchString(wf.On.Schedule[0].Cron) {
		t.Errorf("schedule %+v: want one weekly cron", wf.On.Schedule)
	}
	job, ok := wf.Jobs["e2e-kind-multicluster"]
	if !ok {
		t.Fatal("no e2e-kind-multicluster job")
	}
	if job.Env[EnvKindMultiCluster] != "${{ matrix.setup }}" {
		t.Errorf("%s = %q", EnvKindMultiCluster, job.Env[EnvKindMultiCluster])
	}
	names := map[string]bool{}
	for _, topo := range SuiteTopologies() {
		if len(topo.Clusters) > 0 {
			names[topo.Name] = true
		}
	}
	setups := job.Strategy.Matrix["setup"]
	if len(setups) != len(names) {
		t.Errorf("matrix %v, the suite's multi-cluster topologies %v", setups, names)
	}
	for _, s := range setups {
		if !names[s] {
			t.Errorf("setup %q is not a multi-cluster suite topology (%v)", s, names)
		}
	}
	if _, ok := wf.Env[EnvPreloadImages]; ok {
		t.Errorf("%s is refused by the multi-cluster setup", EnvPreloadImages)
	}
	var run strings.Builder
	for _, s := range job.Steps {
		run.WriteString(s.Run + "\n")
	}
	for _, want := range []string{"make specs-bin", "SPECS_PKG=specs/specs.test", "--label-filter=multicluster"} {
		if !strings.Contains(run.String(), want) {
			t.Errorf("no step runs %q", want)
		}
	}
}

// The limits nest with stated margins, and docs/kind.md's time budget
// states the same numbers: Ginkgo's --timeout (E2E_TIMEOUT) + 10 min ≤ the
// e2e step's limit; build step + e2e step + 10 min of other steps + 5 min
// margin ≤ the job's limit; docs/kind.md's estimate fits in Ginkgo's.
func TestWorkflowsTimeBudget(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^E2E_TIMEOUT\s*\?=\s*(\d+)m$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: no E2E_TIMEOUT ?= <n>m")
	}
	ginkgo := atoi(string(m[1]))
	if !regexp.MustCompile(`(?m)^e2e:.*\n\t.*--timeout=\$\$E2E_TIMEOUT`).Match(mk) {
		t.Error("make e2e does not pass --timeout=$$E2E_TIMEOUT (the exported E2E_TIMEOUT) to Ginkgo")
	}
	readme, err := os.ReadFile("../../docs/kind.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(readme)
	i := strings.Index(doc, "\n## Time budget")
	if i < 0 {
		t.Fatal("docs/kind.md has no \"## Time budget\" section")
	}
	sec := doc[i+1:]
	if j := strings.Index(sec[3:], "\n## "); j >= 0 {
		sec = sec[:j+3]
	}
	for _, want := range []string{fmt.Sprintf("`E2E_TIMEOUT` = %dm", ginkgo)} {
		if !strings.Contains(sec, want) {
			t.Errorf("docs/kind.md Time budget lacks %q", want)
		}
	}
	est := regexp.MustCompile(`estimate: ≈ (\d+)–(\d+) min`).FindAllStringSubmatch(sec, -1)
	if len(est) == 0 {
		t.Fatal("docs/kind.md Time budget states no \"estimate: ≈ a–b min\"")
	}
	for _, e := range est {
		if hi := atoi(e[2]); float64(hi)*1.4 > float64(ginkgo) {
			t.Errorf("estimate up to %d min: Ginkgo's %dm leaves less than a 1.4× margin", hi, ginkgo)
		}
	}
	for _, file := range []string{"nightly.yaml", "weekly-multicluster.yaml"} {
		wf := readWorkflow(t, file)
		for name, job := range wf.Jobs {
			if job.RunsOn != "ubuntu-24.04" || !strings.Contains(sec, "`"+job.RunsOn+"`") || !strings.Contains(sec, "4 vCPU, 16 GB") {
				t.Errorf("%s %s: runs-on %q; docs/kind.md must name it and its size", file, name, job.RunsOn)
			}
			steps := map[string]int{}
			for _, s := range job.Steps {
				switch {
				case strings.Contains(s.Run, "make specs-bin"):
					steps["build"] = s.TimeoutMinutes
				case strings.Contains(s.Run, "make e2e "):
					steps["e2e"] = s.TimeoutMinutes
				}
			}
			if steps["e2e"] < ginkgo+10 {
				t.Errorf("%s %s: e2e step limit %d < Ginkgo %dm + 10", file, name, steps["e2e"], ginkgo)
			}
			if steps["build"] == 0 || job.TimeoutMinutes < steps["build"]+steps["e2e"]+10+5 {
				t.Errorf("%s %s: job limit %d < build %d + e2e %d + 10 + 5", file, name, job.TimeoutMinutes, steps["build"], steps["e2e"])
			}
			for what, n := range map[string]int{"job": job.TimeoutMinutes, "build step": steps["build"], "e2e step": steps["e2e"]} {
				if want := fmt.Sprintf("%s `timeout-minutes: %d`", what, n); !strings.Contains(sec, want) {
					t.Errorf("docs/kind.md Time budget lacks %q (%s %s)", want, file, name)
				}
			}
		}
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
// (docs/kind.md "How long a batch takes"); the margin is 2×.
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
