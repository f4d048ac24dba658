package kind

import (
	"github.com/localitylb/locality-e2e/framework/endpoints"
)

// ClientContainer is the container of a client pod that runs curl.
const ClientContainer = "client"

// PilotAgentRequestArgs is the argv, run in an istio-proxy container, that
// sends one request to the sidecar's Envoy admin API (127.0.0.1:15000).
// pilot-agent is in every proxy image, unlike curl, and Istio's own test
// framework reads sidecars this way.
func PilotAgentRequestArgs(method, path string) []string {
	return []string{"pilot-agent", "request", method, path}
}

// Admin API requests the backend makes.
var (
	// ClustersArgs reads live hosts, health and outlier ejection.
	ClustersArgs = PilotAgentRequestArgs("GET", endpoints.AdminClustersPath)
	// EDSArgs reads the endpoint assignment with locality weights.
	EDSArgs = PilotAgentRequestArgs("GET", endpoints.AdminEDSPath)
	// EDSFullArgs reads the whole dump with EDS, EDSArgs' fallback.
	EDSFullArgs = PilotAgentRequestArgs("GET", "config_dump?include_eds")
	// DrainArgs makes a pod refuse connections (mesh.RefuseConnections).
	//
	// istio.io's locality failover task runs
	//   kubectl exec ... -c istio-proxy -- curl -sSL -X POST 127.0.0.1:15000/drain_listeners
	// which drains every listener, including the static one on :15021 that
	// answers the pod's readiness probe: the pod then turns unready after a
	// few probes and leaves EDS, so the scenario silently becomes "pod
	// removed" instead of "pod alive but refusing". ?inboundonly drains only
	// listeners with traffic_direction INBOUND (Istio's virtualInbound), so
	// requests to the app port are refused (UF, counted by outlier detection
	// as 5xx) while the pod stays Ready. pilot-agent request is used instead
	// of curl because the proxy image has no curl. A drained listener cannot
	// be restored: healing deletes the pod and lets its Deployment replace it.
	DrainArgs = PilotAgentRequestArgs("POST", "drain_listeners?inboundonly")
)

// IstiodContainer is istiod's container.
const IstiodContainer = "discovery"

// IstiodEDSArgs is the argv, run in istiod's discovery container, that
// prints the ClusterLoadAssignments istiod computed for one proxy
// ("<pod>.<namespace>"): the Raw endpoints view. pilot-discovery request
// talks to istiod's own debug port (127.0.0.1:15014).
func IstiodEDSArgs(proxyID string) []string {
	return []string{"pilot-discovery", "request", "GET", endpoints.IstiodEDSPath(proxyID)}
}
