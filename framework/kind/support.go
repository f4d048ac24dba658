package kind

import (
	"fmt"
	"regexp"
	"strconv"
)

// kubernetesSupport is, per Istio minor, the Kubernetes minors Istio
// supports: the "Supported Kubernetes Versions" column of istio.io's
// support table (istio/istio.io data/compatibility/supportStatus.yml,
// rendered on /docs/releases/supported-releases/; the table is edited after
// releases, e.g. 1.37 was added to 1.31 on 2026-09-30, so it is the source
// rather than each release announcement's "officially supported on
// Kubernetes versions" tip).
//
// 1.32 is not in the copy of the table read for this change; its row is
// assumed to be 1.31's range moved up by one minor at the bottom (each
// Istio minor drops the oldest Kubernetes minor), capped at 1.37, the
// newest Kubernetes kind v0.33.0 builds by default. Check it against
// supportStatus.yml when the table has a 1.32 row.
var kubernetesSupport = map[int][2]int{
	28: {30, 34},
	29: {31, 35},
	30: {32, 36},
	31: {32, 37},
	32: {33, 37}, // assumed, see above
}

// SupportedKubernetes returns the Kubernetes minors (1.lo to 1.hi) that an
// Istio release supports, ok false when this table does not know it.
func SupportedKubernetes(istioVersion string) (lo, hi int, ok bool) {
	_, minor, ok := versionMinor(istioVersion)
	if !ok {
		return 0, 0, false
	}
	r, ok := kubernetesSupport[minor]
	return r[0], r[1], ok
}

var nodeImageVersion = regexp.MustCompile(`kindest/node:v1\.(\d+)\.(\d+)`)

// NodeImageKubernetesMinor is the Kubernetes minor of a kindest/node image
// reference (kindest/node:v1.37.0@sha256:... is 37), ok false for another
// image.
func NodeImageKubernetesMinor(image string) (int, bool) {
	m := nodeImageVersion.FindStringSubmatch(image)
	if m == nil {
		return 0, false
	}
	minor, err := strconv.Atoi(m[1])
	return minor, err == nil
}

// CheckNodeImageSupport reports a node image whose Kubernetes is outside
// what the Istio release supports; nil when inside, or when either is
// unknown to this table (then nothing can be said).
func CheckNodeImageSupport(istioVersion, nodeImage string) error {
	lo, hi, ok := SupportedKubernetes(istioVersion)
	if !ok {
		return nil
	}
	k, ok := NodeImageKubernetesMinor(nodeImage)
	if !ok || (k >= lo && k <= hi) {
		return nil
	}
	return fmt.Errorf("node image %s runs Kubernetes 1.%d, outside the 1.%d–1.%d Istio %s supports (istio.io supported releases): set %s to a kindest/node image of Kubernetes 1.%d–1.%d built for kind v0.33.0 (the release notes list them, with digests)",
		nodeImage, k, lo, hi, istioVersion, EnvNodeImage, lo, hi)
}

// versionMinor parses MAJOR.MINOR of a release version.
func versionMinor(v string) (major, minor int, ok bool) {
	m := istioVersionGrammar.FindStringSubmatch(v)
	if m == nil {
		return 0, 0, false
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	return major, minor, true
}

// istioVersionGrammar is an Istio release version: MAJOR.MINOR.PATCH, with
// an optional -alpha.N, -beta.N or -rc.N pre-release suffix (istio's tags:
// 1.31.0, 1.31.0-alpha.0, 1.31.0-beta.1, 1.31.0-rc.4; the .N is optional
// for hand-written versions like 1.29.0-beta).
var istioVersionGrammar = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-(alpha|beta|rc)(\.(0|[1-9]\d*))?)?$`)

// ValidClusterName reports whether s is a cluster name this suite lets
// kind create: kind v0.33.0 accepts ^[a-z0-9.-]+$ of at most 50
// characters (pkg/internal/apis/config/validate.go validNameRE,
// pkg/cluster/internal/create/create.go clusterNameMax); this is stricter
// (no '.', no leading or trailing '-': a DNS label, so node container and
// host names stay valid).
func ValidClusterName(s string) bool { return validClusterName(s) }
