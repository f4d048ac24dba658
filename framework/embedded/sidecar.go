package embedded

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pkg/adsc"

	"github.com/localitylb/locality-e2e/framework/envoyadmin"
	"github.com/localitylb/locality-e2e/framework/envoylb"
)

// sidecar is one client pod's simulated Envoy. It connects to the
// in-process istiod over ADS as a real sidecar does (istio's own xDS client,
// pkg/adsc: CDS, then EDS for the EDS clusters, then LDS, then RDS for the
// HTTP listeners' routes, each response ACKed), and applies what istiod
// pushes to its load-balancing model: the Cluster (CDS) and
// ClusterLoadAssignment (EDS) of the topology's Service, and the retry
// policy and timeout of the route (RDS) that sends to it. Nothing is
// generated on the sidecar's behalf: a push that does not arrive is a push
// the model does not see.
type sidecar struct {
	name      string // pod name; istiod's proxy ID is name.namespace
	namespace string
	cluster   string // outbound|<port>||<host>
	routeName string // the outbound HTTP route config for the port, e.g. "5000"
	// passthrough: a gateway's TCP passthrough (AUTO_PASSTHROUGH by SNI):
	// no route, no retries, one connection attempt.
	passthrough bool
	host        string // the Service's FQDN
	opts        envoylb.Options

	ads      *adsc.ADSC
	locality *corev3.Locality // the client's own locality
	admin    *http.Server     // Envoy's admin API, on <pod IP>:15000
	adminURL string

	// pushGate is taken by every push before it is applied: a test holds
	// it to delay istiod's pushes, as a busy istiod's debounce does.
	pushGate sync.Mutex

	mu sync.Mutex
	// What istiod pushed last, as received.
	cds        *clusterv3.Cluster
	cdsVersion string
	cdsAt      time.Time
	cla        *endpointv3.ClusterLoadAssignment
	rds        *routev3.RouteConfiguration
	// selfDiscovery: the bootstrap has local_cluster (selfdiscovery.go);
	// local is its assignment as istiod pushed it.
	selfDiscovery bool
	local         *endpointv3.ClusterLoadAssignment
	localAdmin    localAdmin // local_cluster for the admin API (selfdiscovery.go)
	// The model, built from the pushed Cluster and ClusterLoadAssignment.
	lb      *envoylb.LB
	applied *clusterv3.Cluster // the Cluster lb was last updated with
	route   routeConfig
	// err is why the last push could not be applied (e.g. a policy the
	// model does not implement); requests fail with it until a push fixes it.
	err error
}

// routeConfig is what the sidecar takes from the route that sends to its
// cluster.
type routeConfig struct {
	retry   envoylb.RetryPolicy
	timeout time.Duration // 0: no route timeout (istiod's default)
	known   bool
}

// ProxyID is how istiod names the sidecar (its debug endpoints' proxyID).
func (s *sidecar) ProxyID() string { return s.name + "." + s.namespace }

// proxySpec is what an ADS client needs to stand for one Envoy: a client
// pod's sidecar or an east-west gateway.
type proxySpec struct {
	proxy     *model.Proxy // as istiod would build it (Mesh.proxy, Mesh.gatewayProxy)
	name      string       // pod name
	namespace string
	cluster   string // the Envoy cluster the model follows
	routeName string // the route config naming that cluster; "" for a TCP passthrough (gateway)
	admin     net.Listener
}

// connectSidecar starts the ADS stream of a client's sidecar to istiod.
func connectSidecar(m *Mesh, c *client) (*sidecar, error) {
	return connectProxy(m, proxySpec{
		proxy: m.proxy(c), name: c.obj.Name, namespace: c.obj.Namespace,
		cluster: m.topo.ClusterName(), routeName: fmt.Sprint(m.topo.Port), admin: c.admin,
	})
}

// proxySeed is a proxy's load balancer seed: the mesh's run seed and the
// proxy's pod name (FNV-1a), so two replicas of one client (sleep-a-1,
// sleep-a-2) draw different random numbers, as two Envoys do, while a run
// stays reproducible from its seed.
func proxySeed(runSeed uint64, name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return runSeed ^ h.Sum64()
}

