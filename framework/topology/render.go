package topology

import (
	"bytes"
	"fmt"
	"sort"
	"text/template"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/manifests"
)

// NodeSpec is one kind worker node: the locality it stands for and the
// node labels that carry it.
type NodeSpec struct {
	Locality locality.Locality
	Labels   map[string]string
}

// Nodes returns one worker node per distinct locality of the workloads and
// clients, sorted by locality string. Labels hold the region, and the zone
// and subzone when set.
func (t Topology) Nodes() []NodeSpec {
	seen := map[string]locality.Locality{}
	for _, w := range t.Workloads {
		seen[w.Locality.String()] = w.Locality
	}
	for _, c := range t.Clients {
		seen[c.Locality.String()] = c.Locality
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]NodeSpec, 0, len(keys))
	for _, k := range keys {
		l := seen[k]
		out = append(out, NodeSpec{Locality: l, Labels: localityLabels(l)})
	}
	return out
}

// localityLabels are the node labels (and nodeSelector) of a locality.
func localityLabels(l locality.Locality) map[string]string {
	m := map[string]string{LabelRegion: l.Region}
	if l.Zone != "" {
		m[LabelZone] = l.Zone
	}
	if l.Subzone != "" {
		m[LabelSubzone] = l.Subzone
	}
	return m
}

// renderedDoc is one executed template.
type renderedDoc struct {
	what string // e.g. "Deployment helloworld-kr-a"
	text []byte
}

var templates = template.Must(template.New("manifests").ParseFS(manifests.FS, "workloads/*.yaml.tmpl"))

func execTemplate(file string, data any) ([]byte, error) {
	var buf bytes.Buffer
	// ParseFS names templates by base name.
	name := file[len("workloads/"):]
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("execute %s: %w", file, err)
	}
	return buf.Bytes(), nil
}

// renderDocs validates t and executes the templates in the order
// Deployments, Service, VirtualService, client Pods.
func renderDocs(t Topology) ([]renderedDoc, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	t = t.WithDefaults()
	var docs []renderedDoc
	add := func(what, file string, data any) error {
		b, err := execTemplate(file, data)
		if err != nil {
			return fmt.Errorf("topology %q: render %s: %w", t.Name, what, err)
		}
		docs = append(docs, renderedDoc{what: what, text: b})
		return nil
	}
	for _, w := range t.Workloads {
		if err := add("Deployment "+w.Name, manifests.DeploymentTemplate, manifests.WorkloadData{
			Name: w.Name, Namespace: t.Namespace, App: t.App, Replicas: w.Replicas,
			Image: t.Image, Port: t.Port, HealthPort: t.HealthPort,
			Region: w.Locality.Region, Zone: w.Locality.Zone, Subzone: w.Locality.Subzone,
			Labels: w.Labels,
		}); err != nil {
			return nil, err
		}
	}
	svc := manifests.ServiceData{Name: t.Service, Namespace: t.Namespace, App: t.App, Port: t.Port, Host: t.Host(),
		TrafficDistribution: t.TrafficDistribution}
	if err := add("Service "+t.Service, manifests.ServiceTemplate, svc); err != nil {
		return nil, err
	}
	if err := add("VirtualService "+t.Service, manifests.VirtualServiceTemplate, svc); err != nil {
		return nil, err
	}
	for _, c := range t.Clients {
		if err := add("Pod "+c.Name, manifests.ClientPodTemplate, manifests.ClientData{
			Name: c.Name, Namespace: t.Namespace, Image: t.ClientImage,
			Region: c.Locality.Region, Zone: c.Locality.Zone, Subzone: c.Locality.Subzone,
			Labels: c.podLabels(),
		}); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

var decoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err) // static registration; cannot fail at run time
	}
	if err := networkingv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
}()

