// Package multicluster is the kind backend on several kind clusters, one
// per declared topology.Cluster, Istio multi-primary across them: the
// setup's configuration, env switches and shape (multicluster.go), what
// Istio gets in each cluster (multicluster_istio.go: IstioOperators,
// gateways, MetalLB, CAs, argv), the ordered plan of the setup
// (multicluster_plan.go), running and tearing it down
// (multicluster_run.go), and the backend and meshes over a prepared setup
// (multicluster_mesh.go), each mesh a kind.ClusterMesh per cluster. It
// builds on the single-cluster package framework/kind (parts.go: Cluster,
// ClusterMesh, the kind helpers), which does not know it exists.
package multicluster
