package kind

// Mesh-wide settings (topology.Topology.Mesh) on a live mesh, the way an
// operator changes meshConfig: istiod watches the ConfigMap "istio" (or
// "istio-<revision>") in istio-system, key "mesh", a YAML MeshConfig
// (istio pilot/pkg/bootstrap/mesh.go getConfigurationSources,
// getMeshConfigMapName; pkg/config/mesh/kubemesh MeshConfigKey), and
// reloads it. Deploy merges the scenario's overlay
// (Topology.MeshConfigOverlay) over the current mesh config with Istio's
// own mesh package, writes the result back and waits until istiod serves
// it on its debug endpoint /debug/mesh (pilot/pkg/xds/debug.go: registered
// as "Active mesh config", meshHandler writes s.Env.Mesh() with writeJSON,
// i.e. the MeshConfig istiod runs with, as protobuf JSON). Close writes
// the original value back, byte for byte, and waits the same way.
//
// The settings are mesh-wide: every Service of the mesh sees them, not
// only the scenario's. So one set of settings is active at a time: a
// Deploy with other settings, and a Deploy without settings, are refused
// while a scenario holds some (ErrMeshSettingsConflict), and a Deploy with
// settings is refused while scenarios without settings are open in the
// same backend. The suite runs its Ordered containers one after another,
// so a scenario is closed before the next is deployed. Across processes
// (ginkgo -p) the ConfigMap's annotations say who holds settings: other
// processes refuse to deploy meanwhile; the scenarios another process
// already runs without settings cannot be seen, and would run under them
// (a warning names the scenario namespaces found in the cluster).

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	meshconfig "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/util/protomarshal"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

const (
	// MeshConfigKey is the key of the mesh config in istiod's ConfigMap
	// (istio pkg/config/mesh/kubemesh MeshConfigKey).
	MeshConfigKey = "mesh"
	// MeshDebugPath is istiod's debug endpoint of the mesh config it runs
	// with (pilot/pkg/xds/debug.go "/debug/mesh").
	MeshDebugPath = "/debug/mesh"

	// Annotations the backend puts on the ConfigMap while a scenario's
	// settings are applied, removed when the original is restored.
	//
	// AnnotationMeshSettingsHolder names the backend (host, process) that
	// holds them and its scenarios' namespaces.
	AnnotationMeshSettingsHolder = "locality-e2e/mesh-settings-holder"
	// AnnotationOriginalMesh is the original value of the "mesh" key, for
	// a manual restore after a run that could not restore it.
	AnnotationOriginalMesh = "locality-e2e/original-mesh"
	// AnnotationOriginalMeshAbsent is "true" when the ConfigMap had no
	// "mesh" key (a restore removes the key).
	AnnotationOriginalMeshAbsent = "locality-e2e/original-mesh-absent"
)

// ErrMeshSettingsConflict: a Deploy would change, or run under, the
// mesh-wide settings another scenario holds. It is a usage error, not a
// topology the backend cannot run (mesh.ErrTopologyUnsupported): close
// that scenario first.
var ErrMeshSettingsConflict = errors.New("mesh-wide settings conflict")

// MeshConfigMapName is the ConfigMap istiod of revision reads its mesh
// config from: "istio" for the default revision ("" or "default"),
// "istio-<revision>" otherwise (pilot/pkg/bootstrap/mesh.go
// getMeshConfigMapName; istioctl installs it so).
func MeshConfigMapName(revision string) string {
	if revision == "" || revision == "default" {
		return "istio"
	}
	return "istio-" + revision
}

