// Package envoyadmin renders the Envoy admin documents the framework reads
// (/clusters?format=json, /config_dump with include_eds, resource= and
// mask=) from the envoylb model's state, in the shape Envoy prints them, so
// that the embedded backend can serve them and both backends read a
// client's endpoints through the same parsers (framework/endpoints).
//
// Every shape below follows Envoy's source (envoyproxy/envoy):
//
//   - /clusters?format=json: source/server/admin/clusters_handler.cc,
//     buildClusterStatus (name, observability_name, eds_service_name when
//     set, circuit_breakers DEFAULT and HIGH, added_via_api, one
//     host_statuses entry per host of every priority's host set with
//     address, hostname, locality (always present, MergeFrom), counters
//     then gauges as SimpleMetric, health_status through setHealthFlag,
//     weight, priority; success_rate only when the outlier detector has one)
//     printed with MessageUtil::getJsonStringFromMessageOrError(clusters,
//     true): proto field names, pretty (1-space indent), no defaults.
//   - /config_dump?include_eds: source/server/admin/config_dump_handler.cc,
//     dumpEndpointConfigs and addLbEndpoint (one ClusterLoadAssignment per
//     active cluster, named after eds_service_name or the cluster name; per
//     priority, one LocalityLbEndpoints per non-empty locality with its
//     locality weight only when the host set has locality weights, i.e. the
//     cluster has common_lb_config.locality_weighted_lb_config
//     (source/common/upstream/upstream_impl.cc, PriorityStateManager::
//     updateClusterPrioritySet); per host load_balancing_weight,
//     health_status from coarseHealth, endpoint address, hostname and an
//     empty health_check_config; policy.overprovisioning_factor).
//     addResourceToDump / addAllConfigToDump / trimResourceMessage give the
//     resource=, mask= and name_regex= behaviour and the error answers.
//
// Both documents come from the host sets (envoylb.State), not from the
// ClusterLoadAssignment as sent: an address EDS listed more than once is
// one host, its first copy (source/extensions/clusters/eds/eds.cc,
// BatchUpdateHelper::updateLocalityEndpoints), and a locality that copy
// dropping left without hosts is in neither.
package envoyadmin

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/localitylb/locality-e2e/framework/envoylb"
)

// Cluster is one active cluster of a sidecar: the Cluster proto as CDS
// delivered it, its CDS version_info and arrival time, and the model's
// state of its hosts.
type Cluster struct {
	Config      *clusterv3.Cluster
	VersionInfo string
	LastUpdated time.Time
	State       envoylb.State
	// LocalLocality is the sidecar's own locality (bootstrap node.locality).
	// Envoy lists a host set's local locality first, the others sorted by
	// region, zone, sub_zone (upstream_impl.cc, updateClusterPrioritySet);
	// nil means none.
	LocalLocality *corev3.Locality
	// Static marks a cluster from the bootstrap (added_via_api false,
	// static_endpoint_configs / static_clusters). Istio's outbound clusters
	// come from CDS: leave it false.
	Static bool
}

// envoyJSON is how Envoy's MessageUtil::getJsonStringFromMessage prints:
// preserve_proto_field_names, no always_print_primitive_fields. Whitespace
// is applied by indent below (protojson randomizes its own on purpose).
var envoyJSON = protojson.MarshalOptions{UseProtoNames: true}

// marshal prints m as Envoy's pretty printer does: one space per level,
// `"key": value`, `{}` for empty objects, a trailing newline.
func marshal(m proto.Message) ([]byte, error) {
	b, err := envoyJSON.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", " "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// byPriority returns the hosts grouped into host sets, priority ascending,
// each in EDS order (what cluster.prioritySet().hostSetsPerPriority() holds).
func byPriority(st envoylb.State) [][]envoylb.HostStatus {
	var sets [][]envoylb.HostStatus
	for _, h := range st.Hosts {
		for uint32(len(sets)) <= h.Priority {
			sets = append(sets, nil)
		}
		sets[h.Priority] = append(sets[h.Priority], h)
	}
	return sets
}

func socketAddress(h envoylb.HostStatus) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: h.Address, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: h.Port},
	}}}
}