// connectProxy starts the ADS stream of one proxy to istiod.
func connectProxy(m *Mesh, ps proxySpec) (*sidecar, error) {
	s := &sidecar{
		name:        ps.name,
		namespace:   ps.namespace,
		cluster:     ps.cluster,
		routeName:   ps.routeName,
		passthrough: ps.routeName == "",
		host:        m.topo.Host(),
		opts: envoylb.Options{
			Seed:    proxySeed(m.seed, ps.name),
			Workers: m.opts.Workers,
			Clock:   m.clock.Now,
		},
	}
	p := ps.proxy
	s.locality = p.Locality
	s.selfDiscovery = selfDiscoveryEnabled(p.Metadata)
	s.opts.LocalLocality = p.Locality.GetRegion() + "/" + p.Locality.GetZone() + "/" + p.Locality.GetSubZone()
	dial := grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) {
		c, err := m.fake.BufListener.Dial()
		if err != nil {
			return nil, err
		}
		return &deadlineReleasingConn{Conn: c}, nil
	})
	ads, err := adsc.NewWithBackoffPolicy(m.fake.Listener.Addr().String(), &adsc.ADSConfig{
		Config: adsc.Config{
			ClientName: s.ProxyID(),
			IP:         p.IPAddresses[0],
			NodeType:   p.Type,
			Meta:       p.Metadata.ToStruct(),
			Locality:   p.Locality,
			Namespace:  s.namespace,
			Workload:   s.name,
			GrpcOpts:   []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), dial},
		},
		InitialDiscoveryRequests: []*discovery.DiscoveryRequest{{TypeUrl: v3.ClusterType}},
		ResponseHandler:          s,
	}, reconnectBackoff())
	if err != nil {
		return nil, fmt.Errorf("proxy %s: connect to istiod: %w", s.ProxyID(), err)
	}
	s.ads = ads
	if err := ads.Run(); err != nil {
		ads.Close()
		return nil, fmt.Errorf("proxy %s: start ADS stream: %w", s.ProxyID(), err)
	}
	if ps.admin != nil {
		s.serveAdmin(ps.admin)
	}
	return s, nil
}

// adminPort is Envoy's admin port in an Istio sidecar (127.0.0.1:15000
// inside the pod, where `pilot-agent request` sends).
const adminPort = 15000

// serveAdmin serves Envoy's admin API (framework/envoyadmin: /clusters,
// /config_dump with include_eds, resource= and mask=) for this sidecar on
// l, bound on the client pod's own loopback address, rendered from the
// model's state.
func (s *sidecar) serveAdmin(l net.Listener) {
	s.admin = &http.Server{Handler: envoyadmin.Handler(s.adminClusters), ReadHeaderTimeout: 5 * time.Second}
	s.adminURL = "http://" + l.Addr().String() + "/"
	go func() { _ = s.admin.Serve(l) }()
}

// adminClusters is what the admin API renders: the Service's cluster as
// the sidecar holds it (none before the first complete push).
func (s *sidecar) adminClusters() []envoyadmin.Cluster {
	s.mu.Lock()
	lb, cfg, version, at := s.lb, s.applied, s.cdsVersion, s.cdsAt
	s.mu.Unlock()
	if lb == nil || cfg == nil {
		return nil
	}
	out := []envoyadmin.Cluster{{
		Config: cfg, VersionInfo: version, LastUpdated: at,
		State: lb.State(), LocalLocality: s.locality,
	}}
	return append(out, s.localAdminClusters()...)
}

func (s *sidecar) close() {
	if s.ads != nil {
		s.ads.Close()
	}
	if s.admin != nil {
		_ = s.admin.Close()
	}
}

// HandleResponse is adsc's hook, called for every DiscoveryResponse before
// adsc processes and ACKs it: the sidecar applies the push first, so an
// ACK istiod sees means the model has it.
func (s *sidecar) HandleResponse(_ *adsc.ADSC, r *discovery.DiscoveryResponse) {
	s.pushGate.Lock()
	defer s.pushGate.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.GetTypeUrl() {
	case v3.ClusterType:
		if s.selfDiscovery {
			if err := addBootstrapCluster(r); err != nil {
				s.err = err
				return
			}
		}
		// State of the world: a CDS response without the cluster removes it.
		s.cds = nil
		for _, a := range r.GetResources() {
			c := &clusterv3.Cluster{}
			if err := a.UnmarshalTo(c); err != nil {
				s.err = fmt.Errorf("decode CDS resource: %w", err)
				return
			}
			if c.GetName() == s.cluster {
				s.cds, s.cdsVersion, s.cdsAt = c, r.GetVersionInfo(), time.Now()
			}
		}
		if s.cds == nil {
			s.err = fmt.Errorf("istiod pushed no cluster %s to %s", s.cluster, s.ProxyID())
		}
		// Envoy warms a new or changed cluster until its EDS arrives; the
		// model takes it with the next ClusterLoadAssignment.
	case v3.EndpointType:
		for _, a := range r.GetResources() {
			cla := &endpointv3.ClusterLoadAssignment{}
			if err := a.UnmarshalTo(cla); err != nil {
				s.err = fmt.Errorf("decode EDS resource: %w", err)
				return
			}
			if cla.GetClusterName() == s.cluster {
				s.cla = cla
				s.applyLocked()
			} else if s.selfDiscovery && cla.GetClusterName() == localClusterName {
				s.setLocalLocked(cla)
			}
		}
	case v3.RouteType:
		for _, a := range r.GetResources() {
			rc := &routev3.RouteConfiguration{}
			if err := a.UnmarshalTo(rc); err != nil {
				s.err = fmt.Errorf("decode RDS resource: %w", err)
				return
			}
			if rc.GetName() == s.routeName {
				s.rds = rc
				s.applyLocked()
			}
		}
	}
}

