package embedded

// Self-discovery (zone aware routing): client Services, the sidecar's
// ENABLE_SELF_DISCOVERY metadata, the bootstrap's local_cluster and its
// EDS subscription, and what the sidecar must hold for convergence.
//
// What a real sidecar with ISTIO_META_ENABLE_SELF_DISCOVERY=true gets
// (pinned istio.io/istio):
//   - pilot-agent adds a static cluster "local_cluster" of type EDS over
//     ADS to Envoy's bootstrap and sets cluster_manager.local_cluster_name
//     to it (tools/packaging/common/envoy_bootstrap.json,
//     {{ if .enable_self_discovery }}; pilot/cmd/pilot-agent/options
//     EnableSelfDiscovery). istiod's CDS does not carry it; Envoy requests
//     its EDS on the same ADS stream as the CDS clusters'.
//   - istiod answers EDS for "local_cluster" (pilot/pkg/networking/util
//     SelfDiscoveryCluster; pilot/pkg/xds/eds.go parseClusterName) with the
//     endpoints of the proxy's LocalService (its first Service,
//     model.Proxy.SetServiceTargets) of the same workload name and
//     pod-template-hash, in the proxy's region, without DestinationRule
//     priorities (endpoint_builder.go isSelfDiscoveryCluster).
//   - the node metadata ENABLE_SELF_DISCOVERY (pkg/model/proxy.go
//     NodeMetadata.EnableSelfDiscovery) also decides whether istiod warns
//     about zone aware routing without self-discovery
//     (loadbalancer.go ZoneAwareLBSettings.ApplyToCluster); the outbound
//     cluster's zone_aware_lb_config is the same either way.

import (
	"fmt"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	lbcommonv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/common/v3"
	leastrequestv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/least_request/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/xds/endpoints"
	"istio.io/istio/pkg/config/host"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/localitylb/locality-e2e/framework/envoyadmin"
	"github.com/localitylb/locality-e2e/framework/envoylb"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// clientServiceObjects are the client Services whose pods run in kc
// (topology.Client.Service), each with the EndpointSlice the EndpointSlice
// controller would publish for its client pods. The clients must have been
// made (newClient) first.
func (m *Mesh) clientServiceObjects(kc *kcluster) []runtime.Object {
	names, members := m.topo.ClientServices()
	var out []runtime.Object
	for _, name := range names {
		var pods []*corev1.Pod
		for _, c := range members[name] {
			if mc := m.clients[c.Name]; mc != nil && mc.cluster == kc.name {
				pods = append(pods, mc.obj)
			}
		}
		if len(pods) == 0 {
			continue
		}
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: m.topo.Namespace, Labels: map[string]string{"app": name}},
			Spec: corev1.ServiceSpec{
				Selector:  map[string]string{topology.LabelWorkloadName: name},
				ClusterIP: nextAddress(), // never dialed; istiod needs one
				Ports: []corev1.ServicePort{{
					Name: "http", Port: topology.ClientServicePort, Protocol: corev1.ProtocolTCP,
					TargetPort: intstr.FromInt32(topology.ClientServicePort),
				}},
			},
		}
		out = append(out, svc, endpointSlice(svc, pods, kc.nodeByName))
	}
	return out
}

// selfDiscoveryMeta sets the node metadata a sidecar injected for the
// client sends: WORKLOAD_NAME (the injector's, from the pod's
// workload-name label when set) and ENABLE_SELF_DISCOVERY.
func (m *Mesh) selfDiscoveryMeta(c *client, md *model.NodeMetadata) {
	for _, tc := range m.topo.Clients {
		if tc.Name != c.obj.Name {
			continue
		}
		if tc.Service != "" {
			md.WorkloadName = tc.Service
		}
		setSelfDiscovery(md, tc.SelfDiscovery)
	}
}

// bootstrapLocalCluster is the static cluster pilot-agent puts into the
// bootstrap with enable_self_discovery (envoy_bootstrap.json): EDS over
// ADS, service_name local_cluster. Its load_balancing_policy
// (least_request with zone_aware_lb_config min_cluster_size 1) is left
// out: nothing routes to the local cluster.
func bootstrapLocalCluster() *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 localClusterName,
		AltStatName:          localClusterName + ";",
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		ConnectTimeout:       durationpb.New(time.Second),
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{
			EdsConfig: &corev3.ConfigSource{
				ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
				ResourceApiVersion:    corev3.ApiVersion_V3,
			},
			ServiceName: localClusterName,
		},
	}
}

// addBootstrapCluster appends the bootstrap's local_cluster to a CDS
// response before adsc reads it: Envoy's EDS request names every EDS
// cluster it has, static (bootstrap) ones with CDS ones, and adsc asks
// (and ACKs) EDS for the EDS clusters of the last CDS response.
func addBootstrapCluster(r *discovery.DiscoveryResponse) error {
	a, err := anypb.New(bootstrapLocalCluster())
	if err != nil {
		return fmt.Errorf("encode bootstrap local_cluster: %w", err)
	}
	r.Resources = append(r.Resources, a)
	return nil
}

