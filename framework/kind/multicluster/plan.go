package multicluster

// The ordered steps of a multi-cluster setup (Plan), as data
// that runMultiCluster executes and make e2e-multicluster-plan prints.

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/topology"
	"sigs.k8s.io/yaml"
)

// mcOp is what the executor does for a step.
type mcOp int

const (
	opCreateCluster mcOp = iota // kind API: create the cluster from Content
	opFacts                     // read the nodes' InternalIP and podCIDR (client-go), the kind network's subnets (Argv)
	opRun                       // run Argv (after writing File when Content is set; Stdout to a file when set)
	opWorkloadImage             // build the workload image and load it into every node (WorkloadImagePlan)
	opCheckIstioctl             // run Argv and check the istioctl version
	opNamespace                 // client-go: create istio-system (Content)
	opCACerts                   // client-go: create the cacerts secret from the generated CA
	opWaitIstiod                // poll istiod ready
	opWaitGatewayIP             // poll the east-west gateway Service's LoadBalancer address
	opGateway                   // istio client-go: create the cross-network Gateway (Content)
)

// Step is one step of the multi-cluster setup.
type Step struct {
	// Cluster is the declared cluster the step acts on ("" for all).
	Cluster string
	What    string
	// Argv is the command run, nil for a step done through the kind or
	// Kubernetes API.
	Argv []string
	// File is written with Content before Argv runs; for an API step
	// Content is the object or config, as YAML.
	File    string
	Content []byte
	// Stdout is the file Argv's standard output goes to.
	Stdout string
	// Retry, when set, reruns a failing Argv every RetryEvery for at most
	// Retry before the step fails.
	Retry, RetryEvery time.Duration

	op mcOp
}

// PlanInput is what the plan is a pure function of.
type PlanInput struct {
	Config  kind.Config
	Options Options
	// Topology is Topology's merge (clusters and nodes);
	// Topologies are the topologies it merged.
	Topology   topology.Topology
	Topologies []topology.Topology
	// Facts are the addresses read once the clusters exist; nil: the
	// plan shows <placeholders> (what the printer shows).
	Facts *Facts
}

