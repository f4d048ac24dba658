package topology

// Zone aware fixtures: callers that are pods of their own Service
// (Client.Service) with self-discovery, spread over zones, for Envoy's
// zone aware routing (istio zoneAwareLbSetting).

import "github.com/localitylb/locality-e2e/framework/locality"

// ZoneAwareBalanced: region kr × zones a, b, c with 2 upstream replicas
// each (helloworld-zone-<zone>, Service helloworld-svc:5000; 6 hosts in
// all, Envoy's default min_cluster_size), and one caller per zone
// (sleep-a, sleep-b, sleep-c), all pods of Service sleep with
// self-discovery: callers and upstreams are spread alike.
func ZoneAwareBalanced() Topology {
	t := ThreeZones()
	t.Name = "zone-aware-balanced"
	for i := range t.Workloads {
		t.Workloads[i].Replicas = 2
	}
	t.Clients = zoneAwareClients(map[string]int{"a": 1, "b": 1, "c": 1})
	return t
}

// ZoneAwareUneven: upstream replicas kr/a 2, kr/b 3, kr/c 3 (8 hosts),
// callers kr/a 2 (sleep-a-1, sleep-a-2), kr/b 1 (sleep-b), kr/c 1
// (sleep-c), all of Service sleep with self-discovery: zone a holds 50%
// of the callers but 25% of the upstream hosts.
func ZoneAwareUneven() Topology {
	t := ThreeZones()
	t.Name = "zone-aware-uneven"
	for i := range t.Workloads {
		if t.Workloads[i].Locality.Zone == "a" {
			t.Workloads[i].Replicas = 2
		} else {
			t.Workloads[i].Replicas = 3
		}
	}
	t.Clients = zoneAwareClients(map[string]int{"a": 2, "b": 1, "c": 1})
	return t
}

// zoneAwareClients places callers of Service sleep in region kr: n[zone]
// pods named sleep-<zone>-<i> (sleep-<zone> when the zone has one).
func zoneAwareClients(n map[string]int) []Client {
	var out []Client
	for _, z := range []string{"a", "b", "c", "d"} {
		for i := 1; i <= n[z]; i++ {
			name := "sleep-" + z
			if n[z] > 1 {
				name += "-" + string(rune('0'+i))
			}
			out = append(out, Client{Name: name, Locality: locality.MustParse("kr/" + z), Service: "sleep", SelfDiscovery: true})
		}
	}
	return out
}

// ZoneAwareRegions: upstream replicas kr/a 3, kr/b 3, us/a 2, eu/a 2
// (Deployments helloworld-<region>-<zone>, Service helloworld), pods
// labelled tier gold except kr/b's (silver); callers sleep-kr-a and
// sleep-kr-b (tier gold), both of Service sleep with self-discovery. For
// istiod's regional bucketing under zoneAwareLbSetting (loadbalancer.go
// applyZoneAwareRegionalFailover): the caller's region at priority 0,
// other regions below it, failover and failoverPriority on top.
func ZoneAwareRegions() Topology {
	var ws []Workload
	for _, w := range []struct {
		loc, tier string
		n         int
	}{{"kr/a", "gold", 3}, {"kr/b", "silver", 3}, {"us/a", "gold", 2}, {"eu/a", "gold", 2}} {
		loc := locality.MustParse(w.loc)
		ws = append(ws, Workload{Name: "helloworld-" + loc.Region + "-" + loc.Zone, Locality: loc, Replicas: w.n,
			Labels: map[string]string{"tier": w.tier}})
	}
	gold := map[string]string{"tier": "gold"}
	return Topology{
		Name:      "zone-aware-regions",
		Service:   "helloworld",
		Port:      5000,
		Workloads: ws,
		Clients: []Client{
			{Name: "sleep-kr-a", Locality: locality.MustParse("kr/a"), Labels: gold, Service: "sleep", SelfDiscovery: true},
			{Name: "sleep-kr-b", Locality: locality.MustParse("kr/b"), Labels: gold, Service: "sleep", SelfDiscovery: true},
		},
	}.WithDefaults()
}
