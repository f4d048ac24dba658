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