// Plan lists, in order, every step Prepare runs:
//
//  1. create one kind cluster per declared cluster (KindConfigs);
//  2. read the nodes' addresses and pod CIDRs, and the kind network's subnets;
//  3. for every pair of clusters on one network, routes between their nodes
//     (connect_kind_clusters);
//  4. build and load the workload image into every node;
//  5. check istioctl; then per cluster: istio-system (network label), the
//     cacerts secret from one generated root, istioctl install of the
//     cluster's IstioOperator, istiod ready;
//  6. on several networks, per cluster: MetalLB and its address pool
//     (install_metallb), the east-west gateway, its LoadBalancer address,
//     the cross-network Gateway;
//  7. remote secrets: every cluster's secret applied in every other.
func Plan(in PlanInput) ([]Step, error) {
	cfg, o, topo := in.Config, in.Options, in.Topology
	facts := in.Facts
	if facts == nil {
		facts = placeholderFacts(cfg, topo)
	}
	dir := multiClusterDir(cfg, o)
	kcs := KindConfigs(cfg, topo)
	var steps []Step
	kubeconfig := func(c string) string { return kind.KubeconfigPath(KindClusterName(cfg.ClusterName, c)) }

	// 1. clusters (setup_kind_clusters: deploy_kind per cluster)
	for i, kc := range kcs {
		b, err := yaml.Marshal(kc)
		if err != nil {
			return nil, fmt.Errorf("kind config of %s: %w", kc.Name, err)
		}
		pod, svc := ClusterSubnets(i)
		steps = append(steps, Step{
			Cluster: topo.Clusters[i].Name, op: opCreateCluster, Content: b,
			What: fmt.Sprintf("create kind cluster %s (kind API, %d workers, podSubnet %s, serviceSubnet %s, Docker network %s, kubeconfig %s)",
				kc.Name, len(kc.Nodes)-1, pod, svc, KindNetwork, kubeconfig(topo.Clusters[i].Name)),
		})
	}
	// 2. facts
	factsStep := Step{op: opFacts, What: "read every node's InternalIP (its address on the kind network) and spec.podCIDR (client-go)"}
	if topo.MultiNetwork() {
		factsStep.What += ", and the kind network's subnets for MetalLB"
		factsStep.Argv = DockerNetworkSubnetsArgs()
	}
	steps = append(steps, factsStep)

	// 3. routes between the clusters of one network (connect_kind_clusters).
	// Upstream's clusters are a single node each, so it routes the other
	// cluster's pod CIDR via its control plane; with workers, every node
	// of one cluster gets a route to every node's pod CIDR of the other
	// (via that node), and to the other's service subnet via its control
	// plane (kube-proxy there translates service addresses).
	for i := range topo.Clusters {
		for j := i + 1; j < len(topo.Clusters); j++ {
			a, b := topo.Clusters[i], topo.Clusters[j]
			if a.Network != b.Network {
				continue
			}
			for _, pair := range [][2]int{{i, j}, {j, i}} {
				from, to := topo.Clusters[pair[0]].Name, topo.Clusters[pair[1]].Name
				_, svc := ClusterSubnets(pair[1])
				toNodes := facts.Nodes[to]
				if len(toNodes) == 0 {
					return nil, fmt.Errorf("no node facts for cluster %s", to)
				}
				for _, n := range facts.Nodes[from] {
					for _, m := range toNodes {
						steps = append(steps, Step{Cluster: from, op: opRun, What: fmt.Sprintf("route %s's pods on %s to %s", to, m.Name, n.Name), Argv: IPRouteArgs(n.Name, m.PodCIDR, m.IP)})
					}
					steps = append(steps, Step{Cluster: from, op: opRun, What: fmt.Sprintf("route %s's services to %s", to, n.Name), Argv: IPRouteArgs(n.Name, svc, toNodes[0].IP)})
				}
			}
		}
	}
	// 4. workload image
	if cfg.BuildsWorkloadImage() {
		var all []string
		for _, c := range topo.Clusters {
			for _, n := range facts.Nodes[c.Name] {
				all = append(all, n.Name)
			}
		}
		steps = append(steps, Step{op: opWorkloadImage,
			What: fmt.Sprintf("build %s and load it into %d nodes (make e2e-plan shows the commands): %s", kind.BuiltinWorkloadImage, len(all), strings.Join(all, " "))})
	}
	// 5. Istio per cluster
	steps = append(steps, Step{op: opCheckIstioctl, What: "check istioctl is " + cfg.IstioVersion, Argv: kind.IstioctlVersionArgs(cfg.IstioctlPath)})
	mc := MeshConfig()
	for _, c := range topo.Clusters {
		kc := kubeconfig(c.Name)
		nsYAML, err := yaml.Marshal(IstioSystemNamespace(c.Network))
		if err != nil {
			return nil, err
		}
		what := "create namespace " + kind.IstioNamespace
		if c.Network != "" {
			what += " labelled " + topology.LabelNetwork + "=" + c.Network
		}
		steps = append(steps, Step{Cluster: c.Name, op: opNamespace, What: what + " (client-go)", Content: nsYAML})
		steps = append(steps, Step{Cluster: c.Name, op: opCACerts,
			What: fmt.Sprintf("create secret %s/%s (client-go): ca-cert.pem, ca-key.pem of an intermediate CA (L=%s) signed by the run's root CA, root-cert.pem, cert-chain.pem (RSA %d, generated in process)", kind.IstioNamespace, CACertsSecret, c.Name, o.CAKeyBits)})
		iop, err := IstiodIstioOperator(cfg.IstioProfile, o.MeshID, c, mc)
		if err != nil {
			return nil, err
		}
		b, err := IstioOperatorYAML(iop)
		if err != nil {
			return nil, err
		}
		file := filepath.Join(dir, "istio-"+c.Name+".yaml")
		steps = append(steps, Step{Cluster: c.Name, op: opRun, What: "install istiod (multi-primary)", File: file, Content: b,
			Argv: IstioctlInstallFileArgs(cfg.IstioctlPath, kc, file, cfg.Timeouts.IstioInstall)})
		steps = append(steps, Step{Cluster: c.Name, op: opWaitIstiod, What: "wait for " + kind.IstioNamespace + "/" + kind.IstiodName + " ready (client-go)"})
	}
	// 6. east-west gateways on several networks
	if topo.MultiNetwork() {
		for i, c := range topo.Clusters {
			kc := kubeconfig(c.Name)
			steps = append(steps,
				Step{Cluster: c.Name, op: opRun, What: "install MetalLB", Argv: KubectlApplyArgs(o.Kubectl, kc, o.MetalLBManifest)},
				Step{Cluster: c.Name, op: opRun, What: "wait for MetalLB's controller", Argv: KubectlRolloutStatusArgs(o.Kubectl, kc, MetalLBNamespace, MetalLBController, MetalLBRolloutTimeout)},
				Step{Cluster: c.Name, op: opRun, What: "wait for MetalLB's speaker", Argv: KubectlRolloutStatusArgs(o.Kubectl, kc, MetalLBNamespace, MetalLBSpeaker, MetalLBRolloutTimeout)},
			)
			var addrs []string
			if in.Facts == nil {
				addrs = []string{fmt.Sprintf("<addresses %d-%d of the last 100 of hosts 1000-1999 of the kind network's IPv4 subnet>/32", 1+20*i, 20+20*i)}
			} else {
				var err error
				if addrs, err = MetalLBAddresses(facts.KindSubnets, i); err != nil {
					return nil, err
				}
			}
			objs := MetalLBPool(addrs)
			pool, err := multiDocYAML(objs[0], objs[1])
			if err != nil {
				return nil, err
			}
			poolFile := filepath.Join(dir, "metallb-"+c.Name+".yaml")
			// The pool goes through MetalLB's validating webhook, served by
			// the controller, which may not answer yet when its pod is
			// Ready (its certificate is written at start-up): retried.
			steps = append(steps, Step{Cluster: c.Name, op: opRun, What: "MetalLB address pool", File: poolFile, Content: pool, Argv: KubectlApplyArgs(o.Kubectl, kc, poolFile),
				Retry: MetalLBPoolRetry, RetryEvery: MetalLBPoolRetryEvery})
			ew, err := EastWestIstioOperator(c.Network)
			if err != nil {
				return nil, err
			}
			b, err := IstioOperatorYAML(ew)
			if err != nil {
				return nil, err
			}
			ewFile := filepath.Join(dir, "eastwest-"+c.Name+".yaml")
			steps = append(steps,
				Step{Cluster: c.Name, op: opRun, What: "install the east-west gateway of " + c.Network, File: ewFile, Content: b,
					Argv: IstioctlInstallFileArgs(cfg.IstioctlPath, kc, ewFile, cfg.Timeouts.IstioInstall)},
				Step{Cluster: c.Name, op: opWaitGatewayIP, What: "wait for a LoadBalancer address on " + kind.IstioNamespace + "/" + EastWestGateway + " (client-go)"},
			)
			gwObj, err := CrossNetworkGatewayObject()
			if err != nil {
				return nil, err
			}
			gw, err := yaml.Marshal(gwObj)
			if err != nil {
				return nil, err
			}
			steps = append(steps, Step{Cluster: c.Name, op: opGateway, What: "create Gateway " + kind.IstioNamespace + "/" + CrossNetworkGateway + " (istio client-go)", Content: gw})
		}
	}
	// 7. remote secrets: B's secret in every A ≠ B
	for _, b := range topo.Clusters {
		cp := facts.Nodes[b.Name]
		if len(cp) == 0 {
			return nil, fmt.Errorf("no node facts for cluster %s", b.Name)
		}
		server := fmt.Sprintf("https://%s:%d", cp[0].IP, apiServerPort)
		secret := filepath.Join(dir, "remote-secret-"+b.Name+".yaml")
		steps = append(steps, Step{Cluster: b.Name, op: opRun, What: "remote secret of " + b.Name, Stdout: secret,
			Argv: CreateRemoteSecretArgs(cfg.IstioctlPath, kubeconfig(b.Name), b.Name, server)})
		for _, a := range topo.Clusters {
			if a.Name == b.Name {
				continue
			}
			steps = append(steps, Step{Cluster: a.Name, op: opRun, What: "let " + a.Name + "'s istiod read " + b.Name, Argv: KubectlApplyArgs(o.Kubectl, kubeconfig(a.Name), secret)})
		}
	}
	return steps, nil
}

