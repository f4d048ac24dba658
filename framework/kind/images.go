package kind

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/localitylb/locality-e2e/framework/topology"
)

// Images returns the distinct images of the topologies, sorted as met;
// workloadImage (Config.WorkloadImageRef) stands for a topology's unset or
// default Image (see workloadImageOf).
func Images(topos []topology.Topology, workloadImage string) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range topos {
		t.Image = workloadImageOf(t, workloadImage)
		t = t.WithDefaults()
		for _, img := range []string{t.Image, t.ClientImage} {
			if !seen[img] {
				seen[img] = true
				out = append(out, img)
			}
		}
	}
	return out
}

// DockerPullArgs and DockerSaveArgs are the argv used to preload an image.
func DockerPullArgs(image string) []string { return []string{"docker", "pull", "--quiet", image} }
func DockerSaveArgs(image string) []string { return []string{"docker", "save", image} }

// preloadImages pulls each image with the local Docker engine and loads it
// into every node of the cluster (what `kind load docker-image` does), so
// that pods do not each pull from a registry and rate limits do not hit.
// BuiltinWorkloadImage is skipped: no registry has it (buildWorkloadImage
// loads it). Preloading is an optimisation: an image that cannot be pulled
// or loaded is skipped with a warning, and the nodes pull it themselves.
func preloadImages(ctx context.Context, p *kindcluster.Provider, name string, images []string, log io.Writer) error {
	nodeList, err := p.ListInternalNodes(name)
	if err != nil {
		return fmt.Errorf("list nodes of %q: %w", name, err)
	}
	pull := func(ctx context.Context, img string) error {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		return RunStreaming(pctx, DockerPullArgs(img), nil, "docker pull:", log)
	}
	preload(ctx, nodeList, images, log, pull, loadIntoNode)
	return nil
}

// preload is preloadImages with its Docker pull and node load passed in.
func preload(ctx context.Context, nodeList []nodes.Node, images []string, log io.Writer,
	pull func(ctx context.Context, img string) error, load func(ctx context.Context, img string, n nodes.Node) error) {
	for _, img := range images {
		if img == BuiltinWorkloadImage {
			continue
		}
		fmt.Fprintf(log, "kind: preload: %s\n", strings.Join(DockerPullArgs(img), " "))
		if err := pull(ctx, img); err != nil {
			fmt.Fprintf(log, "kind: WARNING: preload of %s skipped, the nodes will pull it: docker pull: %v\n", img, err)
			continue
		}
		loaded := 0
		for _, n := range nodeList {
			if err := load(ctx, img, n); err != nil {
				fmt.Fprintf(log, "kind: WARNING: preload of %s into node %s skipped, the node will pull it: %v\n", img, n.String(), err)
				continue
			}
			loaded++
		}
		fmt.Fprintf(log, "kind: loaded %s into %d of %d nodes\n", img, loaded, len(nodeList))
	}
}

// ctrImportArgs is the argv, run in a kind node, that imports an image
// archive from stdin into the CRI's namespace. allPlatforms is what kind
// v0.33.0 runs (pkg/cluster/nodeutils/util.go LoadImageArchive: `ctr
// --namespace=k8s.io images import --all-platforms --digests
// --snapshotter=<the node's> -`); without it ctr imports only the node's
// own platform.
func ctrImportArgs(snapshotter string, allPlatforms bool) []string {
	argv := []string{"ctr", "--namespace=k8s.io", "images", "import"}
	if allPlatforms {
		argv = append(argv, "--all-platforms")
	}
	argv = append(argv, "--digests")
	if snapshotter != "" {
		argv = append(argv, "--snapshotter="+snapshotter)
	}
	return append(argv, "-")
}

// missingContent reports the error `ctr import --all-platforms` gives for
// an archive that lists platforms whose layers it does not carry: what
// `docker save` writes on Docker's containerd image store (the default of
// new Docker Engine installs) for an image pulled for one platform only
// (kind issue 3795: "content digest sha256:...: not found").
func missingContent(err error) bool {
	if err == nil {
		return false
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "content digest") && strings.Contains(s, "not found")
}

// loadWithFallback runs kind's all-platform import, and on the missing
// content of kind issue 3795 imports the node's own platform only (the
// layers the archive does carry, all a pod on that node needs).
func loadWithFallback(all, own func() error) error {
	err := all()
	if !missingContent(err) {
		return err
	}
	if ownErr := own(); ownErr != nil {
		return fmt.Errorf("%w; importing only the node's platform also failed: %v (Docker's containerd image store, kind issue 3795: pull the image for the node's platform or disable the containerd image store)", err, ownErr)
	}
	return nil
}

func loadImage(ctx context.Context, img string, load func(io.Reader) error) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	argv := DockerSaveArgs(img)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	lerr := load(out)
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if werr != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), werr, strings.TrimSpace(stderr.String()))
	}
	return lerr
}
