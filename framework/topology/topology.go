// Package topology declares where workloads and clients live: regions ×
// zones (× subzones), replicas per locality, workload and service naming,
// and client pods placed in localities. A Topology is a plain value; both
// backends deploy it from the same rendered manifests.
package topology

import (
	"fmt"

	"github.com/localitylb/locality-e2e/framework/locality"
)

// Kubernetes node labels that carry a locality (what Istio reads).
const (
	LabelRegion  = "topology.kubernetes.io/region"
	LabelZone    = "topology.kubernetes.io/zone"
	LabelSubzone = "topology.istio.io/subzone"
)

// Default images, pinned. helloworld-v1 answers GET /hello on :5000 with
// "Hello version: v1, instance: <pod>".
const (
	DefaultImage       = "docker.io/istio/examples-helloworld-v1:1.0"
	DefaultClientImage = "docker.io/curlimages/curl:8.11.1"
)

// Workload is one Deployment pinned to one locality.
type Workload struct {
	Name     string
	Locality locality.Locality
	Replicas int
	// Labels are extra pod labels (e.g. for failoverPriority); they may not
	// replace app or workload.
	Labels map[string]string
}

// Client is a pod that sends requests from a locality.
type Client struct {
	Name     string
	Locality locality.Locality
	Labels   map[string]string // extra pod labels
}

// Topology is the whole declarative test environment.
type Topology struct {
	Name      string // fixture name, e.g. "three-zones"
	Namespace string // where everything lives; "default" if empty
	App       string // value of the app label shared by every workload pod
	Service   string // Service (and VirtualService) name
	Port      int    // Service port = container port
	Image     string
	// HealthPort, when > 0, gives workload pods a readiness probe
	// GET /healthz on that port (cmd/workload serves it apart from the
	// service port, so a pod refusing connections stays Ready). 0: none,
	// as for the seed's helloworld image.
	HealthPort  int
	ClientImage string
	Workloads   []Workload
	Clients     []Client
	// TrafficDistribution sets the Service's spec.trafficDistribution
	// (PreferClose, PreferSameZone, PreferSameNode); empty leaves it unset.
	TrafficDistribution string
}

// GridInput builds the workloads of a regions × zones (× subzones) grid.
type GridInput struct {
	Regions  []string
	Zones    []string
	Subzones []string // optional
	Replicas int
	// Name makes the Deployment name of a locality.
	Name func(l locality.Locality) string
}

// Grid returns one workload per locality of the grid, in region, zone,
// subzone order.
func Grid(in GridInput) []Workload {
	var out []Workload
	subzones := in.Subzones
	if len(subzones) == 0 {
		subzones = []string{""}
	}
	for _, r := range in.Regions {
		for _, z := range in.Zones {
			for _, s := range subzones {
				l := locality.Locality{Region: r, Zone: z, Subzone: s}
				out = append(out, Workload{Name: in.Name(l), Locality: l, Replicas: in.Replicas})
			}
		}
	}
	return out
}

// WithDefaults fills unset optional fields.
func (t Topology) WithDefaults() Topology {
	if t.Namespace == "" {
		t.Namespace = "default"
	}
	if t.App == "" {
		t.App = "helloworld"
	}
	if t.Port == 0 {
		t.Port = 5000
	}
	if t.Image == "" {
		t.Image = DefaultImage
	}
	if t.ClientImage == "" {
		t.ClientImage = DefaultClientImage
	}
	t.Workloads = append([]Workload(nil), t.Workloads...)
	t.Clients = append([]Client(nil), t.Clients...)
	return t
}

