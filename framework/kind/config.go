// Package kind is the kind backend of the mesh: one kind cluster per suite
// (created through the kind Go API, or an existing cluster given by a
// kubeconfig), Istio installed with istioctl, and one namespace per
// deployed topology. Requests and endpoint reads run inside the pods
// (curl in the client container, pilot-agent in istio-proxy), so nothing
// but the Kubernetes API is dialled from the test process.
package kind

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"

	"github.com/localitylb/locality-e2e/framework/topology"
)

// Environment variables ConfigFromEnv reads.
const (
	EnvClusterName    = "LOCALITY_E2E_CLUSTER_NAME"
	EnvNodeImage      = "LOCALITY_E2E_NODE_IMAGE"
	EnvKubeconfig     = "LOCALITY_E2E_KUBECONFIG"
	EnvReuseCluster   = "LOCALITY_E2E_REUSE_CLUSTER"
	EnvKeepCluster    = "LOCALITY_E2E_KEEP_CLUSTER"
	EnvKeepNamespaces = "LOCALITY_E2E_KEEP_NAMESPACES"
	EnvIstioctl       = "ISTIOCTL"
	EnvIstioVersion   = "ISTIO_VERSION"
	EnvIstioProfile   = "LOCALITY_E2E_ISTIO_PROFILE"
	// EnvIstioHub is the registry the Istio images come from (istioctl
	// install --set hub=).
	EnvIstioHub = "LOCALITY_E2E_ISTIO_HUB"
	// EnvIstioRevision selects a revisioned control plane (istiod-<rev>,
	// namespaces labelled istio.io/rev=<rev>), as after a canary upgrade.
	EnvIstioRevision = "LOCALITY_E2E_ISTIO_REVISION"
	EnvPreloadImages = "LOCALITY_E2E_PRELOAD_IMAGES"
	// EnvWorkloadImage selects the workload pods' image: "workload" (the
	// default: cmd/workload, built and loaded into the nodes), "helloworld"
	// (istio's sample, slow and without 5xx faults), or the reference of a
	// cmd/workload image the cluster can pull (make workload-image).
	EnvWorkloadImage = "LOCALITY_E2E_WORKLOAD_IMAGE"
	EnvLogsDir       = "LOCALITY_E2E_LOGS_DIR"
	// EnvKindMultiCluster selects the multi-cluster kind setup (package
	// framework/kind/multicluster) for the suite's topologies that declare
	// Clusters, instead of the single kind cluster.
	EnvKindMultiCluster = "LOCALITY_E2E_KIND_MULTICLUSTER"
	// EnvTimeoutScale multiplies every timeout (e.g. 2 on a slow runner).
	EnvTimeoutScale = "LOCALITY_E2E_TIMEOUT_SCALE"
)

// Defaults.
const (
	DefaultClusterName = "locality-e2e"
	// DefaultNodeImage is the node image kind v0.33.0 itself defaults to
	// (sigs.k8s.io/kind/pkg/apis/config/defaults.Image), pinned by digest.
	DefaultNodeImage = kinddefaults.Image
	// DefaultIstioVersion is the Istio release installed and checked: the
	// newest release (istio.io/client-go's newest tag, v1.32.0, on
	// 2026-11-25). The nightly workflow also runs the newest patch of the
	// previous minor (1.31.4). The embedded backend runs the istiod of the
	// pinned istio.io/istio module instead (framework/embedded/version.go).
	DefaultIstioVersion = "1.32.0"
	DefaultIstioProfile = "minimal"
	// DefaultIstioHub is Istio's release registry. Istio's charts default
	// to it from the 1.30 line on (istio/istio releasenotes
	// use-registry-istio-io.yaml: "Added registry.istio.io as the default
	// registry for istio images"; before, docker.io/istio), and it serves
	// every release since 1.5 (it fronts gcr.io/istio-release, Istio's
	// mirror since 1.5: istio.io/latest/blog/2020/docker-rate-limit/ and
	// istio.io/latest/blog/2026/retirement-of-gcr.io-follow-up/). The install sets it
	// explicitly (--set hub=, --set tag=<IstioVersion>) so that the image
	// references are known before the install, for any version: Prepare
	// preloads exactly those (IstioImages), and no pull goes to Docker Hub
	// and its anonymous rate limit.
	DefaultIstioHub = "registry.istio.io/release"
	DefaultLogsDir  = "reports/kind-logs"
)