// Render validates t (returning Validate's error) and renders it into typed
// objects: one *appsv1.Deployment per workload, the *corev1.Service, the
// *networkingv1.VirtualService, and one *corev1.Pod per client, in that
// order, all in t.Namespace ("default" if empty).
func Render(t Topology) ([]client.Object, error) {
	docs, err := renderDocs(t)
	if err != nil {
		return nil, err
	}
	ns := t.WithDefaults().Namespace
	out := make([]client.Object, 0, len(docs))
	for _, d := range docs {
		obj, _, err := decoder.Decode(d.text, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("topology %q: decode rendered %s: %w\n%s", t.Name, d.what, err, d.text)
		}
		co, ok := obj.(client.Object)
		if !ok {
			return nil, fmt.Errorf("topology %q: rendered %s decoded to %T, not a client.Object", t.Name, d.what, obj)
		}
		switch co.(type) {
		case *appsv1.Deployment, *corev1.Service, *networkingv1.VirtualService, *corev1.Pod:
		default:
			return nil, fmt.Errorf("topology %q: rendered %s decoded to unexpected %T", t.Name, d.what, obj)
		}
		co.SetNamespace(ns)
		out = append(out, co)
	}
	if err := checkRendered(t.WithDefaults(), out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkRendered compares the decoded objects with the topology they came
// from: a field that changed the YAML's structure (a newline or comment
// smuggled past validation) shows up here as a mismatch.
func checkRendered(t Topology, objs []client.Object) error {
	mismatch := func(what, field string, got, want any) error {
		return fmt.Errorf("topology %q: rendered %s has %s %v, want %v: a field changed the manifest's structure", t.Name, what, field, got, want)
	}
	podLabels := func(base, extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range extra {
			m[k] = v
		}
		for k, v := range base {
			m[k] = v
		}
		return m
	}
	if len(objs) != len(t.Workloads)+2+len(t.Clients) {
		return fmt.Errorf("topology %q: rendered %d objects, want %d", t.Name, len(objs), len(t.Workloads)+2+len(t.Clients))
	}
	for i, w := range t.Workloads {
		d, ok := objs[i].(*appsv1.Deployment)
		what := "Deployment " + w.Name
		switch {
		case !ok:
			return mismatch(what, "type", fmt.Sprintf("%T", objs[i]), "*v1.Deployment")
		case d.Name != w.Name:
			return mismatch(what, "name", d.Name, w.Name)
		case len(d.Spec.Template.Spec.Containers) != 1:
			return mismatch(what, "containers", len(d.Spec.Template.Spec.Containers), 1)
		case d.Spec.Template.Spec.Containers[0].Image != t.Image:
			return mismatch(what, "image", d.Spec.Template.Spec.Containers[0].Image, t.Image)
		case d.Spec.Template.Spec.Containers[0].SecurityContext != nil:
			return mismatch(what, "securityContext", d.Spec.Template.Spec.Containers[0].SecurityContext, nil)
		case !equalMaps(d.Spec.Template.Labels, podLabels(map[string]string{"app": t.App, "workload": w.Name}, w.Labels)):
			return mismatch(what, "pod labels", d.Spec.Template.Labels, podLabels(map[string]string{"app": t.App, "workload": w.Name}, w.Labels))
		case !equalMaps(d.Spec.Template.Spec.NodeSelector, localityLabels(w.Locality)):
			return mismatch(what, "nodeSelector", d.Spec.Template.Spec.NodeSelector, localityLabels(w.Locality))
		case d.Spec.Replicas == nil || int(*d.Spec.Replicas) != w.Replicas:
			return mismatch(what, "replicas", d.Spec.Replicas, w.Replicas)
		}
	}
	if svc, ok := objs[len(t.Workloads)].(*corev1.Service); !ok || svc.Name != t.Service || !equalMaps(svc.Spec.Selector, map[string]string{"app": t.App}) {
		return mismatch("Service "+t.Service, "name and selector", objs[len(t.Workloads)].GetName(), t.Service+" selecting app="+t.App)
	}
	for i, c := range t.Clients {
		o := objs[len(t.Workloads)+2+i]
		p, ok := o.(*corev1.Pod)
		what := "Pod " + c.Name
		switch {
		case !ok:
			return mismatch(what, "type", fmt.Sprintf("%T", o), "*v1.Pod")
		case p.Name != c.Name:
			return mismatch(what, "name", p.Name, c.Name)
		case len(p.Spec.Containers) != 1 || p.Spec.Containers[0].Image != t.ClientImage || p.Spec.Containers[0].SecurityContext != nil:
			return mismatch(what, "container", p.Spec.Containers, "one container of image "+t.ClientImage)
		case !equalMaps(p.Labels, podLabels(map[string]string{"app": "locality-e2e-client", "client": c.Name}, c.podLabels())):
			return mismatch(what, "labels", p.Labels, podLabels(map[string]string{"app": "locality-e2e-client", "client": c.Name}, c.podLabels()))
		case !equalMaps(p.Spec.NodeSelector, localityLabels(c.Locality)):
			return mismatch(what, "nodeSelector", p.Spec.NodeSelector, localityLabels(c.Locality))
		}
	}
	return nil
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// RenderYAML renders t as one multi-document YAML stream (what `make render`
// prints), in Render's order. Every document is decoded first, so an
// error here is the same as Render's.
func RenderYAML(t Topology) ([]byte, error) {
	if _, err := Render(t); err != nil {
		return nil, err
	}
	docs, err := renderDocs(t)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(bytes.TrimRight(d.text, "\n"))
		buf.WriteString("\n")
	}
	return buf.Bytes(), nil
}
