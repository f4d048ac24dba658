package endpoints

// Parsers for what a sidecar's Envoy admin API prints, so that any backend
// that can run `pilot-agent request GET <path>` in an istio-proxy container
// (or reach 127.0.0.1:15000) gets a Table in the Envoy view.
//
//   - /clusters?format=json   → ParseAdminClusters (live hosts with health,
//     outlier ejection, priority and locality; NOT the locality weight)
//   - /config_dump?include_eds → ParseConfigDumpEDS (the ClusterLoadAssignment
//     Envoy rebuilt from its host sets: locality, priority, the locality
//     weight (only when the cluster has locality_weighted_lb_config, else
//     absent: Row.Weight 0) and each host's coarse health, in which an
//     ejected or draining host is just UNHEALTHY; config_dump_handler.cc
//     dumpEndpointConfigs / addLbEndpoint)
//
// OverlayHealth combines the two into the full Envoy view; Read
// (read.go) fetches and combines them for any backend.
//
// Both are decoded with the go-control-plane admin/v3 types and protojson
// (Envoy prints proto field names, snake_case; protojson accepts both).

import (
	"encoding/json"
	"fmt"
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// Admin API paths, as `pilot-agent request GET <path>` takes them.
const (
	AdminClustersPath = "clusters?format=json"
	// AdminEDSPath restricts the dump to the EDS section so that the many
	// Istio-specific typed configs of listeners (which go-control-plane
	// cannot resolve) are not in the output at all.
	AdminEDSPath = "config_dump?include_eds&resource=dynamic_endpoint_configs"
)

// Type URLs of the config_dump entries ParseConfigDumpEDS reads.
const (
	adminTypeEDSDump    = "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump"
	adminTypeDynamicEDS = "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump.DynamicEndpointConfig"
	adminTypeCLA        = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
)

var adminUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true, Resolver: adminResolver{}}

// adminResolver resolves the Any types an EDS dump holds. It knows the
// admin and endpoint types through the imports above (their init registers
// them in protoregistry.GlobalTypes) and nothing else on purpose: an
// unexpected type is an error naming the type, not a silent skip.
type adminResolver struct{}

func (adminResolver) FindMessageByName(n protoreflect.FullName) (protoreflect.MessageType, error) {
	return protoregistry.GlobalTypes.FindMessageByName(n)
}

