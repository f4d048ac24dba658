package endpoints

import (
	"os"
	"path/filepath"
	"testing"
)

// The files in testdata/ are captures taken whole from upstream
// repositories; testdata/SOURCES.md names repository, path and commit of
// each. They are never edited: tests assert what they contain.
func adminReadFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	// istio/istio istioctl/pkg/writer/envoy/configdump/testdata/endpoint/configdump.json:
	// a sidecar's /config_dump?include_eds (bookinfo on kind).
	fixIstioEDS = "istio-configdump-endpoint.json"
	// istio/istio istioctl/pkg/proxyconfig/testdata/config_dump.json: a
	// waypoint's whole /config_dump?include_eds (bootstrap, clusters,
	// listeners, routes, secrets with Istio-specific Any types).
	fixIstioFullDump = "istio-proxyconfig-config_dump.json"
	// istio/istio istioctl/pkg/writer/envoy/clusters/testdata/clusters.json
	// (removed upstream in #23730): /clusters?format=json as istioctl
	// tested it in 2019, lowerCamel field names, an ejected reviews pod.
	fixIstioClusters = "istio-clusters-2019.json"
	// envoyproxy/envoy test/server/admin/config_dump_handler_test.cc,
	// ConfigDumpWithLocalityEndpoint: the exact bytes Envoy prints for
	// /config_dump?include_eds with locality weights and priorities.
	fixEnvoyEDS = "envoy-config_dump_handler_test-ConfigDumpWithLocalityEndpoint.json"
	// envoyproxy/envoy test/server/admin/clusters_handler_test.cc,
	// ClustersJsonAndText: /clusters?format=json of a host with every
	// health flag set.
	fixEnvoyClusters = "envoy-clusters_handler_test-ClustersJsonAndText.json"
)
