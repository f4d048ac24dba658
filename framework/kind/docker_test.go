package kind

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func checkDockerFails(t *testing.T) {
	t.Helper()
	start := time.Now()
	err := CheckDocker(context.Background())
	d := time.Since(start)
	if err == nil {
		t.Skip("a Docker engine answers on this machine")
	}
	if !strings.Contains(err.Error(), "Docker engine") || !strings.Contains(err.Error(), EnvKubeconfig) || !strings.Contains(err.Error(), "--backend=embedded") {
		t.Errorf("error does not explain the fix: %v", err)
	}
	if d > 10*time.Second {
		t.Errorf("CheckDocker took %v, want < 10s", d)
	}
	t.Logf("%v (in %v)", err, d.Round(time.Millisecond))
}

func TestCheckDockerNoCLI(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	checkDockerFails(t)
}

func TestCheckDockerUnreachableEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "nonexistent.sock"))
	t.Setenv("DOCKER_CONTEXT", "")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	checkDockerFails(t)
}

func TestCheckDockerHungCLI(t *testing.T) {
	// A docker that never answers: the check gives up within its timeout.
	dir := t.TempDir()
	script := "#!/bin/sh\nexec sleep 60\n"
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	checkDockerFails(t)
}