// applyLocked hands the pushed Cluster, ClusterLoadAssignment and route
// to the model. Caller holds s.mu.
func (s *sidecar) applyLocked() {
	if s.cds == nil || s.cla == nil {
		return
	}
	rc, err := routeFor(s.rds, s.host, s.cluster)
	if s.passthrough {
		// Envoy's tcp_proxy: no route and no retry policy.
		rc, err = routeConfig{known: true}, nil
	}
	if err != nil {
		s.err = fmt.Errorf("sidecar of %s: %w", s.name, err)
		return
	}
	if s.lb == nil {
		lb, err := envoylb.New(s.cds, s.cla, s.opts)
		if err != nil {
			s.err = fmt.Errorf("sidecar of %s: %w", s.name, err)
			return
		}
		s.lb = lb
		if s.local != nil {
			if err := lb.SetLocalCluster(s.local); err != nil {
				s.err = fmt.Errorf("sidecar of %s: local_cluster: %w", s.name, err)
				return
			}
		}
	} else if err := s.lb.Update(s.cds, s.cla); err != nil {
		s.err = fmt.Errorf("sidecar of %s: %w", s.name, err)
		return
	}
	s.applied = s.cds
	s.route = rc
	s.lb.SetRetryPolicy(rc.retry)
	s.err = nil
}

// routeFor finds, in the outbound route config of the port, the route
// Envoy would take for GET /hello to host and reads its retry policy and
// timeout. Route-level retry policy overrides the virtual host's, as in
// Envoy (route_components.proto, RouteAction.retry_policy). Routes that
// split or send elsewhere are refused: the model holds one cluster.
func routeFor(rc *routev3.RouteConfiguration, host, cluster string) (routeConfig, error) {
	if rc == nil {
		// No RDS yet: Envoy would not route at all; a request now is an
		// error the caller reports.
		return routeConfig{}, nil
	}
	var vh *routev3.VirtualHost
	for _, v := range rc.GetVirtualHosts() {
		for _, d := range v.GetDomains() {
			if d == host || strings.HasPrefix(d, host+":") {
				vh = v
			}
		}
		if vh != nil {
			break
		}
	}
	if vh == nil {
		return routeConfig{}, fmt.Errorf("route config %s has no virtual host for %s", rc.GetName(), host)
	}
	for _, r := range vh.GetRoutes() {
		if !matchesHello(r.GetMatch()) {
			continue
		}
		ra := r.GetRoute()
		if ra == nil {
			return routeConfig{}, fmt.Errorf("route %q of %s answers GET /hello itself (redirect or direct response), which the embedded sidecar does not model", r.GetName(), vh.GetName())
		}
		if ra.GetCluster() != cluster {
			what := ra.GetCluster()
			if wc := ra.GetWeightedClusters(); wc != nil {
				what = fmt.Sprintf("%d weighted clusters", len(wc.GetClusters()))
			}
			return routeConfig{}, fmt.Errorf("route %q of %s sends GET /hello to %s, not %s: VirtualService subsets, splits and other destinations are not modelled by the embedded backend; run it on kind", r.GetName(), vh.GetName(), what, cluster)
		}
		rp := ra.GetRetryPolicy()
		if rp == nil {
			rp = vh.GetRetryPolicy()
		}
		retry, err := envoylb.RetryPolicyFromRoute(rp)
		if err != nil {
			return routeConfig{}, fmt.Errorf("route %q of %s: %w", r.GetName(), vh.GetName(), err)
		}
		return routeConfig{retry: retry, timeout: ra.GetTimeout().AsDuration(), known: true}, nil
	}
	return routeConfig{}, fmt.Errorf("no route of %s matches GET /hello", vh.GetName())
}

// matchesHello: a prefix "/" or "/hello", a path "/hello", or a safe regex
// or path template is taken to match; header and query matchers are not
// modelled (the sidecar sends plain GET /hello).
func matchesHello(m *routev3.RouteMatch) bool {
	if len(m.GetHeaders()) > 0 || len(m.GetQueryParameters()) > 0 {
		return false
	}
	switch p := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		return strings.HasPrefix("/hello", p.Prefix)
	case *routev3.RouteMatch_Path:
		return p.Path == "/hello"
	case nil:
		return true
	default:
		return true
	}
}

// errNotReady is returned by requests before the first complete push.
var errNotReady = errors.New("the sidecar has not received its cluster, endpoints and route from istiod yet")

// snapshot returns what the sidecar holds now.
func (s *sidecar) snapshot() (*envoylb.LB, routeConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, routeConfig{}, s.err
	}
	if s.lb == nil || !s.route.known {
		return nil, routeConfig{}, errNotReady
	}
	return s.lb, s.route, nil
}

// holds reports whether the sidecar holds exactly this Cluster,
// ClusterLoadAssignment and route configuration (istiod's current answer).
func (s *sidecar) holds(c *clusterv3.Cluster, cla *endpointv3.ClusterLoadAssignment, rc *routev3.RouteConfiguration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Equal(s.cds, c) && proto.Equal(s.applied, c) && proto.Equal(s.cla, cla) && proto.Equal(s.rds, rc)
}
