package specs

// Scenario files (framework/scenario): `--scenarios=DIR` registers every
// *.yaml of DIR as one more Ordered container, next to the Go specs. By
// default none is registered. The seed's scenarios shipped in ../scenarios
// are checked by TestShippedScenariosMatchGoSpecs, which runs them together
// with the Go specs they mirror in a child process of this test binary and
// compares the fingerprint rows.

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"

	"github.com/localitylb/locality-e2e/framework/fingerprint"
	"github.com/localitylb/locality-e2e/framework/mesh"
	scenariofile "github.com/localitylb/locality-e2e/framework/scenario"
	"github.com/localitylb/locality-e2e/framework/split"
)

var scenariosDir = flag.String("scenarios", os.Getenv("LOCALITY_E2E_SCENARIOS"),
	"folder of scenario files (*.yaml, framework/scenario) to run as well, each as one Ordered container labelled "+
		scenariofile.FileLabel+"; empty: none (env LOCALITY_E2E_SCENARIOS)")

// Flags are parsed in TestMain, before the containers are registered: a
// scenario folder decides which containers exist.
func TestMain(m *testing.M) {
	flag.Parse()
	shareCores()
	if *scenariosDir != "" {
		ss, err := scenariofile.LoadDir(*scenariosDir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "--scenarios=%s: %v\n", *scenariosDir, err)
			os.Exit(2)
		}
		for _, s := range ss {
			scenariofile.Register(s, func() mesh.Backend { return backend })
		}
	}
	os.Exit(m.Run())
}

// seedLabels select the Go specs the shipped scenario files mirror
// (specs/baseline_test.go, distribute_*_test.go, failover_test.go).
const seedLabels = "locality:baseline || locality:distribute || locality:failover"

// shippedMatchRate is the false-change rate of the count comparison (a
// two-sample test per random split, Bonferroni over them).
const shippedMatchRate = split.RunFalseFailureBudget * 0.4

// TestShippedScenariosMatchGoSpecs runs the seed's Go specs and the
// scenario files of ../scenarios in one child run of this test binary on
// the embedded backend, and checks that every file spec's fingerprint rows
// equal those of the Go spec with the same text: the same endpoint tables,
// the same splits (buckets, expected shares, check, N and accepted
// ranges), both passed, and counts that do not differ beyond sampling
// noise (fingerprint.Diff's two-sample tests; the meshes' random seeds
// differ, so counts are not identical).
func TestShippedScenariosMatchGoSpecs(t *testing.T) {
	// Once, in the last of the parallel processes: Go runs this test
	// before TestSpecs, and the first process runs the suite's
	// SynchronizedBeforeSuite, which every other process waits for. Here
	// the child run holds back only its own process's share of the specs,
	// which the others pick up meanwhile, instead of the whole suite's start.
	if sc, _ := GinkgoConfiguration(); sc.ParallelTotal > 1 && sc.ParallelProcess != sc.ParallelTotal {
		t.Skip("runs once, in the last of the parallel processes")
	}
	if os.Getenv("LOCALITY_E2E_SCENARIO_CHILD") != "" {
		t.Skip("the child run itself")
	}
	dir, err := filepath.Abs("../scenarios")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSpecs$", "-test.count=1",
		"-ginkgo.label-filter="+seedLabels, "-ginkgo.seed=1",
		"-backend=embedded", "-golden=", "-report-dir="+out, "-scenarios="+dir)
	cmd.Env = append(os.Environ(), "LOCALITY_E2E_SCENARIO_CHILD=1", "LOCALITY_E2E_SCENARIOS=", "LOCALITY_E2E_REPORT_DIR=")
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child run (%s) failed: %v\n%s", strings.Join(cmd.Args, " "), err, output)
	}
	fp, err := fingerprint.Read(filepath.Join(out, fingerprint.FileName))
	if err != nil {
		t.Fatal(err)
	}
	goSpecs, files := fingerprint.Fingerprint{Backend: fp.Backend}, fingerprint.Fingerprint{Backend: fp.Backend}
	for _, s := range fp.Scenarios {
		if name, ok := scenariofile.TrimContainerPrefix(s.Name); ok {
			s.Name = name
			files.Scenarios = append(files.Scenarios, s)
		} else {
			goSpecs.Scenarios = append(goSpecs.Scenarios, s)
		}
	}
	if len(goSpecs.Scenarios) != 11 || len(files.Scenarios) != len(goSpecs.Scenarios) {
		t.Fatalf("want the 11 seed Go specs and as many scenario file specs, got %d and %d\n%s", len(goSpecs.Scenarios), len(files.Scenarios), output)
	}
	byName := map[string]fingerprint.Scenario{}
	for _, s := range files.Scenarios {
		byName[s.Name] = s
	}
	for _, g := range goSpecs.Scenarios {
		f, ok := byName[g.Name]
		if !ok {
			t.Errorf("Go spec %q has no scenario file spec with the same text", g.Name)
			continue
		}
		if !g.Passed || !f.Passed {
			t.Errorf("%q: Go spec passed=%v, scenario file spec passed=%v", g.Name, g.Passed, f.Passed)
		}
		if !reflect.DeepEqual(g.Endpoints, f.Endpoints) {
			t.Errorf("%q: endpoint tables differ:\nGo spec:       %+v\nscenario file: %+v", g.Name, g.Endpoints, f.Endpoints)
		}
		if len(g.Splits) != len(f.Splits) {
			t.Errorf("%q: %d splits in the Go spec, %d in the scenario file", g.Name, len(g.Splits), len(f.Splits))
			continue
		}
		for i := range g.Splits {
			if a, b := staticSplit(g.Splits[i]), staticSplit(f.Splits[i]); !reflect.DeepEqual(a, b) {
				t.Errorf("%q: split %d differs:\nGo spec:       %+v\nscenario file: %+v", g.Name, i, a, b)
			}
		}
		t.Logf("%s: %d endpoint tables, %d splits equal", g.Name, len(g.Endpoints), len(g.Splits))
	}
	if changes := fingerprint.Diff(goSpecs, files, fingerprint.DiffOptions{FamilyWiseRate: shippedMatchRate}); len(changes) > 0 {
		t.Errorf("the scenario files behave differently from the Go specs:\n%s", fingerprint.Format(changes))
	}
}

// staticSplit is a split without its observed counts (and without pod
// buckets' counts): what must be identical between two runs.
func staticSplit(s fingerprint.Split) fingerprint.Split {
	s.Rows = append([]split.Row(nil), s.Rows...)
	for i := range s.Rows {
		s.Rows[i].Observed, s.Rows[i].OK = 0, false
	}
	return s
}
