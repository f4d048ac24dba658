// Package envoyadmintest renders the admin documents of the seed scenario
// (client in kr/b, three pods per zone of the three-zones topology) with
// envoyadmin from an envoylb model, for tests of the readers: the documents
// come out of the same renderer the embedded backend serves, not from hand
// edited JSON.
package envoyadmintest

import (
	"fmt"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	"istio.io/istio/pkg/util/protomarshal"

	"github.com/localitylb/locality-e2e/framework/envoyadmin"
	"github.com/localitylb/locality-e2e/framework/envoylb"
)

// ClusterName is the seed Service's outbound cluster in namespace ns.
func ClusterName(ns string) string {
	return fmt.Sprintf("outbound|5000||helloworld-svc.%s.svc.cluster.local", ns)
}

// HostIP is the i-th pod of zone z ("a", "b", "c"): 10.244.<1..3>.1<i>.
func HostIP(z string, i int) string { return fmt.Sprintf("10.244.%d.1%d", int(z[0]-'a')+1, i) }

// Row is one locality of a ClusterLoadAssignment.
type Row struct {
	Zone     string
	Priority uint32
	Weight   uint32 // 0: unset
	Hosts    int
}

// CLA builds istiod's ClusterLoadAssignment for rows.
func CLA(ns string, rows ...Row) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: ClusterName(ns)}
	for _, r := range rows {
		le := &endpointv3.LocalityLbEndpoints{Locality: &corev3.Locality{Region: "kr", Zone: r.Zone}, Priority: r.Priority}
		if r.Weight > 0 {
			le.LoadBalancingWeight = wrapperspb.UInt32(r.Weight)
		}
		for i := 0; i < r.Hosts; i++ {
			le.LbEndpoints = append(le.LbEndpoints, &endpointv3.LbEndpoint{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: &corev3.Address{
					Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Address: HostIP(r.Zone, i), PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 5000},
					}},
				}}},
				HealthStatus:        corev3.HealthStatus_HEALTHY,
				LoadBalancingWeight: wrapperspb.UInt32(1),
			})
		}
		cla.Endpoints = append(cla.Endpoints, le)
	}
	return cla
}

// Cluster is the outbound Cluster as Istio builds it for a rule with
// outlier detection: EDS, ROUND_ROBIN (Istio's LEAST_REQUEST default is
// also modelled), locality_weighted_lb_config when localityWeighted.
func Cluster(ns string, localityWeighted bool) *clusterv3.Cluster {
	c := &clusterv3.Cluster{
		Name:                 ClusterName(ns),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{
			ServiceName: ClusterName(ns),
			EdsConfig:   &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}},
		},
		LbPolicy:       clusterv3.Cluster_ROUND_ROBIN,
		ConnectTimeout: durationpb.New(10 * time.Second),
		CircuitBreakers: &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
			MaxConnections: wrapperspb.UInt32(4294967295), MaxPendingRequests: wrapperspb.UInt32(4294967295),
			MaxRequests: wrapperspb.UInt32(4294967295), MaxRetries: wrapperspb.UInt32(4294967295),
		}}},
		OutlierDetection: &clusterv3.OutlierDetection{
			Consecutive_5Xx: wrapperspb.UInt32(1), Interval: durationpb.New(time.Second),
			BaseEjectionTime: durationpb.New(time.Minute), MaxEjectionPercent: wrapperspb.UInt32(100),
		},
		CommonLbConfig: &clusterv3.Cluster_CommonLbConfig{},
	}
	if localityWeighted {
		c.CommonLbConfig.LocalityConfigSpecifier = &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{
			LocalityWeightedLbConfig: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig{},
		}
	}
	return c
}

// Client is the seed client's locality.
var Client = &corev3.Locality{Region: "kr", Zone: "b"}

