package kind

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// The workload image. By default every workload pod runs cmd/workload
// (framework/workload): answers in microseconds and faults by exec. The
// suite builds it FROM scratch with the local Go toolchain and Docker and
// loads it into the kind nodes, so no registry is involved.
const (
	// WorkloadImageBuiltin (the default) selects the image built here.
	WorkloadImageBuiltin = "workload"
	// WorkloadImageHelloworld selects istio's helloworld-v1 sample
	// (topology.DefaultImage): ~0.1 s of CPU per request (a million square
	// roots, samples/helloworld/src/app.py), no 5xx fault, refusal only by
	// draining the sidecar's inbound listeners.
	WorkloadImageHelloworld = "helloworld"
	// BuiltinWorkloadImage is the tag of the built image. Not :latest, so
	// that pods use the loaded image (imagePullPolicy IfNotPresent) and
	// never try a registry.
	BuiltinWorkloadImage = "locality-e2e.local/workload:dev"
	// WorkloadPackage is what the image's binary is built from.
	WorkloadPackage = "github.com/localitylb/locality-e2e/cmd/workload"
	// WorkloadBinary is the binary's path in the image, the argv[0] of
	// fault execs (a scratch image has no PATH to search).
	WorkloadBinary = "/workload"
	// WorkloadContainer is the workload pods' container
	// (manifests/workloads/deployment.yaml.tmpl).
	WorkloadContainer = "helloworld"
)

// WorkloadDockerfile is the image's Dockerfile, written next to the binary
// in a fresh build context; cmd/workload/Dockerfile is the same file, for
// building by hand (make workload-image). FROM scratch: nothing to pull.
const WorkloadDockerfile = `# The locality-e2e test workload (framework/workload), FROM scratch: a
# static binary built with CGO_ENABLED=0 GOOS=linux, nothing to pull.
# make workload-image, or the kind backend itself, builds it.
FROM scratch
COPY workload /workload
USER 65532:65532
EXPOSE 5000 5001
ENTRYPOINT ["/workload"]
CMD ["serve"]
`

// IsHelloworldImage reports whether image is istio's helloworld sample
// rather than cmd/workload.
func IsHelloworldImage(image string) bool {
	return image == WorkloadImageHelloworld || image == topology.DefaultImage ||
		strings.Contains(image, "/examples-helloworld-")
}

// WorkloadGoBuildArgs is the argv that builds the image's binary into out.
func WorkloadGoBuildArgs(out string) []string {
	return []string{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, WorkloadPackage}
}

// WorkloadGoBuildEnv is the environment added to WorkloadGoBuildArgs: a
// static Linux binary for the nodes' architecture (the Docker host's).
func WorkloadGoBuildEnv(goarch string) []string {
	return []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + goarch}
}

// DockerBuildArgs is the argv that builds the image from a context
// holding the binary and WorkloadDockerfile.
func DockerBuildArgs(tag, contextDir string) []string {
	return []string{"docker", "build", "--tag", tag, contextDir}
}

// Step is one step of the workload image's preparation.
type Step struct {
	What string
	Argv []string // nil for a step done through the kind API
	Env  []string // added to the environment
}

func (s Step) String() string {
	if s.Argv == nil {
		return s.What
	}
	cmd := strings.Join(s.Argv, " ")
	if len(s.Env) > 0 {
		cmd = strings.Join(s.Env, " ") + " " + cmd
	}
	return s.What + ": " + cmd
}

// WorkloadImagePlan lists, in order, how Prepare builds the workload image
// in contextDir and loads it into nodes (kind node names).
func WorkloadImagePlan(tag, contextDir, goarch string, nodes []string) []Step {
	steps := []Step{
		{What: "write " + filepath.Join(contextDir, "Dockerfile")},
		{What: "build the static workload binary", Argv: WorkloadGoBuildArgs(filepath.Join(contextDir, "workload")), Env: WorkloadGoBuildEnv(goarch)},
		{What: "build the image", Argv: DockerBuildArgs(tag, contextDir)},
	}
	for _, n := range nodes {
		steps = append(steps, Step{What: "load into node " + n + " (kind nodeutils.LoadImageArchive)", Argv: DockerSaveArgs(tag)})
	}
	return steps
}

