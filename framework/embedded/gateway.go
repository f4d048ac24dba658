package embedded

import (
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"istio.io/istio/pilot/pkg/model"
	labelutil "istio.io/istio/pilot/pkg/serviceregistry/util/label"
	"istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/host"
	"istio.io/istio/pkg/config/schema/gvk"
	pm "istio.io/istio/pkg/model"
	"istio.io/istio/pkg/network"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/localitylb/locality-e2e/framework/envoylb"
	"github.com/localitylb/locality-e2e/framework/locality"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// Names and labels of an east-west gateway, as Istio's
// samples/multicluster/gen-eastwest-gateway.sh installs it
// (components.ingressGateways[name=istio-eastwestgateway]).
const (
	eastWestName = "istio-eastwestgateway"
)

func eastWestLabels(netw string) map[string]string {
	return map[string]string{"istio": "eastwestgateway", "app": eastWestName, topology.LabelNetwork: netw}
}

// eastWestGateway is one cluster's east-west gateway: a Service istiod
// discovers as its network's gateway (label topology.istio.io/network, port
// 15443, a LoadBalancer address), a gateway pod, its Envoy (an ADS client
// of type Router that receives the sni-dnat clusters of the
// cross-network-gateway's AUTO_PASSTHROUGH server), and a loopback
// listener on <address>:15443 that forwards each request to the endpoint
// its Envoy model picks. Requests from other networks really cross it.
type eastWestGateway struct {
	cluster, network string
	ip               string
	locality         locality.Locality
	pod              *corev1.Pod
	service          *corev1.Service
	listener         net.Listener
	server           *http.Server
	side             *sidecar
	forwarded        atomic.Int64
}

// newEastWestGateway reserves the gateway's address and builds its objects.
// It is placed on the node of the cluster's first workload's locality.
func (m *Mesh) newEastWestGateway(kc *kcluster) (*eastWestGateway, error) {
	ws := m.topo.InCluster(kc.name).Workloads
	if len(ws) == 0 {
		return nil, nil // nothing behind it: no gateway
	}
	loc := ws[0].Locality
	ip, l, err := reserveAddress(topology.EastWestGatewayPort)
	if err != nil {
		return nil, fmt.Errorf("east-west gateway of %s: %w", kc.name, err)
	}
	g := &eastWestGateway{cluster: kc.name, network: kc.network, ip: ip, locality: loc, listener: l}
	labels := eastWestLabels(kc.network)
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}}
	name := fmt.Sprintf("%s-%s-%s", eastWestName, randomSuffix(m.rng, 10), randomSuffix(m.rng, 5))
	g.pod = runningPod(tmpl, name, systemNamespace, nodeName(loc), ip, eastWestName)
	g.pod.Labels[topology.LabelNetwork] = kc.network
	// The Service as the IstioOperator renders it, with the address a
	// LoadBalancer controller (kind: MetalLB) would give it.
	port := func(name string, p int32) corev1.ServicePort {
		return corev1.ServicePort{Name: name, Port: p, TargetPort: intstr.FromInt32(p), Protocol: corev1.ProtocolTCP}
	}
	g.service = &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: eastWestName, Namespace: systemNamespace, Labels: labels},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeLoadBalancer,
			Selector:  map[string]string{"istio": "eastwestgateway", "app": eastWestName},
			ClusterIP: nextAddress(), // never dialed
			Ports: []corev1.ServicePort{
				port("status-port", 15021), port("mtls", topology.EastWestGatewayPort),
				port("tcp-istiod", 15012), port("tcp-webhook", 15017),
			},
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: ip}}}},
	}
	return g, nil
}

// exposeServicesConfig is topology.CrossNetworkGateway (Istio's
// expose-services.yaml, what the kind backend applies) as istiod config.
func exposeServicesConfig() (config.Config, error) {
	gw, err := topology.CrossNetworkGateway()
	if err != nil {
		return config.Config{}, err
	}
	return config.Config{
		Meta: config.Meta{GroupVersionKind: gvk.Gateway, Name: gw.Name, Namespace: gw.Namespace},
		Spec: &gw.Spec,
	}, nil
}