// Model builds an envoylb model of cla under c and ejects the hosts in
// eject ("ip:port") by sending them 5xx until outlier detection does.
func Model(c *clusterv3.Cluster, cla *endpointv3.ClusterLoadAssignment, eject ...string) (envoyadmin.Cluster, error) {
	now := time.Unix(1780000000, 0)
	lb, err := envoylb.New(c, cla, envoylb.Options{Seed: 1, Clock: func() time.Time { return now }, Retry: &envoylb.RetryPolicy{}})
	if err != nil {
		return envoyadmin.Cluster{}, err
	}
	bad := map[string]bool{}
	for _, k := range eject {
		bad[k] = true
	}
	for i := 0; i < 2000 && len(bad) > 0; i++ {
		_, _, _ = lb.Do(func(h envoylb.Host) envoylb.Attempt {
			if bad[h.Key()] {
				return envoylb.Attempt{Status: 503}
			}
			return envoylb.Attempt{Status: 200}
		})
		st := lb.State()
		done := 0
		for _, h := range st.Hosts {
			if bad[h.Key()] && h.FailedOutlierCheck {
				done++
			}
		}
		if done == len(bad) {
			break
		}
	}
	return envoyadmin.Cluster{Config: c, VersionInfo: "2026-11-26T00:00:00Z/1", LastUpdated: now, State: lb.State(), LocalLocality: Client}, nil
}

// Docs are the documents of one sidecar and of istiod.
type Docs struct {
	Clusters   []byte // /clusters?format=json
	ConfigDump []byte // /config_dump?include_eds
	EDS        []byte // /config_dump?include_eds&resource=dynamic_endpoint_configs
	CDS        []byte // /config_dump?resource=dynamic_active_clusters
}

// Render renders c's documents with envoyadmin.
func Render(c envoyadmin.Cluster) (Docs, error) {
	var d Docs
	var err error
	cs := []envoyadmin.Cluster{c}
	if d.Clusters, err = envoyadmin.RenderClusters(cs); err != nil {
		return d, err
	}
	for _, x := range []struct {
		q   map[string][]string
		out *[]byte
	}{
		{map[string][]string{"include_eds": {""}}, &d.ConfigDump},
		{map[string][]string{"include_eds": {""}, "resource": {"dynamic_endpoint_configs"}}, &d.EDS},
		{map[string][]string{"resource": {"dynamic_active_clusters"}}, &d.CDS},
	} {
		if *x.out, err = envoyadmin.ConfigDump(cs, x.q); err != nil {
			return d, err
		}
	}
	return d, nil
}

// FailoverEjected is the seed's failover rule (kr/b P0, kr/a and kr/c P1)
// with kr/b's first pod ejected by outlier detection, rendered.
func FailoverEjected(ns string) (Docs, error) {
	cla := CLA(ns, Row{"b", 0, 3, 3}, Row{"a", 1, 3, 3}, Row{"c", 1, 3, 3})
	m, err := Model(Cluster(ns, true), cla, HostIP("b", 0)+":5000")
	if err != nil {
		return Docs{}, err
	}
	return Render(m)
}

// IstiodEDS renders istiod's /debug/edsz answer for cla (plus another
// cluster) the way istiod prints it: an admin ConfigDump whose configs are
// the ClusterLoadAssignments, marshalled by pilot's writeJSON
// (pkg/config.ToJSON → protomarshal, jsonpb with lowerCamel names).
func IstiodEDS(cla *endpointv3.ClusterLoadAssignment) ([]byte, error) {
	other, err := anypb.New(&endpointv3.ClusterLoadAssignment{ClusterName: "outbound|443||kubernetes.default.svc.cluster.local"})
	if err != nil {
		return nil, err
	}
	a, err := anypb.New(cla)
	if err != nil {
		return nil, err
	}
	return protomarshal.Marshal(&adminv3.ConfigDump{Configs: []*anypb.Any{other, a}})
}

// DistributeBToB is istiod's view of `distribute kr/b → kr/b 100` for the
// client in kr/b: kr/b weight 100 with its hosts, kr/a and kr/c kept with
// their weight but no hosts.
func DistributeBToB(ns string) *endpointv3.ClusterLoadAssignment {
	return CLA(ns, Row{"b", 0, 100, 3}, Row{"a", 0, 3, 0}, Row{"c", 0, 3, 0})
}