// MergeMeshConfig is the mesh config istiod runs with once overlay is
// written over current (the "mesh" value of its ConfigMap), computed by
// Istio's own mesh package as istiod does: current over Istio's defaults
// (mesh.ApplyMeshConfigDefaults), then the overlay as YAML over that
// (mesh.ApplyMeshConfig, which validates the result). Top-level fields of
// the overlay replace the current ones whole (localityLbSetting,
// serviceSettings): "all fields are overrides, except proxy config".
// overlay nil: the current config. current must hold only fields the
// pinned istio.io/api knows: the merge would silently drop the others.
func MergeMeshConfig(current string, overlay *meshconfig.MeshConfig) (*meshconfig.MeshConfig, error) {
	if strings.TrimSpace(current) != "" {
		if err := protomarshal.ApplyYAMLStrict(current, &meshconfig.MeshConfig{}); err != nil {
			return nil, fmt.Errorf("the current mesh config does not decode strictly into the pinned istio.io/api MeshConfig (%v): rewriting it would drop what it does not know", err)
		}
	}
	base, err := mesh.ApplyMeshConfigDefaults(current)
	if err != nil {
		return nil, fmt.Errorf("current mesh config: %w", err)
	}
	if overlay == nil {
		return base, nil
	}
	ov, err := protomarshal.ToYAML(overlay)
	if err != nil {
		return nil, fmt.Errorf("mesh settings: %w", err)
	}
	merged, err := mesh.ApplyMeshConfig(ov, base)
	if err != nil {
		return nil, fmt.Errorf("mesh settings %s over the current mesh config: %w", compactJSON(overlay), err)
	}
	return merged, nil
}

// MeshConfigYAML is the "mesh" value written for mc.
func MeshConfigYAML(mc *meshconfig.MeshConfig) (string, error) {
	return protomarshal.ToYAML(mc)
}

// ParseServedMesh reads istiod's /debug/mesh body. Fields the pinned
// istio.io/api does not know (a newer istiod) are ignored.
func ParseServedMesh(body []byte) (*meshconfig.MeshConfig, error) {
	mc := &meshconfig.MeshConfig{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, mc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", MeshDebugPath, err)
	}
	return mc, nil
}

// MeshSettingsServed says whether served has want's localityLbSetting,
// zoneAwareLbSetting and serviceSettings, and if not, what differs.
func MeshSettingsServed(served, want *meshconfig.MeshConfig) (bool, string) {
	var diffs []string
	if !proto.Equal(served.GetLocalityLbSetting(), want.GetLocalityLbSetting()) {
		diffs = append(diffs, fmt.Sprintf("localityLbSetting is %s, want %s", compactJSON(served.GetLocalityLbSetting()), compactJSON(want.GetLocalityLbSetting())))
	}
	if !proto.Equal(served.GetZoneAwareLbSetting(), want.GetZoneAwareLbSetting()) {
		diffs = append(diffs, fmt.Sprintf("zoneAwareLbSetting is %s, want %s", compactJSON(served.GetZoneAwareLbSetting()), compactJSON(want.GetZoneAwareLbSetting())))
	}
	if !sameServiceSettings(served.GetServiceSettings(), want.GetServiceSettings()) {
		diffs = append(diffs, fmt.Sprintf("serviceSettings are %s, want %s", serviceSettingsJSON(served.GetServiceSettings()), serviceSettingsJSON(want.GetServiceSettings())))
	}
	return len(diffs) == 0, strings.Join(diffs, "; ")
}

func sameServiceSettings(a, b []*meshconfig.MeshConfig_ServiceSettings) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func serviceSettingsJSON(s []*meshconfig.MeshConfig_ServiceSettings) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = compactJSON(x)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func compactJSON(m proto.Message) string {
	if m == nil {
		return "null"
	}
	b, err := protojson.Marshal(m)
	if err != nil || string(b) == "" {
		return fmt.Sprintf("%v", m)
	}
	// protojson's output varies its spacing on purpose: drop the spaces.
	return strings.Join(strings.Fields(string(b)), "")
}

// meshSettings are the settings a backend applied, and what to restore.
type meshSettings struct {
	cm       string                 // ConfigMap name
	overlay  *meshconfig.MeshConfig // Topology.MeshConfigOverlay
	merged   *meshconfig.MeshConfig // what istiod serves with them
	base     *meshconfig.MeshConfig // what it serves with the original
	original string                 // the "mesh" value, exact
	hadKey   bool
	holders  map[string]bool // namespaces of the scenarios that hold them
}

