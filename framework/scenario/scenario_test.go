package scenario_test

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/localitylb/locality-e2e/framework/scenario"
	"github.com/localitylb/locality-e2e/framework/topology"
)

func TestShippedScenariosLoad(t *testing.T) {
	ss, err := scenario.LoadDir("../../scenarios")
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 7 {
		t.Fatalf("want the 6 seed scenario files and multicluster-distribute.yaml, got %d", len(ss))
	}
	for _, s := range ss {
		t.Logf("%s: %s, %d rules, %d specs", s.File, scenario.ContainerText(s), len(s.Rules), len(s.Specs))
	}
}

// TestShippedMultiClusterScenario: multicluster-distribute.yaml declares
// the topology of its Go spec (specs/multicluster_distribute_test.go,
// topology.LocalityTask(1, true)).
func TestShippedMultiClusterScenario(t *testing.T) {
	s, err := scenario.Load(filepath.Join("../../scenarios", "multicluster-distribute.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := topology.LocalityTask(1, true); !reflect.DeepEqual(s.Topology, want) {
		t.Errorf("topology\n got: %+v\nwant: %+v", s.Topology, want)
	}
	if len(s.Rules) != 1 || s.Rules[0].DestinationRule == nil || filepath.Base(s.Rules[0].Source) != "locality-task-distribute.yaml" {
		t.Errorf("rules %+v", s.Rules)
	}
}
