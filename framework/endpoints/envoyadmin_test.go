package endpoints

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

func adminReadFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("%v (regenerate with go test -run TestAdminGenerateFixtures -update-fixtures)", err)
	}
	return b
}

// The expectations are istio-locality-behavior.md §3 in the Envoy view
// (client netshoot-b in kr/b, 3 pods per zone).
var adminWantEDS = map[string]Summary{
	"none": {
		"kr/a": {Priority: 0, Weight: 3, Hosts: 3, Healthy: 3},
		"kr/b": {Priority: 0, Weight: 3, Hosts: 3, Healthy: 3},
		"kr/c": {Priority: 0, Weight: 3, Hosts: 3, Healthy: 3},
	},
	"distribute-b-to-b": {"kr/b": {Priority: 0, Weight: 100, Hosts: 3, Healthy: 3}},
	"distribute-90-10": {
		"kr/a": {Priority: 0, Weight: 90, Hosts: 3, Healthy: 3},
		"kr/c": {Priority: 0, Weight: 10, Hosts: 3, Healthy: 3},
	},
	"failover": {
		"kr/b": {Priority: 0, Weight: 3, Hosts: 3, Healthy: 3},
		"kr/a": {Priority: 1, Weight: 3, Hosts: 3, Healthy: 3},
		"kr/c": {Priority: 1, Weight: 3, Hosts: 3, Healthy: 3},
	},
	// config_dump does not know about outlier ejection.
	"failover-ejected": {
		"kr/b": {Priority: 0, Weight: 3, Hosts: 3, Healthy: 3},
		"kr/a": {Priority: 1, Weight: 3, Hosts: 3, Healthy: 3},
		"kr/c": {Priority: 1, Weight: 3, Hosts: 3, Healthy: 3},
	},
}

// /clusters has no locality weight (Weight 0) but knows ejection.
func adminWantClusters(name string) Summary {
	out := Summary{}
	for k, v := range adminWantEDS[name] {
		v.Weight = 0
		out[k] = v
	}
	if name == "failover-ejected" {
		r := out["kr/b"]
		r.Healthy = 2
		out["kr/b"] = r
	}
	return out
}

func TestParseConfigDumpEDS(t *testing.T) {
	for name, want := range adminWantEDS {
		t.Run(name, func(t *testing.T) {
			tab, err := ParseConfigDumpEDS(adminReadFixture(t, "config_dump-"+name+".json"), adminSeedCluster)
			if err != nil {
				t.Fatal(err)
			}
			if tab.View != Envoy || tab.Cluster != adminSeedCluster {
				t.Errorf("view %q cluster %q", tab.View, tab.Cluster)
			}
			if got := tab.Summarize(); !reflect.DeepEqual(got, want) {
				t.Errorf("summary:\n%s\nwant:\n%s\ntable:\n%s", got, want, tab)
			}
		})
	}
}

func TestParseAdminClusters(t *testing.T) {
	for name := range adminWantEDS {
		t.Run(name, func(t *testing.T) {
			tab, err := ParseAdminClusters(adminReadFixture(t, "clusters-"+name+".json"), adminSeedCluster)
			if err != nil {
				t.Fatal(err)
			}
			if tab.View != Envoy {
				t.Errorf("view %q", tab.View)
			}
			if got, want := tab.Summarize(), adminWantClusters(name); !reflect.DeepEqual(got, want) {
				t.Errorf("summary:\n%s\nwant:\n%s\ntable:\n%s", got, want, tab)
			}
		})
	}
}

func TestAdminParseAdminClustersHostDetails(t *testing.T) {
	tab, err := ParseAdminClusters(adminReadFixture(t, "clusters-failover-ejected.json"), adminSeedCluster)
	if err != nil {
		t.Fatal(err)
	}
	// sorted: priority 0 (kr/b) first, hosts by address.
	r := tab.Rows[0]
	if r.Locality != "kr/b" || r.Priority != 0 {
		t.Fatalf("first row %+v", r)
	}
	want := []Host{
		{Address: "10.244.2.10", Port: 5000, Health: Ejected},
		{Address: "10.244.2.11", Port: 5000, Health: Healthy},
		{Address: "10.244.2.12", Port: 5000, Health: Healthy},
	}
	if !reflect.DeepEqual(r.Hosts, want) {
		t.Errorf("hosts %+v, want %+v", r.Hosts, want)
	}
	if !strings.Contains(tab.String(), "10.244.2.10|EJECTED") {
		t.Errorf("String() misses the ejected host:\n%s", tab)
	}
}