func locality(h envoylb.HostStatus) *corev3.Locality {
	l := &corev3.Locality{}
	if h.LocalityProto != nil {
		proto.Merge(l, h.LocalityProto)
	}
	return l
}

// observabilityName is alt_stat_name when set, else the cluster name
// (ClusterInfoImpl).
func observabilityName(c *clusterv3.Cluster) string {
	if n := c.GetAltStatName(); n != "" {
		return n
	}
	return c.GetName()
}

// edsServiceName is eds_cluster_config.service_name ("" when unset).
func edsServiceName(c *clusterv3.Cluster) string {
	return c.GetEdsClusterConfig().GetServiceName()
}

// Envoy's resource manager defaults (circuit_breaker.proto): 1024
// connections, pending requests and requests, 3 retries.
func thresholds(c *clusterv3.Cluster, p corev3.RoutingPriority) *clusterv3.CircuitBreakers_Thresholds {
	t := &clusterv3.CircuitBreakers_Thresholds{
		Priority:           p,
		MaxConnections:     wrapperspb.UInt32(1024),
		MaxPendingRequests: wrapperspb.UInt32(1024),
		MaxRequests:        wrapperspb.UInt32(1024),
		MaxRetries:         wrapperspb.UInt32(3),
	}
	for _, ct := range c.GetCircuitBreakers().GetThresholds() {
		if ct.GetPriority() != p {
			continue
		}
		if v := ct.GetMaxConnections(); v != nil {
			t.MaxConnections = wrapperspb.UInt32(v.GetValue())
		}
		if v := ct.GetMaxPendingRequests(); v != nil {
			t.MaxPendingRequests = wrapperspb.UInt32(v.GetValue())
		}
		if v := ct.GetMaxRequests(); v != nil {
			t.MaxRequests = wrapperspb.UInt32(v.GetValue())
		}
		if v := ct.GetMaxRetries(); v != nil {
			t.MaxRetries = wrapperspb.UInt32(v.GetValue())
		}
		break
	}
	return t
}

// hostStats lists a host's counters then gauges in Envoy's ALL_HOST_STATS
// order (cx_connect_fail, cx_total, rq_error, rq_success, rq_timeout,
// rq_total; cx_active, rq_active), as host->counters() / gauges() return
// them.
func hostStats(s envoylb.HostStats) []*adminv3.SimpleMetric {
	c := func(n string, v uint64) *adminv3.SimpleMetric {
		return &adminv3.SimpleMetric{Type: adminv3.SimpleMetric_COUNTER, Name: n, Value: v}
	}
	g := func(n string, v uint64) *adminv3.SimpleMetric {
		return &adminv3.SimpleMetric{Type: adminv3.SimpleMetric_GAUGE, Name: n, Value: v}
	}
	return []*adminv3.SimpleMetric{
		c("cx_connect_fail", s.CxConnectFail),
		c("cx_total", 0),
		c("rq_error", s.RqError),
		c("rq_success", s.RqSuccess),
		c("rq_timeout", 0),
		c("rq_total", s.RqTotal),
		g("cx_active", 0),
		g("rq_active", s.RqActive),
	}
}

