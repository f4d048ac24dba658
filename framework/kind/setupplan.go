package kind

// What Prepare runs on a cluster it creates, in order, as a plan that
// `make e2e-plan` prints (TestSetupPlan): the image preload (Istio's
// images and the topologies'), the workload image build and load, and the
// istioctl install. Prepare runs the same argv (preloadList,
// WorkloadImagePlan, istioInstallArgs).

import (
	"fmt"
	"path/filepath"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

// preloadList is what Prepare preloads when PreloadImages is set: the
// topologies' images, then Istio's (IstioImages).
func (c Config) preloadList() []string {
	return append(Images(c.topologies(), c.WorkloadImageRef()), IstioImages(c.IstioHub, c.IstioVersion)...)
}

// KindNodeNames are the node names kind gives the cluster of cfg:
// <name>-control-plane, then <name>-worker, <name>-worker2, ... (kind
// v0.33.0 pkg/cluster/internal/providers/common/namer.go MakeNodeNamer:
// "<cluster>-<role>" and a counter from 2 per role).
func KindNodeNames(cfg Config) []string {
	count := map[v1alpha4.NodeRole]int{}
	var out []string
	for _, n := range ClusterConfig(cfg).Nodes {
		count[n.Role]++
		suffix := ""
		if count[n.Role] > 1 {
			suffix = fmt.Sprint(count[n.Role])
		}
		out = append(out, cfg.ClusterName+"-"+string(n.Role)+suffix)
	}
	return out
}

// PreloadPlan lists how preload loads images into nodes: per image one
// docker pull, then one docker save per node piped into the node's
// containerd (kind nodeutils.LoadImageArchive). BuiltinWorkloadImage is
// not pulled (no registry has it; WorkloadImagePlan builds and loads it).
func PreloadPlan(images, nodes []string) []Step {
	var steps []Step
	for _, img := range images {
		if img == BuiltinWorkloadImage {
			continue
		}
		steps = append(steps, Step{What: "pull " + img, Argv: DockerPullArgs(img)})
		for _, n := range nodes {
			steps = append(steps, Step{What: "load into node " + n + " (kind nodeutils.LoadImageArchive)", Argv: DockerSaveArgs(img)})
		}
	}
	return steps
}

// SetupPlan is what Prepare runs after creating the cluster of cfg, in
// order; contextDir and goarch are the workload image build's, kubeconfig
// the cluster's.
func SetupPlan(cfg Config, contextDir, goarch, kubeconfig string) []Step {
	nodes := KindNodeNames(cfg)
	var steps []Step
	if cfg.PreloadImages {
		steps = append(steps, PreloadPlan(cfg.preloadList(), nodes)...)
	}
	if cfg.BuildsWorkloadImage() {
		steps = append(steps, WorkloadImagePlan(BuiltinWorkloadImage, contextDir, goarch, nodes)...)
	}
	return append(steps, Step{What: "install Istio " + cfg.IstioVersion, Argv: istioInstallArgs(cfg, kubeconfig)})
}

// planContextDir is the build context SetupPlan shows (the real one is a
// fresh temporary directory).
var planContextDir = filepath.Join("$TMPDIR", "locality-e2e-workload-image")
