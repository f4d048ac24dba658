// Package topology declares where workloads and clients live: regions ×
// zones (× subzones), replicas per locality, workload and service naming,
// and client pods placed in localities. A Topology is a plain value; both
// backends deploy it from the same rendered manifests.
package topology

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/localitylb/locality-e2e/framework/locality"
)

// MaxReplicas is the most workload pods (all workloads together) a
// topology may have, at deploy time and after any Scale. The embedded
// backend publishes the Service's endpoints as one EndpointSlice, and
// Kubernetes caps an EndpointSlice at 1000 endpoints (the API server
// rejects more); each pod is also a loopback listener with its own file
// descriptors. The stress test scales 0→500→0 within it.
const MaxReplicas = 1000

// MaxClients is the most client pods a topology may have. Each client is
// a sidecar with its own ADS stream and a copy of istiod's config for it:
// in the embedded backend about 2.3 MB of heap and 50 ms to deploy
// (three-zones with 50 clients: 118 MB and 2.4 s, with 1: 4 MB and 0.07 s;
// 300 clients took 786 MB and 13 s). A locality spec needs one client per
// locality it sends from.
const MaxClients = 50

// LabelIstioLocality is the pod label istiod reads to override a pod's
// locality (instead of its node's labels). Topologies may not set it: a
// workload's locality is Workload.Locality, so that every view (istiod's
// endpoints, Envoy's, and the split counted by pod locality) agrees.
const LabelIstioLocality = "istio-locality"

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
	// Cluster is the declared cluster the workload runs in; empty: the
	// first cluster.
	Cluster string
	// Node names the Kubernetes node its pods run on (kubernetes.io/
	// hostname, a node of its locality); empty: the locality's node. See
	// nodes.go.
	Node string
}

// Client is a pod that sends requests from a locality.
type Client struct {
	Name     string
	Locality locality.Locality
	Labels   map[string]string // extra pod labels
	// Cluster is the declared cluster the client runs in; empty: the first
	// cluster.
	Cluster string
	// Service, when set, makes the client a pod of its own Service of that
	// name (see clientservice.go): clients naming the same Service are its
	// replicas, which is how a topology spreads a caller over zones. Empty:
	// the client belongs to no Service (as before).
	Service string
	// SelfDiscovery makes the client's sidecar announce
	// ISTIO_META_ENABLE_SELF_DISCOVERY=true, so istiod serves it a
	// local_cluster (its Service's pods in its region) and Envoy's zone
	// aware routing has the caller's spread. Requires Service.
	SelfDiscovery bool
	// Node names the Kubernetes node the client runs on (see Workload.Node).
	Node string
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
	// Clusters declares a multi-cluster mesh (see Cluster); empty: one
	// cluster, DefaultCluster.
	Clusters []Cluster
	// Mesh holds mesh-wide settings (MeshConfig) the scenario declares.
	Mesh MeshSettings
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
	t.Clusters = append([]Cluster(nil), t.Clusters...)
	return t
}

