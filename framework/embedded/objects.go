package embedded

import (
	"fmt"
	"math/rand/v2"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// nodeName is the (fake) Kubernetes node that holds a locality, like a kind
// worker labelled with that locality.
func nodeName(l locality.Locality) string {
	return "node-" + strings.ReplaceAll(l.String(), "/", "-")
}

// nodeFor builds a Node labelled with the locality as Istio reads it.
func nodeFor(l locality.Locality) *corev1.Node {
	labels := map[string]string{
		topology.LabelRegion:     l.Region,
		"kubernetes.io/hostname": nodeName(l),
	}
	if l.Zone != "" {
		labels[topology.LabelZone] = l.Zone
	}
	if l.Subzone != "" {
		labels[topology.LabelSubzone] = l.Subzone
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName(l), Labels: labels}}
}

// scheduleTo picks the node a pod's nodeSelector selects, like the
// scheduler with one worker per locality.
func scheduleTo(sel map[string]string, nodes []*corev1.Node) (string, error) {
	for _, n := range nodes {
		ok := true
		for k, v := range sel {
			if n.Labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			return n.Name, nil
		}
	}
	return "", fmt.Errorf("no node matches nodeSelector %v", sel)
}

const nameChars = "bcdfghjklmnpqrstvwxz2456789" // Kubernetes' SafeEncodeString alphabet

func randomSuffix(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = nameChars[r.IntN(len(nameChars))]
	}
	return string(b)
}

// podNamer hands out the 5-character suffixes of one workload's pod names
// (as the ReplicaSet controller's <name>-<hash>-<5 chars>). They look
// random but are unique by construction: the i-th name is i mapped through
// a seeded bijection of [0, 27^5), x ↦ (a·x + b) mod 27^5 with a not a
// multiple of 3 (so coprime with 27^5), written in nameChars.
type podNamer struct {
	a, b, i uint64
}

const nameSpace = 27 * 27 * 27 * 27 * 27 // len(nameChars)^5

func newPodNamer(r *rand.Rand) *podNamer {
	a := r.Uint64N(nameSpace)
	for a%3 == 0 {
		a = r.Uint64N(nameSpace)
	}
	return &podNamer{a: a, b: r.Uint64N(nameSpace)}
}

func (p *podNamer) next() (string, error) {
	if p.i >= nameSpace {
		return "", fmt.Errorf("no pod name left: %d pods were created", p.i)
	}
	x := (p.a*p.i + p.b) % nameSpace
	p.i++
	var out [5]byte
	for k := 4; k >= 0; k-- {
		out[k] = nameChars[x%27]
		x /= 27
	}
	return string(out[:]), nil
}

// runningPod is a scheduled, ready pod with its IP.
func runningPod(tmpl corev1.PodTemplateSpec, name, namespace, node, ip string, owner string) *corev1.Pod {
	labels := map[string]string{}
	for k, v := range tmpl.Labels {
		labels[k] = v
	}
	spec := *tmpl.Spec.DeepCopy()
	spec.NodeName = node
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: namespace, Labels: labels,
			UID:         types.UID(name + "-uid"),
			Annotations: map[string]string{"locality-e2e/owner": owner},
		},
		Spec: spec,
		Status: corev1.PodStatus{
			Phase:  corev1.PodRunning,
			PodIP:  ip,
			PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionTrue},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue},
			},
		},
	}
}

// endpointSlice is what the EndpointSlice controller would publish for the
// Service: one ready endpoint per ready pod.
func endpointSlice(svc *corev1.Service, pods []*corev1.Pod, nodes map[string]*corev1.Node) *discoveryv1.EndpointSlice {
	ready := true
	var ports []discoveryv1.EndpointPort
	for _, p := range svc.Spec.Ports {
		name, port, proto := p.Name, p.TargetPort.IntVal, p.Protocol
		if port == 0 {
			port = p.Port
		}
		ports = append(ports, discoveryv1.EndpointPort{Name: &name, Port: &port, Protocol: &proto})
	}
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: svc.Name + "-slice", Namespace: svc.Namespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc.Name,
				discoveryv1.LabelManagedBy:   "endpointslice-controller.k8s.io",
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
	}
	for _, p := range pods {
		node := p.Spec.NodeName
		ep := discoveryv1.Endpoint{
			Addresses:  []string{p.Status.PodIP},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			NodeName:   &node,
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: p.Name, Namespace: p.Namespace, UID: p.UID},
		}
		if n := nodes[node]; n != nil {
			if z := n.Labels[topology.LabelZone]; z != "" {
				ep.Zone = &z
			}
		}
		es.Endpoints = append(es.Endpoints, ep)
	}
	return es
}
