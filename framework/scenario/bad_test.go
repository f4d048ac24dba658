package scenario_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networkingapi "istio.io/api/networking/v1alpha3"

	"github.com/localitylb/locality-e2e/framework/scenario"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// A valid scenario; the table's cases break one thing each.
const good = `name: ok
topology:
  service: helloworld-svc
  workloads:
  - {name: zone-a, locality: kr/a, replicas: 3}
  - {name: zone-b, locality: kr/b, replicas: 3}
  clients:
  - {name: client-b, locality: kr/b}
rules:
- file: rules/dr.yaml
specs:
- it: keeps traffic local
  steps:
  - expectEndpoints: {rows: {kr/b: {priority: 0, hosts: 3}, kr/a: {priority: 1, hosts: 3}}}
  - send: {expect: {kr/b: 1}}
`

const goodRule = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: dr
spec:
  host: helloworld-svc
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 1m
`

func TestGoodScenario(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "rules/dr.yaml", goodRule)
	s, err := scenario.Load(write(t, dir, "s.yaml", good))
	if err != nil {
		t.Fatal(err)
	}
	if s.Topology.Name != "s" || s.Topology.Port != 5000 || len(s.Rules) != 1 || s.Rules[0].DestinationRule == nil || len(s.Specs[0].Steps) != 2 {
		t.Fatalf("parsed %+v", s)
	}
	if st := s.Specs[0].Steps[1]; st.Client != "client-b" || st.By != "locality" || st.Expect["kr/b"] != 1 {
		t.Fatalf("send step %+v", st)
	}
}

// A valid multi-cluster scenario; the bad-input table's multi-cluster rows
// break one thing each.
const goodMultiCluster = `name: mc
topology:
  service: helloworld-svc
  clusters:
  - {name: cluster1, network: network1}
  - {name: cluster2, network: network2}
  mesh:
    clusterLocal: true
    localityLbSetting:
      enabled: true
      failover:
      - {from: kr, to: us}
  workloads:
  - {name: zone-a, locality: kr/a, replicas: 3, cluster: cluster1}
  - {name: zone-b, locality: us/b, replicas: 3, cluster: cluster2}
  clients:
  - {name: client-a, locality: kr/a, cluster: cluster1}
specs:
- it: stays in cluster1
  steps:
  - send: {by: cluster, expect: {cluster1: 1, cluster2: 0}}
`

// A zone aware topology: a mesh-wide zoneAwareLbSetting and self-discovering
// clients of their own Service.
const goodZoneAware = `name: za
topology:
  service: helloworld-svc
  mesh:
    zoneAwareLbSetting:
      minClusterSize: 4
  workloads:
  - {name: zone-a, locality: kr/a, replicas: 2}
  - {name: zone-b, locality: kr/b, replicas: 2}
  clients:
  - {name: sleep-a, locality: kr/a, service: sleep, selfDiscovery: true}
  - {name: sleep-b, locality: kr/b, service: sleep, selfDiscovery: true}
specs:
- it: stays in kr/a
  steps:
  - send: {client: sleep-a, expect: {kr/a: 1, kr/b: 0}}
