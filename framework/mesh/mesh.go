// Package mesh is the backend-neutral set of steps the specs use: deploy a
// topology, apply a DestinationRule, scale or break pods, read a client's
// endpoints, and send requests. The embedded and kind backends implement
// Mesh; specs never branch on the backend beyond Capabilities.
package mesh

import (
	"context"
	"errors"
	"fmt"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
	"github.com/localitylb/locality-e2e/framework/workload"
)

// Fault is what a broken pod does.
type Fault string

const (
	// NoFault heals a pod.
	NoFault Fault = ""
	// Fail5xx makes the pod answer 503 to every request (a gateway error
	// for outlier detection's consecutive_gateway_failure).
	Fail5xx Fault = "5xx"
	// Fail500 makes the pod answer 500 to every request: a 5xx that is not
	// a gateway error (502, 503, 504).
	Fail500 Fault = "500"
	// RefuseConnections makes the pod refuse connections, like draining its
	// sidecar's listeners (POST 127.0.0.1:15000/drain_listeners).
	RefuseConnections Fault = "refuse"
)

// Workload is what the workload program (framework/workload, cmd/workload)
// does for the fault. Both backends give pods faults through it: in
// process on embedded, by `workload fault ...` exec on kind.
func (f Fault) Workload() (workload.Fault, error) {
	switch f {
	case NoFault:
		return workload.Healthy, nil
	case Fail5xx:
		return workload.FailStatus(503), nil
	case Fail500:
		return workload.FailStatus(500), nil
	case RefuseConnections:
		return workload.RefuseConnections, nil
	}
	return workload.Fault{}, fmt.Errorf("unknown fault %q: use mesh.Fail5xx, mesh.Fail500, mesh.RefuseConnections or mesh.NoFault", string(f))
}

// ErrTopologyUnsupported is wrapped by a Backend's Deploy error when the
// backend cannot run a kind of topology at all (e.g. several clusters on a
// single-cluster kind setup); specs skip on it instead of failing.
var ErrTopologyUnsupported = errors.New("the backend cannot deploy this kind of topology")

// Pod is one running pod as the mesh knows it.
type Pod struct {
	Name     string
	Workload string // Deployment, or "" for clients
	Locality string
	IP       string
	Ready    bool
	Fault    Fault
	// Cluster and Network are where the pod runs (topology.Placement):
	// topology.DefaultCluster and "" in a single-cluster topology.
	Cluster string
	Network string
}

// Capabilities declares what a backend can do, for specs to check.
type Capabilities struct {
	// Fault5xx: the backend can make a pod answer 5xx.
	Fault5xx bool
	// ServiceTrafficDistribution: the backend's Kubernetes serves
	// Service.spec.trafficDistribution.
	ServiceTrafficDistribution bool
	// TrafficDistributionPreferSameZone: it also accepts the value
	// PreferSameZone (Kubernetes 1.34+, where the
	// PreferSameTrafficDistribution gate is on by default; 1.33 has it
	// alpha, off by default). PreferClose needs only
	// ServiceTrafficDistribution (1.31+).
	TrafficDistributionPreferSameZone bool
	// ScheduleWorkers > 0: the client sidecars pick localities under
	// locality_weighted_lb_config by a deterministic schedule (Envoy's
	// per-worker EDF scheduler) on this many workers, the requests of a
	// batch dealt to the workers in turn, so weighted locality splits are
	// checked within ± the schedule's bound (split.WithSchedule) instead of
	// a binomial range. 0: picks are spread over workers by connection and
	// splits are checked as random (kind: real Envoy).
	ScheduleWorkers int
	// MultiCluster: the backend deploys topologies that declare Clusters
	// (several clusters, one or several networks, east-west gateways) and
	// mesh-wide settings (topology.MeshSettings).
	MultiCluster bool
	// ZoneAwareRouting: the istiod in use turns a zoneAwareLbSetting into
	// Envoy's common_lb_config.zone_aware_lb_config (detected from what
	// istiod generates, not from its version), and the backend gives
	// clients with topology.Client.SelfDiscovery a local_cluster. Older
	// istiod versions ignore zoneAwareLbSetting; zone aware specs skip.
	ZoneAwareRouting bool
}

// Mesh is one deployed topology in one isolated scope (namespace or mesh).
type Mesh interface {
	// Backend names the backend ("embedded", "kind").
	Backend() string
	// Topology is the deployed topology, with current replica counts.
	Topology() topology.Topology
	Capabilities() Capabilities
	// IstioVersion is the Istio version under test.
	IstioVersion() string

	// ApplyDestinationRule creates or updates the rule and waits until the
	// control plane has processed it.
	ApplyDestinationRule(ctx context.Context, dr *networkingv1.DestinationRule) error
	// DeleteDestinationRule removes the named rule.
	DeleteDestinationRule(ctx context.Context, name string) error
	// ApplyVirtualService creates or updates a VirtualService (already aimed
	// at the topology's Service, see virtualservice.ForTopology) and waits
	// until the control plane has processed it.
	ApplyVirtualService(ctx context.Context, vs *networkingv1.VirtualService) error
	// DeleteVirtualService removes the named VirtualService.
	DeleteVirtualService(ctx context.Context, name string) error
	// Wait lets d of time pass for the sidecars (outlier detection
	// intervals, ejection times): a real wait on a cluster, an advance of
	// the sidecars' virtual clock on embedded.
	Wait(ctx context.Context, d time.Duration) error
	// Scale sets a workload's replicas and waits until that many are ready.
	Scale(ctx context.Context, workload string, replicas int) error
	// RestartWorkload replaces a workload's pods one by one, like
	// `kubectl rollout restart` with maxSurge 1 and maxUnavailable 0: a
	// new pod is ready before an old one goes, and an old pod leaves the
	// endpoints before it stops. It returns when every pod is new and
	// ready. Requests may be sent meanwhile.
	RestartWorkload(ctx context.Context, workload string) error
	// SetFault makes the first n pods (by name) of a workload misbehave;
	// n < 0 means all of them. NoFault heals them.
	SetFault(ctx context.Context, workload string, n int, f Fault) error

	// Endpoints returns a client's endpoint table for the topology's Service.
	Endpoints(ctx context.Context, client string, view endpoints.View) (endpoints.Table, error)
	// Send sends n GET /hello requests from the client to the Service.
	Send(ctx context.Context, client string, n int) (traffic.Batch, error)
	// Pods lists the workload and client pods.
	Pods(ctx context.Context) ([]Pod, error)
	// DestinationRules lists the applied rules (for diagnostics).
	DestinationRules(ctx context.Context) ([]*networkingv1.DestinationRule, error)

	// Close tears everything down (unless the backend was asked to keep it).
	Close(ctx context.Context) error
}

// Backend creates isolated meshes. A suite sets one up once (a kind
// cluster with Istio, or nothing for embedded) and deploys each scenario's
// topology into its own scope: a fresh namespace on kind, a fresh
// in-process control plane on embedded.
type Backend interface {
	Name() string
	// Deploy deploys the topology in a new isolated scope and waits until
	// every workload and client pod is ready.
	Deploy(ctx context.Context, topo topology.Topology) (Mesh, error)
	// Close releases what the backend set up (a cluster it created, unless
	// asked to keep it).
	Close(ctx context.Context) error
}

// LogCollector is implemented by backends that can save logs for a failed
// spec (sidecar access logs, node logs). steps.Diagnose calls it.
type LogCollector interface {
	// CollectLogs saves logs under dir and returns where they are.
	CollectLogs(ctx context.Context, dir string) (string, error)
}