func (adminResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

func (adminResolver) FindExtensionByName(n protoreflect.FullName) (protoreflect.ExtensionType, error) {
	return protoregistry.GlobalTypes.FindExtensionByName(n)
}

func (adminResolver) FindExtensionByNumber(m protoreflect.FullName, f protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	return protoregistry.GlobalTypes.FindExtensionByNumber(m, f)
}

// keep the imports that register the types used only through Any.
var _ = []any{(*adminv3.EndpointsConfigDump)(nil), (*endpointv3.ClusterLoadAssignment)(nil)}

// ParseAdminClusters reads Envoy's `/clusters?format=json` output and returns
// the table of one cluster (e.g. outbound|5000||helloworld-svc.default.svc.cluster.local).
//
// Each host_statuses entry carries address, locality, priority, the host's
// own weight and health. Rows group hosts by (locality, priority).
//
// Weight: /clusters prints only the per-host weight (LbEndpoint
// load_balancing_weight, 1 unless set), never the locality's
// load_balancing_weight that `distribute` changes. Envoy's docs call both
// "weight"; summing host weights gives the default locality weight but a
// wrong one under distribute, so Row.Weight is left 0 (unset) here. Use
// ParseConfigDumpEDS for weights and OverlayHealth to combine the views.
//
// Health: failed_outlier_check → Ejected; failed_active_health_check →
// Unhealthy; otherwise eds_health_status (HEALTHY, UNHEALTHY, DRAINING,
// UNKNOWN; a missing value is UNKNOWN, which Envoy treats as healthy).
func ParseAdminClusters(data []byte, cluster string) (Table, error) {
	var cs adminv3.Clusters
	if err := adminUnmarshal.Unmarshal(data, &cs); err != nil {
		return Table{}, fmt.Errorf("parse Envoy /clusters?format=json: %w (input starts %q)", err, adminHead(data))
	}
	var names []string
	for _, c := range cs.GetClusterStatuses() {
		if c.GetName() != cluster {
			names = append(names, c.GetName())
			continue
		}
		t := Table{Cluster: cluster, View: Envoy}
		idx := map[string]int{}
		for _, h := range c.GetHostStatuses() {
			host, err := adminHost(h.GetAddress())
			if err != nil {
				return Table{}, fmt.Errorf("cluster %s: %w", cluster, err)
			}
			host.Health = adminHostHealth(h.GetHealthStatus())
			loc := adminLocality(h.GetLocality())
			key := fmt.Sprintf("%s@%d", loc, h.GetPriority())
			i, ok := idx[key]
			if !ok {
				i = len(t.Rows)
				idx[key] = i
				t.Rows = append(t.Rows, Locality{Locality: loc, Priority: h.GetPriority()})
			}
			t.Rows[i].Hosts = append(t.Rows[i].Hosts, host)
		}
		t.Sort()
		return t, nil
	}
	return Table{}, fmt.Errorf("cluster %q not in Envoy /clusters output (%d clusters%s)", cluster, len(names), adminSimilar(names, cluster))
}

// ParseConfigDumpEDS reads Envoy's `/config_dump?include_eds` output (whole,
// or restricted with resource=dynamic_endpoint_configs, see AdminEDSPath)
// and returns the ClusterLoadAssignment of one cluster: one row per
// locality and priority with the locality's load_balancing_weight and each
// host's EDS health_status. Entries of other types (bootstrap, listeners,
// ...) are skipped without decoding them, since they hold Istio-specific Any
// types no Go registry here knows.
func ParseConfigDumpEDS(data []byte, cluster string) (Table, error) {
	return adminParseEDS(data, cluster, Envoy)
}

// IstiodEDSPath is istiod's debug endpoint with the ClusterLoadAssignments
// it computed for one proxy ("<pod>.<namespace>"), as `pilot-discovery
// request GET <path>` in the istiod container takes it.
func IstiodEDSPath(proxyID string) string { return "/debug/edsz?proxyID=" + proxyID }

// ParseIstiodEDS reads istiod's /debug/edsz output (a ConfigDump whose
// configs are the ClusterLoadAssignments themselves) and returns one
// cluster's table in the Raw view: every locality istiod sent, including
// those a distribute rule emptied (rows without hosts).
func ParseIstiodEDS(data []byte, cluster string) (Table, error) {
	return adminParseEDS(data, cluster, Raw)
}

func adminParseEDS(data []byte, cluster string, view View) (Table, error) {
	var top struct {
		Configs []json.RawMessage `json:"configs"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return Table{}, fmt.Errorf("parse Envoy config_dump: %w (input starts %q)", err, adminHead(data))
	}
	var clas []*endpointv3.ClusterLoadAssignment
	for i, raw := range top.Configs {
		var typ struct {
			Type string `json:"@type"`
		}
		if err := json.Unmarshal(raw, &typ); err != nil {
			return Table{}, fmt.Errorf("parse Envoy config_dump configs[%d]: %w", i, err)
		}
		switch typ.Type {
		case adminTypeEDSDump:
			var d adminv3.EndpointsConfigDump
			if err := adminUnmarshalAny(raw, &d); err != nil {
				return Table{}, fmt.Errorf("parse Envoy config_dump configs[%d] (%s): %w", i, typ.Type, err)
			}
			for j, dc := range d.GetDynamicEndpointConfigs() {
				cla, err := adminCLA(dc.GetEndpointConfig())
				if err != nil {
					return Table{}, fmt.Errorf("config_dump configs[%d].dynamic_endpoint_configs[%d]: %w", i, j, err)
				}
				clas = append(clas, cla)
			}
			for j, sc := range d.GetStaticEndpointConfigs() {
				cla, err := adminCLA(sc.GetEndpointConfig())
				if err != nil {
					return Table{}, fmt.Errorf("config_dump configs[%d].static_endpoint_configs[%d]: %w", i, j, err)
				}
				clas = append(clas, cla)
			}
		case adminTypeCLA: // istiod's /debug/edsz
			var cla endpointv3.ClusterLoadAssignment
			if err := adminUnmarshalAny(raw, &cla); err != nil {
				return Table{}, fmt.Errorf("parse config dump configs[%d] (%s): %w", i, typ.Type, err)
			}
			clas = append(clas, &cla)
		case adminTypeDynamicEDS: // what resource=dynamic_endpoint_configs prints
			var dc adminv3.EndpointsConfigDump_DynamicEndpointConfig
			if err := adminUnmarshalAny(raw, &dc); err != nil {
				return Table{}, fmt.Errorf("parse Envoy config_dump configs[%d] (%s): %w", i, typ.Type, err)
			}
			cla, err := adminCLA(dc.GetEndpointConfig())
			if err != nil {
				return Table{}, fmt.Errorf("config_dump configs[%d]: %w", i, err)
			}
			clas = append(clas, cla)
		}
	}
	var names []string
	for _, cla := range clas {
		if cla.GetClusterName() != cluster {
			names = append(names, cla.GetClusterName())
			continue
		}
		t, err := adminTableFromCLA(cla)
		t.View = view
		return t, err
	}
	if len(clas) == 0 {
		return Table{}, fmt.Errorf("config dump has no EDS entries: request Envoy's with include_eds (%s) or istiod's %s", AdminEDSPath, IstiodEDSPath("<pod>.<namespace>"))
	}
	return Table{}, fmt.Errorf("cluster %q not in Envoy config_dump EDS (%d clusters%s)", cluster, len(names), adminSimilar(names, cluster))
}

// adminUnmarshalAny decodes one JSON Any ({"@type": ..., fields...}) into m.
func adminUnmarshalAny(raw []byte, m interface {
	ProtoReflect() protoreflect.Message
}) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	delete(obj, "@type")
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return adminUnmarshal.Unmarshal(b, m.ProtoReflect().Interface())
}

func adminCLA(a *anypb.Any) (*endpointv3.ClusterLoadAssignment, error) {
	if a == nil {
		return nil, fmt.Errorf("endpoint_config is missing")
	}
	if a.GetTypeUrl() != adminTypeCLA {
		return nil, fmt.Errorf("endpoint_config has type %q, want %s", a.GetTypeUrl(), adminTypeCLA)
	}
	var cla endpointv3.ClusterLoadAssignment
	if err := a.UnmarshalTo(&cla); err != nil {
		return nil, fmt.Errorf("decode ClusterLoadAssignment: %w", err)
	}
	return &cla, nil
}

func adminTableFromCLA(cla *endpointv3.ClusterLoadAssignment) (Table, error) {
	t := Table{Cluster: cla.GetClusterName(), View: Envoy}
	for i, le := range cla.GetEndpoints() {
		row := Locality{
			Locality: adminLocality(le.GetLocality()),
			Priority: le.GetPriority(),
			Weight:   le.GetLoadBalancingWeight().GetValue(),
		}
		for j, lb := range le.GetLbEndpoints() {
			host, err := adminHost(lb.GetEndpoint().GetAddress())
			if err != nil {
				return Table{}, fmt.Errorf("cluster %s endpoints[%d].lb_endpoints[%d]: %w", cla.GetClusterName(), i, j, err)
			}
			host.Health = adminEDSHealth(lb.GetHealthStatus())
			row.Hosts = append(row.Hosts, host)
		}
		t.Rows = append(t.Rows, row)
	}
	t.Sort()
	return t, nil
}

// OverlayHealth returns base (usually from ParseConfigDumpEDS: localities,
// priorities, weights) with each host's health replaced by what live
// (usually from ParseAdminClusters: outlier ejection, active health checks)
// says for the same address and port, when live knows the host and reports
// it as anything but UNKNOWN. Hosts live does not know keep their health.
func OverlayHealth(base, live Table) Table {
	h := map[string]Health{}
	for _, r := range live.Rows {
		for _, x := range r.Hosts {
			h[fmt.Sprintf("%s:%d", x.Address, x.Port)] = x.Health
		}
	}
	out := Table{Cluster: base.Cluster, View: base.View}
	for _, r := range base.Rows {
		nr := r
		nr.Hosts = append([]Host(nil), r.Hosts...)
		for i, x := range nr.Hosts {
			if lh, ok := h[fmt.Sprintf("%s:%d", x.Address, x.Port)]; ok && lh != Unknown && lh != "" {
				nr.Hosts[i].Health = lh
			}
		}
		out.Rows = append(out.Rows, nr)
	}
	return out
}

func adminHost(a *corev3.Address) (Host, error) {
	sa := a.GetSocketAddress()
	if sa == nil {
		return Host{}, fmt.Errorf("host address %v is not a socket address", a)
	}
	return Host{Address: sa.GetAddress(), Port: sa.GetPortValue()}, nil
}

func adminLocality(l *corev3.Locality) string {
	parts := []string{l.GetRegion(), l.GetZone(), l.GetSubZone()}
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, "/")
}

func adminEDSHealth(s corev3.HealthStatus) Health {
	switch s {
	case corev3.HealthStatus_HEALTHY:
		return Healthy
	case corev3.HealthStatus_UNHEALTHY, corev3.HealthStatus_TIMEOUT:
		return Unhealthy
	case corev3.HealthStatus_DRAINING:
		return Draining
	case corev3.HealthStatus_DEGRADED:
		return Healthy // degraded hosts still serve; Table has no finer state
	default:
		return Unknown
	}
}

func adminHostHealth(h *adminv3.HostHealthStatus) Health {
	switch {
	case h.GetFailedOutlierCheck():
		return Ejected
	case h.GetFailedActiveHealthCheck():
		return Unhealthy
	default:
		return adminEDSHealth(h.GetEdsHealthStatus())
	}
}

func adminHead(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// similar names up to three clusters that share the cluster's host, to make
// a typo (wrong namespace or port) obvious.
func adminSimilar(names []string, cluster string) string {
	host := cluster
	if i := strings.LastIndex(cluster, "|"); i >= 0 {
		host = cluster[i+1:]
	}
	if j := strings.Index(host, "."); j > 0 {
		host = host[:j]
	}
	var hits []string
	for _, n := range names {
		if host != "" && strings.Contains(n, host) && len(hits) < 3 {
			hits = append(hits, n)
		}
	}
	if len(hits) == 0 {
		return ""
	}
	return "; similar: " + strings.Join(hits, ", ")
}
