package embedded

// The mesh config test hook: LOCALITY_E2E_MESH_OVERLAY names a MeshConfig
// YAML file merged over istiod's default mesh config before a topology's
// own mesh settings (topology.MeshConfigOverlay). It exists so the
// embedded upgrade check (cmd/upgrade-check embedded --to-mesh-overlay)
// can change one side deliberately, e.g. the default localityLbSetting,
// and prove the diff reports it. Unset in every ordinary run.

import (
	"fmt"
	"os"

	meshconfig "istio.io/api/mesh/v1alpha1"
	istiomesh "istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/util/protomarshal"
)

// EnvMeshOverlay is the hook's environment variable.
const EnvMeshOverlay = "LOCALITY_E2E_MESH_OVERLAY"

// defaultMeshConfig is istiod's default mesh config with the hook's file
// applied (istio's own protomarshal.ApplyYAMLStrict: unknown fields
// refused; then mesh.ApplyMeshConfig: merged and validated).
func defaultMeshConfig() (*meshconfig.MeshConfig, error) {
	def := istiomesh.DefaultMeshConfig()
	path := os.Getenv(EnvMeshOverlay)
	if path == "" {
		return def, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (unset it, or name a MeshConfig YAML file)", EnvMeshOverlay, err)
	}
	// Strict first: a misspelt field would otherwise change nothing.
	if err := protomarshal.ApplyYAMLStrict(string(b), &meshconfig.MeshConfig{}); err != nil {
		return nil, fmt.Errorf("%s=%s: not a MeshConfig: %w", EnvMeshOverlay, path, err)
	}
	mc, err := istiomesh.ApplyMeshConfig(string(b), def)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: not a valid MeshConfig: %w", EnvMeshOverlay, path, err)
	}
	return mc, nil
}
