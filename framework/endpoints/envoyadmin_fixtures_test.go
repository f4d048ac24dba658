package endpoints

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// go test ./framework/endpoints -run TestAdminGenerateFixtures -update-fixtures
// rewrites testdata/ from the go-control-plane types below, marshalled the
// way Envoy prints them (proto field names, i.e. snake_case).
var adminUpdateFixtures = flag.Bool("update-fixtures", false, "rewrite testdata/ fixtures")

const adminSeedCluster = "outbound|5000||helloworld-svc.default.svc.cluster.local"

// adminFixtureRow is one locality of a fixture: three pods per zone of the
// three-zones seed, IPs 10.244.<zone>.1x.
type adminFixtureRow struct {
	zone     string // a, b, c
	priority uint32
	weight   uint32
	ejected  int // how many of its hosts failed the outlier check (/clusters only)
}

var adminFixtureCases = map[string][]adminFixtureRow{
	// no DestinationRule: every zone P0, weight = ready pods.
	"none": {{"a", 0, 3, 0}, {"b", 0, 3, 0}, {"c", 0, 3, 0}},
	// distribute from kr/b to kr/b 100: the other zones lose their hosts and
	// Envoy's view drops them.
	"distribute-b-to-b": {{"b", 0, 100, 0}},
	// distribute from kr/b to kr/a 90, kr/c 10.
	"distribute-90-10": {{"a", 0, 90, 0}, {"c", 0, 10, 0}},
	// enabled + outlierDetection: local zone P0, same region P1.
	"failover": {{"b", 0, 3, 0}, {"a", 1, 3, 0}, {"c", 1, 3, 0}},
	// failover with one kr/b host ejected by outlier detection.
	"failover-ejected": {{"b", 0, 3, 1}, {"a", 1, 3, 0}, {"c", 1, 3, 0}},
}

func adminZoneIndex(z string) int { return int(z[0]-'a') + 1 }

func adminHostIP(zone string, i int) string {
	return fmt.Sprintf("10.244.%d.1%d", adminZoneIndex(zone), i)
}

func adminSockAddr(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

func adminClustersFixture(rows []adminFixtureRow) *adminv3.Clusters {
	c := &adminv3.ClusterStatus{
		Name:                         adminSeedCluster,
		AddedViaApi:                  true,
		SuccessRateEjectionThreshold: &typev3.Percent{Value: 0},
		EdsServiceName:               adminSeedCluster,
		ObservabilityName:            "outbound|5000||helloworld-svc.default.svc.cluster.local;",
	}
	for _, r := range rows {
		for i := 0; i < 3; i++ {
			h := &adminv3.HostStatus{
				Address: adminSockAddr(adminHostIP(r.zone, i), 5000),
				Stats: []*adminv3.SimpleMetric{
					{Name: "cx_connect_fail", Value: 0},
					{Name: "rq_success", Value: 12, Type: adminv3.SimpleMetric_COUNTER},
					{Name: "cx_active", Type: adminv3.SimpleMetric_GAUGE},
				},
				HealthStatus: &adminv3.HostHealthStatus{EdsHealthStatus: corev3.HealthStatus_HEALTHY},
				Weight:       1,
				Priority:     r.priority,
				Locality:     &corev3.Locality{Region: "kr", Zone: r.zone},
			}
			if i < r.ejected {
				h.HealthStatus.FailedOutlierCheck = true
			}
			c.HostStatuses = append(c.HostStatuses, h)
		}
	}
	other := &adminv3.ClusterStatus{
		Name: "outbound|443||kubernetes.default.svc.cluster.local", AddedViaApi: true,
		HostStatuses: []*adminv3.HostStatus{{
			Address:      adminSockAddr("172.18.0.3", 6443),
			HealthStatus: &adminv3.HostHealthStatus{EdsHealthStatus: corev3.HealthStatus_HEALTHY},
			Weight:       1,
		}},
	}
	return &adminv3.Clusters{ClusterStatuses: []*adminv3.ClusterStatus{other, {Name: "BlackHoleCluster"}, c}}
}

func adminCLAFixture(name string, rows []adminFixtureRow) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{
		ClusterName: name,
		Policy:      &endpointv3.ClusterLoadAssignment_Policy{OverprovisioningFactor: wrapperspb.UInt32(140)},
	}
	for _, r := range rows {
		le := &endpointv3.LocalityLbEndpoints{
			Locality:            &corev3.Locality{Region: "kr", Zone: r.zone},
			LoadBalancingWeight: wrapperspb.UInt32(r.weight),
			Priority:            r.priority,
		}
		for i := 0; i < 3; i++ {
			le.LbEndpoints = append(le.LbEndpoints, &endpointv3.LbEndpoint{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: adminSockAddr(adminHostIP(r.zone, i), 5000),
				}},
				HealthStatus:        corev3.HealthStatus_HEALTHY,
				LoadBalancingWeight: wrapperspb.UInt32(1),
			})
		}
		cla.Endpoints = append(cla.Endpoints, le)
	}
	return cla
}