func TestAdminOverlayHealth(t *testing.T) {
	eds, err := ParseConfigDumpEDS(adminReadFixture(t, "config_dump-failover-ejected.json"), adminSeedCluster)
	if err != nil {
		t.Fatal(err)
	}
	live, err := ParseAdminClusters(adminReadFixture(t, "clusters-failover-ejected.json"), adminSeedCluster)
	if err != nil {
		t.Fatal(err)
	}
	got := OverlayHealth(eds, live).Summarize()
	want := Summary{
		"kr/b": {Priority: 0, Weight: 3, Hosts: 3, Healthy: 2},
		"kr/a": {Priority: 1, Weight: 3, Hosts: 3, Healthy: 3},
		"kr/c": {Priority: 1, Weight: 3, Hosts: 3, Healthy: 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("overlay:\n%s\nwant:\n%s", got, want)
	}
	// base is not modified.
	if eds.Summarize()["kr/b"].Healthy != 3 {
		t.Error("OverlayHealth modified its base table")
	}
}

func TestAdminParseConfigDumpSkipsOtherEntries(t *testing.T) {
	// A real dump starts with bootstrap, clusters and listeners whose nested
	// Any types (Istio filters) no registry here resolves; they must be
	// skipped, not decoded.
	dump := string(adminReadFixture(t, "config_dump-none.json"))
	other := `{"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "dynamic_listeners": [{"name": "x", "active_state": {"listener": {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "filter_chains": [{"filters": [{"name": "istio.stats", "typed_config": {"@type": "type.googleapis.com/stats.PluginConfig"}}]}]}}}]},`
	dump = strings.Replace(dump, `"configs": [`, `"configs": [`+other, 1)
	if _, err := ParseConfigDumpEDS([]byte(dump), adminSeedCluster); err != nil {
		t.Fatal(err)
	}
}

func TestAdminParseConfigDumpResourceForm(t *testing.T) {
	// config_dump?include_eds&resource=dynamic_endpoint_configs prints each
	// DynamicEndpointConfig as its own entry.
	a, _ := anypb.New(adminCLAFixture(adminSeedCluster, adminFixtureCases["distribute-90-10"]))
	dc, _ := anypb.New(&adminv3.EndpointsConfigDump_DynamicEndpointConfig{EndpointConfig: a})
	b, err := adminEnvoyJSON.Marshal(&adminv3.ConfigDump{Configs: []*anypb.Any{dc}})
	if err != nil {
		t.Fatal(err)
	}
	tab, err := ParseConfigDumpEDS(b, adminSeedCluster)
	if err != nil {
		t.Fatal(err)
	}
	if got := tab.Summarize(); !reflect.DeepEqual(got, adminWantEDS["distribute-90-10"]) {
		t.Errorf("got %s", got)
	}
}

func TestAdminParseErrors(t *testing.T) {
	cases := []struct {
		name, want string
		fn         func() error
	}{
		{"clusters garbage", "parse Envoy /clusters", func() error { _, err := ParseAdminClusters([]byte("no such path"), adminSeedCluster); return err }},
		{"clusters missing", "not in Envoy /clusters output", func() error {
			_, err := ParseAdminClusters(adminReadFixture(t, "clusters-none.json"), "outbound|5000||helloworld-svc.other.svc.cluster.local")
			return err
		}},
		{"dump garbage", "parse Envoy config_dump", func() error { _, err := ParseConfigDumpEDS([]byte("<html>"), adminSeedCluster); return err }},
		{"dump without eds", "include_eds", func() error { _, err := ParseConfigDumpEDS([]byte(`{"configs": []}`), adminSeedCluster); return err }},
		{"dump missing cluster", "similar: outbound|5000||helloworld-svc.default", func() error {
			_, err := ParseConfigDumpEDS(adminReadFixture(t, "config_dump-none.json"), "outbound|5000||helloworld-svc.other.svc.cluster.local")
			return err
		}},
	}
	for _, c := range cases {
		err := c.fn()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestParseIstiodEDS(t *testing.T) {
	tab, err := ParseIstiodEDS(adminReadFixture(t, "istiod-edsz-distribute-b-to-b.json"), adminSeedCluster)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{
		"kr/a": {Priority: 0, Weight: 3, Hosts: 0},
		"kr/b": {Priority: 0, Weight: 100, Hosts: 3, Healthy: 3},
		"kr/c": {Priority: 0, Weight: 3, Hosts: 0},
	}
	if got := tab.Summarize(); tab.View != Raw || !reflect.DeepEqual(got, want) {
		t.Errorf("view %s summary\n%s\nwant\n%s", tab.View, got, want)
	}
	if !strings.Contains(tab.String(), "(none)") {
		t.Errorf("emptied localities not printed:\n%s", tab)
	}
	if got := IstiodEDSPath("netshoot-b.ns1"); got != "/debug/edsz?proxyID=netshoot-b.ns1" {
		t.Errorf("IstiodEDSPath %q", got)
	}
}