// Validate reports the first problem, naming the field and the fix. Every
// name, label and image that ends up in a manifest is checked with
// Kubernetes' own validation (k8s.io/apimachinery/pkg/util/validation), so
// nothing reaches a template that Kubernetes would reject or that could
// change the rendered YAML.
func (t Topology) Validate() error {
	prefix := fmt.Sprintf("topology %q", t.Name)
	if t.Name != "" {
		if err := dns1123Label(prefix+": Name", t.Name); err != nil {
			return err
		}
	}
	if t.Namespace != "" {
		if err := dns1123Label(prefix+": Namespace", t.Namespace); err != nil {
			return err
		}
	}
	if t.Service == "" {
		return fmt.Errorf("%s: Service is empty: set the Service name (e.g. helloworld)", prefix)
	}
	if errs := validation.IsDNS1035Label(t.Service); len(errs) > 0 {
		return fmt.Errorf("%s: Service %q is not a valid Service name (%s): use lower-case letters, digits and '-', starting with a letter, at most 63 characters", prefix, t.Service, strings.Join(errs, "; "))
	}
	if t.App != "" {
		if err := labelValue(prefix+": App", t.App); err != nil {
			return err
		}
	}
	for _, img := range []struct{ field, ref string }{{"Image", t.Image}, {"ClientImage", t.ClientImage}} {
		if img.ref != "" && !imageRef.MatchString(img.ref) {
			return fmt.Errorf("%s: %s %q is not an image reference: use [registry/]repository[:tag][@digest], e.g. %s", prefix, img.field, img.ref, DefaultImage)
		}
	}
	if t.HealthPort < 0 || t.HealthPort > 65535 || (t.HealthPort != 0 && t.HealthPort == t.Port) {
		return fmt.Errorf("%s: HealthPort %d is invalid: use 0 (no probe) or a port in 1-65535 other than Port", prefix, t.HealthPort)
	}
	if t.Port < 0 || t.Port > 65535 {
		return fmt.Errorf("%s: Port %d is out of range: use 1-65535", prefix, t.Port)
	}
	if len(t.Workloads) == 0 {
		return fmt.Errorf("%s: Workloads is empty: add at least one workload (topology.Grid builds them)", prefix)
	}
	seen := map[string]bool{}
	total := 0
	for i, w := range t.Workloads {
		if w.Name == "" {
			return fmt.Errorf("%s: Workloads[%d].Name is empty: name every Deployment", prefix, i)
		}
		if err := dns1123Label(fmt.Sprintf("%s: Workloads[%d].Name", prefix, i), w.Name); err != nil {
			return err
		}
		if seen[w.Name] {
			return fmt.Errorf("%s: Workloads[%d].Name %q is used twice: names must be unique", prefix, i, w.Name)
		}
		seen[w.Name] = true
		if w.Locality.Region == "" {
			return fmt.Errorf("%s: Workloads[%d] (%s).Locality has no region: set at least the region", prefix, i, w.Name)
		}
		if err := w.Locality.Validate(); err != nil {
			return fmt.Errorf("%s: Workloads[%d] (%s).Locality: %w", prefix, i, w.Name, err)
		}
		if err := checkLabels(fmt.Sprintf("%s: Workloads[%d] (%s).Labels", prefix, i, w.Name), w.Labels, "app", "workload", "pod-template-hash"); err != nil {
			return err
		}
		if w.Replicas < 0 {
			return fmt.Errorf("%s: Workloads[%d] (%s).Replicas is %d: replicas cannot be negative", prefix, i, w.Name, w.Replicas)
		}
		total += w.Replicas
		if w.Replicas > MaxReplicas || total > MaxReplicas {
			return fmt.Errorf("%s: Workloads[%d] (%s).Replicas %d brings the topology to %d workload pods: at most topology.MaxReplicas (%d) are supported", prefix, i, w.Name, w.Replicas, total, MaxReplicas)
		}
	}
	switch t.TrafficDistribution {
	case "", "PreferClose", "PreferSameZone", "PreferSameNode":
	default:
		return fmt.Errorf("%s: TrafficDistribution %q is unknown: use PreferClose, PreferSameZone, PreferSameNode or leave it empty", prefix, t.TrafficDistribution)
	}
	if err := t.validateNodes(prefix); err != nil {
		return err
	}
	if len(t.Clients) > MaxClients {
		return fmt.Errorf("%s: Clients has %d client pods: at most topology.MaxClients (%d) are supported; use one client per locality you send from", prefix, len(t.Clients), MaxClients)
	}
	for i, c := range t.Clients {
		if err := checkLabels(fmt.Sprintf("%s: Clients[%d] (%s).Labels", prefix, i, c.Name), c.Labels, "app", "client", LabelWorkloadName); err != nil {
			return err
		}
		if err := t.validateClientService(prefix, i, c); err != nil {
			return err
		}
		if c.Name == "" {
			return fmt.Errorf("%s: Clients[%d].Name is empty: name every client pod", prefix, i)
		}
		if err := dns1123Label(fmt.Sprintf("%s: Clients[%d].Name", prefix, i), c.Name); err != nil {
			return err
		}
		if seen[c.Name] {
			return fmt.Errorf("%s: Clients[%d].Name %q clashes with another name", prefix, i, c.Name)
		}
		seen[c.Name] = true
		if c.Locality.Region == "" {
			return fmt.Errorf("%s: Clients[%d] (%s).Locality has no region: place the client in a locality", prefix, i, c.Name)
		}
		if err := c.Locality.Validate(); err != nil {
			return fmt.Errorf("%s: Clients[%d] (%s).Locality: %w", prefix, i, c.Name, err)
		}
	}
	return t.validateClusters(prefix)
}

// imageRef is the container image reference grammar
// (github.com/distribution/reference): [domain[:port]/]path[:tag][@digest].
var imageRef = func() *regexp.Regexp {
	domainComp := `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	domain := domainComp + `(?:\.` + domainComp + `)*(?::[0-9]+)?`
	pathComp := `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	tag := `[\w][\w.-]{0,127}`
	digest := `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}`
	return regexp.MustCompile(`^(?:` + domain + `/)?` + pathComp + `(?:/` + pathComp + `)*(?::` + tag + `)?(?:@` + digest + `)?$`)
}()

func dns1123Label(field, v string) error {
	if errs := validation.IsDNS1123Label(v); len(errs) > 0 {
		return fmt.Errorf("%s %q is not a valid Kubernetes name (%s): use lower-case letters, digits and '-', at most 63 characters", field, v, strings.Join(errs, "; "))
	}
	return nil
}

func labelValue(field, v string) error {
	if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
		return fmt.Errorf("%s %q is not a valid Kubernetes label value (%s)", field, v, strings.Join(errs, "; "))
	}
	if v == "" {
		return fmt.Errorf("%s is empty: set a label value", field)
	}
	return nil
}

// checkLabels validates extra pod labels with Kubernetes' rules and
// refuses the keys the framework owns and istio-locality.
func checkLabels(field string, labels map[string]string, owned ...string) error {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, o := range owned {
			if k == o {
				return fmt.Errorf("%s sets %q: the framework owns that label, use another key", field, k)
			}
		}
		if k == LabelIstioLocality {
			return fmt.Errorf("%s sets %q: istiod would override the pod's locality with it while the framework counts the pod in its Locality; set the Locality field instead", field, k)
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("%s: key %q is not a valid Kubernetes label key (%s)", field, k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(labels[k]); len(errs) > 0 {
			return fmt.Errorf("%s[%q]: value %q is not a valid Kubernetes label value (%s)", field, k, labels[k], strings.Join(errs, "; "))
		}
	}
	return nil
}

// WorkloadPods is how many workload pods the topology declares: the
// replicas of every workload (clients and gateways not counted).
func (t Topology) WorkloadPods() int {
	n := 0
	for _, w := range t.Workloads {
		n += w.Replicas
	}
	return n
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
