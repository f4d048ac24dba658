package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// dockerCheckTimeout bounds CheckDocker: an engine that has not answered
// `docker info` in this long is as good as absent for a test run.
const dockerCheckTimeout = 5 * time.Second

// DockerInfoArgs is the argv CheckDocker runs.
func DockerInfoArgs() []string {
	return []string{"docker", "info", "--format", "{{.ServerVersion}}"}
}

// CheckDocker checks within a few seconds that a Docker engine answers
// (`docker info` prints its server version). kind needs one to create a
// cluster; an existing cluster (Config.Kubeconfig) does not, and New skips
// this check then.
func CheckDocker(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dockerCheckTimeout)
	defer cancel()
	argv := DockerInfoArgs()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = time.Second // do not wait for a hung child's pipes
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	version := strings.TrimSpace(stdout.String())
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return dockerError("the docker CLI is not on PATH")
	case ctx.Err() != nil:
		return dockerError(fmt.Sprintf("`%s` did not answer within %v", strings.Join(argv, " "), dockerCheckTimeout))
	case err != nil:
		detail := strings.TrimSpace(stderr.String())
		if detail == "" {
			detail = err.Error()
		}
		return dockerError(fmt.Sprintf("`%s` failed: %s", strings.Join(argv, " "), firstLines(detail, 3)))
	case version == "" || version == "<no value>":
		return dockerError(fmt.Sprintf("`%s` printed no server version (%q)", strings.Join(argv, " "), version))
	}
	return nil
}

func dockerError(detail string) error { return &DockerError{Detail: detail} }

// DockerError is CheckDocker's error. Its message is the suite's (whose
// --backend flag selects the embedded backend); other commands (the
// upgrade check, which has no --backend) word their own from Detail.
type DockerError struct {
	Detail string // what failed: no CLI, no answer, the CLI's error
}

func (e *DockerError) Error() string {
	return fmt.Sprintf("kind backend needs a running Docker engine: %s; use --backend=embedded, or %s=<path> for an existing cluster", e.Detail, EnvKubeconfig)
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " | ")
}
