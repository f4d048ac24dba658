package scenario

// This file owns specs and their steps (scale, break, heal, wait, warm,
// apply, expectEndpoints, send), converted to Steps and checked against
// the topology as it stands at each step.

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/localitylb/locality-e2e/framework/endpoints"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/topology"
	"github.com/localitylb/locality-e2e/framework/traffic"
)

func (p *parser) spec(n *yaml.Node, field string) (*Spec, error) {
	m, err := p.mapping(n, field, "it", "steps")
	if err != nil {
		return nil, err
	}
	sp := &Spec{Line: n.Line}
	if sp.It, err = p.requiredString(n, m, field, "it", "describe what the spec proves, e.g. it: \"keeps every request in kr/b\""); err != nil {
		return nil, err
	}
	sn := m["steps"]
	if sn == nil {
		return nil, p.err(n, field+".steps", "is missing", "list the spec's steps (scale, break, heal, wait, warm, apply, expectEndpoints, send)")
	}
	items, err := p.sequence(sn, field+".steps")
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, p.err(sn, field+".steps", "is empty", "list the spec's steps (scale, break, heal, wait, warm, apply, expectEndpoints, send)")
	}
	for i, it := range items {
		st, err := p.step(it, fmt.Sprintf("%s.steps[%d]", field, i))
		if err != nil {
			return nil, err
		}
		sp.Steps = append(sp.Steps, *st)
	}
	return sp, nil
}

var stepKinds = []string{string(StepScale), string(StepBreak), string(StepHeal), string(StepWait), string(StepWarm), string(StepApply), string(StepExpectEndpoints), string(StepSend)}

