package topology

import (
	"fmt"
	"strings"
	"testing"

	networkingapi "istio.io/api/networking/v1alpha3"

	"github.com/localitylb/locality-e2e/framework/locality"
)

func multi() Topology {
	return Topology{
		Name: "multi", Service: "helloworld",
		Clusters: []Cluster{{Name: "cluster1", Network: "network1"}, {Name: "cluster2", Network: "network2"}},
		Workloads: []Workload{
			{Name: "hw-a", Locality: locality.MustParse("region1/zone1"), Replicas: 1, Cluster: "cluster1"},
			{Name: "hw-b", Locality: locality.MustParse("region2/zone3"), Replicas: 2, Cluster: "cluster2"},
		},
		Clients: []Client{{Name: "curl", Locality: locality.MustParse("region1/zone1"), Cluster: "cluster1"}},
	}
}

func TestClustersValidate(t *testing.T) {
	if err := multi().Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		edit func(*Topology)
		want string
	}{
		"unknown cluster":   {func(t *Topology) { t.Workloads[1].Cluster = "cluster9" }, `Workloads[1] (hw-b).Cluster "cluster9" is not a declared cluster: use one of [cluster1 cluster2]`},
		"no clusters":       {func(t *Topology) { t.Clusters = nil }, "declares no Clusters"},
		"half networks":     {func(t *Topology) { t.Clusters[1].Network = "" }, "only 1 of 2 Clusters name a Network"},
		"duplicate":         {func(t *Topology) { t.Clusters[1].Name = "cluster1" }, `Clusters[1].Name "cluster1" is used twice`},
		"bad name":          {func(t *Topology) { t.Clusters[0].Name = "Cluster_1" }, "Clusters[0].Name"},
		"bad network":       {func(t *Topology) { t.Clusters[0].Network = "net work" }, "Network \"net work\" is not a valid label value"},
		"client cluster":    {func(t *Topology) { t.Clients[0].Cluster = "nope" }, `Clients[0] (curl).Cluster "nope"`},
		"mesh distribute99": {func(t *Topology) { t.Mesh.LocalityLbSetting = badDistribute() }, "Mesh.LocalityLbSetting (meshConfig.localityLbSetting)"},
		"bad node name":     {func(t *Topology) { t.Workloads[0].Node = "Node_1" }, `Workloads[0] (hw-a).Node "Node_1" is not a valid node name`},
		"node in two localities": {func(t *Topology) {
			t.Workloads[0].Node = "n1"
			t.Clients[0].Node = "n1"
			t.Clients[0].Locality = t.Workloads[1].Locality
		}, `Clients[0] (curl).Node "n1" is also the node of Workloads[0] (hw-a)`},
		"mesh zone aware zone label": {func(t *Topology) {
			t.Mesh.ZoneAwareLbSetting = &networkingapi.ZoneAwareLoadBalancerSetting{FailoverPriority: []string{"topology.kubernetes.io/zone"}}
		}, "Mesh.ZoneAwareLbSetting (meshConfig.zoneAwareLbSetting): 'failover_priority' for zone aware lb must not use topology label 'topology.kubernetes.io/zone'"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			topo := multi()
			topo.Clusters = append([]Cluster(nil), topo.Clusters...)
			topo.Workloads = append([]Workload(nil), topo.Workloads...)
			topo.Clients = append([]Client(nil), topo.Clients...)
			c.edit(&topo)
			err := topo.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func badDistribute() *networkingapi.LocalityLoadBalancerSetting {
	return &networkingapi.LocalityLoadBalancerSetting{Distribute: []*networkingapi.LocalityLoadBalancerSetting_Distribute{{
		From: "region1/zone1/*", To: map[string]uint32{"region1/zone1/*": 90},
	}}}
}

func TestByCluster(t *testing.T) {
	topo := multi()
	objs, err := Render(topo)
	if err != nil {
		t.Fatal(err)
	}
	by := topo.ByCluster(objs)
	names := func(c string) []string {
		var out []string
		for _, o := range by[c] {
			out = append(out, strings.TrimPrefix(fmt.Sprintf("%T", o), "*v1.")+"/"+o.GetName())
		}
		return out
	}
	if got, want := strings.Join(names("cluster1"), ","), "Deployment/hw-a,Service/helloworld,VirtualService/helloworld,Pod/curl"; got != want {
		t.Errorf("cluster1 objects = %s, want %s", got, want)
	}
	if got, want := strings.Join(names("cluster2"), ","), "Deployment/hw-b,Service/helloworld,VirtualService/helloworld"; got != want {
		t.Errorf("cluster2 objects = %s, want %s", got, want)
	}
	if n := topo.NodesIn("cluster2"); len(n) != 1 || n[0].Locality.String() != "region2/zone3" {
		t.Errorf("NodesIn(cluster2) = %v, want one node in region2/zone3", n)
	}
	if p, _ := topo.WorkloadPlacement("hw-b"); p.String() != "cluster2/network2" {
		t.Errorf("WorkloadPlacement(hw-b) = %s", p)
	}
	if !topo.MultiNetwork() || !topo.MultiCluster() {
		t.Error("two clusters on two networks: want MultiCluster and MultiNetwork")
	}
}

func TestSingleClusterDefaults(t *testing.T) {
	topo := multi()
	topo.Clusters = nil
	for i := range topo.Workloads {
		topo.Workloads[i].Cluster = ""
	}
	topo.Clients[0].Cluster = ""
	if got := topo.ClusterNames(); len(got) != 1 || got[0] != DefaultCluster {
		t.Fatalf("ClusterNames() = %v, want [%s]", got, DefaultCluster)
	}
	if topo.MultiCluster() || topo.MultiNetwork() || topo.MeshConfigOverlay() != nil {
		t.Error("a topology without Clusters or Mesh is single-cluster, single-network, with no mesh overlay")
	}
	topo.Mesh.ClusterLocal = true
	mc := topo.MeshConfigOverlay()
	if len(mc.GetServiceSettings()) != 1 || !mc.GetServiceSettings()[0].GetSettings().GetClusterLocal() || mc.GetServiceSettings()[0].GetHosts()[0] != topo.Host() {
		t.Errorf("ClusterLocal overlay = %v", mc)
	}
}