// healthStatus is setHealthFlag applied for every flag in
// HEALTH_FLAG_ENUM_VALUES order. EDS UNHEALTHY and TIMEOUT set
// FAILED_EDS_HEALTH, DEGRADED sets DEGRADED_EDS_HEALTH and DRAINING sets
// EDS_STATUS_DRAINING (HostImplBase::setEdsHealthFlag, with
// envoy.reloadable_features.exclude_host_in_eds_status_draining on), so
// eds_health_status is UNHEALTHY, DEGRADED, DRAINING or HEALTHY; never
// UNKNOWN.
func healthStatus(h envoylb.HostStatus) *adminv3.HostHealthStatus {
	hs := &adminv3.HostHealthStatus{FailedOutlierCheck: h.FailedOutlierCheck}
	switch h.EDSHealth {
	case corev3.HealthStatus_UNHEALTHY, corev3.HealthStatus_TIMEOUT:
		hs.EdsHealthStatus = corev3.HealthStatus_UNHEALTHY
	case corev3.HealthStatus_DEGRADED:
		hs.EdsHealthStatus = corev3.HealthStatus_DEGRADED
	case corev3.HealthStatus_DRAINING:
		hs.EdsHealthStatus = corev3.HealthStatus_DRAINING
	default:
		hs.EdsHealthStatus = corev3.HealthStatus_HEALTHY
	}
	return hs
}

// coarseHealth is Host::coarseHealth as addLbEndpoint prints it: UNHEALTHY
// with FAILED_OUTLIER_CHECK, FAILED_EDS_HEALTH or EDS_STATUS_DRAINING,
// DEGRADED with DEGRADED_EDS_HEALTH, else HEALTHY.
func coarseHealth(h envoylb.HostStatus) corev3.HealthStatus {
	switch {
	case h.FailedOutlierCheck:
		return corev3.HealthStatus_UNHEALTHY
	case h.EDSHealth == corev3.HealthStatus_UNHEALTHY, h.EDSHealth == corev3.HealthStatus_TIMEOUT, h.EDSHealth == corev3.HealthStatus_DRAINING:
		return corev3.HealthStatus_UNHEALTHY
	case h.EDSHealth == corev3.HealthStatus_DEGRADED:
		return corev3.HealthStatus_DEGRADED
	default:
		return corev3.HealthStatus_HEALTHY
	}
}

// ClusterStatus builds one /clusters?format=json entry (buildClusterStatus).
func ClusterStatus(c Cluster) *adminv3.ClusterStatus {
	cs := &adminv3.ClusterStatus{
		Name:              c.Config.GetName(),
		ObservabilityName: observabilityName(c.Config),
		EdsServiceName:    edsServiceName(c.Config),
		AddedViaApi:       !c.Static,
		CircuitBreakers: &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{
			thresholds(c.Config, corev3.RoutingPriority_DEFAULT),
			thresholds(c.Config, corev3.RoutingPriority_HIGH),
		}},
	}
	for _, set := range byPriority(c.State) {
		for _, h := range set {
			cs.HostStatuses = append(cs.HostStatuses, &adminv3.HostStatus{
				Address:      socketAddress(h),
				Locality:     locality(h),
				Stats:        hostStats(h.Stats),
				HealthStatus: healthStatus(h),
				Weight:       h.Weight,
				Priority:     h.Priority,
			})
		}
	}
	return cs
}

// Clusters builds the /clusters?format=json message.
func Clusters(cs []Cluster) *adminv3.Clusters {
	out := &adminv3.Clusters{}
	for _, c := range cs {
		out.ClusterStatuses = append(out.ClusterStatuses, ClusterStatus(c))
	}
	return out
}

// RenderClusters prints /clusters?format=json.
func RenderClusters(cs []Cluster) ([]byte, error) { return marshal(Clusters(cs)) }

