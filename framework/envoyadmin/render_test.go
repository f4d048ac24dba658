package envoyadmin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/envoyadmin"
	"github.com/localitylb/locality-e2e/framework/envoyadmin/envoyadmintest"
)

const ns = "ns1"

var cluster = envoyadmintest.ClusterName(ns)

func model(t *testing.T, localityWeighted bool, rows []envoyadmintest.Row, eject ...string) envoyadmin.Cluster {
	t.Helper()
	m, err := envoyadmintest.Model(envoyadmintest.Cluster(ns, localityWeighted), envoyadmintest.CLA(ns, rows...), eject...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func parseBoth(t *testing.T, c envoyadmin.Cluster) (eds, live endpoints.Table) {
	t.Helper()
	d, err := envoyadmintest.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	if eds, err = endpoints.ParseConfigDumpEDS(d.ConfigDump, cluster); err != nil {
		t.Fatalf("%v\n%s", err, d.ConfigDump)
	}
	if live, err = endpoints.ParseAdminClusters(d.Clusters, cluster); err != nil {
		t.Fatalf("%v\n%s", err, d.Clusters)
	}
	return eds, live
}

func TestRenderLocalityWeightOnlyWithLocalityWeightedLB(t *testing.T) {
	rows := []envoyadmintest.Row{{Zone: "a", Weight: 90, Hosts: 2}, {Zone: "c", Weight: 10, Hosts: 1}, {Zone: "b", Weight: 5}}
	for _, lw := range []bool{true, false} {
		eds, live := parseBoth(t, model(t, lw, rows))
		want := endpoints.Summary{"kr/a": {Weight: 90, Hosts: 2, Healthy: 2}, "kr/c": {Weight: 10, Hosts: 1, Healthy: 1}}
		if !lw {
			want = endpoints.Summary{"kr/a": {Hosts: 2, Healthy: 2}, "kr/c": {Hosts: 1, Healthy: 1}}
		}
		// the empty locality kr/b is absent from both documents.
		if got := eds.Summarize(); !reflect.DeepEqual(got, want) {
			t.Errorf("locality weighted %v: config_dump\n%s\nwant\n%s", lw, got, want)
		}
		for k, v := range want {
			v.Weight = 0
			want[k] = v
		}
		if got := live.Summarize(); !reflect.DeepEqual(got, want) {
			t.Errorf("locality weighted %v: /clusters\n%s\nwant\n%s", lw, got, want)
		}
	}
}

func TestRenderPrioritiesAndEjection(t *testing.T) {
	rows := []envoyadmintest.Row{{Zone: "b", Weight: 3, Hosts: 3}, {Zone: "a", Priority: 1, Weight: 3, Hosts: 3}, {Zone: "c", Priority: 1, Weight: 3, Hosts: 3}}
	eds, live := parseBoth(t, model(t, true, rows, envoyadmintest.HostIP("b", 0)+":5000"))
	// config_dump prints coarseHealth: the ejected host is UNHEALTHY there,
	// EJECTED (failed_outlier_check) in /clusters.
	if h := eds.Rows[0].Hosts[0]; eds.Rows[0].Locality != "kr/b" || h.Health != endpoints.Unhealthy {
		t.Errorf("config_dump\n%s", eds)
	}
	if h := live.Rows[0].Hosts[0]; h.Health != endpoints.Ejected {
		t.Errorf("/clusters\n%s", live)
	}
	want := endpoints.Summary{
		"kr/b": {Priority: 0, Weight: 3, Hosts: 3, Healthy: 2},
		"kr/a": {Priority: 1, Weight: 3, Hosts: 3, Healthy: 3},
		"kr/c": {Priority: 1, Weight: 3, Hosts: 3, Healthy: 3},
	}
	if got := endpoints.OverlayHealth(eds, live).Summarize(); !reflect.DeepEqual(got, want) {
		t.Errorf("overlay\n%s\nwant\n%s", got, want)
	}
}

func TestRenderDegradedDraining(t *testing.T) {
	c := model(t, true, []envoyadmintest.Row{{Zone: "a", Weight: 1, Hosts: 3}})
	c.State.Hosts[1].EDSHealth = corev3.HealthStatus_DEGRADED
	c.State.Hosts[2].EDSHealth = corev3.HealthStatus_DRAINING
	b, err := envoyadmin.RenderClusters([]envoyadmin.Cluster{c})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"eds_health_status": "HEALTHY"`, `"eds_health_status": "DEGRADED"`, `"eds_health_status": "DRAINING"`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("/clusters lacks %s:\n%s", s, b)
		}
	}
	eds, live := parseBoth(t, c)
	if got := []endpoints.Health{live.Rows[0].Hosts[1].Health, live.Rows[0].Hosts[2].Health}; !reflect.DeepEqual(got, []endpoints.Health{endpoints.Healthy, endpoints.Draining}) {
		t.Errorf("/clusters health %v", got)
	}
	// config_dump: DEGRADED stays DEGRADED (parsed as serving), DRAINING is UNHEALTHY (coarseHealth).
	d, _ := envoyadmin.ConfigDump([]envoyadmin.Cluster{c}, url.Values{"include_eds": {""}})
	if !strings.Contains(string(d), `"health_status": "DEGRADED"`) || eds.Rows[0].Hosts[2].Health != endpoints.Unhealthy {
		t.Errorf("config_dump\n%s", d)
	}
}

func TestRenderLocalLocalityFirst(t *testing.T) {
	c := model(t, true, []envoyadmintest.Row{{Zone: "c", Weight: 1, Hosts: 1}, {Zone: "a", Weight: 1, Hosts: 1}, {Zone: "b", Weight: 1, Hosts: 1}})
	cla := envoyadmin.LoadAssignment(c)
	var zones []string
	for _, le := range cla.GetEndpoints() {
		zones = append(zones, le.GetLocality().GetZone())
	}
	if !reflect.DeepEqual(zones, []string{"b", "a", "c"}) {
		t.Errorf("locality order %v, want local first then sorted", zones)
	}
}

// keys collects, for every object in a JSON document, "parent>key" for the
// message types it can identify by a key it holds.
func keys(t *testing.T, b []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	var walk func(parent string, v any)
	walk = func(parent string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				out[parent+">"+k] = true
				walk(k, c)
			}
		case []any:
			for _, c := range x {
				walk(parent, c)
			}
		}
	}
	walk("", v)
	return out
}

func TestRenderedKeysMatchEnvoyCapture(t *testing.T) {
	capture, err := os.ReadFile(filepath.Join("..", "endpoints", "testdata", "envoy-config_dump_handler_test-ConfigDumpWithLocalityEndpoint.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := model(t, true, []envoyadmintest.Row{{Zone: "b", Weight: 3, Hosts: 1}, {Zone: "a", Priority: 1, Weight: 1, Hosts: 1}})
	c.Static = true
	got, err := envoyadmin.ConfigDump([]envoyadmin.Cluster{c}, url.Values{"include_eds": {""}, "resource": {"static_endpoint_configs"}})
	if err != nil {
		t.Fatal(err)
	}
	var envoyKeys, ours []string
	// the capture has hostnames, metadata, a health check port and a
	// sub_zone the model's hosts have not.
	skip := map[string]bool{"locality>sub_zone": true, "endpoint>hostname": true, "lb_endpoints>metadata": true, "health_check_config>port_value": true, "health_check_config>hostname": true, "configs>static_endpoint_configs": true, "static_endpoint_configs>endpoint_config": true, "configs>endpoint_config": true}
	for k := range keys(t, capture) {
		if !skip[k] {
			envoyKeys = append(envoyKeys, k)
		}
	}
	for k := range keys(t, got) {
		if !skip[k] {
			ours = append(ours, k)
		}
	}
	sort.Strings(envoyKeys)
	sort.Strings(ours)
	if !reflect.DeepEqual(ours, envoyKeys) {
		t.Errorf("keys\n%s\nwant (Envoy)\n%s\n%s", strings.Join(ours, " "), strings.Join(envoyKeys, " "), got)
	}
	// Envoy's pretty printer: one space per level, trailing newline.
	if !strings.HasPrefix(string(got), "{\n \"configs\": [\n  {\n   \"@type\": ") || !strings.HasSuffix(string(got), "\n}\n") {
		t.Errorf("not in Envoy's layout:\n%s", got)
	}
}

func TestConfigDumpResourceMaskAndErrors(t *testing.T) {
	c := model(t, true, []envoyadmintest.Row{{Zone: "b", Weight: 3, Hosts: 1}})
	cs := []envoyadmin.Cluster{c}
	get := func(q string) (int, string) {
		v, _ := url.ParseQuery(q)
		b, err := envoyadmin.ConfigDump(cs, v)
		if err != nil {
			e := err.(*envoyadmin.Error)
			return e.Code, e.Body
		}
		return 200, string(b)
	}
	// resource= prints the repeated entries themselves.
	code, body := get("include_eds&resource=dynamic_endpoint_configs")
	if code != 200 || !strings.Contains(body, `"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump.DynamicEndpointConfig"`) {
		t.Errorf("%d %s", code, body)
	}
	code, body = get("resource=dynamic_active_clusters")
	if code != 200 || !strings.Contains(body, `"version_info": "2026-11-26T00:00:00Z/1"`) || !strings.Contains(body, `"last_updated": "2026-05-28T20:26:40Z"`) || !strings.Contains(body, `"locality_weighted_lb_config": {}`) {
		t.Errorf("%d %s", code, body)
	}
	// mask through the Any (trimResourceMessage): cluster.name and version_info only.
	code, body = get("resource=dynamic_active_clusters&mask=cluster.name,version_info")
	want := "{\n \"configs\": [\n  {\n   \"@type\": \"type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster\",\n   \"version_info\": \"2026-11-26T00:00:00Z/1\",\n   \"cluster\": {\n    \"@type\": \"type.googleapis.com/envoy.config.cluster.v3.Cluster\",\n    \"name\": \"" + cluster + "\"\n   }\n  }\n ]\n}\n"
	if code != 200 || body != want {
		t.Errorf("%d\n%s\nwant\n%s", code, body, want)
	}
	// mask without resource: applies to each section whole, skips those it does not fit.
	code, body = get("include_eds&mask=dynamic_endpoint_configs")
	if code != 200 || strings.Contains(body, "ClustersConfigDump") || !strings.Contains(body, "EndpointsConfigDump") {
		t.Errorf("%d %s", code, body)
	}
	// empty parameters are no parameters.
	if c1, b1 := get("resource=&mask=&name_regex="); c1 != 200 || !strings.Contains(b1, "ClustersConfigDump") {
		t.Errorf("%d %s", c1, b1)
	}
	// name_regex filters clusters and endpoints.
	if c1, b1 := get("include_eds&name_regex=nothing"); c1 != 200 || strings.Contains(b1, cluster) {
		t.Errorf("%d %s", c1, b1)
	}
	for _, c := range []struct {
		q    string
		code int
		body string
	}{
		{"resource=foo", 404, "foo not found in config dump"},
		{"resource=version_info", 400, "version_info is not a repeated field. Use ?mask=version_info to get only this field"},
		{"resource=dynamic_active_clusters&mask=cluster.transport_socket_matches.name", 400, "FieldMask paths: \"cluster.transport_socket_matches.name\"\n could not be successfully used."},
		{"mask=bad", 400, "FieldMask bad could not be successfully applied to any configs."},
		{"name_regex=[", 400, "Error while parsing name_regex from ["},
		{"resource=dynamic_endpoint_configs", 404, "dynamic_endpoint_configs not found in config dump"}, // without include_eds
	} {
		code, body := get(c.q)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s: %d %q, want %d %q", c.q, code, body, c.code, c.body)
		}
	}
}

func TestHandler(t *testing.T) {
	c := model(t, true, []envoyadmintest.Row{{Zone: "b", Weight: 3, Hosts: 2}})
	srv := httptest.NewServer(envoyadmin.Handler(func() []envoyadmin.Cluster { return []envoyadmin.Cluster{c} }))
	defer srv.Close()
	get := func(path string) (int, string, http.Header) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String(), resp.Header
	}
	code, body, h := get("/clusters?format=json")
	if code != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", code, body)
	}
	if tab, err := endpoints.ParseAdminClusters([]byte(body), cluster); err != nil || len(tab.Rows[0].Hosts) != 2 {
		t.Errorf("%v %s", err, tab)
	}
	code, body, _ = get("/clusters")
	if code != 200 || !strings.Contains(body, cluster+"::"+envoyadmintest.HostIP("b", 0)+":5000::health_flags::healthy\n") || !strings.Contains(body, cluster+"::default_priority::max_connections::4294967295\n") {
		t.Errorf("%d %s", code, body)
	}
	code, body, _ = get("/config_dump?include_eds")
	if tab, err := endpoints.ParseConfigDumpEDS([]byte(body), cluster); code != 200 || err != nil || tab.Rows[0].Weight != 3 {
		t.Errorf("%d %v %s", code, err, body)
	}
	code, body, h = get("/config_dump?resource=nope")
	if code != 404 || h.Get("X-Content-Type-Options") != "nosniff" || body != "nope not found in config dump" {
		t.Errorf("%d %q %v", code, body, h)
	}
	if code, body, _ = get("/stats"); code != 404 || !strings.HasPrefix(body, "invalid path.") {
		t.Errorf("%d %s", code, body)
	}
}

// TestRenderDuplicateAddressOnlyFirst: Envoy's EDS keeps only the first
// lb_endpoint of an address across the ClusterLoadAssignment
// (source/extensions/clusters/eds/eds.cc,
// BatchUpdateHelper::updateLocalityEndpoints), so /clusters
// (host_statuses) and config_dump?include_eds (dumpEndpointConfigs, built
// from the host sets) show one host, in the locality of the first copy,
// with that locality's weight; a locality left without hosts is in
// neither (envoyproxy/envoy#22417: "only one endpoint is actually
// preserved"). This is istiod's multi-network shape: the east-west gateway
// listed once per remote locality (istio/istio#56355).
func TestRenderDuplicateAddressOnlyFirst(t *testing.T) {
	cla := envoyadmintest.CLA(ns, envoyadmintest.Row{Zone: "b", Weight: 2, Hosts: 2}, envoyadmintest.Row{Zone: "a", Weight: 5, Hosts: 1})
	dup := envoyadmintest.HostIP("a", 0)
	// kr/c lists only kr/a's host again, with its own weights and health.
	extra := envoyadmintest.CLA(ns, envoyadmintest.Row{Zone: "a", Weight: 9, Hosts: 1}).GetEndpoints()[0]
	extra.Locality.Zone = "c"
	extra.LbEndpoints[0].HealthStatus = corev3.HealthStatus_UNHEALTHY
	extra.LbEndpoints[0].LoadBalancingWeight.Value = 7
	cla.Endpoints = append(cla.Endpoints, extra)
	m, err := envoyadmintest.Model(envoyadmintest.Cluster(ns, true), cla)
	if err != nil {
		t.Fatal(err)
	}
	eds, live := parseBoth(t, m)
	want := endpoints.Summary{"kr/b": {Weight: 2, Hosts: 2, Healthy: 2}, "kr/a": {Weight: 5, Hosts: 1, Healthy: 1}}
	if got := eds.Summarize(); !reflect.DeepEqual(got, want) {
		t.Errorf("config_dump\n%s\nwant\n%s", got, want)
	}
	for k, v := range want {
		v.Weight = 0
		want[k] = v
	}
	if got := live.Summarize(); !reflect.DeepEqual(got, want) {
		t.Errorf("/clusters\n%s\nwant\n%s", got, want)
	}
	d, err := envoyadmintest.Render(m)
	if err != nil {
		t.Fatal(err)
	}
	addr := `"address": "` + dup + `"`
	for name, doc := range map[string][]byte{"/clusters": d.Clusters, "config_dump": d.ConfigDump} {
		if n := strings.Count(string(doc), addr); n != 1 {
			t.Errorf("%s: %s %d times, want once\n%s", name, dup, n, doc)
		}
		if strings.Contains(string(doc), `"zone": "c"`) {
			t.Errorf("%s shows the locality left without hosts\n%s", name, doc)
		}
	}
	text := string(envoyadmin.RenderClustersText([]envoyadmin.Cluster{m}))
	if n := strings.Count(text, cluster+"::"+dup+":5000::zone::"); n != 1 || !strings.Contains(text, cluster+"::"+dup+":5000::zone::a\n") || !strings.Contains(text, cluster+"::"+dup+":5000::weight::1\n") {
		t.Errorf("/clusters text: want %s once, zone a, weight 1 (the first copy)\n%s", dup, text)
	}
}
