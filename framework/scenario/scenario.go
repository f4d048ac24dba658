// Package scenario reads scenario files, a declarative YAML form of one
// locality scenario (the topology, the Istio rules, and specs made of steps),
// and registers each file as one Ordered Ginkgo container that runs the same
// framework/steps as the Go specs.
//
// A scenario file:
//
//	name: "Failover with outlier detection"   # the container's text
//	labels: [locality:failover]               # Ginkgo labels (optional)
//	topology:
//	  name: three-zones                       # optional; default: the file name
//	  namespace: sample                       # default default
//	  service: helloworld-svc                 # default helloworld
//	  port: 5000                              # default 5000
//	  trafficDistribution: PreferClose        # optional Service option
//	  clusters:                               # optional multi-cluster mesh; network on all or none
//	  - {name: cluster1, network: network1}
//	  - {name: cluster2, network: network2}
//	  mesh:                                   # optional meshConfig
//	    localityLbSetting: {enabled: true, failover: [{from: kr, to: us}]}   # as in a DestinationRule
//	    zoneAwareLbSetting: {enabled: true, minClusterSize: 6}              # mesh-wide zone aware routing
//	    clusterLocal: true                    # clients reach only their own cluster
//	  workloads:                              # cluster: default the first cluster
//	  - {name: helloworld-zone-a, locality: kr/a, replicas: 3, labels: {tier: gold}, cluster: cluster1}
//	  clients:
//	  - {name: netshoot-b, locality: kr/b, cluster: cluster1}
//	  - {name: sleep-a, locality: kr/a, service: sleep, selfDiscovery: true}   # a pod of Service sleep with a local_cluster
//	  - {name: curl-b, locality: kr/b, node: kr-b-node-1}   # node: a named node (also on workloads; embedded only)
//	rules:                                    # applied before the first spec, in order
//	- file: ../manifests/destinationrules/failover.yaml   # relative to this file
//	- apiVersion: networking.istio.io/v1      # or inline, plain Istio YAML
//	  kind: VirtualService
//	  ...
//	specs:
//	- it: "keeps every request in kr/b"
//	  steps:
//	  - expectEndpoints: {client: netshoot-b, view: envoy, rows: {kr/b: {priority: 0, hosts: 3}}}
//	  - send: {client: netshoot-b, by: locality, expect: {kr/b: 1}}   # by: locality, pod, class or cluster
//	  - scale: {workload: helloworld-zone-b, replicas: 0}
//	  - break: {workload: helloworld-zone-b, pods: 2, fault: 5xx}
//	  - heal: {workload: helloworld-zone-b}
//	  - wait: 61s
//	  - warm: {client: netshoot-b, requests: 50}
//	  - apply: {file: my-rule.yaml}
//
// Parsing is strict: an unknown field, a bad locality, shares that do not
// sum to 1, an unknown workload, client or cluster, a network on some
// clusters only, a bad duration, or a rule or mesh localityLbSetting that
// Istio's own validation rejects is an error naming file:line, the field
// and the fix (see Error). mesh.localityLbSetting and
// mesh.zoneAwareLbSetting are decoded into Istio's own types
// (networking/v1alpha3 LocalityLoadBalancerSetting and
// ZoneAwareLoadBalancerSetting, through protojson; unknown fields are
// errors) and checked with Istio's validation by Topology.Validate.
// The rules go through framework/destinationrule and
// framework/virtualservice, and are aimed at the topology's Service (their
// spec.host, hosts and destinations are replaced).
package scenario

import (
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// FileLabel is added to every container a scenario file registers.
const FileLabel = "scenario-file"

// Scenario is one parsed and validated scenario file.
type Scenario struct {
	// File is the path it was loaded from (as given to Load).
	File     string
	Name     string
	Labels   []string
	Topology topology.Topology
	// Rules are applied, in order, before the first spec.
	Rules []Rule
	Specs []Spec
}

// Rule is one DestinationRule or VirtualService (exactly one is set),
// already validated with Istio's validation.
type Rule struct {
	// Source says where it came from: "file.yaml:12" for an inline rule,
	// the rule file's path for `file:`.
	Source          string
	DestinationRule *networkingv1.DestinationRule
	VirtualService  *networkingv1.VirtualService
	// Warnings are Istio's validation warnings (e.g. failover without
	// outlierDetection); they do not fail the scenario.
	Warnings []string
}

// Spec is one `it:` of the file, a Ginkgo It.
type Spec struct {
	It    string
	Line  int
	Steps []Step
}

// StepKind names a step.
type StepKind string

// The steps a spec can take.
const (
	StepScale           StepKind = "scale"
	StepBreak           StepKind = "break"
	StepHeal            StepKind = "heal"
	StepWait            StepKind = "wait"
	StepWarm            StepKind = "warm"
	StepApply           StepKind = "apply"
	StepExpectEndpoints StepKind = "expectEndpoints"
	StepSend            StepKind = "send"
)

// Step is one step; the fields its kind uses are set.
type Step struct {
	Kind StepKind
	Line int

	// scale, break, heal
	Workload string
	Replicas int        // scale
	Pods     int        // break, heal: the first Pods pods; -1: all
	Fault    mesh.Fault // break

	Duration time.Duration // wait
	Rule     *Rule         // apply

	// warm, expectEndpoints, send
	Client   string
	View     endpoints.View    // expectEndpoints
	Rows     endpoints.Summary // expectEndpoints
	Requests int               // warm, send (0: the steps' default)
	By       steps.Bucketing   // send
	// Expect is the expected split of a send. For By == steps.ByPod its
	// keys are workload names, each share spread evenly over that
	// workload's pods when the step runs; for steps.ByCluster, declared
	// clusters.
	Expect split.Expected
}

// ContainerText is the text of the Ginkgo container a scenario registers:
// "[<file name>] <name>", so a spec's full text is the file's name
// followed by what a Go spec with the same Describe and It texts would
// show.
func ContainerText(s *Scenario) string {
	return "[" + filepath.Base(s.File) + "] " + s.Name
}

var containerPrefix = regexp.MustCompile(`^\[[^\]/]+\.ya?ml\] `)

// TrimContainerPrefix removes the "[<file name>] " a scenario file's
// container puts in front of its specs' full texts (see ContainerText);
// ok is false when the text has none.
func TrimContainerPrefix(fullText string) (string, bool) {
	loc := containerPrefix.FindStringIndex(fullText)
	if loc == nil {
		return fullText, false
	}
	return fullText[loc[1]:], true
}

// Error is a problem in a scenario or rule file: where (file and line),
// which field (a path like specs[0].steps[2].send.expect), what is wrong
// and how to fix it.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
	Fix   string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s:%d", e.File, e.Line)
	if e.Field != "" {
		s += ": " + e.Field
	}
	s += ": " + e.Msg
	if e.Fix != "" {
		s += ": " + e.Fix
	}
	return s
}
