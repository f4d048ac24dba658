package kind

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	kindlog "sigs.k8s.io/kind/pkg/log"

	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// ClusterTopology merges topologies into one whose localities are the
// union of theirs (one workload per distinct locality), named name: what
// the suite's single cluster needs nodes for. Multi-cluster topologies
// are left out: they run on the multi-cluster setup.
func ClusterTopology(name string, topos []topology.Topology) topology.Topology {
	u := topology.Topology{Name: name, Service: "nodes"}
	seen := map[string]bool{}
	add := func(l locality.Locality) {
		if s := l.String(); !seen[s] {
			seen[s] = true
			u.Workloads = append(u.Workloads, topology.Workload{Name: fmt.Sprintf("node-%d", len(u.Workloads)+1), Locality: l, Replicas: 1})
		}
	}
	for _, t := range topos {
		if t.MultiCluster() {
			continue // deployed on the multi-cluster setup, never here
		}
		for _, w := range t.Workloads {
			add(w.Locality)
		}
		for _, c := range t.Clients {
			add(c.Locality)
		}
	}
	return u.WithDefaults()
}

// ClusterConfig is the kind config of the suite's cluster: a control
// plane and one labelled worker per locality of the topologies
// (topology.KindConfig), named cfg.ClusterName.
func ClusterConfig(cfg Config) *v1alpha4.Cluster {
	c := topology.KindConfig(ClusterTopology(cfg.ClusterName, cfg.topologies()), cfg.NodeImage)
	c.Name = cfg.ClusterName
	return c
}

// cluster is the cluster the backend runs on.
type cluster struct {
	name       string
	kubeconfig string
	provider   *kindcluster.Provider // nil for an existing kubeconfig
	created    bool                  // this run created it
	// exportLogs replaces provider.CollectLogs (kind export logs) in tests.
	exportLogs func(name, dir string) error
}

// kubeconfigPath is where a kind cluster's kubeconfig is written.
func kubeconfigPath(name string) string {
	return filepath.Join(os.TempDir(), "locality-e2e-"+name+".kubeconfig")
}

// ensureCluster creates the kind cluster, or reuses it when ReuseCluster is
// set and it exists. A cluster of that name that exists without
// ReuseCluster is an error: deleting or adopting it silently would surprise.
func ensureCluster(ctx context.Context, cfg Config, log io.Writer) (*cluster, error) {
	p := kindcluster.NewProvider(kindcluster.ProviderWithLogger(newKindLogger(log)))
	existing, err := p.List()
	if err != nil {
		return nil, fmt.Errorf("list kind clusters: %w", err)
	}
	c := &cluster{name: cfg.ClusterName, kubeconfig: kubeconfigPath(cfg.ClusterName), provider: p}
	if slices.Contains(existing, cfg.ClusterName) {
		if !cfg.ReuseCluster {
			return nil, fmt.Errorf("a kind cluster %q already exists: set %s=true to reuse it, %s to another name, or delete it (kind delete cluster --name %s)",
				cfg.ClusterName, EnvReuseCluster, EnvClusterName, cfg.ClusterName)
		}
		fmt.Fprintf(log, "kind: reusing cluster %q\n", cfg.ClusterName)
		kc, err := p.KubeConfig(cfg.ClusterName, false)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig of kind cluster %q: %w", cfg.ClusterName, err)
		}
		if err := os.WriteFile(c.kubeconfig, []byte(kc), 0o600); err != nil {
			return nil, fmt.Errorf("write kubeconfig: %w", err)
		}
		return c, nil
	}
	kc := ClusterConfig(cfg)
	fmt.Fprintf(log, "kind: creating cluster %q (%s, %d workers)\n", cfg.ClusterName, cfg.NodeImage, len(kc.Nodes)-1)
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		errc <- p.Create(cfg.ClusterName,
			kindcluster.CreateWithV1Alpha4Config(kc),
			kindcluster.CreateWithNodeImage(cfg.NodeImage),
			// waits for the control plane only and returns nil on timeout;
			// Prepare then waits for every node (NodesReady)
			kindcluster.CreateWithWaitForReady(cfg.Timeouts.ClusterCreate),
			kindcluster.CreateWithKubeconfigPath(c.kubeconfig),
			// keep the nodes of a failed creation so their logs can be collected
			kindcluster.CreateWithRetain(true),
			kindcluster.CreateWithDisplayUsage(false),
			kindcluster.CreateWithDisplaySalutation(false),
		)
	}()
	select {
	case err = <-errc:
	case <-ctx.Done():
		// kind's Create takes no context and cannot be stopped; leave it.
		return nil, fmt.Errorf("create kind cluster %q: %w; kind goes on in the background: delete the cluster afterwards (kind delete cluster --name %s)",
			cfg.ClusterName, ctx.Err(), cfg.ClusterName)
	}
	c.created = true
	if err != nil {
		c.collectLogs(cfg.LogsDir, log)
		if !cfg.KeepCluster {
			_ = p.Delete(cfg.ClusterName, c.kubeconfig)
		}
		return nil, fmt.Errorf("create kind cluster %q: %w (node logs in %s)", cfg.ClusterName, err, cfg.LogsDir)
	}
	fmt.Fprintf(log, "kind: cluster %q ready in %v, kubeconfig %s\n", cfg.ClusterName, time.Since(start).Round(time.Second), c.kubeconfig)
	return c, nil
}