// localAdmin is the local_cluster as the admin API shows it: Envoy holds
// it as a cluster of its own (a static, bootstrap cluster with its own
// host set), listed in /clusters (added_via_api false) and in config_dump
// under static_clusters and, with include_eds, static_endpoint_configs (a
// cluster not added via the API dumps as static:
// source/server/admin/config_dump_handler.cc dumpEndpointConfigs,
// source/common/upstream/cluster_manager_impl.cc dumpClusterConfigs).
type localAdmin struct {
	lb *envoylb.LB // its hosts, as a model of their own (nothing routes through it)
	at time.Time   // when the first assignment arrived: stands in for bootstrap time
}

// bootstrapLocalClusterDump is local_cluster as Envoy's config_dump prints
// it: bootstrapLocalCluster with the bootstrap's load_balancing_policy
// (envoy_bootstrap.json: least_request, zone_aware_lb_config
// min_cluster_size 1).
func bootstrapLocalClusterDump() (*clusterv3.Cluster, error) {
	c := bootstrapLocalCluster()
	lr, err := anypb.New(&leastrequestv3.LeastRequest{LocalityLbConfig: &lbcommonv3.LocalityLbConfig{
		LocalityConfigSpecifier: &lbcommonv3.LocalityLbConfig_ZoneAwareLbConfig_{ZoneAwareLbConfig: &lbcommonv3.LocalityLbConfig_ZoneAwareLbConfig{
			MinClusterSize: wrapperspb.UInt64(1),
		}},
	}})
	if err != nil {
		return nil, err
	}
	c.LoadBalancingPolicy = &clusterv3.LoadBalancingPolicy{Policies: []*clusterv3.LoadBalancingPolicy_Policy{{
		TypedExtensionConfig: &corev3.TypedExtensionConfig{Name: "envoy.load_balancing_policies.least_request", TypedConfig: lr},
	}}}
	return c, nil
}

// localAdminClusters is the local_cluster entry of the admin API (none
// without self-discovery or before istiod's first assignment).
func (s *sidecar) localAdminClusters() []envoyadmin.Cluster {
	s.mu.Lock()
	la := s.localAdmin
	s.mu.Unlock()
	if la.lb == nil {
		return nil
	}
	cfg, err := bootstrapLocalClusterDump()
	if err != nil {
		return nil
	}
	return []envoyadmin.Cluster{{Config: cfg, LastUpdated: la.at, State: la.lb.State(), LocalLocality: s.locality, Static: true}}
}

// setLocalLocked keeps the local_cluster assignment istiod pushed and
// hands it to the model. Caller holds s.mu.
func (s *sidecar) setLocalLocked(cla *endpointv3.ClusterLoadAssignment) {
	s.local = cla
	if cla != nil {
		var err error
		if s.localAdmin.lb == nil {
			s.localAdmin.at = s.opts.Clock()
			s.localAdmin.lb, err = envoylb.New(bootstrapLocalCluster(), cla, s.opts)
		} else {
			err = s.localAdmin.lb.Update(bootstrapLocalCluster(), cla)
		}
		if err != nil {
			s.err = fmt.Errorf("sidecar of %s: local_cluster host set: %w", s.name, err)
		}
	}
	if s.lb == nil {
		return // applyLocked feeds it when the model is built
	}
	if err := s.lb.SetLocalCluster(cla); err != nil {
		s.err = fmt.Errorf("sidecar of %s: local_cluster: %w", s.name, err)
	}
}

// expectedLocal is istiod's current local_cluster assignment for the
// proxy, built as eds.go does (parseClusterName: the proxy's
// LocalService); nil when the proxy does not ask for self-discovery.
func (m *Mesh) expectedLocal(p *model.Proxy) *endpointv3.ClusterLoadAssignment {
	if !selfDiscoveryEnabled(p.Metadata) {
		return nil
	}
	var hostname host.Name
	name, port := localService(p)
	if name != "" {
		hostname = host.Name(name)
	}
	push := m.fake.PushContext()
	svc := push.ServiceForHostname(p, hostname)
	b := endpoints.NewCDSEndpointBuilder(p, push, localClusterName, model.TrafficDirectionOutbound, "", hostname, port, svc, nil)
	return b.BuildClusterLoadAssignment(m.fake.Discovery.Env.EndpointIndex)
}

// holdsLocal reports whether the sidecar holds istiod's current
// local_cluster assignment (true when it has none to hold).
func (s *sidecar) holdsLocal(want *endpointv3.ClusterLoadAssignment) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if want == nil {
		return s.local == nil
	}
	return proto.Equal(s.local, want) && (s.lb == nil || proto.Equal(s.lb.LocalCluster(), want))
}

// ClientLocalCluster returns the local_cluster assignment the client's
// sidecar holds (nil when its sidecar does not use self-discovery); explain
// passes it to envoylb.Predict.
func (m *Mesh) ClientLocalCluster(clientName string) (*endpointv3.ClusterLoadAssignment, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.checkOpen(); err != nil {
		return nil, err
	}
	c, err := m.client(clientName)
	if err != nil {
		return nil, err
	}
	c.side.mu.Lock()
	defer c.side.mu.Unlock()
	if c.side.local == nil {
		return nil, nil
	}
	return proto.Clone(c.side.local).(*endpointv3.ClusterLoadAssignment), nil
}