// Validate reports the first problem, naming the field and the fix.
func (t Topology) Validate() error {
	if t.Service == "" {
		return fmt.Errorf("topology %q: Service is empty: set the Service name (e.g. helloworld)", t.Name)
	}
	if t.HealthPort < 0 || t.HealthPort > 65535 || (t.HealthPort != 0 && t.HealthPort == t.Port) {
		return fmt.Errorf("topology %q: HealthPort %d is invalid: use 0 (no probe) or a port in 1-65535 other than Port", t.Name, t.HealthPort)
	}
	if t.Port < 0 || t.Port > 65535 {
		return fmt.Errorf("topology %q: Port %d is out of range: use 1-65535", t.Name, t.Port)
	}
	if len(t.Workloads) == 0 {
		return fmt.Errorf("topology %q: Workloads is empty: add at least one workload (topology.Grid builds them)", t.Name)
	}
	seen := map[string]bool{}
	for i, w := range t.Workloads {
		if w.Name == "" {
			return fmt.Errorf("topology %q: Workloads[%d].Name is empty: name every Deployment", t.Name, i)
		}
		if seen[w.Name] {
			return fmt.Errorf("topology %q: Workloads[%d].Name %q is used twice: names must be unique", t.Name, i, w.Name)
		}
		seen[w.Name] = true
		if w.Locality.Region == "" {
			return fmt.Errorf("topology %q: Workloads[%d] (%s).Locality has no region: set at least the region", t.Name, i, w.Name)
		}
		for _, k := range []string{"app", "workload"} {
			if _, ok := w.Labels[k]; ok {
				return fmt.Errorf("topology %q: Workloads[%d] (%s).Labels sets %q: the framework owns that label, use another key", t.Name, i, w.Name, k)
			}
		}
		if w.Replicas < 0 {
			return fmt.Errorf("topology %q: Workloads[%d] (%s).Replicas is %d: replicas cannot be negative", t.Name, i, w.Name, w.Replicas)
		}
	}
	switch t.TrafficDistribution {
	case "", "PreferClose", "PreferSameZone", "PreferSameNode":
	default:
		return fmt.Errorf("topology %q: TrafficDistribution %q is unknown: use PreferClose, PreferSameZone, PreferSameNode or leave it empty", t.Name, t.TrafficDistribution)
	}
	for i, c := range t.Clients {
		for _, k := range []string{"app", "client"} {
			if _, ok := c.Labels[k]; ok {
				return fmt.Errorf("topology %q: Clients[%d] (%s).Labels sets %q: the framework owns that label, use another key", t.Name, i, c.Name, k)
			}
		}
		if c.Name == "" {
			return fmt.Errorf("topology %q: Clients[%d].Name is empty: name every client pod", t.Name, i)
		}
		if seen[c.Name] {
			return fmt.Errorf("topology %q: Clients[%d].Name %q clashes with another name", t.Name, i, c.Name)
		}
		seen[c.Name] = true
		if c.Locality.Region == "" {
			return fmt.Errorf("topology %q: Clients[%d] (%s).Locality has no region: place the client in a locality", t.Name, i, c.Name)
		}
	}
	return nil
}

// Workload returns the named workload.
func (t Topology) Workload(name string) (Workload, error) {
	for _, w := range t.Workloads {
		if w.Name == name {
			return w, nil
		}
	}
	return Workload{}, fmt.Errorf("unknown workload %q in topology %q: known are %v", name, t.Name, t.WorkloadNames())
}

// WorkloadIn returns the workload placed in a locality.
func (t Topology) WorkloadIn(l string) (Workload, error) {
	for _, w := range t.Workloads {
		if w.Locality.String() == l {
			return w, nil
		}
	}
	return Workload{}, fmt.Errorf("no workload in locality %q of topology %q: localities are %v", l, t.Name, t.Localities())
}

// Client returns the named client.
func (t Topology) Client(name string) (Client, error) {
	for _, c := range t.Clients {
		if c.Name == name {
			return c, nil
		}
	}
	names := make([]string, 0, len(t.Clients))
	for _, c := range t.Clients {
		names = append(names, c.Name)
	}
	return Client{}, fmt.Errorf("unknown client %q in topology %q: known are %v", name, t.Name, names)
}

// WorkloadNames lists the Deployment names.
func (t Topology) WorkloadNames() []string {
	out := make([]string, 0, len(t.Workloads))
	for _, w := range t.Workloads {
		out = append(out, w.Name)
	}
	return out
}

// Localities lists the distinct workload and client localities, workloads first.
func (t Topology) Localities() []string {
	var out []string
	seen := map[string]bool{}
	add := func(l locality.Locality) {
		if s := l.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, w := range t.Workloads {
		add(w.Locality)
	}
	for _, c := range t.Clients {
		add(c.Locality)
	}
	return out
}

// Host is the Service's cluster-local FQDN.
func (t Topology) Host() string {
	ns := t.Namespace
	if ns == "" {
		ns = "default"
	}
	return fmt.Sprintf("%s.%s.svc.cluster.local", t.Service, ns)
}

// ClusterName is the outbound Envoy cluster for the Service.
func (t Topology) ClusterName() string {
	port := t.Port
	if port == 0 {
		port = 5000
	}
	return fmt.Sprintf("outbound|%d||%s", port, t.Host())
}