`

func TestGoodZoneAwareScenario(t *testing.T) {
	s, err := scenario.Load(write(t, t.TempDir(), "s.yaml", goodZoneAware))
	if err != nil {
		t.Fatal(err)
	}
	topo := s.Topology
	if za := topo.Mesh.ZoneAwareLbSetting; za.GetMinClusterSize().GetValue() != 4 || za.GetEnabled() != nil {
		t.Errorf("mesh zoneAwareLbSetting %v", za)
	}
	if c := topo.Clients[1]; c.Service != "sleep" || !c.SelfDiscovery || !topo.SelfDiscovery() {
		t.Errorf("clients %+v", topo.Clients)
	}
	// node: on workloads and clients (Workload.Node, Client.Node).
	s, err = scenario.Load(write(t, t.TempDir(), "s.yaml", strings.Replace(strings.Replace(goodZoneAware,
		"replicas: 2}\n  - {name: zone-b", "replicas: 2, node: n1}\n  - {name: zone-b", 1),
		"{name: sleep-a, locality: kr/a,", "{name: sleep-a, locality: kr/a, node: n1,", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if s.Topology.Workloads[0].Node != "n1" || s.Topology.Clients[0].Node != "n1" {
		t.Errorf("nodes: workloads %+v clients %+v", s.Topology.Workloads, s.Topology.Clients)
	}
}

func TestGoodMultiClusterScenario(t *testing.T) {
	s, err := scenario.Load(write(t, t.TempDir(), "s.yaml", goodMultiCluster))
	if err != nil {
		t.Fatal(err)
	}
	topo := s.Topology
	if want := []topology.Cluster{{Name: "cluster1", Network: "network1"}, {Name: "cluster2", Network: "network2"}}; len(topo.Clusters) != 2 || topo.Clusters[0] != want[0] || topo.Clusters[1] != want[1] {
		t.Errorf("clusters %+v, want %+v", topo.Clusters, want)
	}
	if topo.Workloads[0].Cluster != "cluster1" || topo.Workloads[1].Cluster != "cluster2" || topo.Clients[0].Cluster != "cluster1" {
		t.Errorf("placements: workloads %+v, clients %+v", topo.Workloads, topo.Clients)
	}
	wantLB := &networkingapi.LocalityLoadBalancerSetting{
		Enabled:  wrapperspb.Bool(true),
		Failover: []*networkingapi.LocalityLoadBalancerSetting_Failover{{From: "kr", To: "us"}},
	}
	if !topo.Mesh.ClusterLocal || !proto.Equal(topo.Mesh.LocalityLbSetting, wantLB) {
		t.Errorf("mesh %+v, want clusterLocal and %v", topo.Mesh, wantLB)
	}
	if st := s.Specs[0].Steps[0]; st.By != steps.ByCluster || st.Expect["cluster1"] != 1 || len(st.Expect) != 2 {
		t.Errorf("send step %+v", st)
	}

	// proto field names (snake_case) are accepted as protojson takes them,
	// and a namespace is kept.
	s, err = scenario.Load(write(t, t.TempDir(), "s.yaml", strings.Replace(strings.Replace(goodMultiCluster,
		"failover:\n      - {from: kr, to: us}", "failover_priority: [topology.istio.io/network]", 1),
		"service: helloworld-svc", "service: helloworld-svc\n  namespace: sample", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if fp := s.Topology.Mesh.LocalityLbSetting.GetFailoverPriority(); len(fp) != 1 || fp[0] != "topology.istio.io/network" || s.Topology.Namespace != "sample" {
		t.Errorf("failoverPriority %v, namespace %q", fp, s.Topology.Namespace)
	}
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBadScenarioFiles(t *testing.T) {
	sendStep := "  - send: {expect: {kr/b: 1}}\n"
	// topology.MaxClients+1 clients, one a line after client-b (line 8).
	var tooManyClients strings.Builder
	for i := 1; i <= topology.MaxClients; i++ {
		fmt.Fprintf(&tooManyClients, "  - {name: client-%d, locality: kr/b}\n", i)
	}
	cases := []struct {
		name     string
		scenario string // written as s.yaml
		rule     string // written as rules/dr.yaml (goodRule if empty)
		want     string // the error, with s.yaml's folder as DIR
	}{
		{"empty file", "", "",
			"DIR/s.yaml:1: empty file: write a scenario: name, topology, rules, specs"},
		{"not YAML", "name: [x\n", "",
			"DIR/s.yaml:1: not valid YAML: line 1: did not find expected ',' or ']': fix the YAML syntax"},
		{"two documents", good + "---\nname: again\n", "",
			"DIR/s.yaml:17: a second YAML document: put one scenario per file"},
		{"unknown top-level field", strings.Replace(good, "name: ok", "name: ok\ndescription: x", 1), "",
			"DIR/s.yaml:2: description: unknown field: use one of: name, labels, topology, rules, specs"},
		{"misspelled field", strings.Replace(good, "replicas: 3}\n  - {name: zone-b", "Replicas: 3}\n  - {name: zone-b", 1), "",
			"DIR/s.yaml:5: topology.workloads[0].Replicas: unknown field: did you mean replicas? (fields are case-sensitive)"},
		{"bad locality", strings.Replace(good, "locality: kr/a,", "locality: kr//a,", 1), "",
			`DIR/s.yaml:5: topology.workloads[0].locality: locality "kr//a" has an empty segment 2: want region[/zone[/subzone]]: write region/zone[/subzone], each part a Kubernetes label value, e.g. kr/a`},
		{"locality with a space", strings.Replace(good, "locality: kr/b}\nrules", "locality: kr/b c}\nrules", 1), "",
			`DIR/s.yaml:8: topology.clients[0].locality: locality Zone "b c" is not a valid Kubernetes label value: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?'): write region/zone[/subzone], each part a Kubernetes label value, e.g. kr/a`},
		{"duplicate workload", strings.Replace(good, "name: zone-b", "name: zone-a", 1), "",
			`DIR/s.yaml:6: topology.workloads[1]: topology "s": Workloads[1].Name "zone-a" is used twice: names must be unique`},
		{"negative replicas", strings.Replace(good, "replicas: 3}\n  - {name: zone-b", "replicas: -1}\n  - {name: zone-b", 1), "",
			"DIR/s.yaml:5: topology.workloads[0].replicas: -1 is out of range: write a number from 0 to 1000"},
		{"replicas above the cap", strings.Replace(good, "replicas: 3}\n  - {name: zone-b", "replicas: 1001}\n  - {name: zone-b", 1), "",
			"DIR/s.yaml:5: topology.workloads[0].replicas: 1001 is out of range: write a number from 0 to 1000"},
		{"workloads together above the replica cap", strings.Replace(good, "replicas: 3}\n  - {name: zone-b, locality: kr/b, replicas: 3}", "replicas: 600}\n  - {name: zone-b, locality: kr/b, replicas: 600}", 1), "",
			`DIR/s.yaml:6: topology.workloads[1]: topology "s": Workloads[1] (zone-b).Replicas 600 brings the topology to 1200 workload pods: at most topology.MaxReplicas (1000) are supported`},
		{"scale step above the replica cap", strings.Replace(good, sendStep, "  - scale: {workload: zone-a, replicas: 998}\n"+sendStep, 1), "",
			"DIR/s.yaml:15: specs[0].steps[1].scale.replicas: 998 brings the topology to 1001 workload pods: at most topology.MaxReplicas (1000) are supported: scale other workloads down first"},
		{"more clients than the cap", strings.Replace(good, "  - {name: client-b, locality: kr/b}\n", "  - {name: client-b, locality: kr/b}\n"+tooManyClients.String(), 1), "",
			`DIR/s.yaml:8: topology.clients: topology "s": Clients has 51 client pods: at most topology.MaxClients (50) are supported; use one client per locality you send from`},
		{"shares do not sum to 1", strings.Replace(good, sendStep, "  - send: {expect: {kr/b: 0.6, kr/a: 0.3}}\n", 1), "",
			"DIR/s.yaml:15: specs[0].steps[1].send.expect: shares sum to 0.8999999999999999, not 1: fix the shares so they add up to 1 (100%)"},
		{"share as a percentage", strings.Replace(good, sendStep, "  - send: {expect: {kr/b: 100}}\n", 1), "",
			"DIR/s.yaml:15: specs[0].steps[1].send.expect.kr/b: share 100 is outside [0, 1]: write a share from 0 to 1 (0.25 means 25%, not 25)"},
		{"locality without workloads", strings.Replace(good, sendStep, "  - send: {expect: {kr/c: 1}}\n", 1), "",
			`DIR/s.yaml:15: specs[0].steps[1].send.expect: no workload of the topology is in locality "kr/c": use one of: kr/a, kr/b`},
		{"unknown workload", strings.Replace(good, sendStep, sendStep+"  - scale: {workload: zone-c, replicas: 0}\n", 1), "",
			`DIR/s.yaml:16: specs[0].steps[2].scale.workload: unknown workload "zone-c": use one of the topology's workloads: zone-a, zone-b`},
		{"unknown client", strings.Replace(good, sendStep, "  - send: {client: client-a, expect: {kr/b: 1}}\n", 1), "",
			`DIR/s.yaml:15: specs[0].steps[1].send.client: unknown client "client-a": use one of the topology's clients: client-b`},
		{"bad duration", strings.Replace(good, sendStep, sendStep+"  - wait: 61\n", 1), "",
			"DIR/s.yaml:16: specs[0].steps[2].wait: is a number, want a duration: write a Go duration such as 61s, 1m30s or 500ms (a bare number has no unit)"},
		{"misspelled duration", strings.Replace(good, sendStep, sendStep+"  - wait: 61secs\n", 1), "",
			`DIR/s.yaml:16: specs[0].steps[2].wait: "61secs" is not a duration from 1ms to 1h0m0s: write a Go duration such as 61s, 1m30s or 500ms`},
		{"unknown step", strings.Replace(good, sendStep, sendStep+"  - sleep: 1s\n", 1), "",
			"DIR/s.yaml:16: specs[0].steps[2].sleep: unknown field: use one of: scale, break, heal, wait, warm, apply, expectEndpoints, send"},
		{"unknown fault", strings.Replace(good, sendStep, "  - break: {workload: zone-b, fault: 503}\n"+sendStep, 1), "",
			`DIR/s.yaml:15: specs[0].steps[1].break.fault: "503" is not a fault: use 5xx (answer 503), 500 or refuse (refuse connections); heal undoes it`},
		{"unknown response class", strings.Replace(good, sendStep, "  - send: {by: class, expect: {'503': 1}}\n", 1), "",
			`DIR/s.yaml:15: specs[0].steps[1].send.expect: "503" is not a response class: use one of: client-error, connect-failure, no-healthy-upstream, ok, other, server-error`},
		{"by pod with an unknown workload", strings.Replace(good, sendStep, "  - send: {by: pod, expect: {zone-c: 1}}\n", 1), "",
			`DIR/s.yaml:15: specs[0].steps[1].send.expect: unknown workload "zone-c": by: pod takes workload names (each share spread evenly over its pods): zone-a, zone-b`},
		{"by pod to a scaled-down workload", strings.Replace(good, sendStep, "  - scale: {workload: zone-b, replicas: 0}\n  - send: {by: pod, expect: {zone-b: 1}}\n", 1), "",
			`DIR/s.yaml:16: specs[0].steps[2].send.expect.zone-b: workload "zone-b" has 0 pods at this step but is expected to get 1: expect 0 for it, or scale it up first`},
		{"endpoint row for a missing locality", strings.Replace(good, "kr/a: {priority: 1, hosts: 3}", "us/a: {priority: 1, hosts: 3}", 1), "",
			`DIR/s.yaml:14: specs[0].steps[0].expectEndpoints.rows: no workload of the topology is in locality "us/a": use one of: kr/a, kr/b`},
		{"endpoint row with more healthy than hosts", strings.Replace(good, "kr/a: {priority: 1, hosts: 3}", "kr/a: {priority: 1, hosts: 3, healthy: 4}", 1), "",
			"DIR/s.yaml:14: specs[0].steps[0].expectEndpoints.rows.kr/a.healthy: 4 is out of range: write a number from 0 to 3"},
		{"unknown view", strings.Replace(good, "expectEndpoints: {rows", "expectEndpoints: {view: pilot, rows", 1), "",
			`DIR/s.yaml:14: specs[0].steps[0].expectEndpoints.view: "pilot" is not a view: use envoy (the client sidecar's table) or istiod (istiod's /debug/edsz)`},
		{"duplicate spec text", good + "- it: keeps traffic local\n  steps:\n" + sendStep, "",
			`DIR/s.yaml:16: specs[1].it: "keeps traffic local" is also the text of specs[0]: give every spec its own text (reports and fingerprints key on it)`},
		{"anchors", strings.Replace(good, "- {name: zone-a, locality: kr/a, replicas: 3}", "- &w {name: zone-a, locality: kr/a, replicas: 3}", 1), "",
			"DIR/s.yaml:5: YAML anchors and aliases are not supported: write the value out"},
		{"missing rule file", good, "-",
			"DIR/s.yaml:10: rules[0].file: stat DIR/rules/dr.yaml: no such file or directory: give a path relative to the scenario file's folder"},
		{"rule file nested 20,000 levels deep", good, "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n",
			"DIR/s.yaml:10: rules[0].file: DIR/rules/dr.yaml is nested too deep for YAML (more than 10000 levels): write the rule flat, as a DestinationRule or VirtualService is"},
		{"binary tag", strings.Replace(good, "name: ok", "name: !!binary aGVsbG8=", 1), "",
			"DIR/s.yaml:1: name: the YAML tag !!binary is not supported: write the value as plain YAML (strings, numbers, booleans, lists and mappings, without tags)"},
		{"custom tag", strings.Replace(good, "replicas: 3}\n  - {name: zone-b", "replicas: !int 3}\n  - {name: zone-b", 1), "",
			"DIR/s.yaml:5: topology.workloads[0].replicas: the YAML tag !int is not supported: write the value as plain YAML (strings, numbers, booleans, lists and mappings, without tags)"},
		{"wait below 1ms", strings.Replace(good, sendStep, sendStep+"  - wait: 1ns\n", 1), "",
			`DIR/s.yaml:16: specs[0].steps[2].wait: "1ns" is not a duration from 1ms to 1h0m0s: write a Go duration such as 61s, 1m30s or 500ms`},
		{"rule file larger than the tools' limit", good, "# " + strings.Repeat("x", scenario.MaxFileSize) + "\n",
			"DIR/s.yaml:10: rules[0].file: DIR/rules/dr.yaml is larger than 16 MiB: give a file the tools wrote or a smaller one: give a path relative to the scenario file's folder"},
		{"scenario file larger than the tools' limit", good + "# " + strings.Repeat("x", scenario.MaxFileSize) + "\n", "",
			"DIR/s.yaml is larger than 16 MiB: give a file the tools wrote or a smaller one"},
		{"send requests above the cap", strings.Replace(good, sendStep, "  - send: {requests: 100001, expect: {kr/b: 1}}\n", 1), "",
			"DIR/s.yaml:15: specs[0].steps[1].send.requests: 100001 is out of range: write a number from 1 to 100000"},
		{"rule file: unknown DestinationRule field", good, strings.Replace(goodRule, "outlierDetection:", "outlierDetections:", 1),
			`DIR/s.yaml:10: rules[0].file: DIR/rules/dr.yaml: unknown field "spec.trafficPolicy.outlierDetections": fix the spelling or remove it (see https://istio.io/latest/docs/reference/config/networking/destination-rule/)`},
		{"rule file: distribute weights not 100", good, goodRule + "    loadBalancer:\n      localityLbSetting:\n        distribute:\n        - from: kr/b/*\n          to: {\"kr/b/*\": 90}\n",
			`DIR/s.yaml:10: rules[0].file: DIR/rules/dr.yaml: DestinationRule "dr": trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: total locality weight 90 != 100: the weights of from "kr/b/*" must add up to exactly 100`},
		{"rule file: not a rule", good, "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n",
			`DIR/s.yaml:10: rules[0].file: kind is "Service": a rule is a networking.istio.io/v1 DestinationRule or VirtualService (or ` + "`file:`" + ` naming one)`},
		{"inline VirtualService with a bad retry", strings.Replace(good, "- file: rules/dr.yaml\n", "- apiVersion: networking.istio.io/v1\n  kind: VirtualService\n  metadata: {name: vs}\n  spec:\n    hosts: [helloworld-svc]\n    http:\n    - route: [{destination: {host: helloworld-svc}}]\n      retries: {attempts: -1}\n", 1), "",
			`DIR/s.yaml:10: rules[0]: VirtualService "vs": attempts cannot be negative`},
		{"inline rule with an unknown field", strings.Replace(good, "- file: rules/dr.yaml\n", "- apiVersion: networking.istio.io/v1\n  kind: DestinationRule\n  metadata: {name: dr}\n  spec: {host: h, trafficPolicy: {loadbalancer: {}}}\n", 1), "",
			`DIR/s.yaml:10: rules[0]: unknown field "spec.trafficPolicy.loadbalancer": fix the spelling or remove it (see https://istio.io/latest/docs/reference/config/networking/destination-rule/)`},
		{"file and inline fields together", strings.Replace(good, "- file: rules/dr.yaml\n", "- file: rules/dr.yaml\n  kind: DestinationRule\n", 1), "",
			"DIR/s.yaml:10: rules[0]: has `file:` and other fields: give either `file: path` alone or the rule inline"},
		{"cluster on a topology without clusters", strings.Replace(good, "replicas: 3}\n  - {name: zone-b", "replicas: 3, cluster: cluster1}\n  - {name: zone-b", 1), "",
			`DIR/s.yaml:5: topology.workloads[0].cluster: is "cluster1" but topology.clusters declares no clusters: declare the clusters in topology.clusters, or leave cluster out for one cluster`},
		{"unknown cluster of a workload", strings.Replace(goodMultiCluster, "replicas: 3, cluster: cluster2}", "replicas: 3, cluster: cluster3}", 1), "",
			`DIR/s.yaml:15: topology.workloads[1].cluster: unknown cluster "cluster3": use one of the topology's clusters: cluster1, cluster2`},
		{"unknown cluster of a client", strings.Replace(goodMultiCluster, "locality: kr/a, cluster: cluster1}\nspecs", "locality: kr/a, cluster: cluster3}\nspecs", 1), "",
			`DIR/s.yaml:17: topology.clients[0].cluster: unknown cluster "cluster3": use one of the topology's clusters: cluster1, cluster2`},
		{"network on some clusters only", strings.Replace(goodMultiCluster, "{name: cluster2, network: network2}", "{name: cluster2}", 1), "",
			`DIR/s.yaml:6: topology.clusters[1].network: is missing while topology.clusters[0] (cluster1) is on network "network1": name a network for every cluster, or for none (one flat network)`},
		{"empty network", strings.Replace(goodMultiCluster, "network: network2}", "network: ''}", 1), "",
			"DIR/s.yaml:6: topology.clusters[1].network: is empty: name the cluster's network, e.g. network: network1, or leave network out on every cluster"},
		{"duplicate cluster", strings.Replace(goodMultiCluster, "{name: cluster2, network: network2}", "{name: cluster1, network: network2}", 1), "",
			`DIR/s.yaml:6: topology.clusters[1].name: "cluster1" is also the name of topology.clusters[0]: give every cluster its own name`},
		{"bad cluster name", strings.Replace(goodMultiCluster, "{name: cluster2, network: network2}", "{name: Cluster2, network: network2}", 1), "",
			`DIR/s.yaml:6: topology.clusters[1].name: "Cluster2" is not a valid cluster name (a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')): use lower-case letters, digits and '-', at most 63 characters, e.g. cluster1`},
		{"unknown cluster field", strings.Replace(goodMultiCluster, "{name: cluster2, network: network2}", "{name: cluster2, net: network2}", 1), "",
			"DIR/s.yaml:6: topology.clusters[1].net: unknown field: use one of: name, network"},
		{"network not a label value", strings.Replace(goodMultiCluster, "network: network2}", "network: net/2}", 1), "",
			`DIR/s.yaml:6: topology.clusters[1]: topology "s": Clusters[1] (cluster2).Network "net/2" is not a valid label value (a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')): it becomes the topology.istio.io/network label`},
		{"bad namespace", strings.Replace(goodMultiCluster, "service: helloworld-svc", "service: helloworld-svc\n  namespace: Sample", 1), "",
			`DIR/s.yaml:4: topology.namespace: topology "s": Namespace "Sample" is not a valid Kubernetes name (a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')): use lower-case letters, digits and '-', at most 63 characters`},
		{"unknown mesh field", strings.Replace(goodMultiCluster, "clusterLocal: true", "clusterlocal: true", 1), "",
			"DIR/s.yaml:8: topology.mesh.clusterlocal: unknown field: did you mean clusterLocal? (fields are case-sensitive)"},
		{"clusterLocal not a boolean", strings.Replace(goodMultiCluster, "clusterLocal: true", "clusterLocal: yes", 1), "",
			`DIR/s.yaml:8: topology.mesh.clusterLocal: is the string "yes", want true or false: write clusterLocal: true to keep every client's traffic in its own cluster`},
		{"localityLbSetting: misspelt field", strings.Replace(goodMultiCluster, "failover:\n", "failOver:\n", 1), "",
			"DIR/s.yaml:11: topology.mesh.localityLbSetting.failOver: unknown field: did you mean failover? (fields are case-sensitive) (see https://istio.io/latest/docs/reference/config/networking/destination-rule/#LocalityLoadBalancerSetting)"},
		{"localityLbSetting: unknown nested field", strings.Replace(goodMultiCluster, "{from: kr, to: us}", "{from: kr, too: us}", 1), "",
			"DIR/s.yaml:12: topology.mesh.localityLbSetting.failover[0].too: unknown field: use one of: from, to (see https://istio.io/latest/docs/reference/config/networking/destination-rule/#LocalityLoadBalancerSetting)"},
		{"localityLbSetting: field given twice", strings.Replace(goodMultiCluster, "enabled: true\n", "enabled: true\n      enabled: false\n", 1), "",
			"DIR/s.yaml:11: topology.mesh.localityLbSetting.enabled: is given twice: give each field once"},
		{"localityLbSetting: wrong type", strings.Replace(goodMultiCluster, "enabled: true\n", "enabled: maybe\n", 1), "",
			`DIR/s.yaml:10: topology.mesh.localityLbSetting: invalid value for bool field value: "maybe": write the values as in a DestinationRule (see https://istio.io/latest/docs/reference/config/networking/destination-rule/#LocalityLoadBalancerSetting)`},
		{"localityLbSetting: not a mapping", strings.Replace(goodMultiCluster, "localityLbSetting:\n      enabled: true\n      failover:\n      - {from: kr, to: us}\n", "localityLbSetting: true\n", 1), "",
			"DIR/s.yaml:9: topology.mesh.localityLbSetting: is a boolean, want a mapping: write it as a DestinationRule's trafficPolicy.loadBalancer.localityLbSetting, e.g. {enabled: true, failover: [{from: kr, to: us}]}"},
		{"localityLbSetting: Istio rejects it", strings.Replace(goodMultiCluster, "{from: kr, to: us}", "{from: kr, to: kr}", 1), "",
			`DIR/s.yaml:10: topology.mesh.localityLbSetting: topology "s": Mesh.LocalityLbSetting (meshConfig.localityLbSetting): locality lb failover settings must specify different regions: fix it as you would a DestinationRule's localityLbSetting`},
		{"localityLbSetting: distribute weights not 100", strings.Replace(goodMultiCluster, "failover:\n      - {from: kr, to: us}", "distribute:\n      - {from: kr/a/*, to: {\"kr/a/*\": 90}}", 1), "",
			`DIR/s.yaml:10: topology.mesh.localityLbSetting: topology "s": Mesh.LocalityLbSetting (meshConfig.localityLbSetting): total locality weight 90 != 100: fix it as you would a DestinationRule's localityLbSetting`},
		{"zoneAwareLbSetting: misspelt field", strings.Replace(goodZoneAware, "minClusterSize: 4", "minClusterSise: 4", 1), "",
			"DIR/s.yaml:6: topology.mesh.zoneAwareLbSetting.minClusterSise: unknown field: use one of: enabled, failover, failoverPriority, minClusterSize (see https://istio.io/latest/docs/reference/config/networking/destination-rule/#ZoneAwareLoadBalancerSetting)"},
		{"zoneAwareLbSetting: wrong type", strings.Replace(goodZoneAware, "minClusterSize: 4", "minClusterSize: many", 1), "",
			`DIR/s.yaml:6: topology.mesh.zoneAwareLbSetting: invalid value for uint32 field value: "many": write the values as in a DestinationRule (see https://istio.io/latest/docs/reference/config/networking/destination-rule/#ZoneAwareLoadBalancerSetting)`},
		{"zoneAwareLbSetting: not a mapping", strings.Replace(goodZoneAware, "zoneAwareLbSetting:\n      minClusterSize: 4\n", "zoneAwareLbSetting: true\n", 1), "",
			"DIR/s.yaml:5: topology.mesh.zoneAwareLbSetting: is a boolean, want a mapping: write it as a DestinationRule's trafficPolicy.loadBalancer.zoneAwareLbSetting, e.g. {enabled: true, minClusterSize: 6}"},
		{"zoneAwareLbSetting: Istio rejects a zone label in failoverPriority", strings.Replace(goodZoneAware, "minClusterSize: 4", "failoverPriority: [topology.kubernetes.io/zone]", 1), "",
			`DIR/s.yaml:6: topology.mesh.zoneAwareLbSetting: topology "s": Mesh.ZoneAwareLbSetting (meshConfig.zoneAwareLbSetting): 'failover_priority' for zone aware lb must not use topology label 'topology.kubernetes.io/zone'; region- and zone-level routing are handled automatically: fix it as you would a DestinationRule's zoneAwareLbSetting`},
		{"selfDiscovery without a Service", strings.Replace(goodZoneAware, "{name: sleep-b, locality: kr/b, service: sleep, selfDiscovery: true}", "{name: sleep-b, locality: kr/b, selfDiscovery: true}", 1), "",
			`DIR/s.yaml:12: topology.clients[1]: topology "s": Clients[1] (sleep-b).SelfDiscovery is true but Service is empty: istiod serves a local_cluster only for a proxy that is a member of a Service; set Clients[1].Service (e.g. "sleep") or drop SelfDiscovery`},
		{"selfDiscovery not a boolean", strings.Replace(goodZoneAware, "service: sleep, selfDiscovery: true}\nspecs", "service: sleep, selfDiscovery: yes}\nspecs", 1), "",
			`DIR/s.yaml:12: topology.clients[1].selfDiscovery: is the string "yes", want true or false: write selfDiscovery: true to give the client's sidecar its local_cluster (zone aware routing; needs service)`},
		{"client Service named like the upstream Service", strings.Replace(goodZoneAware, "service: sleep, selfDiscovery: true}\nspecs", "service: helloworld-svc, selfDiscovery: true}\nspecs", 1), "",
			`DIR/s.yaml:12: topology.clients[1]: topology "s": Clients[1] (sleep-b).Service "helloworld-svc" is the upstream Service: clients need a Service of their own; pick another name`},
		{"rule file: localityLbSetting and zoneAwareLbSetting together", good, goodRule + "    loadBalancer:\n      localityLbSetting: {enabled: true}\n      zoneAwareLbSetting: {enabled: true}\n",
			`DIR/s.yaml:10: rules[0].file: DIR/rules/dr.yaml: DestinationRule "dr": trafficPolicy.loadBalancer: only one of localityLbSetting and zoneAwareLbSetting can be set: keep one: zoneAwareLbSetting (Envoy keeps traffic in the caller's zone as far as the callers' and upstreams' spread allows) or localityLbSetting (priorities or fixed weights by locality)`},
		{"node in two localities", strings.Replace(strings.Replace(goodZoneAware,
			"replicas: 2}\n  - {name: zone-b", "replicas: 2, node: n1}\n  - {name: zone-b", 1),
			"{name: sleep-b, locality: kr/b,", "{name: sleep-b, locality: kr/b, node: n1,", 1), "",
			`DIR/s.yaml:12: topology.clients[1]: topology "s": Clients[1] (sleep-b).Node "n1" is also the node of Workloads[0] (zone-a) in kr/a (cluster Kubernetes): a node has one locality and one cluster; name another node`},
		{"by cluster without clusters", strings.Replace(good, sendStep, "  - send: {by: cluster, expect: {Kubernetes: 1}}\n", 1), "",
			"DIR/s.yaml:15: specs[0].steps[1].send.by: is cluster but topology.clusters declares no clusters: declare the clusters in topology.clusters, or use by: locality"},
		{"by cluster with an unknown cluster", strings.Replace(goodMultiCluster, "{cluster1: 1, cluster2: 0}", "{cluster1: 0.5, cluster3: 0.5}", 1), "",
			`DIR/s.yaml:21: specs[0].steps[0].send.expect: unknown cluster "cluster3": by: cluster takes the topology's clusters: cluster1, cluster2`},
		{"by cluster to a cluster without pods", strings.Replace(goodMultiCluster, "  - send: {by: cluster, expect: {cluster1: 1, cluster2: 0}}", "  - scale: {workload: zone-b, replicas: 0}\n  - send: {by: cluster, expect: {cluster1: 0, cluster2: 1}}", 1), "",
			`DIR/s.yaml:22: specs[0].steps[1].send.expect.cluster2: cluster "cluster2" has no workload pods at this step but is expected to get 1: expect 0 for it, or place a workload there (cluster: cluster2) or scale one up first`},
		{"no specs", strings.Split(good, "specs:")[0], "",
			"DIR/s.yaml:1: specs: is missing: add at least one spec: - it: \"...\" with its steps"},
		{"bad label", strings.Replace(good, "name: ok", "name: ok\nlabels: [\"a|b\"]", 1), "",
			`DIR/s.yaml:2: labels[0]: "a|b" is not a Ginkgo label: use letters, digits, ':', '-', '_' and '.', without &|!,()/ or spaces at either end`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			switch c.rule {
			case "-":
			case "":
				write(t, dir, "rules/dr.yaml", goodRule)
			default:
				write(t, dir, "rules/dr.yaml", c.rule)
			}
			path := write(t, dir, "s.yaml", c.scenario)
			s, err := scenario.Load(path)
			if err == nil {
				t.Fatalf("no error; parsed %+v", s)
			}
			got := strings.ReplaceAll(err.Error(), dir, "DIR")
			if got != c.want {
				t.Errorf("error\n got: %s\nwant: %s", got, c.want)
			}
		})
	}
}