// Timeouts bound every wait of the backend.
type Timeouts struct {
	// ClusterCreate bounds kind's create (whose own wait covers only the
	// control plane and returns nil on timeout), then, again, the wait
	// until every node is Ready (NodesReady).
	ClusterCreate time.Duration
	IstioInstall  time.Duration // istioctl install + istiod ready
	Deploy        time.Duration // a topology's pods ready (image pulls included)
	Scale         time.Duration // a Scale or a fault heal
	Sync          time.Duration // a DestinationRule reaching the client sidecars
	Exec          time.Duration // one exec in a pod (a curl batch, a pilot-agent request)
	Request       time.Duration // one HTTP request of a batch (curl --max-time)
	Poll          time.Duration // interval of every poll
}

// DefaultTimeouts fit a GitHub-hosted runner.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		ClusterCreate: 5 * time.Minute,
		IstioInstall:  5 * time.Minute,
		Deploy:        5 * time.Minute,
		Scale:         2 * time.Minute,
		Sync:          20 * time.Second,
		Exec:          2 * time.Minute,
		Request:       5 * time.Second,
		Poll:          time.Second,
	}
}

// Multiply multiplies every timeout but Poll and Request by f.
func (t Timeouts) Multiply(f float64) Timeouts {
	m := func(d time.Duration) time.Duration { return time.Duration(float64(d) * f) }
	t.ClusterCreate, t.IstioInstall, t.Deploy, t.Scale, t.Sync, t.Exec =
		m(t.ClusterCreate), m(t.IstioInstall), m(t.Deploy), m(t.Scale), m(t.Sync), m(t.Exec)
	return t
}

// Config configures the kind backend.
type Config struct {
	// ClusterName is the kind cluster's name.
	ClusterName string
	// NodeImage is the kindest/node image of every node.
	NodeImage string
	// Kubeconfig, when set, selects an existing cluster: no Docker check, no
	// cluster creation or deletion. Its nodes must carry the topologies'
	// locality labels.
	Kubeconfig string
	// ReuseCluster uses a kind cluster of that name if it exists (and then
	// never deletes it); otherwise one is created.
	ReuseCluster bool
	// KeepCluster keeps a cluster this run created.
	KeepCluster bool
	// KeepNamespaces keeps each topology's namespace after Close.
	KeepNamespaces bool
	// IstioctlPath is the istioctl binary ("istioctl" on PATH if empty).
	IstioctlPath string
	// IstioVersion is the Istio release expected from istioctl and installed.
	IstioVersion string
	// IstioProfile is the istioctl install profile: minimal (istiod only,
	// enough for sidecar-to-sidecar traffic) or default (adds the ingress
	// gateway, unused here).
	IstioProfile string
	// IstioHub is the registry of the Istio images (pilot, proxyv2),
	// passed to istioctl install as --set hub=; DefaultIstioHub.
	IstioHub string
	// Revision, when set, is the Istio revision the specs run on: the
	// control plane is istio-system/istiod-<Revision> (installed with
	// --set revision=<Revision> if missing) and each namespace is labelled
	// istio.io/rev=<Revision> instead of istio-injection=enabled. Empty is
	// the default revision (istiod).
	Revision string
	// PreloadImages pulls the topologies' images with the local Docker
	// engine and loads them into the nodes (kind load docker-image) before
	// deploying. The built-in workload image is always loaded.
	PreloadImages bool
	// WorkloadImage is the workload pods' image for topologies that set
	// none or topology.DefaultImage: WorkloadImageBuiltin ("" too),
	// WorkloadImageHelloworld, or the reference of a prebuilt cmd/workload
	// image. See WorkloadImageRef.
	WorkloadImage string
	// LogsDir receives kind's node logs when creation or a deploy fails.
	LogsDir string
	// Topologies are every topology the suite will deploy; the cluster gets
	// one worker per distinct locality among them. Empty means
	// SuiteTopologies (every fixture the specs deploy).
	Topologies []topology.Topology
	Timeouts   Timeouts
}

// DefaultConfig is the configuration without any environment.
func DefaultConfig() Config {
	return Config{
		ClusterName:   DefaultClusterName,
		NodeImage:     DefaultNodeImage,
		IstioctlPath:  "istioctl",
		IstioVersion:  DefaultIstioVersion,
		IstioProfile:  DefaultIstioProfile,
		IstioHub:      DefaultIstioHub,
		LogsDir:       DefaultLogsDir,
		WorkloadImage: WorkloadImageBuiltin,
		Timeouts:      DefaultTimeouts(),
	}
}

