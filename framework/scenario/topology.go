package scenario

// This file owns topology: its conversion to a topology.Topology
// (workloads, clients, clusters, mesh settings), checked by
// Topology.Validate.

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
	networkingapi "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/localitylb/locality-e2e/framework/topology"
)

func (p *parser) topology(n *yaml.Node, defName string) error {
	const f = "topology"
	m, err := p.mapping(n, f, "name", "namespace", "service", "port", "trafficDistribution", "clusters", "mesh", "workloads", "clients")
	if err != nil {
		return err
	}
	t := topology.Topology{Name: defName, Service: "helloworld", Port: 5000}
	if v := m["name"]; v != nil {
		if t.Name, err = p.str(v, f+".name"); err != nil {
			return err
		}
	}
	if v := m["namespace"]; v != nil {
		if t.Namespace, err = p.str(v, f+".namespace"); err != nil {
			return err
		}
		p.namespaceNode = v
	}
	if v := m["service"]; v != nil {
		if t.Service, err = p.str(v, f+".service"); err != nil {
			return err
		}
	}
	if v := m["port"]; v != nil {
		if t.Port, err = p.integer(v, f+".port", 1, 65535); err != nil {
			return err
		}
	}
	if v := m["trafficDistribution"]; v != nil {
		if t.TrafficDistribution, err = p.str(v, f+".trafficDistribution"); err != nil {
			return err
		}
		switch t.TrafficDistribution {
		case "PreferClose", "PreferSameZone", "PreferSameNode":
		default:
			return p.err(v, f+".trafficDistribution", fmt.Sprintf("%q is unknown", t.TrafficDistribution), "use PreferClose, PreferSameZone or PreferSameNode, or leave it out")
		}
	}
	if v := m["clusters"]; v != nil {
		if t.Clusters, err = p.clusters(v, f+".clusters"); err != nil {
			return err
		}
	}
	if v := m["mesh"]; v != nil {
		if t.Mesh, err = p.mesh(v, f+".mesh"); err != nil {
			return err
		}
	}
	wn := m["workloads"]
	if wn == nil {
		return p.err(n, f+".workloads", "is missing", "add at least one workload: - {name: ..., locality: kr/a, replicas: 3}")
	}
	ws, err := p.sequence(wn, f+".workloads")
	if err != nil {
		return err
	}
	if len(ws) == 0 {
		return p.err(wn, f+".workloads", "is empty", "add at least one workload: - {name: ..., locality: kr/a, replicas: 3}")
	}
	for i, wnode := range ws {
		wf := fmt.Sprintf("%s.workloads[%d]", f, i)
		wm, err := p.mapping(wnode, wf, "name", "locality", "replicas", "labels", "cluster", "node")
		if err != nil {
			return err
		}
		var w topology.Workload
		if w.Name, err = p.requiredString(wnode, wm, wf, "name", "name the Deployment, e.g. helloworld-zone-a"); err != nil {
			return err
		}
		if wm["locality"] == nil {
			return p.err(wnode, wf+".locality", "is missing", "place the workload in a locality, e.g. locality: kr/a")
		}
		if w.Locality, err = p.locality(wm["locality"], wf+".locality"); err != nil {
			return err
		}
		if wm["replicas"] == nil {
			return p.err(wnode, wf+".replicas", "is missing", "set the number of pods, e.g. replicas: 3")
		}
		if w.Replicas, err = p.integer(wm["replicas"], wf+".replicas", 0, topology.MaxReplicas); err != nil {
			return err
		}
		if v := wm["labels"]; v != nil {
			if w.Labels, err = p.labels(v, wf+".labels"); err != nil {
				return err
			}
		}
		if v := wm["cluster"]; v != nil {
			if w.Cluster, err = p.placement(v, wf+".cluster", t.Clusters); err != nil {
				return err
			}
		}
		if v := wm["node"]; v != nil {
			if w.Node, err = p.str(v, wf+".node"); err != nil {
				return err
			}
		}
		t.Workloads = append(t.Workloads, w)
		p.lines.workloads = append(p.lines.workloads, wnode.Line)
	}
	if cn := m["clients"]; cn != nil {
		cs, err := p.sequence(cn, f+".clients")
		if err != nil {
			return err
		}
		p.clientsNode = cn
		for i, cnode := range cs {
			cf := fmt.Sprintf("%s.clients[%d]", f, i)
			cm, err := p.mapping(cnode, cf, "name", "locality", "labels", "cluster", "service", "selfDiscovery", "node")
			if err != nil {
				return err
			}
			var c topology.Client
			if c.Name, err = p.requiredString(cnode, cm, cf, "name", "name the client pod, e.g. netshoot-b"); err != nil {
				return err
			}
			if cm["locality"] == nil {
				return p.err(cnode, cf+".locality", "is missing", "place the client in a locality, e.g. locality: kr/b")
			}
			if c.Locality, err = p.locality(cm["locality"], cf+".locality"); err != nil {
				return err
			}
			if v := cm["labels"]; v != nil {
				if c.Labels, err = p.labels(v, cf+".labels"); err != nil {
					return err
				}
			}
			if v := cm["cluster"]; v != nil {
				if c.Cluster, err = p.placement(v, cf+".cluster", t.Clusters); err != nil {
					return err
				}
			}
			if v := cm["service"]; v != nil {
				if c.Service, err = p.str(v, cf+".service"); err != nil {
					return err
				}
			}
			if v := cm["node"]; v != nil {
				if c.Node, err = p.str(v, cf+".node"); err != nil {
					return err
				}
			}
			if v := cm["selfDiscovery"]; v != nil {
				if c.SelfDiscovery, err = p.boolean(v, cf+".selfDiscovery", "write selfDiscovery: true to give the client's sidecar its local_cluster (zone aware routing; needs service)"); err != nil {
					return err
				}
			}
			t.Clients = append(t.Clients, c)
			p.lines.clients = append(p.lines.clients, cnode.Line)
		}
	}
	if len(t.Clients) == 0 {
		return p.err(n, f+".clients", "is missing", "add a client that sends the requests: - {name: netshoot-b, locality: kr/b}")
	}
	t = t.WithDefaults()
	if err := t.Validate(); err != nil {
		return p.topologyError(n, err)
	}
	p.topo = t
	return nil
}

