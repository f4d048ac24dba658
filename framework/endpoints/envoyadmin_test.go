package endpoints

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseConfigDumpEDSIstioSidecar(t *testing.T) {
	dump := adminReadFixture(t, fixIstioEDS)
	tab, err := ParseConfigDumpEDS(dump, "outbound|9080||reviews.default.svc.cluster.local")
	if err != nil {
		t.Fatal(err)
	}
	// Istio sets locality_weighted_lb_config, so Envoy dumps the locality
	// weight (3 hosts → 3); the pods have no topology labels (empty locality).
	want := Table{Cluster: "outbound|9080||reviews.default.svc.cluster.local", View: Envoy, Rows: []Locality{{
		Locality: "", Priority: 0, Weight: 3, Hosts: []Host{
			{Address: "10.244.0.192", Port: 9080, Health: Healthy},
			{Address: "10.244.0.193", Port: 9080, Health: Healthy},
			{Address: "10.244.0.195", Port: 9080, Health: Healthy},
		},
	}}}
	if !reflect.DeepEqual(tab, want) {
		t.Errorf("got\n%s\nwant\n%s", tab, want)
	}
	kdns, err := ParseConfigDumpEDS(dump, "outbound|53||kube-dns.kube-system.svc.cluster.local")
	if err != nil {
		t.Fatal(err)
	}
	if got := kdns.Summarize(); !reflect.DeepEqual(got, Summary{"": {Weight: 2, Hosts: 2, Healthy: 2}}) {
		t.Errorf("kube-dns %s", got)
	}
	// a cluster without endpoints (BlackHoleCluster) is an empty table.
	bh, err := ParseConfigDumpEDS(dump, "BlackHoleCluster")
	if err != nil || len(bh.Rows) != 0 {
		t.Errorf("BlackHoleCluster %v %s", err, bh)
	}
	// static clusters are read too; a pipe address is not a host the table can hold.
	if _, err := ParseConfigDumpEDS(dump, "sds-grpc"); err == nil || !strings.Contains(err.Error(), "not a socket address") {
		t.Errorf("sds-grpc: %v", err)
	}
	if agent, err := ParseConfigDumpEDS(dump, "agent"); err != nil || agent.Rows[0].Hosts[0] != (Host{Address: "127.0.0.1", Port: 15020, Health: Healthy}) || agent.Rows[0].Weight != 0 {
		t.Errorf("agent %v %s", err, agent)
	}
}

func TestParseConfigDumpEDSEnvoyLocalities(t *testing.T) {
	tab, err := ParseConfigDumpEDS(adminReadFixture(t, fixEnvoyEDS), "fake_cluster")
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{
		"":                      {Priority: 4, Weight: 3, Hosts: 1, Healthy: 1},
		"oceania/hello/world@2": {Priority: 2, Weight: 0, Hosts: 1, Healthy: 1},
		"oceania/hello/world@6": {Priority: 6, Weight: 1, Hosts: 2, Healthy: 2},
	}
	if got := tab.Summarize(); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s\n%s", got, want, tab)
	}
	// rows sorted by priority; hosts by address.
	if tab.Rows[0].Priority != 2 || tab.Rows[2].Hosts[0] != (Host{Address: "1.2.3.4", Port: 80, Health: Healthy}) {
		t.Errorf("order:\n%s", tab)
	}
}

func TestParseConfigDumpEDSSkipsOtherSections(t *testing.T) {
	// A whole dump: bootstrap, clusters, listeners, routes, secrets hold Any
	// types (udpa TypedStruct, Istio filters) no registry here resolves;
	// they are skipped undecoded.
	dump := adminReadFixture(t, fixIstioFullDump)
	tab, err := ParseConfigDumpEDS(dump, "prometheus_stats")
	if err != nil {
		t.Fatal(err)
	}
	// load_balancing_weight 0 is printed (the wrapper is set): weight 0.
	want := Table{Cluster: "prometheus_stats", View: Envoy, Rows: []Locality{{Hosts: []Host{{Address: "127.0.0.1", Port: 15000, Health: Healthy}}}}}
	if !reflect.DeepEqual(tab, want) {
		t.Errorf("got %s", tab)
	}
	// the waypoint's inbound-vip hosts are internal addresses.
	if _, err := ParseConfigDumpEDS(dump, "inbound-vip|8100|http|httpbin.default.svc.cluster.local"); err == nil || !strings.Contains(err.Error(), "not a socket address") {
		t.Errorf("inbound-vip: %v", err)
	}
}