func (s *meshSettings) holderList() []string {
	out := make([]string, 0, len(s.holders))
	for ns := range s.holders {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// holderIDLocked names this backend in AnnotationMeshSettingsHolder.
func (b *backend) holderIDLocked() string {
	if b.holder == "" {
		host, _ := os.Hostname()
		r := make([]byte, 4)
		_, _ = rand.Read(r)
		b.holder = fmt.Sprintf("%s/pid-%d/%x", host, os.Getpid(), r)
	}
	return b.holder
}

// acquireMeshSettings applies overlay for the scenario in namespace ns
// (topo names it in messages): refused while other settings are active,
// shared (counted) when the same ones are, refused while the scenarios
// others (open, without settings) would see them. Otherwise the
// ConfigMap is read, the merge written back with the holder and original
// annotations (an update on the read resourceVersion: a concurrent writer
// makes it read again), and istiod polled until it serves the merge. If
// istiod does not, the original is restored before returning the error.
func (b *backend) acquireMeshSettings(ctx context.Context, ns, topo string, overlay *meshconfig.MeshConfig, others []string) error {
	b.settingsMu.Lock()
	defer b.settingsMu.Unlock()
	if s := b.settings; s != nil {
		if proto.Equal(s.overlay, overlay) {
			s.holders[ns] = true
			fmt.Fprintf(b.log, "kind: topology %q shares the mesh settings %s already applied to %s/%s for %v\n", topo, compactJSON(overlay), IstioNamespace, s.cm, s.holderList())
			return nil
		}
		return fmt.Errorf("topology %q asks for mesh settings %s, but the scenario(s) in %v hold %s in %s/%s: %w: meshConfig is mesh-wide, one set at a time; close those scenarios first (the suite's Ordered containers run one after another: do not deploy two topologies with different Mesh at once)",
			topo, compactJSON(overlay), s.holderList(), compactJSON(s.overlay), IstioNamespace, s.cm, ErrMeshSettingsConflict)
	}
	if len(others) > 0 {
		sort.Strings(others)
		return fmt.Errorf("topology %q asks for mesh settings %s, but the scenario(s) in %v are open in this backend and would run under them too: %w: close them first", topo, compactJSON(overlay), others, ErrMeshSettingsConflict)
	}
	b.warnOtherScenarios(ctx, ns)
	name := MeshConfigMapName(b.cfg.Revision)
	holder := b.holderIDLocked() + " " + ns
	var s *meshSettings
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := b.kube.CoreV1().ConfigMaps(IstioNamespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("no ConfigMap %s/%s: istiod%s reads its mesh config there (istioctl install creates it); install Istio with istioctl, or drop Mesh", IstioNamespace, name, revisionNote(b.cfg.Revision))
		}
		if err != nil {
			return fmt.Errorf("read ConfigMap %s/%s: %w", IstioNamespace, name, err)
		}
		if h := cm.Annotations[AnnotationMeshSettingsHolder]; h != "" {
			return heldElsewhere(name, h, ErrMeshSettingsConflict)
		}
		original, hadKey := cm.Data[MeshConfigKey]
		base, err := MergeMeshConfig(original, nil)
		if err != nil {
			return fmt.Errorf("ConfigMap %s/%s key %s: %w", IstioNamespace, name, MeshConfigKey, err)
		}
		merged, err := MergeMeshConfig(original, overlay)
		if err != nil {
			return fmt.Errorf("ConfigMap %s/%s key %s: %w", IstioNamespace, name, MeshConfigKey, err)
		}
		y, err := MeshConfigYAML(merged)
		if err != nil {
			return err
		}
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[MeshConfigKey] = y
		if cm.Annotations == nil {
			cm.Annotations = map[string]string{}
		}
		cm.Annotations[AnnotationMeshSettingsHolder] = holder
		cm.Annotations[AnnotationOriginalMesh] = original
		if !hadKey {
			cm.Annotations[AnnotationOriginalMeshAbsent] = "true"
		}
		if _, err := b.kube.CoreV1().ConfigMaps(IstioNamespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			return err // a conflict reads again
		}
		s = &meshSettings{cm: name, overlay: overlay, merged: merged, base: base, original: original, hadKey: hadKey, holders: map[string]bool{ns: true}}
		return nil
	})
	if err != nil {
		return fmt.Errorf("apply mesh settings of topology %q: %w", topo, err)
	}
	b.settings = s
	fmt.Fprintf(b.log, "kind: %s/%s: mesh settings of topology %q applied (localityLbSetting %s, serviceSettings %s); the original is restored when the scenario closes\n",
		IstioNamespace, name, topo, compactJSON(s.merged.GetLocalityLbSetting()), serviceSettingsJSON(s.merged.GetServiceSettings()))
	if err := b.waitMeshServed(ctx, s.merged, fmt.Sprintf("the mesh settings of topology %q", topo)); err != nil {
		if rerr := b.restoreMeshSettingsLocked(ctx); rerr != nil {
			err = fmt.Errorf("%w; restore: %v", err, rerr)
		}
		return err
	}
	return nil
}

