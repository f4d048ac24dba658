package embedded

// converge.go owns convergence: waiting until every sidecar holds the config
// istiod would generate for it, and the endpoint views read from it.

import (
	"context"
	"fmt"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
	"istio.io/istio/pilot/pkg/model"
	labelutil "istio.io/istio/pilot/pkg/serviceregistry/util/label"
	"istio.io/istio/pilot/pkg/xds/endpoints"
	"istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/network"

	eps "github.com/localitylb/locality-e2e/framework/endpoints"
)

// waitEndpoints waits until istiod's endpoint index holds exactly the
// current pods' addresses, at least minInbound updates arrived and every
// one is committed to the push context (the discovery server's sync
// counters). It never sleeps a fixed time: it polls the counters.
func (m *Mesh) waitEndpoints(ctx context.Context, minInbound int64) error {
	want := map[string]bool{}
	for _, p := range m.allPods() {
		want[p.obj.Status.PodIP] = true
	}
	return m.poll(ctx, "istiod to see the endpoints of "+m.topo.Service, func() bool {
		got := m.indexedAddresses()
		if len(got) != len(want) {
			return false
		}
		for a := range got {
			if !want[a] {
				return false
			}
		}
		return m.synced(minInbound)
	})
}

func (m *Mesh) indexedAddresses() map[string]bool {
	got := map[string]bool{}
	shards, ok := m.fake.Discovery.Env.EndpointIndex.ShardsForService(m.topo.Host(), m.topo.Namespace)
	if !ok {
		return got
	}
	shards.RLock()
	defer shards.RUnlock()
	for _, list := range shards.Shards {
		for _, ep := range list {
			for _, a := range ep.Addresses {
				got[a] = true
			}
		}
	}
	return got
}

// synced: istiod has received at least minInbound updates and committed
// every update it received to the push context.
func (m *Mesh) synced(minInbound int64) bool {
	in := m.fake.Discovery.InboundUpdates.Load()
	return in >= minInbound && m.fake.Discovery.CommittedUpdates.Load() >= in
}

func (m *Mesh) poll(ctx context.Context, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	delay := 100 * time.Microsecond
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedded: %s waiting for %s: %w", cancelWord(ctx.Err()), what, ctx.Err())
		case <-m.closingCh:
			return fmt.Errorf("embedded: stopped waiting for %s: %w", what, errClosedWhileWaiting)
		case <-time.After(delay):
		}
		if delay < 10*time.Millisecond {
			delay *= 2
		}
	}
}

// proxy is the model.Proxy istiod would build for the client's sidecar.
func (m *Mesh) proxy(c *client) *model.Proxy {
	loc := c.locality
	kc := m.clusters[c.cluster]
	labels := labelutil.AugmentLabels(c.obj.Labels, cluster.ID(kc.name), loc.String(), c.obj.Spec.NodeName, network.ID(kc.network))
	p := &model.Proxy{
		Type:            model.SidecarProxy,
		ID:              c.obj.Name + "." + c.obj.Namespace,
		IPAddresses:     []string{c.obj.Status.PodIP},
		ConfigNamespace: c.obj.Namespace,
		DNSDomain:       c.obj.Namespace + ".svc.cluster.local",
		Locality:        &corev3.Locality{Region: loc.Region, Zone: loc.Zone, SubZone: loc.Subzone},
		Labels:          labels,
		Metadata: &model.NodeMetadata{
			Namespace:    c.obj.Namespace,
			Labels:       labels,
			ClusterID:    cluster.ID(kc.name),
			Network:      network.ID(kc.network),
			NodeName:     c.obj.Spec.NodeName,
			IstioVersion: proxyVersion,
		},
	}
	m.selfDiscoveryMeta(c, p.Metadata)
	return m.fake.SetupProxy(p)
}

// expected is istiod's current answer for the client's sidecar: the
// Cluster, ClusterLoadAssignment and outbound route configuration that CDS,
// EDS and RDS would push now. It is used only to know when the pushes have
// arrived (converge); the sidecar's model is fed by the pushes themselves.
func (m *Mesh) expected(c *client) (*clusterv3.Cluster, *endpointv3.ClusterLoadAssignment, *routev3.RouteConfiguration, error) {
	return m.expectedFor(m.proxy(c), c.side, c.obj.Name)
}