// clusters reads topology.clusters: the clusters of a multi-cluster mesh,
// each {name, network}; a network on every cluster or on none.
func (p *parser) clusters(n *yaml.Node, field string) ([]topology.Cluster, error) {
	items, err := p.sequence(n, field)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, p.err(n, field, "is empty", "declare the clusters, e.g. - {name: cluster1, network: network1}, or leave clusters out for one cluster")
	}
	var out []topology.Cluster
	withNetwork := -1
	for i, it := range items {
		cf := fmt.Sprintf("%s[%d]", field, i)
		cm, err := p.mapping(it, cf, "name", "network")
		if err != nil {
			return nil, err
		}
		var c topology.Cluster
		if c.Name, err = p.requiredString(it, cm, cf, "name", "name the cluster by its cluster ID, e.g. name: cluster1"); err != nil {
			return nil, err
		}
		// Checked here, not only by Topology.Validate: the workloads and
		// clients that name a cluster are checked against these names.
		if errs := validation.IsDNS1123Label(c.Name); len(errs) > 0 {
			return nil, p.err(cm["name"], cf+".name", fmt.Sprintf("%q is not a valid cluster name (%s)", c.Name, strings.Join(errs, "; ")), "use lower-case letters, digits and '-', at most 63 characters, e.g. cluster1")
		}
		for j, prev := range out {
			if prev.Name == c.Name {
				return nil, p.err(cm["name"], cf+".name", fmt.Sprintf("%q is also the name of %s[%d]", c.Name, field, j), "give every cluster its own name")
			}
		}
		if cm["network"] != nil {
			if c.Network, err = p.requiredString(it, cm, cf, "network", "name the cluster's network, e.g. network: network1, or leave network out on every cluster"); err != nil {
				return nil, err
			}
			withNetwork = i
		}
		out = append(out, c)
		p.lines.clusters = append(p.lines.clusters, it.Line)
	}
	if withNetwork >= 0 {
		for i, c := range out {
			if c.Network == "" {
				return nil, p.err(items[i], fmt.Sprintf("%s[%d].network", field, i), fmt.Sprintf("is missing while %s[%d] (%s) is on network %q", field, withNetwork, out[withNetwork].Name, out[withNetwork].Network), "name a network for every cluster, or for none (one flat network)")
			}
		}
	}
	return out, nil
}

// mesh reads topology.mesh: meshConfig's localityLbSetting and
// zoneAwareLbSetting, and a cluster-local Service.
func (p *parser) mesh(n *yaml.Node, field string) (topology.MeshSettings, error) {
	var ms topology.MeshSettings
	m, err := p.mapping(n, field, "localityLbSetting", "zoneAwareLbSetting", "clusterLocal")
	if err != nil {
		return ms, err
	}
	if v := m["localityLbSetting"]; v != nil {
		if ms.LocalityLbSetting, err = p.localityLbSetting(v, field+".localityLbSetting"); err != nil {
			return ms, err
		}
		p.lbNode = v
	}
	if v := m["zoneAwareLbSetting"]; v != nil {
		ms.ZoneAwareLbSetting = &networkingapi.ZoneAwareLoadBalancerSetting{}
		if err := p.protoSetting(v, field+".zoneAwareLbSetting", ms.ZoneAwareLbSetting, zoneAwareLbSettingDoc,
			"write it as a DestinationRule's trafficPolicy.loadBalancer.zoneAwareLbSetting, e.g. {enabled: true, minClusterSize: 6}"); err != nil {
			return ms, err
		}
		p.zaNode = v
	}
	if v := m["clusterLocal"]; v != nil {
		if ms.ClusterLocal, err = p.boolean(v, field+".clusterLocal", "write clusterLocal: true to keep every client's traffic in its own cluster"); err != nil {
			return ms, err
		}
	}
	return ms, nil
}

const (
	localityLbSettingDoc  = "https://istio.io/latest/docs/reference/config/networking/destination-rule/#LocalityLoadBalancerSetting"
	zoneAwareLbSettingDoc = "https://istio.io/latest/docs/reference/config/networking/destination-rule/#ZoneAwareLoadBalancerSetting"
)

// localityLbSetting decodes a LocalityLoadBalancerSetting written as in a
// DestinationRule (camelCase YAML) with Istio's own type: its fields are
// checked against the proto descriptor (so an unknown one is reported at
// its line), then the YAML goes through sigs.k8s.io/yaml to JSON and
// protojson, which refuses unknown fields and wrong types. Istio's
// validation runs later, in Topology.Validate.
func (p *parser) localityLbSetting(n *yaml.Node, field string) (*networkingapi.LocalityLoadBalancerSetting, error) {
	lb := &networkingapi.LocalityLoadBalancerSetting{}
	if err := p.protoSetting(n, field, lb, localityLbSettingDoc,
		"write it as a DestinationRule's trafficPolicy.loadBalancer.localityLbSetting, e.g. {enabled: true, failover: [{from: kr, to: us}]}"); err != nil {
		return nil, err
	}
	return lb, nil
}
