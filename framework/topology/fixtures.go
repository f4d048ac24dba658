package topology

import "github.com/localitylb/locality-e2e/framework/locality"

// TwoRegions is the seed's first environment (File 1): regions kr and us ×
// zones a and b, 2 replicas each in Deployments helloworld-<region>-<zone>,
// Service helloworld:5000, client my-shell-kr-a in kr/a.
func TwoRegions() Topology {
	return Topology{
		Name:    "two-regions",
		Service: "helloworld",
		Port:    5000,
		Workloads: Grid(GridInput{
			Regions: []string{"kr", "us"}, Zones: []string{"a", "b"}, Replicas: 2,
			Name: func(l locality.Locality) string { return "helloworld-" + l.Region + "-" + l.Zone },
		}),
		Clients: []Client{{Name: "my-shell-kr-a", Locality: locality.MustParse("kr/a")}},
	}.WithDefaults()
}

// ThreeZones is the seed's second environment (sections 1.2, 1.3): region kr
// × zones a, b, c, 3 replicas each in Deployments helloworld-zone-<zone>,
// Service helloworld-svc:5000, client netshoot-b in kr/b.
func ThreeZones() Topology {
	return Topology{
		Name:    "three-zones",
		Service: "helloworld-svc",
		Port:    5000,
		Workloads: Grid(GridInput{
			Regions: []string{"kr"}, Zones: []string{"a", "b", "c"}, Replicas: 3,
			Name: func(l locality.Locality) string { return "helloworld-zone-" + l.Zone },
		}),
		Clients: []Client{{Name: "netshoot-b", Locality: locality.MustParse("kr/b")}},
	}.WithDefaults()
}

// ThreeZonesTwoClusters is ThreeZones split over two clusters: kr/a and
// kr/b (and the client) in cluster1, kr/c in cluster2, each on its
// network when net1 and net2 are given. The kind backends' tests use it:
// the single-cluster backend refuses it, the multi-cluster one deploys it.
func ThreeZonesTwoClusters(net1, net2 string) Topology {
	t := ThreeZones()
	t.Name = "three-zones-mc"
	t.Clusters = []Cluster{{Name: "cluster1", Network: net1}, {Name: "cluster2", Network: net2}}
	for i := range t.Workloads {
		if t.Workloads[i].Locality.Zone == "c" {
			t.Workloads[i].Cluster = "cluster2"
		}
	}
	return t
}

// ThreeZonesEveryClient is ThreeZones with a client in every zone
// (netshoot-a, netshoot-b, netshoot-c), for client-matrix scenarios.
func ThreeZonesEveryClient() Topology {
	t := ThreeZones()
	t.Name = "three-zones-every-client"
	t.Clients = []Client{
		{Name: "netshoot-a", Locality: locality.MustParse("kr/a")},
		{Name: "netshoot-b", Locality: locality.MustParse("kr/b")},
		{Name: "netshoot-c", Locality: locality.MustParse("kr/c")},
	}
	return t
}

// ThreeZonesTiers is ThreeZones with a custom pod label for
// failoverPriority: zones a and c are tier=gold, zone b tier=silver, and
// the client netshoot-b (in kr/b) is tier=gold.
func ThreeZonesTiers() Topology {
	t := ThreeZones()
	t.Name = "three-zones-tiers"
	for i := range t.Workloads {
		tier := "gold"
		if t.Workloads[i].Locality.Zone == "b" {
			tier = "silver"
		}
		t.Workloads[i].Labels = map[string]string{"tier": tier}
	}
	t.Clients[0].Labels = map[string]string{"tier": "gold"}
	return t
}

// Subzones mirrors Istio's eds_test locality test: the client in
// region1/zone1/subzone1 and one 2-pod workload in each of
// region1/zone1/subzone1, region1/zone1/subzone2, region1/zone2/subzone1 and
// region2/zone1/subzone1, which with outlier detection are priorities 0, 1,
// 2 and 3.
func Subzones() Topology {
	var ws []Workload
	for _, l := range []string{"region1/zone1/subzone1", "region1/zone1/subzone2", "region1/zone2/subzone1", "region2/zone1/subzone1"} {
		loc := locality.MustParse(l)
		ws = append(ws, Workload{
			Name:     "helloworld-" + loc.Region + "-" + loc.Zone + "-" + loc.Subzone,
			Locality: loc, Replicas: 2,
		})
	}
	return Topology{
		Name:      "subzones",
		Service:   "helloworld",
		Port:      5000,
		Workloads: ws,
		Clients:   []Client{{Name: "sleep-r1-z1-s1", Locality: locality.MustParse("region1/zone1/subzone1")}},
	}.WithDefaults()
}

// LocalityTask is the environment of istio.io's locality load balancing
// tasks (tasks/traffic-management/locality-load-balancing, "Before you
// begin"): HelloWorld in region1.zone1, region1.zone2, region2.zone3 and
// region3.zone4, each in its own cluster (cluster1…cluster4), Service
// helloworld:5000 in namespace sample, and the curl client in
// region1.zone1 (cluster1). replicas is the pods per locality (the task
// runs 1). With multiNetwork, cluster1 and cluster2 are network1 and
// cluster3 and cluster4 network2, so region2 and region3 are reached
// through their clusters' east-west gateways; otherwise all four share
// one flat network.
func LocalityTask(replicas int, multiNetwork bool) Topology {
	clusters := []Cluster{{Name: "cluster1"}, {Name: "cluster2"}, {Name: "cluster3"}, {Name: "cluster4"}}
	if multiNetwork {
		for i := range clusters {
			clusters[i].Network = "network1"
			if i >= 2 {
				clusters[i].Network = "network2"
			}
		}
	}
	var ws []Workload
	for i, l := range []string{"region1/zone1", "region1/zone2", "region2/zone3", "region3/zone4"} {
		loc := locality.MustParse(l)
		ws = append(ws, Workload{
			Name: "helloworld-" + loc.Region + "-" + loc.Zone, Locality: loc, Replicas: replicas,
			Cluster: clusters[i].Name,
		})
	}
	name := "locality-task"
	if multiNetwork {
		name = "locality-task-multinetwork"
	}
	return Topology{
		Name:      name,
		Namespace: "sample",
		Service:   "helloworld",
		Port:      5000,
		Workloads: ws,
		Clients:   []Client{{Name: "curl", Locality: locality.MustParse("region1/zone1"), Cluster: "cluster1"}},
		Clusters:  clusters,
	}.WithDefaults()
}