func (p *parser) step(n *yaml.Node, field string) (*Step, error) {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return nil, p.err(n, field, "is not a step", "write one step per item, e.g. - scale: {workload: helloworld-zone-b, replicas: 0}; steps are "+strings.Join(stepKinds, ", "))
	}
	if _, err := p.mapping(n, field, stepKinds...); err != nil {
		return nil, err
	}
	kind, v := n.Content[0].Value, n.Content[1]
	field = join(field, kind)
	st := &Step{Kind: StepKind(kind), Line: n.Line}
	var err error
	switch st.Kind {
	case StepScale:
		m, err := p.mapping(v, field, "workload", "replicas")
		if err != nil {
			return nil, err
		}
		if st.Workload, err = p.workload(v, m, field); err != nil {
			return nil, err
		}
		if m["replicas"] == nil {
			return nil, p.err(v, field+".replicas", "is missing", "set the new number of pods, e.g. replicas: 0")
		}
		if st.Replicas, err = p.integer(m["replicas"], field+".replicas", 0, topology.MaxReplicas); err != nil {
			return nil, err
		}
		// The cap is on all workloads together, as Topology.Validate and
		// the embedded Mesh.Scale enforce it: refuse here, before a run
		// deploys the mesh only to fail at this step.
		total := st.Replicas
		for w, n := range p.replicas {
			if w != st.Workload {
				total += n
			}
		}
		if total > topology.MaxReplicas {
			return nil, p.err(m["replicas"], field+".replicas", fmt.Sprintf("%d brings the topology to %d workload pods: at most topology.MaxReplicas (%d) are supported", st.Replicas, total, topology.MaxReplicas), "scale other workloads down first")
		}
		p.replicas[st.Workload] = st.Replicas
	case StepBreak, StepHeal:
		allowed := []string{"workload", "pods"}
		if st.Kind == StepBreak {
			allowed = append(allowed, "fault")
		}
		m, err := p.mapping(v, field, allowed...)
		if err != nil {
			return nil, err
		}
		if st.Workload, err = p.workload(v, m, field); err != nil {
			return nil, err
		}
		st.Pods = -1
		if m["pods"] != nil {
			if st.Pods, err = p.integer(m["pods"], field+".pods", 1, topology.MaxReplicas); err != nil {
				return nil, err
			}
		}
		if st.Kind == StepBreak {
			if m["fault"] == nil {
				return nil, p.err(v, field+".fault", "is missing", "set fault: 5xx (503), 500 or refuse")
			}
			fn := m["fault"]
			if fn.Kind != yaml.ScalarNode || fn.Tag == "!!null" {
				return nil, p.err(fn, field+".fault", fmt.Sprintf("is %s", kindName(fn)), "set fault: 5xx (503), 500 or refuse")
			}
			switch mesh.Fault(fn.Value) {
			case mesh.Fail5xx, mesh.Fail500, mesh.RefuseConnections:
				st.Fault = mesh.Fault(fn.Value)
			default:
				return nil, p.err(fn, field+".fault", fmt.Sprintf("%q is not a fault", fn.Value), "use 5xx (answer 503), 500 or refuse (refuse connections); heal undoes it")
			}
		}
	case StepWait:
		s, err := p.str(v, field)
		if err == nil {
			st.Duration, err = time.ParseDuration(s)
			if err != nil || st.Duration < MinWait || st.Duration > MaxWait {
				err = p.err(v, field, fmt.Sprintf("%q is not a duration from %v to %v", s, MinWait, MaxWait), "write a Go duration such as 61s, 1m30s or 500ms")
			}
		} else {
			err = p.err(v, field, fmt.Sprintf("is %s, want a duration", kindName(v)), "write a Go duration such as 61s, 1m30s or 500ms (a bare number has no unit)")
		}
		if err != nil {
			return nil, err
		}
	case StepApply:
		if st.Rule, err = p.rule(v, field); err != nil {
			return nil, err
		}
	case StepWarm:
		m, err := p.mapping(v, field, "client", "requests")
		if err != nil {
			return nil, err
		}
		if st.Client, err = p.client(v, m, field); err != nil {
			return nil, err
		}
		if m["requests"] == nil {
			return nil, p.err(v, field+".requests", "is missing", "set how many warm-up requests to send, e.g. requests: 50")
		}
		if st.Requests, err = p.integer(m["requests"], field+".requests", 1, MaxRequests); err != nil {
			return nil, err
		}
	case StepExpectEndpoints:
		if err := p.expectEndpoints(v, field, st); err != nil {
			return nil, err
		}
	case StepSend:
		if err := p.send(v, field, st); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (p *parser) expectEndpoints(v *yaml.Node, field string, st *Step) error {
	m, err := p.mapping(v, field, "client", "view", "rows")
	if err != nil {
		return err
	}
	if st.Client, err = p.client(v, m, field); err != nil {
		return err
	}
	st.View = endpoints.Envoy
	if n := m["view"]; n != nil {
		s, err := p.str(n, field+".view")
		if err != nil {
			return err
		}
		switch endpoints.View(s) {
		case endpoints.Envoy, endpoints.Raw:
			st.View = endpoints.View(s)
		default:
			return p.err(n, field+".view", fmt.Sprintf("%q is not a view", s), "use envoy (the client sidecar's table) or istiod (istiod's /debug/edsz)")
		}
	}
	rn := m["rows"]
	if rn == nil {
		return p.err(v, field+".rows", "is missing", "give the expected table, locality: {priority, weight, hosts, healthy}; rows: {} expects no endpoints")
	}
	if rn.Kind != yaml.MappingNode {
		return p.err(rn, field+".rows", fmt.Sprintf("is %s, want a mapping", kindName(rn)), "write locality: {priority: 0, hosts: 3} lines; rows: {} expects no endpoints")
	}
	st.Rows = endpoints.Summary{}
	for i := 0; i+1 < len(rn.Content); i += 2 {
		k, rv := rn.Content[i], rn.Content[i+1]
		rf := field + ".rows"
		loc, err := p.workloadLocality(k, rf)
		if err != nil {
			return err
		}
		rf += "." + loc
		if _, dup := st.Rows[loc]; dup {
			return p.err(k, rf, "is given twice", "give each locality once")
		}
		rm, err := p.mapping(rv, rf, "priority", "weight", "hosts", "healthy")
		if err != nil {
			return err
		}
		if rm["priority"] == nil {
			return p.err(rv, rf+".priority", "is missing", "set the locality's priority, e.g. priority: 0")
		}
		if rm["hosts"] == nil {
			return p.err(rv, rf+".hosts", "is missing", "set the number of endpoints, e.g. hosts: 3")
		}
		prio, err := p.integer(rm["priority"], rf+".priority", 0, 127)
		if err != nil {
			return err
		}
		hosts, err := p.integer(rm["hosts"], rf+".hosts", 0, topology.MaxReplicas)
		if err != nil {
			return err
		}
		weight, healthy := steps.NoLocalityWeight, hosts
		if n := rm["weight"]; n != nil {
			if weight, err = p.integer(n, rf+".weight", 0, 1<<24); err != nil {
				return err
			}
		}
		if n := rm["healthy"]; n != nil {
			if healthy, err = p.integer(n, rf+".healthy", 0, hosts); err != nil {
				return err
			}
		}
		st.Rows[loc] = steps.RowHealthy(prio, weight, hosts, healthy)
	}
	return nil
}

// classes maps the names a scenario file may use for a response class.
var classes = map[string]string{
	"ok": traffic.ClassOK, "no-healthy-upstream": traffic.ClassNoHealthyUpstream,
	"connect-failure": traffic.ClassConnectFailure, "server-error": traffic.ClassServerError,
	"client-error": traffic.ClassClientError, "other": traffic.ClassOther,
}

func classNames() []string {
	var out []string
	for k := range classes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (p *parser) send(v *yaml.Node, field string, st *Step) error {
	m, err := p.mapping(v, field, "client", "requests", "by", "expect")
	if err != nil {
		return err
	}
	if st.Client, err = p.client(v, m, field); err != nil {
		return err
	}
	if n := m["requests"]; n != nil {
		if st.Requests, err = p.integer(n, field+".requests", 1, MaxRequests); err != nil {
			return err
		}
	}
	st.By = steps.ByLocality
	if n := m["by"]; n != nil {
		s, err := p.str(n, field+".by")
		if err != nil {
			return err
		}
		switch s {
		case "locality":
			st.By = steps.ByLocality
		case "pod":
			st.By = steps.ByPod
		case "class":
			st.By = steps.ByClass
		case "cluster":
			st.By = steps.ByCluster
			if len(p.topo.Clusters) == 0 {
				return p.err(n, field+".by", "is cluster but topology.clusters declares no clusters", "declare the clusters in topology.clusters, or use by: locality")
			}
		default:
			return p.err(n, field+".by", fmt.Sprintf("%q is not a bucketing", s), "use locality, pod (keys are workloads, each share spread over its pods), class or cluster")
		}
	}
	en := m["expect"]
	if en == nil {
		return p.err(v, field+".expect", "is missing", "give the expected split, bucket: share, shares summing to 1")
	}
	if en.Kind != yaml.MappingNode || len(en.Content) == 0 {
		return p.err(en, field+".expect", fmt.Sprintf("is %s, want a mapping of bucket: share", kindName(en)), "e.g. expect: {kr/a: 0.9, kr/c: 0.1}")
	}
	st.Expect = split.Expected{}
	sum := 0.0
	for i := 0; i+1 < len(en.Content); i += 2 {
		k, sv := en.Content[i], en.Content[i+1]
		ef := field + ".expect"
		var bucket string
		switch st.By {
		case steps.ByLocality:
			if bucket, err = p.workloadLocality(k, ef); err != nil {
				return err
			}
		case steps.ByPod:
			if bucket, err = p.str(k, ef); err != nil {
				return err
			}
			if _, ok := p.replicas[bucket]; !ok {
				return p.err(k, ef, fmt.Sprintf("unknown workload %q", bucket), "by: pod takes workload names (each share spread evenly over its pods): "+strings.Join(p.workloadNames(), ", "))
			}
		case steps.ByClass:
			name, err := p.str(k, ef)
			if err != nil {
				return err
			}
			c, ok := classes[name]
			if !ok {
				return p.err(k, ef, fmt.Sprintf("%q is not a response class", name), "use one of: "+strings.Join(classNames(), ", "))
			}
			bucket = c
		case steps.ByCluster:
			if bucket, err = p.str(k, ef); err != nil {
				return err
			}
			if !contains(clusterNames(p.topo.Clusters), bucket) {
				return p.err(k, ef, fmt.Sprintf("unknown cluster %q", bucket), "by: cluster takes the topology's clusters: "+strings.Join(clusterNames(p.topo.Clusters), ", "))
			}
		}
		ef += "." + k.Value
		if _, dup := st.Expect[bucket]; dup {
			return p.err(k, ef, "is given twice", "give each bucket once")
		}
		share, err := p.share(sv, ef)
		if err != nil {
			return err
		}
		if st.By == steps.ByPod && share > 0 && p.replicas[bucket] == 0 {
			return p.err(k, ef, fmt.Sprintf("workload %q has 0 pods at this step but is expected to get %v", bucket, share), "expect 0 for it, or scale it up first")
		}
		if st.By == steps.ByCluster && share > 0 && p.clusterPods(bucket) == 0 {
			return p.err(k, ef, fmt.Sprintf("cluster %q has no workload pods at this step but is expected to get %v", bucket, share), "expect 0 for it, or place a workload there (cluster: "+bucket+") or scale one up first")
		}
		st.Expect[bucket] = share
		sum += share
	}
	if math.Abs(sum-1) > 1e-9 {
		return p.err(en, field+".expect", fmt.Sprintf("shares sum to %s, not 1", strconv.FormatFloat(sum, 'f', -1, 64)), "fix the shares so they add up to 1 (100%)")
	}
	return nil
}
