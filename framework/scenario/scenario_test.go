package scenario_test

import (
	"testing"

	"github.com/localitylb/locality-e2e/framework/scenario"
)

func TestShippedScenariosLoad(t *testing.T) {
	ss, err := scenario.LoadDir("../../scenarios")
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 6 {
		t.Fatalf("want the 6 seed scenario files, got %d", len(ss))
	}
	for _, s := range ss {
		t.Logf("%s: %s, %d rules, %d specs", s.File, scenario.ContainerText(s), len(s.Rules), len(s.Specs))
	}
}