// gatewayProxy is the model.Proxy istiod builds for the gateway's Envoy:
// a Router in istio-system with the environment gen-eastwest-gateway.sh
// gives it (ISTIO_META_REQUESTED_NETWORK_VIEW=<its network>, so its EDS
// holds only its own network's endpoints).
func (m *Mesh) gatewayProxy(g *eastWestGateway) *model.Proxy {
	labels := labelutil.AugmentLabels(g.pod.Labels, cluster.ID(g.cluster), g.locality.String(), g.pod.Spec.NodeName, network.ID(g.network))
	p := &model.Proxy{
		Type:            model.Router,
		ID:              g.pod.Name + "." + systemNamespace,
		IPAddresses:     []string{g.ip},
		ConfigNamespace: systemNamespace,
		DNSDomain:       systemNamespace + ".svc.cluster.local",
		Locality:        &corev3.Locality{Region: g.locality.Region, Zone: g.locality.Zone, SubZone: g.locality.Subzone},
		Labels:          labels,
		Metadata: &model.NodeMetadata{
			Namespace:            systemNamespace,
			Labels:               labels,
			ClusterID:            cluster.ID(g.cluster),
			Network:              network.ID(g.network),
			NodeName:             g.pod.Spec.NodeName,
			IstioVersion:         proxyVersion,
			RequestedNetworkView: pm.StringList{g.network},
		},
	}
	return m.fake.SetupProxy(p)
}

// sniCluster is the gateway's cluster for the Service: the sni-dnat
// cluster outbound_.<port>_._.<host> (model.BuildDNSSrvSubsetKey), which
// the AUTO_PASSTHROUGH listener picks by the SNI the client sidecar sends.
func (m *Mesh) sniCluster() string {
	return model.BuildDNSSrvSubsetKey(model.TrafficDirectionOutbound, "", host.Name(m.topo.Host()), m.topo.Port)
}

// start connects the gateway's Envoy to istiod and serves.
func (g *eastWestGateway) start(m *Mesh) error {
	side, err := connectProxy(m, proxySpec{
		proxy: m.gatewayProxy(g), name: g.pod.Name, namespace: systemNamespace, cluster: m.sniCluster(),
	})
	if err != nil {
		return fmt.Errorf("east-west gateway of %s: %w", g.cluster, err)
	}
	g.side = side
	g.server = &http.Server{Handler: g.handler(m), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = g.server.Serve(g.listener) }()
	return nil
}

// handler forwards a request the way the gateway's tcp_proxy would: one
// upstream connection attempt to the host its load balancer picks
// (tcp_proxy max_connect_attempts defaults to 1), the upstream's answer
// passed back untouched (the gateway sees bytes, not HTTP statuses), and on
// a failed connect the downstream connection closed without an answer,
// which the client sidecar sees as a connection failure.
//
// Outlier detection on the gateway sees only connection results: a
// connect success is reported as a 200 and a failure as a 503
// (outlier_detection_impl.cc DetectorHostMonitorImpl::resultToHttpCode:
// LocalOriginConnectSuccessFinal → OK, LocalOriginConnectFailed →
// ServiceUnavailable, used by putResultNoLocalExternalSplit, i.e. with
// split_external_local_origin_errors false as Istio leaves it).
//
// Not modelled: Envoy's tcp_proxy picks the upstream once per downstream
// connection, so requests sharing a connection to the gateway share an
// upstream pod; here every request is picked anew, as when the
// DestinationRule sets connectionPool.http.maxRequestsPerConnection: 1
// (what Istio's locality failover task does).
func (g *eastWestGateway) handler(m *Mesh) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lb, _, err := g.side.snapshot()
		var status int
		var body string
		failed := err != nil
		if err == nil {
			var att envoylb.Attempt
			att, _, err = lb.Do(func(h envoylb.Host) envoylb.Attempt {
				s, bd, cerr := m.get(r.Context(), h)
				switch {
				case cerr != nil && r.Context().Err() != nil:
					// The downstream went away: no result for the pod.
					return envoylb.Attempt{Cancelled: true}
				case cerr != nil:
					return envoylb.Attempt{ConnectFailure: true}
				}
				status, body = s, bd
				return envoylb.Attempt{Status: http.StatusOK}
			})
			failed = err != nil || att.ConnectFailure || att.Cancelled
		}
		if failed {
			closeConnection(w)
			return
		}
		g.forwarded.Add(1)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
}

// closeConnection drops the downstream connection without an answer.
func closeConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // net/http closes the connection
}

func (g *eastWestGateway) close() {
	if g.server != nil {
		_ = g.server.Close()
	} else if g.listener != nil {
		_ = g.listener.Close()
	}
	if g.side != nil {
		g.side.close()
	}
}