// FormatPlan prints the plan: one numbered line per step
// with its cluster, the argv, and every file or object it writes or
// creates, indented.
func FormatPlan(steps []Step) string {
	var b strings.Builder
	for i, s := range steps {
		where := ""
		if s.Cluster != "" {
			where = "[" + s.Cluster + "] "
		}
		fmt.Fprintf(&b, "%d. %s%s\n", i+1, where, s.What)
		if s.File != "" {
			fmt.Fprintf(&b, "   write %s:\n", s.File)
		}
		if len(s.Content) > 0 {
			for _, l := range strings.Split(strings.TrimRight(string(s.Content), "\n"), "\n") {
				fmt.Fprintf(&b, "     | %s\n", l)
			}
		}
		if s.Argv != nil {
			fmt.Fprintf(&b, "   $ %s", strings.Join(quoteArgs(s.Argv), " "))
			if s.Stdout != "" {
				fmt.Fprintf(&b, " > %s", s.Stdout)
			}
			b.WriteString("\n")
			if s.Retry > 0 {
				fmt.Fprintf(&b, "   (on failure, retried every %v for at most %v)\n", s.RetryEvery, s.Retry)
			}
		}
	}
	return b.String()
}

// quoteArgs quotes the arguments a shell would split, for reading only:
// the setup never runs a shell.
func quoteArgs(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"{}<>|&;$*?") {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			out[i] = a
		}
	}
	return out
}
