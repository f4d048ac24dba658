// Package manifests embeds the Kubernetes and Istio manifests the framework
// deploys: text/template files for the workloads of a topology
// (workloads/*.yaml.tmpl), plain-YAML DestinationRules
// (destinationrules/*.yaml), shaped after the seed document, and the
// VirtualServices specs apply to set retries and timeouts
// (virtualservices/*.yaml).
//
// Templates are executed with the data described by WorkloadData,
// ServiceData and ClientData; rendering lives in framework/topology.
package manifests

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// FS holds every embedded manifest.
//
//go:embed workloads/*.yaml.tmpl destinationrules/*.yaml virtualservices/*.yaml multicluster/*.yaml
var FS embed.FS

// Template file names inside FS.
const (
	DeploymentTemplate     = "workloads/deployment.yaml.tmpl"
	ServiceTemplate        = "workloads/service.yaml.tmpl"
	VirtualServiceTemplate = "workloads/virtualservice.yaml.tmpl"
	ClientPodTemplate      = "workloads/client-pod.yaml.tmpl"
	ClientServiceTemplate  = "workloads/client-service.yaml.tmpl"
)

// ExposeServices is Istio's cross-network Gateway (AUTO_PASSTHROUGH on
// 15443 for *.local), applied in istio-system of every cluster of a
// multi-network mesh.
const ExposeServices = "multicluster/expose-services.yaml"

// DestinationRuleDir is the FS directory holding the DestinationRules.
const DestinationRuleDir = "destinationrules"

// WorkloadData is the data of the Deployment template.
type WorkloadData struct {
	Name      string
	Namespace string
	App       string
	Replicas  int
	Image     string
	Port      int
	// HealthPort > 0 adds a readiness probe GET /healthz on that port.
	HealthPort int
	Region     string
	Zone       string
	Subzone    string
	Labels     map[string]string // extra pod labels (e.g. for failoverPriority)
	// PreStopSleepSeconds > 0 gives the container a preStop sleep hook
	// (kubelet-native, no shell needed), and TerminationGracePeriodSeconds
	// covers it and the workload's drain after SIGTERM.
	PreStopSleepSeconds           int
	TerminationGracePeriodSeconds int
}

// ServiceData is the data of the Service and VirtualService templates.
type ServiceData struct {
	Name      string
	Namespace string
	App       string
	Port      int
	Host      string // cluster-local FQDN of the Service
	// TrafficDistribution is spec.trafficDistribution (PreferClose,
	// PreferSameZone, ...); empty leaves it unset.
	TrafficDistribution string
}

// ClientData is the data of the client Pod template.
type ClientData struct {
	Name      string
	Namespace string
	Image     string
	Region    string
	Zone      string
	Subzone   string
	Labels    map[string]string // extra pod labels
	// ProxyConfig, when set, is the pod's proxy.istio.io/config
	// annotation (JSON), e.g. the proxyMetadata of self-discovery.
	ProxyConfig string
}

// ClientServiceData is the data of the client Service template: a
// Service of client pods, selected by their service.istio.io/workload-name
// label (framework/topology clientservice.go).
type ClientServiceData struct {
	Name      string
	Namespace string
	Port      int
}

// Template returns the text of a template file (one of the *Template
// constants).
func Template(name string) (string, error) {
	b, err := FS.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("manifests: template %q: %w", name, err)
	}
	return string(b), nil
}

// DestinationRuleNames lists the embedded DestinationRules by name (file
// name without .yaml), sorted.
func DestinationRuleNames() []string { return yamlNames(DestinationRuleDir) }

// DestinationRulePath returns the FS path of a named DestinationRule.
func DestinationRulePath(name string) string {
	return path.Join(DestinationRuleDir, name+".yaml")
}

// DestinationRule returns the YAML of a named DestinationRule (name without
// .yaml). The error lists the available names.
func DestinationRule(name string) ([]byte, error) {
	name = strings.TrimSuffix(name, ".yaml")
	if name == "" || strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("manifests: invalid DestinationRule name %q: available are %v", name, DestinationRuleNames())
	}
	b, err := FS.ReadFile(DestinationRulePath(name))
	if err != nil {
		return nil, fmt.Errorf("manifests: no DestinationRule %q in %s/: available are %v", name, DestinationRuleDir, DestinationRuleNames())
	}
	return b, nil
}

// VirtualServiceDir is the FS directory holding the VirtualServices.
const VirtualServiceDir = "virtualservices"

// VirtualServiceNames lists the embedded VirtualServices by name, sorted.
func VirtualServiceNames() []string { return yamlNames(VirtualServiceDir) }

// VirtualServicePath returns the FS path of a named VirtualService.
func VirtualServicePath(name string) string {
	return path.Join(VirtualServiceDir, name+".yaml")
}

// VirtualService returns the YAML of a named VirtualService (name without
// .yaml). The error lists the available names.
func VirtualService(name string) ([]byte, error) {
	name = strings.TrimSuffix(name, ".yaml")
	if name == "" || strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("manifests: invalid VirtualService name %q: available are %v", name, VirtualServiceNames())
	}
	b, err := FS.ReadFile(VirtualServicePath(name))
	if err != nil {
		return nil, fmt.Errorf("manifests: no VirtualService %q in %s/: available are %v", name, VirtualServiceDir, VirtualServiceNames())
	}
	return b, nil
}

func yamlNames(dir string) []string {
	entries, err := fs.ReadDir(FS, dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".yaml") {
			out = append(out, strings.TrimSuffix(n, ".yaml"))
		}
	}
	sort.Strings(out)
	return out
}