// WorkloadImageRef is the image reference workload pods run:
// BuiltinWorkloadImage, topology.DefaultImage for helloworld, or
// WorkloadImage as given.
func (c Config) WorkloadImageRef() string {
	switch c.WorkloadImage {
	case "", WorkloadImageBuiltin:
		return BuiltinWorkloadImage
	case WorkloadImageHelloworld:
		return topology.DefaultImage
	}
	return c.WorkloadImage
}

// workloadImageOf is the image a topology's workloads run: its own Image,
// except that unset and topology.DefaultImage (what WithDefaults fills in,
// so every fixture carries it) mean the configured workload image.
func workloadImageOf(t topology.Topology, workloadImage string) string {
	if t.Image == "" || t.Image == topology.DefaultImage {
		return workloadImage
	}
	return t.Image
}

// BuildsWorkloadImage reports whether Prepare builds the workload image
// and loads it into the nodes.
func (c Config) BuildsWorkloadImage() bool { return c.WorkloadImageRef() == BuiltinWorkloadImage }

// ConfigFromEnv is DefaultConfig overridden by the environment (see the
// Env* constants). Booleans accept what strconv.ParseBool does; a bad
// value is an error naming the variable.
func ConfigFromEnv() (Config, error) {
	return configFrom(os.LookupEnv)
}

func configFrom(lookup func(string) (string, bool)) (Config, error) {
	c := DefaultConfig()
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok && strings.TrimSpace(v) != "" {
			*dst = strings.TrimSpace(v)
		}
	}
	var errs []string
	boolean := func(name string, dst *bool) {
		v, ok := lookup(name)
		if !ok || strings.TrimSpace(v) == "" {
			return
		}
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q is not a boolean: use true or false", name, v))
			return
		}
		*dst = b
	}
	str(EnvClusterName, &c.ClusterName)
	str(EnvNodeImage, &c.NodeImage)
	str(EnvKubeconfig, &c.Kubeconfig)
	boolean(EnvReuseCluster, &c.ReuseCluster)
	boolean(EnvKeepCluster, &c.KeepCluster)
	boolean(EnvKeepNamespaces, &c.KeepNamespaces)
	str(EnvIstioctl, &c.IstioctlPath)
	str(EnvIstioVersion, &c.IstioVersion)
	str(EnvIstioProfile, &c.IstioProfile)
	str(EnvIstioHub, &c.IstioHub)
	str(EnvIstioRevision, &c.Revision)
	boolean(EnvPreloadImages, &c.PreloadImages)
	str(EnvLogsDir, &c.LogsDir)
	str(EnvWorkloadImage, &c.WorkloadImage)
	if v, ok := lookup(EnvTimeoutScale); ok && strings.TrimSpace(v) != "" {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f <= 0 {
			errs = append(errs, fmt.Sprintf("%s=%q is not a positive number: use e.g. 2 to double every timeout", EnvTimeoutScale, v))
		} else {
			c.Timeouts = c.Timeouts.Multiply(f)
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("kind backend environment: %s", strings.Join(errs, "; "))
	}
	return c, c.Validate()
}