// expectedFor is istiod's current answer for one proxy (a client sidecar
// or an east-west gateway) following side.cluster.
func (m *Mesh) expectedFor(p *model.Proxy, side *sidecar, who string) (*clusterv3.Cluster, *endpointv3.ClusterLoadAssignment, *routev3.RouteConfiguration, error) {
	name := side.cluster
	var cl *clusterv3.Cluster
	var rc *routev3.RouteConfiguration
	if err := m.life.run(func() {
		for _, x := range m.fake.Clusters(p) {
			if x.Name == name {
				cl = x
			}
		}
		for _, r := range m.fake.Routes(p) {
			if side.routeName != "" && r.Name == side.routeName {
				rc = r
			}
		}
	}); err != nil {
		return nil, nil, nil, fmt.Errorf("generate config for %s: %w", who, err)
	}
	if cl == nil {
		return nil, nil, nil, fmt.Errorf("istiod generates no cluster %s for %s", name, who)
	}
	b := endpoints.NewEndpointBuilder(name, p, m.fake.PushContext())
	cla := b.BuildClusterLoadAssignment(m.fake.Discovery.Env.EndpointIndex)
	return cl, cla, rc, nil
}

// converge waits until istiod has committed every update it received and
// every client's sidecar holds, from istiod's pushes, exactly istiod's
// current Cluster, ClusterLoadAssignment and route for the Service. It
// polls; it never sleeps a fixed time.
func (m *Mesh) converge(ctx context.Context) error {
	var stale []string
	err := m.poll(ctx, "the client sidecars to receive istiod's pushes", func() bool {
		if !m.synced(0) {
			return false
		}
		stale = stale[:0]
		for _, n := range m.clientNames() {
			c := m.clients[n]
			cl, cla, rc, err := m.expected(c)
			if err != nil || !c.side.holds(cl, cla, rc) || !c.side.holdsLocal(m.expectedLocal(m.proxy(c))) {
				stale = append(stale, n)
			}
		}
		for _, g := range m.gateways() {
			if g.side == nil {
				continue
			}
			cl, cla, rc, err := m.expectedFor(m.gatewayProxy(g), g.side, g.pod.Name)
			if err != nil || !g.side.holds(cl, cla, rc) {
				stale = append(stale, g.pod.Name)
			}
		}
		return len(stale) == 0
	})
	if err != nil {
		return fmt.Errorf("%w (still stale: %v)", err, stale)
	}
	return nil
}

// Endpoints returns the client's endpoint table, read as the kind backend
// reads it (endpoints.Read): the Envoy view from the admin API the
// client's sidecar serves (/config_dump?include_eds and
// /clusters?format=json), the istiod view from istiod's own /debug/edsz
// for the connected sidecar. Only the transport differs: HTTP to loopback
// here, exec into the pods on kind.
func (m *Mesh) Endpoints(ctx context.Context, clientName string, view eps.View) (eps.Table, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.checkOpen(); err != nil {
		return eps.Table{}, err
	}
	c, err := m.client(clientName)
	if err != nil {
		return eps.Table{}, err
	}
	if view != eps.Raw && view != eps.Envoy {
		return eps.Table{}, fmt.Errorf("Endpoints: unknown view %q: use endpoints.Raw or endpoints.Envoy", view)
	}
	return eps.Read(ctx, fetcher{m}, eps.ReadInput{
		Client: clientName, ProxyID: c.side.ProxyID(), Cluster: m.topo.ClusterName(),
		View: view, PodByIP: m.podByIP(), Places: m.places(),
	})
}

// ClientConfig returns the Cluster and ClusterLoadAssignment the client's
// sidecar holds: what istiod pushed to it over CDS and EDS.
func (m *Mesh) ClientConfig(clientName string) (*clusterv3.Cluster, *endpointv3.ClusterLoadAssignment, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.checkOpen(); err != nil {
		return nil, nil, err
	}
	c, err := m.client(clientName)
	if err != nil {
		return nil, nil, err
	}
	c.side.mu.Lock()
	defer c.side.mu.Unlock()
	if c.side.cds == nil || c.side.cla == nil {
		return nil, nil, fmt.Errorf("client %s: %w", clientName, errNotReady)
	}
	return proto.Clone(c.side.cds).(*clusterv3.Cluster), proto.Clone(c.side.cla).(*endpointv3.ClusterLoadAssignment), nil
}