func TestParseAdminClustersIstio2019(t *testing.T) {
	// lowerCamel names (hostStatuses, socketAddress, failedOutlierCheck)
	// parse as well as Envoy's proto names.
	data := adminReadFixture(t, fixIstioClusters)
	tab, err := ParseAdminClusters(data, "outbound|9080||reviews.default.svc.cluster.local")
	if err != nil {
		t.Fatal(err)
	}
	want := Table{Cluster: "outbound|9080||reviews.default.svc.cluster.local", View: Envoy, Rows: []Locality{{Hosts: []Host{
		{Address: "172.17.0.24", Port: 9080, Health: Healthy},
		{Address: "172.17.0.26", Port: 9080, Health: Healthy},
		{Address: "172.17.0.27", Port: 9080, Health: Ejected},
	}}}}
	if !reflect.DeepEqual(tab, want) {
		t.Errorf("got\n%s", tab)
	}
	pol, err := ParseAdminClusters(data, "outbound|15014||istio-policy.istio-system.svc.cluster.local")
	if err != nil || pol.Rows[0].Hosts[0].Health != Unhealthy {
		t.Errorf("istio-policy %v %s", err, pol)
	}
	if !strings.Contains(tab.String(), "172.17.0.27|EJECTED") {
		t.Errorf("String() misses the ejected host:\n%s", tab)
	}
}

func TestParseAdminClustersEnvoyAllFlags(t *testing.T) {
	tab, err := ParseAdminClusters(adminReadFixture(t, fixEnvoyClusters), "fake_cluster")
	if err != nil {
		t.Fatal(err)
	}
	// failed_outlier_check wins over the other flags.
	want := Table{Cluster: "fake_cluster", View: Envoy, Rows: []Locality{{
		Locality: "test_region/test_zone/test_sub_zone", Priority: 6,
		Hosts: []Host{{Address: "1.2.3.4", Port: 80, Health: Ejected}},
	}}}
	if !reflect.DeepEqual(tab, want) {
		t.Errorf("got\n%s", tab)
	}
}

func TestAdminOverlayHealth(t *testing.T) {
	base := Table{Cluster: "c", View: Envoy, Rows: []Locality{{Locality: "kr/b", Weight: 3, Hosts: []Host{
		{Address: "10.0.0.1", Port: 80, Health: Healthy}, {Address: "10.0.0.2", Port: 80, Health: Healthy},
	}}}}
	live := Table{Rows: []Locality{{Hosts: []Host{{Address: "10.0.0.1", Port: 80, Health: Ejected}, {Address: "10.0.0.2", Port: 80, Health: Unknown}}}}}
	got := OverlayHealth(base, live)
	if got.Rows[0].Hosts[0].Health != Ejected || got.Rows[0].Hosts[1].Health != Healthy || got.Rows[0].Weight != 3 {
		t.Errorf("overlay %s", got)
	}
	if base.Rows[0].Hosts[0].Health != Healthy {
		t.Error("OverlayHealth modified its base table")
	}
}

func TestAdminParseErrors(t *testing.T) {
	cases := []struct {
		name, want string
		fn         func() error
	}{
		{"clusters garbage", "parse Envoy /clusters", func() error { _, err := ParseAdminClusters([]byte("no such path"), "x"); return err }},
		{"clusters missing", "similar: outbound|9080||reviews.default", func() error {
			_, err := ParseAdminClusters(adminReadFixture(t, fixIstioClusters), "outbound|9080||reviews.other.svc.cluster.local")
			return err
		}},
		{"dump garbage", "parse Envoy config_dump", func() error { _, err := ParseConfigDumpEDS([]byte("<html>"), "x"); return err }},
		{"dump without eds", "include_eds", func() error { _, err := ParseConfigDumpEDS([]byte(`{"configs": []}`), "x"); return err }},
		{"dump missing cluster", "similar: outbound|9080||reviews.default", func() error {
			_, err := ParseConfigDumpEDS(adminReadFixture(t, fixIstioEDS), "outbound|9080||reviews.other.svc.cluster.local")
			return err
		}},
	}
	for _, c := range cases {
		err := c.fn()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
	if got := IstiodEDSPath("netshoot-b.ns1"); got != "/debug/edsz?proxyID=netshoot-b.ns1" {
		t.Errorf("IstiodEDSPath %q", got)
	}
}
