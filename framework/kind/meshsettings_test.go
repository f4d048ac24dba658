package kind

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
	meshconfig "istio.io/api/mesh/v1alpha1"
	networkingapi "istio.io/api/networking/v1alpha3"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/util/protomarshal"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	lmesh "github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// installedMesh is a "mesh" value as istioctl writes it (abridged), with
// a key order and comment the restore must keep byte for byte.
const installedMesh = `accessLogFile: /dev/stdout
defaultConfig:
  discoveryAddress: istiod.istio-system.svc:15012
defaultProviders:
  metrics:
  - prometheus
enablePrometheusMerge: true
rootNamespace: istio-system
trustDomain: cluster.local
# written by istioctl
`

// withIstiod adds a running istiod pod of revision and its mesh
// ConfigMap (installedMesh, and a meshNetworks key nothing may touch).
func (f *fakeCluster) withIstiod(t *testing.T, revision string) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": "istiod"}
	if revision != "" {
		labels[LabelRevision] = revision
	}
	if _, err := f.kube.CoreV1().Pods(IstioNamespace).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: IstiodDeploymentName(revision) + "-1", Namespace: IstioNamespace, Labels: labels},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.meshCM, f.meshServed = MeshConfigMapName(revision), installedMesh
	f.mu.Unlock()
	if _, err := f.kube.CoreV1().ConfigMaps(IstioNamespace).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: MeshConfigMapName(revision), Namespace: IstioNamespace},
		Data:       map[string]string{MeshConfigKey: installedMesh, "meshNetworks": "networks: {}"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// debugMesh answers `pilot-discovery request GET /debug/mesh` as istiod
// does (pilot/pkg/xds/debug.go meshHandler: writeJSON(s.Env.Mesh()),
// config.ToJSON = protomarshal.MarshalIndent): the ConfigMap's mesh over
// Istio's defaults, reloaded after meshLag answers unless frozen.
func (f *fakeCluster) debugMesh(ctx context.Context) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cm, err := f.kube.CoreV1().ConfigMaps(IstioNamespace).Get(ctx, f.meshCM, metav1.GetOptions{})
	if err != nil {
		return "", err.Error(), err
	}
	if cur := cm.Data[MeshConfigKey]; cur != f.meshServed {
		switch {
		case f.meshFrozen:
		case f.meshLag > 0:
			f.meshLag--
		default:
			f.meshServed = cur
		}
	}
	mc, err := mesh.ApplyMeshConfigDefaults(f.meshServed)
	if err != nil {
		return "", err.Error(), err
	}
	b, err := protomarshal.MarshalIndent(mc, "")
	if err != nil {
		return "", err.Error(), err
	}
	return string(b), "", nil
}

