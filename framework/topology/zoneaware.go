// Zone aware fixtures: callers that are pods of their own Service
// (Client.Service) with self-discovery, spread over zones, for Envoy's
// zone aware routing (istio zoneAwareLbSetting).
package topology

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