// RenderClustersText prints /clusters (writeClusterAsText). The outlier
// lines are left out: the model has no success-rate detector to report.
func RenderClustersText(cs []Cluster) []byte {
	var b bytes.Buffer
	for _, c := range cs {
		n := c.Config.GetName()
		fmt.Fprintf(&b, "%s::observability_name::%s\n", n, observabilityName(c.Config))
		for _, p := range []corev3.RoutingPriority{corev3.RoutingPriority_DEFAULT, corev3.RoutingPriority_HIGH} {
			t := thresholds(c.Config, p)
			name := "default"
			if p == corev3.RoutingPriority_HIGH {
				name = "high"
			}
			fmt.Fprintf(&b, "%s::%s_priority::max_connections::%d\n", n, name, t.GetMaxConnections().GetValue())
			fmt.Fprintf(&b, "%s::%s_priority::max_pending_requests::%d\n", n, name, t.GetMaxPendingRequests().GetValue())
			fmt.Fprintf(&b, "%s::%s_priority::max_requests::%d\n", n, name, t.GetMaxRequests().GetValue())
			fmt.Fprintf(&b, "%s::%s_priority::max_retries::%d\n", n, name, t.GetMaxRetries().GetValue())
		}
		fmt.Fprintf(&b, "%s::added_via_api::%t\n", n, !c.Static)
		if e := edsServiceName(c.Config); e != "" {
			fmt.Fprintf(&b, "%s::eds_service_name::%s\n", n, e)
		}
		for _, set := range byPriority(c.State) {
			for _, h := range set {
				addr := fmt.Sprintf("%s:%d", h.Address, h.Port)
				stats := hostStats(h.Stats)
				sort.Slice(stats, func(i, j int) bool { return stats[i].Name < stats[j].Name })
				for _, s := range stats {
					fmt.Fprintf(&b, "%s::%s::%s::%d\n", n, addr, s.Name, s.Value)
				}
				l := locality(h)
				fmt.Fprintf(&b, "%s::%s::hostname::\n", n, addr)
				fmt.Fprintf(&b, "%s::%s::health_flags::%s\n", n, addr, healthFlags(h))
				fmt.Fprintf(&b, "%s::%s::weight::%d\n", n, addr, h.Weight)
				fmt.Fprintf(&b, "%s::%s::region::%s\n", n, addr, l.GetRegion())
				fmt.Fprintf(&b, "%s::%s::zone::%s\n", n, addr, l.GetZone())
				fmt.Fprintf(&b, "%s::%s::sub_zone::%s\n", n, addr, l.GetSubZone())
				fmt.Fprintf(&b, "%s::%s::canary::false\n", n, addr)
				fmt.Fprintf(&b, "%s::%s::priority::%d\n", n, addr, h.Priority)
				fmt.Fprintf(&b, "%s::%s::success_rate::-1\n", n, addr)
				fmt.Fprintf(&b, "%s::%s::local_origin_success_rate::-1\n", n, addr)
			}
		}
	}
	return b.Bytes()
}

// healthFlags is HostUtility::healthFlagsToString: "healthy" or
// "/flag/flag..." in HEALTH_FLAG_ENUM_VALUES order.
func healthFlags(h envoylb.HostStatus) string {
	var s string
	if h.FailedOutlierCheck {
		s += "/failed_outlier_check"
	}
	switch h.EDSHealth {
	case corev3.HealthStatus_UNHEALTHY, corev3.HealthStatus_TIMEOUT:
		s += "/failed_eds_health"
	case corev3.HealthStatus_DEGRADED:
		s += "/degraded_eds_health"
	case corev3.HealthStatus_DRAINING:
		s += "/eds_status_draining"
	}
	if s == "" {
		return "healthy"
	}
	return s
}

// localityLess is Envoy's LocalityLess: region, then zone, then sub_zone.
func localityLess(a, b *corev3.Locality) int {
	return cmp.Or(cmp.Compare(a.GetRegion(), b.GetRegion()), cmp.Compare(a.GetZone(), b.GetZone()), cmp.Compare(a.GetSubZone(), b.GetSubZone()))
}