// Validate reports every problem, naming the field and its variable.
func (c Config) Validate() error {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if c.Kubeconfig == "" {
		if c.ClusterName == "" {
			add("ClusterName (%s) is empty: name the kind cluster, e.g. %s", EnvClusterName, DefaultClusterName)
		} else if !validClusterName(c.ClusterName) {
			add("ClusterName (%s) %q is not a valid kind cluster name: use lower-case letters, digits and '-'", EnvClusterName, c.ClusterName)
		}
		if c.NodeImage == "" {
			add("NodeImage (%s) is empty: use a kindest/node image, e.g. %s", EnvNodeImage, DefaultNodeImage)
		}
	} else {
		if _, err := os.Stat(c.Kubeconfig); err != nil {
			add("Kubeconfig (%s) %q cannot be read: %v", EnvKubeconfig, c.Kubeconfig, err)
		}
		if c.ReuseCluster {
			add("ReuseCluster (%s) with Kubeconfig (%s): an existing cluster is always reused; unset one of them", EnvReuseCluster, EnvKubeconfig)
		}
		if c.BuildsWorkloadImage() {
			add("WorkloadImage (%s) %q with Kubeconfig (%s): the built-in workload image can only be loaded into kind nodes this suite manages; push it (make workload-image WORKLOAD_IMAGE=<registry>/workload:<tag>, then docker push) and set %s=<that reference>, or set %s=%s",
				EnvWorkloadImage, orDefault(c.WorkloadImage, WorkloadImageBuiltin), EnvKubeconfig, EnvWorkloadImage, EnvWorkloadImage, WorkloadImageHelloworld)
		}
	}
	if c.IstioctlPath == "" {
		add("IstioctlPath (%s) is empty: point it at istioctl %s (make istioctl downloads it)", EnvIstioctl, orDefault(c.IstioVersion, DefaultIstioVersion))
	}
	if !validIstioVersion(c.IstioVersion) {
		add("IstioVersion (%s) %q is not a release version: use e.g. %s", EnvIstioVersion, c.IstioVersion, DefaultIstioVersion)
	}
	switch c.IstioProfile {
	case "minimal", "default":
	default:
		add("IstioProfile (%s) %q is not supported: use minimal or default", EnvIstioProfile, c.IstioProfile)
	}
	if err := validHub(c.IstioHub); err != nil {
		add("IstioHub (%s) %q %v: use a registry path without tag, e.g. %s", EnvIstioHub, c.IstioHub, err, DefaultIstioHub)
	}
	if c.Revision != "" && !validRevision(c.Revision) {
		add("Revision (%s) %q is not a valid Istio revision: use lower-case letters, digits and '-' (at most 63), e.g. canary-1-29-0", EnvIstioRevision, c.Revision)
	}
	t := c.Timeouts
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ClusterCreate", t.ClusterCreate}, {"IstioInstall", t.IstioInstall}, {"Deploy", t.Deploy},
		{"Scale", t.Scale}, {"Sync", t.Sync}, {"Exec", t.Exec}, {"Request", t.Request}, {"Poll", t.Poll},
	} {
		if d.v <= 0 {
			add("Timeouts.%s is %v: every timeout must be positive (DefaultTimeouts has them all)", d.name, d.v)
		}
	}
	for i, topo := range c.Topologies {
		if err := topo.Validate(); err != nil {
			add("Topologies[%d]: %v", i, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("kind backend config: %s", strings.Join(errs, "; "))
	}
	return nil
}

func validClusterName(s string) bool {
	if len(s) == 0 || len(s) > 50 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case r == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// validRevision accepts a DNS-1123 label, what istioctl accepts as a
// revision.
func validRevision(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// validIstioVersion accepts an Istio release version: MAJOR.MINOR.PATCH
// with an optional -alpha, -beta or -rc pre-release suffix (1.32.0,
// 1.31.0-rc.4); see istioVersionGrammar.
func validIstioVersion(s string) bool { return istioVersionGrammar.MatchString(s) }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// SuiteTopologies are the topologies the specs deploy (every fixture of
// framework/topology that specs/ calls; TestSuiteTopologiesCoverSpecs
// parses specs/ and fails when one is missing). The kind cluster gets a
// worker per distinct locality among them, so the subzone scenario's
// region1/region2 pods have nodes (issue 12, item 1).
func SuiteTopologies() []topology.Topology {
	return []topology.Topology{
		topology.TwoRegions(),
		topology.ThreeZones(),
		topology.ThreeZonesEveryClient(),
		topology.ThreeZonesTiers(),
		topology.Subzones(),
		topology.LocalityTask(1, false),
		topology.LocalityTask(1, true),
		topology.ZoneAwareBalanced(),
		topology.ZoneAwareUneven(),
		topology.ZoneAwareRegions(),
	}
}

// topologies returns the configured topologies or SuiteTopologies.
func (c Config) topologies() []topology.Topology {
	if len(c.Topologies) > 0 {
		return c.Topologies
	}
	return SuiteTopologies()
}

// validHub checks an image registry path as istioctl's hub takes it:
// <host>[:port][/path], to which "/<image>:<tag>" is appended.
func validHub(h string) error {
	switch {
	case h == "":
		return fmt.Errorf("is empty")
	case strings.Contains(h, "://"):
		return fmt.Errorf("has a URL scheme")
	case strings.ContainsAny(h, " \t\n@"):
		return fmt.Errorf("has a space or '@'")
	case strings.HasSuffix(h, "/"):
		return fmt.Errorf("ends with '/'")
	}
	if i := strings.LastIndex(h, "/"); i >= 0 && strings.Contains(h[i:], ":") {
		return fmt.Errorf("ends with a tag")
	}
	return nil
}
