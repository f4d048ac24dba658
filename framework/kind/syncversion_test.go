package kind

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/localitylb/locality-e2e/framework/virtualservice"
)

// The real gateway dump in testdata (istio/istio istioctl testdata, see
// SOURCES.md): a whole /config_dump, whose RoutesConfigDump holds the
// dynamic route "http.8080" at version 2023-11-29T10:46:50Z/15.
func TestRouteVersionRealDump(t *testing.T) {
	raw, err := os.ReadFile("testdata/istio-routes-gateway-http-route-prefix-configdump.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := routeVersion(raw, "http.8080")
	if err != nil {
		t.Fatal(err)
	}
	if want := "2023-11-29T10:46:50Z/15@2023-11-29T10:46:50.869Z"; got != want {
		t.Errorf("routeVersion = %q, want %q", got, want)
	}
	if got, err := routeVersion(raw, "5000"); err != nil || got != "" {
		t.Errorf("absent route: %q, %v", got, err)
	}
	// The same entries as ?resource=dynamic_route_configs prints them:
	// each DynamicRouteConfig packed on its own (Envoy's
	// config_dump_handler.cc addResourceToDump, PackFrom per element),
	// i.e. the element's fields plus its @type.
	var whole struct {
		Configs []map[string]json.RawMessage `json:"configs"`
	}
	if err := json.Unmarshal(raw, &whole); err != nil {
		t.Fatal(err)
	}
	var filtered struct {
		Configs []map[string]json.RawMessage `json:"configs"`
	}
	for _, c := range whole.Configs {
		var dyn []map[string]json.RawMessage
		if err := json.Unmarshal(c["dynamic_route_configs"], &dyn); c["dynamic_route_configs"] != nil && err != nil {
			t.Fatal(err)
		}
		for _, d := range dyn {
			d["@type"] = json.RawMessage(`"` + adminTypeDynamicRoute + `"`)
			filtered.Configs = append(filtered.Configs, d)
		}
	}
	if len(filtered.Configs) != 1 {
		t.Fatalf("%d dynamic route configs in the capture, want 1", len(filtered.Configs))
	}
	b, err := json.Marshal(filtered)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := routeVersion(b, "http.8080"); err != nil || got != "2023-11-29T10:46:50Z/15@2023-11-29T10:46:50.869Z" {
		t.Errorf("resource-filtered shape: %q, %v", got, err)
	}
	// The capture has no clusters: not an error, just absent.
	if got, err := clusterVersion(raw, "outbound|8000||httpbin.default.svc.cluster.local"); err != nil || got != "" {
		t.Errorf("clusterVersion on a routes-only dump: %q, %v", got, err)
	}
}

func TestSyncVersionBadInput(t *testing.T) {
	if _, err := routeVersion([]byte("Proxy not connected"), "5000"); err == nil || !strings.Contains(err.Error(), "route configurations") {
		t.Errorf("not JSON: %v", err)
	}
	bad := `{"configs":[{"@type":"` + adminTypeDynamicRoute + `","version_info":7}]}`
	if _, err := routeVersion([]byte(bad), "5000"); err == nil || !strings.Contains(err.Error(), "configs[0]") {
		t.Errorf("bad version_info: %v", err)
	}
}

// A VirtualService leaves the cluster's version as it was (the fake
// sidecars, like Envoy, move it only on a DestinationRule write):
// ApplyVirtualService must wait on the route's version, reading RDSArgs,
// and return as soon as it moves, not after Timeouts.Sync.
func TestApplyVirtualServiceWaitsForRouteVersion(t *testing.T) {
	f, b, m := deployThreeZones(t)
	ctx := context.Background()
	b.cfg.Timeouts.Sync = 5 * time.Second
	name := virtualservice.Names()[0]
	loaded, err := virtualservice.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	topo := m.topology()
	vs := virtualservice.ForTopology(loaded, "retries", topo.Host(), m.ns, topo.Port)
	cdsBefore := len(f.execs(strings.Join(CDSArgs, " ")))
	f.mu.Lock()
	cds := f.cdsVer
	f.mu.Unlock()
	start := time.Now()
	if err := m.ApplyVirtualService(ctx, vs); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("ApplyVirtualService took %v: it waited for a version that does not move", d)
	}
	if strings.Contains(f.log.String(), "continuing") {
		t.Errorf("sync timed out:\n%s", f.log.String())
	}
	if n := len(f.execs(strings.Join(RDSArgs, " "))); n < 2*len(m.topology().Clients) {
		t.Errorf("%d RDS reads, want before and after for each of %d clients", n, len(m.topology().Clients))
	}
	if n := len(f.execs(strings.Join(CDSArgs, " "))); n != cdsBefore {
		t.Errorf("ApplyVirtualService read CDS %d times", n-cdsBefore)
	}
	f.mu.Lock()
	if f.cdsVer != cds {
		t.Errorf("the fake's cluster version moved on a VirtualService write")
	}
	f.mu.Unlock()
	rdsBefore := len(f.execs(strings.Join(RDSArgs, " ")))
	start = time.Now()
	if err := m.DeleteVirtualService(ctx, "retries"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second || strings.Contains(f.log.String(), "continuing") {
		t.Errorf("DeleteVirtualService took %v\n%s", d, f.log.String())
	}
	if n := len(f.execs(strings.Join(RDSArgs, " "))) - rdsBefore; n < 2*len(m.topology().Clients) {
		t.Errorf("DeleteVirtualService: %d RDS reads, want before and after for each client", n)
	}
	if n := len(f.execs(strings.Join(CDSArgs, " "))); n != cdsBefore {
		t.Errorf("DeleteVirtualService read CDS %d times", n-cdsBefore)
	}
}
