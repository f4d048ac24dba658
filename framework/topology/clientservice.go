package topology

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

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/localitylb/locality-e2e/manifests"
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

// AnnotationProxyConfig is Istio's per-pod ProxyConfig annotation
// (istio.io/api annotation ProxyConfig), read by the sidecar injector.
const AnnotationProxyConfig = "proxy.istio.io/config"

// SelfDiscoveryProxyConfig is the proxy.istio.io/config of a client with
// SelfDiscovery: proxyMetadata becomes the istio-proxy container's
// environment, and pilot-agent reads ISTIO_META_ENABLE_SELF_DISCOVERY
// (pilot/cmd/pilot-agent/options EnableSelfDiscovery) to add the
// local_cluster to Envoy's bootstrap, and sends it to istiod as node
// metadata ENABLE_SELF_DISCOVERY (pkg/model/proxy.go). The ISTIO_META_
// prefix is part of the name: Istio's own zone aware integration test
// sets exactly this annotation.
const SelfDiscoveryProxyConfig = `{"proxyMetadata":{"ISTIO_META_ENABLE_SELF_DISCOVERY":"true"}}`

// proxyConfig is the client pod's proxy.istio.io/config annotation, ""
// for none.
func (c Client) proxyConfig() string {
	if c.SelfDiscovery {
		return SelfDiscoveryProxyConfig
	}
	return ""
}

// clientServiceDocs executes the client Service template for every
// client Service (ClientServices, by name). t has its defaults.
func clientServiceDocs(t Topology) ([]renderedDoc, error) {
	names, _ := t.ClientServices()
	var docs []renderedDoc
	for _, name := range names {
		b, err := execTemplate(manifests.ClientServiceTemplate, manifests.ClientServiceData{Name: name, Namespace: t.Namespace, Port: ClientServicePort})
		if err != nil {
			return nil, fmt.Errorf("topology %q: render client Service %s: %w", t.Name, name, err)
		}
		docs = append(docs, renderedDoc{what: "Service " + name, text: b})
	}
	return docs, nil
}

// RenderClientServices renders the topology's client Services
// (ClientServices, by name), for a backend that applies manifests (kind):
// each selects its client pods by LabelWorkloadName on ClientServicePort.
// The embedded backend builds the same Services with their EndpointSlices
// itself (framework/embedded selfdiscovery.go).
func RenderClientServices(t Topology) ([]*corev1.Service, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	t = t.WithDefaults()
	docs, err := clientServiceDocs(t)
	if err != nil {
		return nil, err
	}
	var out []*corev1.Service
	for _, d := range docs {
		obj, _, err := decoder.Decode(d.text, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("topology %q: decode rendered %s: %w\n%s", t.Name, d.what, err, d.text)
		}
		svc, ok := obj.(*corev1.Service)
		if !ok || "Service "+svc.Name != d.what || len(svc.Spec.Selector) != 1 || svc.Spec.Selector[LabelWorkloadName] != svc.Name {
			return nil, fmt.Errorf("topology %q: rendered %s decoded to %T (selector %v): a field changed the manifest's structure", t.Name, d.what, obj, svc.Spec.Selector)
		}
		svc.Namespace = t.Namespace
		out = append(out, svc)
	}
	return out, nil
}
