package kind

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// kind issue 3795: on Docker's containerd image store `docker save` lists
// every platform of the index but carries one, and kind's
// `ctr import --all-platforms` fails; the node's own platform is imported
// instead.
func TestLoadWithFallback(t *testing.T) {
	digestErr := errors.New("failed to load image: command \"docker exec --privileged -i w1 ctr --namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -\" failed with error: exit status 1: ctr: content digest sha256:9b8b9d: not found")
	var calls []string
	all := func() error { calls = append(calls, "all"); return digestErr }
	own := func() error { calls = append(calls, "own"); return nil }
	if err := loadWithFallback(all, own); err != nil || !reflect.DeepEqual(calls, []string{"all", "own"}) {
		t.Fatalf("err %v, calls %v", err, calls)
	}
	// Another error is returned as is, without a second import.
	calls = nil
	other := errors.New("no space left on device")
	if err := loadWithFallback(func() error { calls = append(calls, "all"); return other }, own); !errors.Is(err, other) || len(calls) != 1 {
		t.Errorf("err %v, calls %v", err, calls)
	}
	// Both fail: the message names the issue.
	err := loadWithFallback(all, func() error { return errors.New("exit status 1") })
	if err == nil || !strings.Contains(err.Error(), "kind issue 3795") || !strings.Contains(err.Error(), "content digest") {
		t.Errorf("err %v", err)
	}
	if got := ctrImportArgs("overlayfs", true); !reflect.DeepEqual(got, []string{"ctr", "--namespace=k8s.io", "images", "import", "--all-platforms", "--digests", "--snapshotter=overlayfs", "-"}) {
		t.Errorf("kind's argv %v", got)
	}
	if got := ctrImportArgs("", false); !reflect.DeepEqual(got, []string{"ctr", "--namespace=k8s.io", "images", "import", "--digests", "-"}) {
		t.Errorf("own-platform argv %v", got)
	}
}

func TestParseSnapshotter(t *testing.T) {
	v3 := "version = 3\n[plugins]\n  [plugins.\"io.containerd.cri.v1.images\"]\n    snapshotter = \"overlayfs\"\n  [plugins.\"io.containerd.snapshotter.v1.native\"]\n    snapshotter = \"x\"\n"
	v2 := "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  snapshotter = \"fuse-overlayfs\"\n"
	if got := parseSnapshotter(v3); got != "overlayfs" {
		t.Errorf("v3 %q", got)
	}
	if got := parseSnapshotter(v2); got != "fuse-overlayfs" {
		t.Errorf("v2 %q", got)
	}
	if got := parseSnapshotter("version = 3\n"); got != "" {
		t.Errorf("none %q", got)
	}
}

// A preload that cannot pull or load an image warns and goes on: the nodes
// pull it themselves.
func TestPreloadFallsBackToNodePulls(t *testing.T) {
	var log strings.Builder
	var loaded []string
	pull := func(_ context.Context, img string) error {
		if img == "docker.io/curlimages/curl:x" {
			return errors.New("toomanyrequests")
		}
		return nil
	}
	load := func(_ context.Context, img string, n nodes.Node) error {
		if n.String() == "w2" {
			return errors.New("content digest sha256:1: not found; importing only the node's platform also failed")
		}
		loaded = append(loaded, img+" → "+n.String())
		return nil
	}
	preload(context.Background(), []nodes.Node{fakeNode("w1"), fakeNode("w2")},
		[]string{BuiltinWorkloadImage, "docker.io/istio/examples-helloworld-v1:1.0", "docker.io/curlimages/curl:x"}, &log, pull, load)
	if !reflect.DeepEqual(loaded, []string{"docker.io/istio/examples-helloworld-v1:1.0 → w1"}) {
		t.Errorf("loaded %v", loaded)
	}
	for _, want := range []string{
		"preload of docker.io/istio/examples-helloworld-v1:1.0 into node w2 skipped, the node will pull it",
		"loaded docker.io/istio/examples-helloworld-v1:1.0 into 1 of 2 nodes",
		"preload of docker.io/curlimages/curl:x skipped, the nodes will pull it: docker pull: toomanyrequests",
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}
