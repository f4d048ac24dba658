package kind

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	kindcluster "sigs.k8s.io/kind/pkg/cluster"

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
// loads it).
func preloadImages(ctx context.Context, p *kindcluster.Provider, name string, images []string, log io.Writer) error {
	nodes, err := p.ListInternalNodes(name)
	if err != nil {
		return fmt.Errorf("list nodes of %q: %w", name, err)
	}
	for _, img := range images {
		if img == BuiltinWorkloadImage {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		err := RunStreaming(pctx, DockerPullArgs(img), nil, "docker pull:", log)
		cancel()
		if err != nil {
			return fmt.Errorf("preload %s: %w", img, err)
		}
		for _, n := range nodes {
			if err := loadIntoNode(ctx, img, n); err != nil {
				return fmt.Errorf("preload %s into node %s: %w", img, n.String(), err)
			}
		}
		fmt.Fprintf(log, "kind: loaded %s into %d nodes\n", img, len(nodes))
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