// adminConfigDumpFixture is a whole /config_dump?include_eds: an EndpointsConfigDump
// with the seed cluster and the kubernetes cluster.
func adminConfigDumpFixture(rows []adminFixtureRow) *adminv3.ConfigDump {
	ts := timestamppb.New(timestamppb.Now().AsTime().Truncate(1e9))
	ts.Seconds = 1780000000
	var dyn []*adminv3.EndpointsConfigDump_DynamicEndpointConfig
	for _, cla := range []*endpointv3.ClusterLoadAssignment{
		{ClusterName: "outbound|443||kubernetes.default.svc.cluster.local", Endpoints: []*endpointv3.LocalityLbEndpoints{{
			LbEndpoints:         []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: adminSockAddr("172.18.0.3", 6443)}}, HealthStatus: corev3.HealthStatus_HEALTHY}},
			LoadBalancingWeight: wrapperspb.UInt32(1),
		}}},
		adminCLAFixture(adminSeedCluster, rows),
	} {
		a, err := anypb.New(cla)
		if err != nil {
			panic(err)
		}
		dyn = append(dyn, &adminv3.EndpointsConfigDump_DynamicEndpointConfig{EndpointConfig: a, LastUpdated: ts})
	}
	eds, err := anypb.New(&adminv3.EndpointsConfigDump{DynamicEndpointConfigs: dyn})
	if err != nil {
		panic(err)
	}
	return &adminv3.ConfigDump{Configs: []*anypb.Any{eds}}
}

var adminEnvoyJSON = protojson.MarshalOptions{UseProtoNames: true}

func TestAdminGenerateFixtures(t *testing.T) {
	if !*adminUpdateFixtures {
		t.Skip("run with -update-fixtures to rewrite testdata/")
	}
	write := func(name string, m proto.Message) {
		b, err := adminEnvoyJSON.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		// protojson varies its whitespace between builds on purpose;
		// re-indent so regenerating gives the same bytes.
		var out bytes.Buffer
		if err := json.Indent(&out, b, "", " "); err != nil {
			t.Fatal(err)
		}
		out.WriteByte('\n')
		if err := os.WriteFile(filepath.Join("testdata", name), out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	// istiod's raw view of distribute kr/b→kr/b: kr/a and kr/c keep their
	// weight but lose their hosts (istio-locality-behavior.md §3).
	raw := adminCLAFixture(adminSeedCluster, adminFixtureCases["distribute-b-to-b"])
	for _, z := range []string{"a", "c"} {
		raw.Endpoints = append(raw.Endpoints, &endpointv3.LocalityLbEndpoints{
			Locality:            &corev3.Locality{Region: "kr", Zone: z},
			LoadBalancingWeight: wrapperspb.UInt32(3),
		})
	}
	other, _ := anypb.New(&endpointv3.ClusterLoadAssignment{ClusterName: "outbound|443||kubernetes.default.svc.cluster.local"})
	rawAny, _ := anypb.New(raw)
	write("istiod-edsz-distribute-b-to-b.json", &adminv3.ConfigDump{Configs: []*anypb.Any{other, rawAny}})
	for name, rows := range adminFixtureCases {
		write("clusters-"+name+".json", adminClustersFixture(rows))
		write("config_dump-"+name+".json", adminConfigDumpFixture(rows))
	}
}
