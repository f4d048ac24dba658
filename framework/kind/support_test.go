package kind

import (
	"strings"
	"testing"
)

func TestValidIstioVersionGrammar(t *testing.T) {
	for _, v := range []string{"1.32.0", "1.31.4", "1.31.0-alpha.0", "1.31.0-beta.1", "1.31.0-rc.4", "1.29.0-beta", "10.0.12"} {
		if !ValidIstioVersion(v) {
			t.Errorf("%q refused", v)
		}
	}
	for _, v := range []string{"", "1.27", "1.27.3-../../x", "1.27.3-x", "1.27.3/..", "v1.27.3", "1.27.3-rc.1/x", "01.2.3", "1.2.3-rc.", "1.2.3 ", "1.2.3-dev", "1.2.3-rc.1.2"} {
		if ValidIstioVersion(v) {
			t.Errorf("%q accepted", v)
		}
	}
}

func TestValidClusterName(t *testing.T) {
	for _, n := range []string{"locality-e2e", "a", "x1-2", strings.Repeat("a", 50)} {
		if !ValidClusterName(n) {
			t.Errorf("%q refused", n)
		}
	}
	// kind refuses upper case, '_', '/', more than 50 characters; this
	// suite also '.', and a leading or trailing '-'.
	for _, n := range []string{"", "Upper", "a_b", "../x", "a/b", strings.Repeat("a", 51), "-a", "a-", "a.b"} {
		if ValidClusterName(n) {
			t.Errorf("%q accepted", n)
		}
	}
}

func TestNodeImageSupport(t *testing.T) {
	if k, ok := NodeImageKubernetesMinor(DefaultNodeImage); !ok || k != 37 {
		t.Fatalf("default node image %s: minor %d %v", DefaultNodeImage, k, ok)
	}
	// The default Istio and the nightly's other minor accept kind v0.33.0's
	// default image.
	for _, v := range []string{DefaultIstioVersion, "1.31.4"} {
		if err := CheckNodeImageSupport(v, DefaultNodeImage); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	// 1.28 supports Kubernetes 1.30–1.34: 1.37 is outside.
	err := CheckNodeImageSupport("1.28.0", DefaultNodeImage)
	if err == nil || !strings.Contains(err.Error(), "outside the 1.30–1.34 Istio 1.28.0 supports") || !strings.Contains(err.Error(), EnvNodeImage) {
		t.Errorf("1.28.0: %v", err)
	}
	if err := CheckNodeImageSupport("1.28.0", "kindest/node:v1.34.0@sha256:abc"); err != nil {
		t.Error(err)
	}
	// Unknown Istio minor or image: nothing to say.
	if err := CheckNodeImageSupport("1.40.0", DefaultNodeImage); err != nil {
		t.Error(err)
	}
	if err := CheckNodeImageSupport("1.28.0", "registry.example/node:x"); err != nil {
		t.Error(err)
	}
	if lo, hi, ok := SupportedKubernetes("1.31.0-rc.4"); !ok || lo != 32 || hi != 37 {
		t.Errorf("1.31: %d %d %v", lo, hi, ok)
	}
}