// LoadAssignment builds the ClusterLoadAssignment dumpEndpointConfigs
// prints for one cluster.
func LoadAssignment(c Cluster) *endpointv3.ClusterLoadAssignment {
	name := edsServiceName(c.Config)
	if name == "" {
		name = c.Config.GetName()
	}
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: name, Policy: &endpointv3.ClusterLoadAssignment_Policy{}}
	op := c.State.OverprovisioningFactor
	if op == 0 {
		op = 140
	}
	// Every priority set has at least the P0 host set, so the factor is
	// always printed.
	cla.Policy.OverprovisioningFactor = wrapperspb.UInt32(op)
	for p, set := range byPriority(c.State) {
		type group struct {
			loc   *corev3.Locality
			hosts []envoylb.HostStatus
		}
		var groups []*group
		for _, h := range set {
			l := locality(h)
			i := slices.IndexFunc(groups, func(g *group) bool { return localityLess(g.loc, l) == 0 })
			if i < 0 {
				groups = append(groups, &group{loc: l})
				i = len(groups) - 1
			}
			groups[i].hosts = append(groups[i].hosts, h)
		}
		local := c.LocalLocality
		slices.SortStableFunc(groups, func(a, b *group) int {
			if local != nil {
				al, bl := localityLess(a.loc, local) == 0, localityLess(b.loc, local) == 0
				if al != bl {
					if al {
						return -1
					}
					return 1
				}
			}
			return localityLess(a.loc, b.loc)
		})
		for _, g := range groups {
			le := &endpointv3.LocalityLbEndpoints{Locality: g.loc, Priority: uint32(p)}
			// (*host_set->localityWeights())[index]: the locality's weight
			// in this priority, the same for every host of the group.
			if c.State.LocalityWeighted {
				le.LoadBalancingWeight = wrapperspb.UInt32(g.hosts[0].LocalityWeight)
			}
			for _, h := range g.hosts {
				le.LbEndpoints = append(le.LbEndpoints, &endpointv3.LbEndpoint{
					HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
						Address:           socketAddress(h),
						HealthCheckConfig: &endpointv3.Endpoint_HealthCheckConfig{},
					}},
					HealthStatus:        coarseHealth(h),
					LoadBalancingWeight: wrapperspb.UInt32(h.Weight),
				})
			}
			cla.Endpoints = append(cla.Endpoints, le)
		}
	}
	return cla
}

// endpointsDump is the "endpoint" config tracker entry include_eds adds.
func endpointsDump(cs []Cluster, match func(string) bool) (*adminv3.EndpointsConfigDump, error) {
	d := &adminv3.EndpointsConfigDump{}
	for _, c := range cs {
		cla := LoadAssignment(c)
		if !match(cla.GetClusterName()) {
			continue
		}
		a, err := anypb.New(cla)
		if err != nil {
			return nil, err
		}
		if c.Static {
			d.StaticEndpointConfigs = append(d.StaticEndpointConfigs, &adminv3.EndpointsConfigDump_StaticEndpointConfig{EndpointConfig: a})
		} else {
			d.DynamicEndpointConfigs = append(d.DynamicEndpointConfigs, &adminv3.EndpointsConfigDump_DynamicEndpointConfig{EndpointConfig: a})
		}
	}
	return d, nil
}

// clustersDump is the "clusters" config tracker entry: the Cluster protos
// with their version_info and last_updated (the newest version is the
// dump's version_info).
func clustersDump(cs []Cluster, match func(string) bool) (*adminv3.ClustersConfigDump, error) {
	d := &adminv3.ClustersConfigDump{}
	var newest time.Time
	for _, c := range cs {
		if !match(c.Config.GetName()) {
			continue
		}
		a, err := anypb.New(c.Config)
		if err != nil {
			return nil, err
		}
		var ts *timestamppb.Timestamp
		if !c.LastUpdated.IsZero() {
			ts = timestamppb.New(c.LastUpdated)
		}
		if c.Static {
			d.StaticClusters = append(d.StaticClusters, &adminv3.ClustersConfigDump_StaticCluster{Cluster: a, LastUpdated: ts})
			continue
		}
		d.DynamicActiveClusters = append(d.DynamicActiveClusters, &adminv3.ClustersConfigDump_DynamicCluster{
			VersionInfo: c.VersionInfo, Cluster: a, LastUpdated: ts,
		})
		if !c.LastUpdated.Before(newest) {
			newest, d.VersionInfo = c.LastUpdated, c.VersionInfo
		}
	}
	return d, nil
}
