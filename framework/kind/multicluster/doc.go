// Package multicluster is the kind backend on several kind clusters, one
// per declared topology.Cluster, Istio multi-primary across them: the
// setup's configuration, env switches and shape (config.go), what
// Istio gets in each cluster (istio.go: IstioOperators,
// gateways, MetalLB, CAs, argv), the ordered plan of the setup
// (plan.go), running and tearing it down
// (run.go), and the backend and meshes over a prepared setup
// (backend.go), each mesh a kind.ClusterMesh per cluster. It
// builds on the single-cluster package framework/kind (parts.go: Cluster,
// ClusterMesh, the kind helpers), which does not know it exists.
package multicluster