func heldElsewhere(cm, holder string, sentinel error) error {
	return fmt.Errorf("ConfigMap %s/%s carries mesh settings another locality-e2e run or process applied (%s=%q): %w: wait for it to end; if none runs any more, restore the mesh key from annotation %s (or remove the key if %s is \"true\") and remove the three locality-e2e/ annotations (kubectl -n %s edit configmap %s)",
		IstioNamespace, cm, AnnotationMeshSettingsHolder, holder, sentinel, AnnotationOriginalMesh, AnnotationOriginalMeshAbsent, IstioNamespace, cm)
}

// warnOtherScenarios logs the scenario namespaces in the cluster other
// than ns: scenarios of other processes (ginkgo -p) or kept ones
// (KeepNamespaces), which the mesh settings about to be applied reach too.
func (b *backend) warnOtherScenarios(ctx context.Context, ns string) {
	list, err := b.kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: LabelTopology})
	if err != nil {
		return
	}
	var others []string
	for _, n := range list.Items {
		if n.Name != ns && n.DeletionTimestamp == nil && n.Status.Phase != corev1.NamespaceTerminating {
			others = append(others, n.Name)
		}
	}
	if len(others) > 0 {
		fmt.Fprintf(b.log, "kind: WARNING: mesh-wide settings are about to be applied while other scenario namespaces exist (%s); their Services see the settings too (a parallel process, or kept namespaces)\n", strings.Join(others, ", "))
	}
}

// releaseMeshSettings drops the scenario in ns from the holders and, for
// the last one, restores the original mesh config. KeepNamespaces keeps
// the namespace, not the settings: the next scenario needs the mesh as
// installed, so they are always restored (and the log says so).
func (b *backend) releaseMeshSettings(ctx context.Context, ns string) error {
	b.settingsMu.Lock()
	defer b.settingsMu.Unlock()
	s := b.settings
	if s == nil || !s.holders[ns] {
		return nil
	}
	delete(s.holders, ns)
	if len(s.holders) > 0 {
		fmt.Fprintf(b.log, "kind: %s/%s: mesh settings still held by %v\n", IstioNamespace, s.cm, s.holderList())
		return nil
	}
	if b.cfg.KeepNamespaces {
		fmt.Fprintf(b.log, "kind: %s/%s: restoring the original mesh config although namespaces are kept (%s): mesh-wide settings would reach every later scenario; they were %s\n",
			IstioNamespace, s.cm, EnvKeepNamespaces, compactJSON(s.overlay))
	}
	return b.restoreMeshSettingsLocked(ctx)
}