// TestNonRegularFiles: a FIFO (or device, or folder) named as a rule file
// or lying in a scenario folder is refused at once, never read (a read of
// a FIFO blocks until a writer comes).
func TestNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "rules/dr.yaml", goodRule)
	s := write(t, dir, "sub/s.yaml", strings.Replace(good, "file: rules/dr.yaml", "file: ../fifo.yaml", 1))
	dev := write(t, dir, "sub2/s.yaml", strings.Replace(good, "file: rules/dr.yaml", "file: /dev/zero", 1))
	for _, c := range []struct {
		name string
		load func() error
		want string
	}{
		{"FIFO as rule file", func() error { _, err := scenario.Load(s); return err },
			"DIR/sub/s.yaml:10: rules[0].file: DIR/fifo.yaml is a named pipe (FIFO), not a regular file: give the path of a file: give a path relative to the scenario file's folder"},
		{"device as rule file", func() error { _, err := scenario.Load(dev); return err },
			"DIR/sub2/s.yaml:10: rules[0].file: /dev/zero is a device, not a regular file: give the path of a file: give a path relative to the scenario file's folder"},
		{"FIFO in a scenario folder", func() error { _, err := scenario.LoadDir(dir); return err },
			"DIR/fifo.yaml is a named pipe (FIFO), not a regular file: give the path of a file"},
		{"FIFO as scenario file", func() error { _, err := scenario.Load(filepath.Join(dir, "fifo.yaml")); return err },
			"DIR/fifo.yaml is a named pipe (FIFO), not a regular file: give the path of a file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- c.load() }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("no error")
				}
				if got := strings.ReplaceAll(err.Error(), dir, "DIR"); got != c.want {
					t.Errorf("error\n got: %s\nwant: %s", got, c.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("blocked reading a FIFO")
			}
		})
	}
}
