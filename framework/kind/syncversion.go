package kind

// The versions a sidecar reports for what a rule change must reach: the
// Service's cluster (CDS) after a DestinationRule, the outbound route
// configuration of the Service's port (RDS) after a VirtualService. Read
// from Envoy's admin config_dump and decoded with the go-control-plane
// admin/v3 types and protojson.
//
// Why two: Envoy keeps a resource's version_info when a push carries the
// same content. Clusters: cluster_manager_impl.cc
// ClusterManagerImpl::addOrUpdateCluster returns false, before touching
// the active cluster, when `existing_active_cluster->second->blockUpdate(new_hash)`
// (the new Cluster's MessageUtil::hash equals the active one's), so the
// ClustersConfigDump keeps the old version_info and last_updated. A
// VirtualService changes routes, never the Cluster, so it never moves the
// cluster's version. Routes: route_config_update_receiver_impl.cc
// RouteConfigUpdateReceiverImpl::onRdsUpdate likewise returns early when
// the RouteConfiguration's hash is unchanged, and only otherwise records
// the new version_info (onUpdateCommon): the route's version moves when a
// VirtualService changes what the route does (retries, timeouts,
// destinations), which is what a spec waits for. The embedded backend
// likewise compares the route configuration (framework/embedded sidecar.go).

import (
	"encoding/json"
	"fmt"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Admin requests for the versions, run with PilotAgentRequestArgs.
var (
	// CDSArgs reads the active clusters, to see a DestinationRule arrive.
	CDSArgs = PilotAgentRequestArgs("GET", "config_dump?resource=dynamic_active_clusters")
	// RDSArgs reads the dynamic route configurations, to see a
	// VirtualService arrive.
	RDSArgs = PilotAgentRequestArgs("GET", "config_dump?resource=dynamic_route_configs")
)

// Type URLs in a config_dump. With ?resource=<field>, Envoy packs each
// element of that repeated field as its own entry of configs
// (config_dump_handler.cc ConfigDumpHandler::addResourceToDump:
// `dump.add_configs()->PackFrom(msg)`); without it, configs holds whole
// ClustersConfigDump / RoutesConfigDump messages (addAllConfigToDump).
const (
	adminTypeClustersDump  = "type.googleapis.com/envoy.admin.v3.ClustersConfigDump"
	adminTypeDynamicActive = "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster"
	adminTypeRoutesDump    = "type.googleapis.com/envoy.admin.v3.RoutesConfigDump"
	adminTypeDynamicRoute  = "type.googleapis.com/envoy.admin.v3.RoutesConfigDump.DynamicRouteConfig"
)

// versionUnmarshal decodes the admin messages. The nested Cluster or
// RouteConfiguration is cut down to its @type and name before decoding
// (trimNamed): the rest may hold Istio's own typed configs (filter
// configs, metadata) that go-control-plane cannot resolve, and only the
// name is needed next to version_info and last_updated.
var versionUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// keep the imports that register the types used only through Any.
var _ = []any{(*clusterv3.Cluster)(nil), (*routev3.RouteConfiguration)(nil)}

// clusterVersion returns "<version_info>@<last_updated>" of one cluster in
// a config_dump (CDSArgs' output or a whole dump), "" if absent.
func clusterVersion(out []byte, cluster string) (string, error) {
	var found string
	err := eachConfig(out, "Envoy active clusters", func(typ string, raw json.RawMessage) error {
		var dcs []*adminv3.ClustersConfigDump_DynamicCluster
		switch typ {
		case adminTypeDynamicActive:
			var dc adminv3.ClustersConfigDump_DynamicCluster
			if err := decodeTrimmed(raw, "cluster", &dc); err != nil {
				return err
			}
			dcs = append(dcs, &dc)
		case adminTypeClustersDump:
			var d struct {
				Active []json.RawMessage `json:"dynamic_active_clusters"`
			}
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			for _, r := range d.Active {
				var dc adminv3.ClustersConfigDump_DynamicCluster
				if err := decodeTrimmed(r, "cluster", &dc); err != nil {
					return err
				}
				dcs = append(dcs, &dc)
			}
		}
		for _, dc := range dcs {
			var c clusterv3.Cluster
			if err := dc.GetCluster().UnmarshalTo(&c); err != nil {
				return fmt.Errorf("cluster: %w", err)
			}
			if c.GetName() == cluster {
				found = dc.GetVersionInfo() + "@" + updated(dc.GetLastUpdated())
			}
		}
		return nil
	})
	return found, err
}

// routeVersion returns "<version_info>@<last_updated>" of one dynamic
// route configuration (e.g. "5000", a sidecar's outbound HTTP routes for
// port 5000) in a config_dump (RDSArgs' output or a whole dump), "" if
// absent.
func routeVersion(out []byte, route string) (string, error) {
	var found string
	err := eachConfig(out, "Envoy route configurations", func(typ string, raw json.RawMessage) error {
		var drs []*adminv3.RoutesConfigDump_DynamicRouteConfig
		switch typ {
		case adminTypeDynamicRoute:
			var dr adminv3.RoutesConfigDump_DynamicRouteConfig
			if err := decodeTrimmed(raw, "route_config", &dr); err != nil {
				return err
			}
			drs = append(drs, &dr)
		case adminTypeRoutesDump:
			var d struct {
				Dynamic []json.RawMessage `json:"dynamic_route_configs"`
			}
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			for _, r := range d.Dynamic {
				var dr adminv3.RoutesConfigDump_DynamicRouteConfig
				if err := decodeTrimmed(r, "route_config", &dr); err != nil {
					return err
				}
				drs = append(drs, &dr)
			}
		}
		for _, dr := range drs {
			var rc routev3.RouteConfiguration
			if err := dr.GetRouteConfig().UnmarshalTo(&rc); err != nil {
				return fmt.Errorf("route_config: %w", err)
			}
			if rc.GetName() == route {
				found = dr.GetVersionInfo() + "@" + updated(dr.GetLastUpdated())
			}
		}
		return nil
	})
	return found, err
}

// updated prints last_updated as Envoy does (RFC 3339, UTC), "" if unset.
func updated(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().UTC().Format(time.RFC3339Nano)
}

// eachConfig calls f with the @type and JSON of every entry of a
// config_dump's configs.
func eachConfig(out []byte, what string, f func(typ string, raw json.RawMessage) error) error {
	var top struct {
		Configs []json.RawMessage `json:"configs"`
	}
	if err := json.Unmarshal(out, &top); err != nil {
		return fmt.Errorf("parse %s: %w (input starts %q)", what, err, firstLines(string(out), 1))
	}
	for i, raw := range top.Configs {
		var t struct {
			Type string `json:"@type"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return fmt.Errorf("parse %s configs[%d]: %w", what, i, err)
		}
		if err := f(t.Type, raw); err != nil {
			return fmt.Errorf("parse %s configs[%d] (%s): %w", what, i, t.Type, err)
		}
	}
	return nil
}

// decodeTrimmed decodes one admin entry (an Any's JSON: "@type" and the
// message's fields) into m, with its field nested (an Any) cut down to
// "@type" and "name".
func decodeTrimmed(raw json.RawMessage, nested string, m proto.Message) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	delete(obj, "@type")
	if n, ok := obj[nested]; ok {
		var named struct {
			Type string `json:"@type"`
			Name string `json:"name,omitempty"`
		}
		if err := json.Unmarshal(n, &named); err != nil {
			return fmt.Errorf("%s: %w", nested, err)
		}
		b, err := json.Marshal(named)
		if err != nil {
			return err
		}
		obj[nested] = b
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return versionUnmarshal.Unmarshal(b, m)
}
