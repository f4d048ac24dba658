// Client Services: a client's own Service (Client.Service), what istiod
// needs to serve a self-discovering sidecar its local_cluster for Envoy's
// zone aware routing.
//
// istiod's local_cluster (pilot/pkg/networking/util SelfDiscoveryCluster,
// built by pilot/pkg/xds/endpoints/endpoint_builder.go with
// isSelfDiscoveryCluster) holds the endpoints of the proxy's first Service
// (model.Proxy.LocalService, set by SetServiceTargets) whose workload name
// and pod-template-hash equal the proxy's and whose region is the proxy's.
// Client pods are bare Pods, so each would be its own workload; the label
// service.istio.io/workload-name (istio.io/api label ServiceWorkloadName,
// read by pkg/kube GetWorkloadMetaFromPod) gives all pods of one client
// Service the same workload name, and the Service selects them by it.
package topology

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// LabelWorkloadName is Istio's workload-name override label
// (service.istio.io/workload-name); client pods of a client Service carry
// it with the Service's name, and the Service selects on it.
const LabelWorkloadName = "service.istio.io/workload-name"

// ClientServicePort is the port of every client Service. Nothing listens
// on it: istiod needs a service port to build the local_cluster (its
// endpoints carry it), and no request is ever sent there.
const ClientServicePort = 8080

// ClientServices lists the client Services by name, each with its clients
// in topology order, names sorted.
func (t Topology) ClientServices() (names []string, members map[string][]Client) {
	members = map[string][]Client{}
	for _, c := range t.Clients {
		if c.Service == "" {
			continue
		}
		if _, ok := members[c.Service]; !ok {
			names = append(names, c.Service)
		}
		members[c.Service] = append(members[c.Service], c)
	}
	sort.Strings(names)
	return names, members
}

// SelfDiscovery reports whether any client asks for self-discovery.
func (t Topology) SelfDiscovery() bool {
	for _, c := range t.Clients {
		if c.SelfDiscovery {
			return true
		}
	}
	return false
}

func (t Topology) validateClientService(prefix string, i int, c Client) error {
	field := fmt.Sprintf("%s: Clients[%d] (%s)", prefix, i, c.Name)
	if c.Service == "" {
		if c.SelfDiscovery {
			return fmt.Errorf("%s.SelfDiscovery is true but Service is empty: istiod serves a local_cluster only for a proxy that is a member of a Service; set Clients[%d].Service (e.g. %q) or drop SelfDiscovery", field, i, "sleep")
		}
		return nil
	}
	if errs := validation.IsDNS1035Label(c.Service); len(errs) > 0 {
		return fmt.Errorf("%s.Service %q is not a valid Service name (%s): use lower-case letters, digits and '-', starting with a letter, at most 63 characters", field, c.Service, strings.Join(errs, "; "))
	}
	if c.Service == t.Service {
		return fmt.Errorf("%s.Service %q is the upstream Service: clients need a Service of their own; pick another name", field, c.Service)
	}
	for j, o := range t.Clients {
		if o.Service == c.Service && o.Cluster != c.Cluster {
			return fmt.Errorf("%s.Service %q is also used by Clients[%d] (%s) in another cluster: client Services span one cluster; use one cluster or another name", field, c.Service, j, o.Name)
		}
	}
	return nil
}

// podLabels are the client pod's extra labels: Labels, and
// LabelWorkloadName when the client is a pod of a client Service.
func (c Client) podLabels() map[string]string {
	if c.Service == "" {
		return c.Labels
	}
	m := map[string]string{LabelWorkloadName: c.Service}
	for k, v := range c.Labels {
		m[k] = v
	}
	return m
}