func (f *fakeCluster) configMap(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	cm, err := f.kube.CoreV1().ConfigMaps(IstioNamespace).Get(context.Background(), f.meshCM, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

func distribute8020() *networkingapi.LocalityLoadBalancerSetting {
	return &networkingapi.LocalityLoadBalancerSetting{Distribute: []*networkingapi.LocalityLoadBalancerSetting_Distribute{{
		From: "kr/b/*", To: map[string]uint32{"kr/b/*": 80, "kr/c/*": 20},
	}}}
}

func meshDefaultTopology() topology.Topology {
	t := topology.ThreeZones()
	t.Name = "three-zones-mesh-default"
	t.Mesh.LocalityLbSetting = distribute8020()
	return t
}

// TestMergeMeshConfig: each setting merged over the installed mesh config
// by Istio's mesh package: the overlay's top-level fields replace the
// current ones whole, everything else stays.
func TestMergeMeshConfig(t *testing.T) {
	host := "helloworld-svc.le2e-x.svc.cluster.local"
	local := []*meshconfig.MeshConfig_ServiceSettings{{Hosts: []string{host}, Settings: &meshconfig.MeshConfig_ServiceSettings_Settings{ClusterLocal: true}}}
	base, err := MergeMeshConfig(installedMesh, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(base.LocalityLbSetting, &networkingapi.LocalityLoadBalancerSetting{Enabled: wrapperspb.Bool(true)}) || len(base.ServiceSettings) != 0 || base.AccessLogFile != "/dev/stdout" || base.ConnectTimeout.AsDuration() == 0 {
		t.Fatalf("base: %v", base)
	}
	kept := func(what string, mc *meshconfig.MeshConfig) {
		t.Helper()
		if mc.AccessLogFile != "/dev/stdout" || mc.DefaultConfig.GetDiscoveryAddress() != "istiod.istio-system.svc:15012" || mc.TrustDomain != "cluster.local" || !proto.Equal(mc.ConnectTimeout, base.ConnectTimeout) {
			t.Errorf("%s: installed fields lost: %v", what, mc)
		}
	}
	lb, err := MergeMeshConfig(installedMesh, &meshconfig.MeshConfig{LocalityLbSetting: distribute8020()})
	if err != nil {
		t.Fatal(err)
	}
	// replaced whole: Istio's default {enabled: true} is gone (unset means enabled)
	if !proto.Equal(lb.LocalityLbSetting, distribute8020()) || len(lb.ServiceSettings) != 0 {
		t.Errorf("localityLbSetting: %v / %v", lb.LocalityLbSetting, lb.ServiceSettings)
	}
	kept("localityLbSetting", lb)
	cl, err := MergeMeshConfig(installedMesh, &meshconfig.MeshConfig{ServiceSettings: local})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(cl.LocalityLbSetting, base.LocalityLbSetting) || !sameServiceSettings(cl.ServiceSettings, local) {
		t.Errorf("clusterLocal: %v / %v", cl.LocalityLbSetting, cl.ServiceSettings)
	}
	kept("clusterLocal", cl)
	topo := topology.ThreeZones()
	topo.Namespace, topo.Mesh = "le2e-x", topology.MeshSettings{LocalityLbSetting: distribute8020(), ClusterLocal: true}
	both, err := MergeMeshConfig(installedMesh, topo.MeshConfigOverlay())
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(both.LocalityLbSetting, distribute8020()) || !sameServiceSettings(both.ServiceSettings, local) {
		t.Errorf("both: %v / %v", both.LocalityLbSetting, both.ServiceSettings)
	}
	kept("both", both)
	// serviceSettings already in the installed config are replaced (Istio's
	// override semantics), not appended to
	withOther := installedMesh + "serviceSettings:\n- hosts: [other.ns.svc.cluster.local]\n  settings: {clusterLocal: true}\n"
	if m, err := MergeMeshConfig(withOther, &meshconfig.MeshConfig{ServiceSettings: local}); err != nil || !sameServiceSettings(m.ServiceSettings, local) {
		t.Errorf("over existing serviceSettings: %v %v", err, m.GetServiceSettings())
	}
	// what the pinned API does not know would be dropped: refused
	if _, err := MergeMeshConfig(installedMesh+"someFutureField: true\n", &meshconfig.MeshConfig{ServiceSettings: local}); err == nil || !strings.Contains(err.Error(), "someFutureField") {
		t.Errorf("unknown field: %v", err)
	}
	// Istio's validation of the result: weights must sum to 100
	bad := &networkingapi.LocalityLoadBalancerSetting{Distribute: []*networkingapi.LocalityLoadBalancerSetting_Distribute{{From: "kr/b/*", To: map[string]uint32{"kr/b/*": 80}}}}
	if _, err := MergeMeshConfig(installedMesh, &meshconfig.MeshConfig{LocalityLbSetting: bad}); err == nil {
		t.Error("invalid localityLbSetting accepted")
	}
	// the served JSON parses back to the same settings
	body, _ := protomarshal.MarshalIndent(both, "")
	served, err := ParseServedMesh(append(body[:len(body)-1], []byte(`,"aFieldFromANewerIstiod":1}`)...))
	if err != nil {
		t.Fatal(err)
	}
	if ok, diff := MeshSettingsServed(served, both); !ok {
		t.Errorf("round trip: %s", diff)
	}
	if ok, diff := MeshSettingsServed(base, both); ok || !strings.Contains(diff, "localityLbSetting is") || !strings.Contains(diff, "serviceSettings are") {
		t.Errorf("diff %q", diff)
	}
	// mesh-wide zone aware routing: merged, served, and told apart
	za := &meshconfig.MeshConfig{ZoneAwareLbSetting: &networkingapi.ZoneAwareLoadBalancerSetting{MinClusterSize: wrapperspb.UInt32(3)}}
	zm, err := MergeMeshConfig(installedMesh, za)
	if err != nil || zm.GetZoneAwareLbSetting().GetMinClusterSize().GetValue() != 3 {
		t.Fatalf("zoneAwareLbSetting merge: %v %v", err, zm.GetZoneAwareLbSetting())
	}
	zbody, _ := protomarshal.MarshalIndent(zm, "")
	zserved, err := ParseServedMesh(zbody)
	if err != nil {
		t.Fatal(err)
	}
	if ok, diff := MeshSettingsServed(zserved, zm); !ok {
		t.Errorf("zoneAwareLbSetting served: %s", diff)
	}
	if ok, diff := MeshSettingsServed(base, zm); ok || !strings.Contains(diff, "zoneAwareLbSetting is") {
		t.Errorf("zoneAwareLbSetting diff %q", diff)
	}
}

// TestMeshSettingsAppliedAndRestored: Deploy writes exactly the merged
// mesh config (other keys untouched, annotations for a manual restore),
// polls /debug/mesh by exec until istiod serves it, and Close writes the
// original back byte for byte and waits again.
func TestMeshSettingsAppliedAndRestored(t *testing.T) {
	f, b := newFakeCluster(t)
	f.withIstiod(t, "")
	f.meshLag = 3
	ctx := context.Background()
	m, err := b.Deploy(ctx, meshDefaultTopology())
	if err != nil {
		t.Fatalf("%v\n%s", err, f.log.String())
	}
	merged, err := MergeMeshConfig(installedMesh, &meshconfig.MeshConfig{LocalityLbSetting: distribute8020()})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := MeshConfigYAML(merged)
	cm := f.configMap(t)
	if cm.Data[MeshConfigKey] != want {
		t.Errorf("mesh written\n%s\nwant\n%s", cm.Data[MeshConfigKey], want)
	}
	if !strings.Contains(want, "localityLbSetting:\n  distribute:\n  - from: kr/b/*\n    to:\n      kr/b/*: 80\n      kr/c/*: 20\n") {
		t.Errorf("merged YAML lacks the distribute rule:\n%s", want)
	}
	if cm.Data["meshNetworks"] != "networks: {}" || cm.Annotations[AnnotationOriginalMesh] != installedMesh ||
		!strings.HasSuffix(cm.Annotations[AnnotationMeshSettingsHolder], " "+m.(*kindMesh).ns) || cm.Annotations[AnnotationOriginalMeshAbsent] != "" {
		t.Errorf("ConfigMap %v %v", cm.Data, cm.Annotations)
	}
	polls := f.execs("pilot-discovery request GET " + MeshDebugPath)
	if len(polls) < 4 {
		t.Errorf("%d /debug/mesh polls, want at least 4 (3 stale answers, then the new config)", len(polls))
	}
	for _, c := range polls {
		if c[0] != IstioNamespace+"/istiod-1/"+IstiodContainer {
			t.Errorf("poll in %s", c[0])
		}
	}
	if f.meshServed != want {
		t.Error("Deploy returned before istiod served the new mesh config")
	}
	f.mu.Lock()
	f.meshLag = 2
	f.mu.Unlock()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cm = f.configMap(t)
	if cm.Data[MeshConfigKey] != installedMesh || len(cm.Annotations) != 0 || cm.Data["meshNetworks"] != "networks: {}" {
		t.Errorf("after Close: %q %v", cm.Data[MeshConfigKey], cm.Annotations)
	}
	if f.meshServed != installedMesh || len(f.execs("pilot-discovery request GET "+MeshDebugPath)) < len(polls)+3 {
		t.Error("Close did not wait for istiod to serve the original again")
	}
	if !strings.Contains(f.log.String(), "original mesh config restored") {
		t.Errorf("log:\n%s", f.log.String())
	}
}

// TestMeshSettingsNotServed: an istiod that never reloads fails Deploy
// with an error naming the pod and the setting, and the original is back.
func TestMeshSettingsNotServed(t *testing.T) {
	f, b := newFakeCluster(t)
	f.withIstiod(t, "")
	f.meshFrozen = true
	_, err := b.Deploy(context.Background(), meshDefaultTopology())
	if err == nil || !strings.Contains(err.Error(), MeshDebugPath) || !strings.Contains(err.Error(), "istiod-1: localityLbSetting is") || !strings.Contains(err.Error(), "three-zones-mesh-default") {
		t.Fatalf("got %v", err)
	}
	if errors.Is(err, lmesh.ErrTopologyUnsupported) {
		t.Error("a control plane that does not converge is not an unsupported topology")
	}
	if cm := f.configMap(t); cm.Data[MeshConfigKey] != installedMesh || len(cm.Annotations) != 0 {
		t.Errorf("not restored: %q %v", cm.Data[MeshConfigKey], cm.Annotations)
	}
	if nss, _ := f.kube.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{}); len(nss.Items) != 0 {
		t.Errorf("namespace created although the settings failed: %v", nss.Items)
	}
}

// TestMeshSettingsRestoredOnFailedDeploy: pods that never get ready fail
// Deploy after the settings were applied; its cleanup restores them.
func TestMeshSettingsRestoredOnFailedDeploy(t *testing.T) {
	f, b := newFakeCluster(t)
	f.withIstiod(t, "")
	b.cfg.Timeouts.Deploy = 100 * time.Millisecond
	topo := meshDefaultTopology()
	topo.Clients[0].Locality.Region = "mars" // the fake controller cannot place it
	_, err := b.Deploy(context.Background(), topo)
	if err == nil || !strings.Contains(err.Error(), "client pod") {
		t.Fatalf("got %v", err)
	}
	if cm := f.configMap(t); cm.Data[MeshConfigKey] != installedMesh || len(cm.Annotations) != 0 || f.meshServed != installedMesh {
		t.Errorf("not restored: %q %v", cm.Data[MeshConfigKey], cm.Annotations)
	}
	if b.settings != nil {
		t.Error("settings still held")
	}
}

// TestMeshSettingsConflicts: one set of settings at a time. Other
// settings, and a topology without settings, are refused while a scenario
// holds some (ErrMeshSettingsConflict, not ErrTopologyUnsupported); the
// same settings are shared until the last holder closes; settings are
// refused while a scenario without them is open; the ConfigMap's holder
// annotation blocks other processes.
func TestMeshSettingsConflicts(t *testing.T) {
	f, b := newFakeCluster(t)
	f.withIstiod(t, "")
	ctx := context.Background()
	a, err := b.Deploy(ctx, meshDefaultTopology())
	if err != nil {
		t.Fatal(err)
	}
	conflict := func(what string, topo topology.Topology, msg string) {
		t.Helper()
		_, err := b.Deploy(ctx, topo)
		if err == nil || !errors.Is(err, ErrMeshSettingsConflict) || errors.Is(err, lmesh.ErrTopologyUnsupported) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v", what, err)
		}
	}
	local := topology.ThreeZones()
	local.Name, local.Mesh.ClusterLocal = "three-zones-local", true
	conflict("other settings", local, "hold {\"localityLbSetting\"")
	conflict("no settings", topology.ThreeZones(), "declares no mesh settings")
	written := f.configMap(t).Data[MeshConfigKey]
	same := meshDefaultTopology()
	same.Name = "three-zones-mesh-default-2"
	d, err := b.Deploy(ctx, same)
	if err != nil {
		t.Fatalf("same settings: %v", err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if f.configMap(t).Data[MeshConfigKey] != written {
		t.Error("restored while another scenario holds the same settings")
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if f.configMap(t).Data[MeshConfigKey] != installedMesh {
		t.Error("not restored after the last holder closed")
	}
	// a scenario without settings is open: settings would reach it
	plain, err := b.Deploy(ctx, topology.ThreeZones())
	if err != nil {
		t.Fatal(err)
	}
	conflict("settings while a plain scenario is open", meshDefaultTopology(), "open in this backend")
	if err := plain.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// another process holds settings (its annotation on the ConfigMap)
	cm := f.configMap(t)
	cm.Annotations = map[string]string{AnnotationMeshSettingsHolder: "otherhost/pid-7/ab le2e-x-12345", AnnotationOriginalMesh: installedMesh}
	if _, err := f.kube.CoreV1().ConfigMaps(IstioNamespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	conflict("settings held by another process", meshDefaultTopology(), "otherhost/pid-7/ab")
	conflict("no settings while another process holds some", topology.ThreeZones(), "otherhost/pid-7/ab")
	if f.configMap(t).Annotations[AnnotationMeshSettingsHolder] != "otherhost/pid-7/ab le2e-x-12345" {
		t.Error("another holder's annotation was touched")
	}
}

// TestMeshSettingsRevisionAndKeep: a revisioned control plane reads
// istio-<revision> and is polled through its own istiod; KeepNamespaces
// keeps the namespace but still restores the mesh config, and says so.
func TestMeshSettingsRevisionAndKeep(t *testing.T) {
	f, b := newFakeCluster(t)
	b.cfg.Revision = "canary-1-32-0"
	b.cfg.KeepNamespaces = true
	f.withIstiod(t, "canary-1-32-0")
	ctx := context.Background()
	m, err := b.Deploy(ctx, meshDefaultTopology())
	if err != nil {
		t.Fatalf("%v\n%s", err, f.log.String())
	}
	if f.meshCM != "istio-canary-1-32-0" || !strings.Contains(f.configMap(t).Data[MeshConfigKey], "kr/c/*: 20") {
		t.Errorf("ConfigMap %s: %q", f.meshCM, f.configMap(t).Data[MeshConfigKey])
	}
	if c := f.execs("pilot-discovery request GET " + MeshDebugPath); len(c) == 0 || c[0][0] != IstioNamespace+"/istiod-canary-1-32-0-1/"+IstiodContainer {
		t.Errorf("polls %v", c)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if f.configMap(t).Data[MeshConfigKey] != installedMesh {
		t.Error("not restored with KeepNamespaces")
	}
	if _, err := f.kube.CoreV1().Namespaces().Get(ctx, m.(*kindMesh).ns, metav1.GetOptions{}); err != nil {
		t.Error("namespace deleted despite KeepNamespaces")
	}
	if !strings.Contains(f.log.String(), "restoring the original mesh config although namespaces are kept") {
		t.Errorf("log:\n%s", f.log.String())
	}
}