// restoreMeshSettingsLocked writes the original "mesh" value back (or
// removes the key it did not have), removes the annotations, and waits
// until istiod serves the original settings again. It runs even when ctx
// is cancelled (a failed or interrupted spec), within its own bounds.
func (b *backend) restoreMeshSettingsLocked(ctx context.Context) error {
	s := b.settings
	if s == nil {
		return nil
	}
	b.settings = nil
	ctx = context.WithoutCancel(ctx)
	uctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := b.kube.CoreV1().ConfigMaps(IstioNamespace).Get(uctx, s.cm, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		if s.hadKey {
			cm.Data[MeshConfigKey] = s.original
		} else {
			delete(cm.Data, MeshConfigKey)
		}
		delete(cm.Annotations, AnnotationMeshSettingsHolder)
		delete(cm.Annotations, AnnotationOriginalMesh)
		delete(cm.Annotations, AnnotationOriginalMeshAbsent)
		_, err = b.kube.CoreV1().ConfigMaps(IstioNamespace).Update(uctx, cm, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("restore the original mesh config in ConfigMap %s/%s: %w: restore it by hand from annotation %s (kubectl -n %s edit configmap %s)", IstioNamespace, s.cm, err, AnnotationOriginalMesh, IstioNamespace, s.cm)
	}
	if err := b.waitMeshServed(ctx, s.base, "the original mesh config"); err != nil {
		return fmt.Errorf("restore the original mesh config: %w", err)
	}
	fmt.Fprintf(b.log, "kind: %s/%s: original mesh config restored\n", IstioNamespace, s.cm)
	return nil
}

// checkNoMeshSettings refuses a Deploy without mesh settings while a
// scenario holds some (in this backend, or, by the ConfigMap's
// annotation, in another process): it would run under them. A ConfigMap
// that cannot be read does not block it.
func (b *backend) checkNoMeshSettings(ctx context.Context, topo string) error {
	b.settingsMu.Lock()
	defer b.settingsMu.Unlock()
	if s := b.settings; s != nil {
		return fmt.Errorf("topology %q declares no mesh settings, but the scenario(s) in %v hold %s in %s/%s, which it would run under: %w: close them first (the suite's Ordered containers run one after another)",
			topo, s.holderList(), compactJSON(s.overlay), IstioNamespace, s.cm, ErrMeshSettingsConflict)
	}
	name := MeshConfigMapName(b.cfg.Revision)
	cm, err := b.kube.CoreV1().ConfigMaps(IstioNamespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		fmt.Fprintf(b.log, "kind: WARNING: read ConfigMap %s/%s to check no mesh settings are applied: %v (continuing)\n", IstioNamespace, name, err)
		return nil
	}
	if h := cm.Annotations[AnnotationMeshSettingsHolder]; h != "" {
		return fmt.Errorf("topology %q declares no mesh settings and would run under them: %w", topo, heldElsewhere(name, h, ErrMeshSettingsConflict))
	}
	return nil
}

// waitMeshServed polls /debug/mesh in every running istiod pod (of the
// configured revision), by the exec kindFetcher.IstiodDebug uses, until
// each serves want's localityLbSetting and serviceSettings, within
// Timeouts.Sync (istiod reloads its ConfigMap from a watch, as it picks
// up a DestinationRule). The error names the pods and what differs.
func (b *backend) waitMeshServed(ctx context.Context, want *meshconfig.MeshConfig, what string) error {
	t := b.cfg.Timeouts
	return Poll(ctx, fmt.Sprintf("istiod (%s in %s) to serve %s on %s", b.istiodSelector(), IstioNamespace, what, MeshDebugPath), t.Poll, t.Sync, func(ctx context.Context) (bool, string, error) {
		pods, err := b.istiodPods(ctx)
		if err != nil {
			return false, "", err
		}
		if len(pods) == 0 {
			return false, "no running istiod pod", nil
		}
		var stale []string
		for _, p := range pods {
			body, err := b.istiodDebugIn(ctx, p, MeshDebugPath)
			if err != nil {
				stale = append(stale, err.Error())
				continue
			}
			served, err := ParseServedMesh(body)
			if err != nil {
				stale = append(stale, p+": "+err.Error())
				continue
			}
			if ok, diff := MeshSettingsServed(served, want); !ok {
				stale = append(stale, p+": "+diff)
			}
		}
		return len(stale) == 0, strings.Join(stale, "; "), nil
	})
}