// WorkloadFaultArgs is the argv, run in the workload container, that gives
// a pod a mesh fault (mesh.Fault.Workload, the same mapping the embedded
// backend applies in process): e.g. Fail5xx → `workload fault status 503`,
// RefuseConnections → `workload fault refuse`, NoFault → `workload heal`.
func WorkloadFaultArgs(f mesh.Fault) ([]string, error) {
	wf, err := f.Workload()
	if err != nil {
		return nil, err
	}
	if f == mesh.NoFault {
		return []string{WorkloadBinary, "heal"}, nil
	}
	return append([]string{WorkloadBinary, "fault"}, wf.Args()...), nil
}

// runner runs one argv with extra environment, its output to log.
type runner func(ctx context.Context, argv, env []string, log io.Writer) error

func runLogged(ctx context.Context, argv, env []string, log io.Writer) error {
	var full []string // nil: inherit
	if len(env) > 0 {
		full = append(os.Environ(), env...)
	}
	return RunStreaming(ctx, argv, full, argv[0]+" "+argv[1]+":", log)
}

// buildWorkloadImage builds BuiltinWorkloadImage (WorkloadImagePlan) and
// loads it into every node.
func buildWorkloadImage(ctx context.Context, nodeList []nodes.Node, log io.Writer, run runner, load func(ctx context.Context, img string, n nodes.Node) error) error {
	dir, err := os.MkdirTemp("", "locality-e2e-workload-image")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	names := make([]string, len(nodeList))
	for i, n := range nodeList {
		names[i] = n.String()
	}
	start := time.Now()
	for i, st := range WorkloadImagePlan(BuiltinWorkloadImage, dir, runtime.GOARCH, names) {
		fmt.Fprintf(log, "kind: workload image %d: %s\n", i+1, st)
		var err error
		switch {
		case i == 0:
			err = os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(WorkloadDockerfile), 0o644)
		case st.Argv[0] == "docker" && st.Argv[1] == "save":
			err = load(ctx, BuiltinWorkloadImage, nodeList[i-3])
		default:
			bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			err = run(bctx, st.Argv, st.Env, log)
			cancel()
		}
		if err != nil {
			return fmt.Errorf("workload image (%s; or set %s=%s): %w", st.What, EnvWorkloadImage, WorkloadImageHelloworld, err)
		}
	}
	fmt.Fprintf(log, "kind: workload image %s built and loaded into %d nodes in %v\n", BuiltinWorkloadImage, len(nodeList), time.Since(start).Round(time.Millisecond))
	return nil
}

// loadIntoNode loads a local Docker image into a kind node (what `kind
// load docker-image` does).
// On Docker's containerd image store the all-platform import can fail
// (kind issue 3795); then the node's own platform is imported
// (loadWithFallback).
func loadIntoNode(ctx context.Context, img string, n nodes.Node) error {
	return loadWithFallback(
		func() error {
			return loadImage(ctx, img, func(r io.Reader) error { return nodeutils.LoadImageArchive(n, r) })
		},
		func() error {
			return loadImage(ctx, img, func(r io.Reader) error {
				argv := ctrImportArgs(nodeSnapshotter(n), false)
				return n.CommandContext(ctx, argv[0], argv[1:]...).SetStdin(r).Run()
			})
		})
}

// nodeSnapshotter is the CRI image snapshotter of a kind node, read from
// `containerd config dump` as kind does (nodeutils.getSnapshotter, not
// exported), "" (ctr's default, overlayfs) if it cannot be read.
func nodeSnapshotter(n nodes.Node) string {
	var out strings.Builder
	if err := n.Command("containerd", "config", "dump").SetStdout(&out).Run(); err != nil {
		return ""
	}
	return parseSnapshotter(out.String())
}

// parseSnapshotter finds `snapshotter = "..."` in the CRI images section
// of a containerd config (config version 3: [plugins."io.containerd.cri.v1.images"];
// version 2: [plugins."io.containerd.grpc.v1.cri".containerd]).
func parseSnapshotter(config string) string {
	section := ""
	for _, line := range strings.Split(config, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != "snapshotter" {
			continue
		}
		if section == `[plugins."io.containerd.cri.v1.images"]` || section == `[plugins."io.containerd.grpc.v1.cri".containerd]` {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}