// collectLogs saves the nodes' logs (kind export logs) into dir.
func (c *cluster) collectLogs(dir string, log io.Writer) {
	if c == nil || dir == "" {
		return
	}
	export := c.exportLogs
	if export == nil {
		if c.provider == nil {
			return
		}
		export = c.provider.CollectLogs
	}
	d := filepath.Join(dir, c.name+"-"+time.Now().Format("20060102-150405"))
	if err := export(c.name, d); err != nil {
		fmt.Fprintf(log, "kind: collect logs of %q: %v\n", c.name, err)
		return
	}
	fmt.Fprintf(log, "kind: node logs of %q in %s\n", c.name, d)
}

// delete removes a cluster this run created, unless kept.
func (c *cluster) delete(keep bool, log io.Writer) error {
	if c == nil || c.provider == nil || !c.created {
		return nil
	}
	if keep {
		fmt.Fprintf(log, "kind: keeping cluster %q (kubeconfig %s; delete with: kind delete cluster --name %s)\n", c.name, c.kubeconfig, c.name)
		return nil
	}
	fmt.Fprintf(log, "kind: deleting cluster %q\n", c.name)
	if err := c.provider.Delete(c.name, c.kubeconfig); err != nil {
		return fmt.Errorf("delete kind cluster %q: %w", c.name, err)
	}
	_ = os.Remove(c.kubeconfig)
	return nil
}

// CheckNodeLocalities checks that every locality of the topologies has a
// schedulable node carrying its labels, so that an existing cluster fails
// fast instead of leaving pods Pending. The error names each missing
// locality and the labels to add.
func CheckNodeLocalities(nodes []corev1.Node, topos []topology.Topology) error {
	have := map[string][]string{}
	for _, n := range nodes {
		if n.Spec.Unschedulable {
			continue
		}
		have[nodeLocality(n.Labels).String()] = append(have[nodeLocality(n.Labels).String()], n.Name)
	}
	var missing []string
	u := ClusterTopology("check", topos)
	for _, w := range u.Workloads {
		if len(have[w.Locality.String()]) > 0 {
			continue
		}
		var lbl []string
		for _, kv := range []struct{ k, v string }{
			{topology.LabelRegion, w.Locality.Region}, {topology.LabelZone, w.Locality.Zone}, {topology.LabelSubzone, w.Locality.Subzone},
		} {
			if kv.v != "" {
				lbl = append(lbl, kv.k+"="+kv.v)
			}
		}
		missing = append(missing, fmt.Sprintf("%s (kubectl label node <node> %s)", w.Locality, strings.Join(lbl, " ")))
	}
	if len(missing) == 0 {
		return nil
	}
	var present []string
	for l := range have {
		present = append(present, l)
	}
	sort.Strings(present)
	return fmt.Errorf("the cluster has no schedulable node for locality %s; node localities are [%s]",
		strings.Join(missing, ", "), strings.Join(present, " "))
}

// nodeLocality reads a node's locality labels.
func nodeLocality(l map[string]string) locality.Locality {
	return locality.Locality{Region: l[topology.LabelRegion], Zone: l[topology.LabelZone], Subzone: l[topology.LabelSubzone]}
}

func checkExistingCluster(ctx context.Context, kube kubernetes.Interface, topos []topology.Topology) error {
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	return CheckNodeLocalities(nodes.Items, topos)
}

// kindLogger writes kind's messages to the suite's log.
type kindLogger struct{ w io.Writer }

func newKindLogger(w io.Writer) kindlog.Logger { return kindLogger{w} }

func (l kindLogger) Warn(m string) {
	fmt.Fprintf(l.w, "kind: WARNING: %s\n", strings.TrimRight(m, "\n"))
}
func (l kindLogger) Warnf(f string, a ...any) { l.Warn(fmt.Sprintf(f, a...)) }
func (l kindLogger) Error(m string) {
	fmt.Fprintf(l.w, "kind: ERROR: %s\n", strings.TrimRight(m, "\n"))
}
func (l kindLogger) Errorf(f string, a ...any)            { l.Error(fmt.Sprintf(f, a...)) }
func (l kindLogger) V(v kindlog.Level) kindlog.InfoLogger { return kindInfo{w: l.w, on: v <= 0} }

type kindInfo struct {
	w  io.Writer
	on bool
}

func (i kindInfo) Info(m string) {
	if i.on {
		fmt.Fprintf(i.w, "kind: %s\n", strings.TrimRight(m, "\n"))
	}
}
func (i kindInfo) Infof(f string, a ...any) { i.Info(fmt.Sprintf(f, a...)) }
func (i kindInfo) Enabled() bool            { return i.on }
