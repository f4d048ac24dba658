package endpoints

import (
	"context"
	"fmt"
	"strings"
)

// AdminEDSFullPath is the whole config dump with EDS, AdminEDSPath's
// fallback for an Envoy that does not combine resource= with include_eds.
const AdminEDSFullPath = "config_dump?include_eds"

// Fetcher fetches the documents Read parses. Each backend implements it:
// kind runs `pilot-agent request GET <path>` in the client's istio-proxy
// container and `pilot-discovery request GET <path>` in istiod; the
// embedded backend asks the admin handlers it serves on loopback.
type Fetcher interface {
	// EnvoyAdmin answers GET <path> (e.g. AdminClustersPath, without a
	// leading slash) on the admin API of client's sidecar; an answer other
	// than 200 is an error.
	EnvoyAdmin(ctx context.Context, client, path string) ([]byte, error)
	// IstiodDebug answers GET <path> (e.g. IstiodEDSPath(proxyID)) on the
	// debug API of the istiod the client is connected to.
	IstiodDebug(ctx context.Context, path string) ([]byte, error)
}

// ReadInput says whose endpoints Read reads.
type ReadInput struct {
	Client  string // client pod name, passed to Fetcher.EnvoyAdmin
	ProxyID string // "<pod>.<namespace>", for istiod's debug API
	Cluster string // e.g. outbound|5000||helloworld-svc.<ns>.svc.cluster.local
	View    View   // Envoy (default) or Raw
	PodByIP map[string]string
	// Places, when set, says where each address is (cluster, network,
	// east-west gateway); hosts get Cluster, Network and Gateway from it.
	Places map[string]Place
}

// Read returns one client's endpoint table, the same way for every backend.
//
// Envoy view: the sidecar's EDS dump (AdminEDSPath, falling back to
// AdminEDSFullPath) gives localities, priorities and locality weights;
// /clusters?format=json (AdminClustersPath) on top gives outlier ejection
// and active health checks (OverlayHealth). Raw view: istiod's
// ClusterLoadAssignment for the proxy (IstiodEDSPath), with the localities
// a distribute rule emptied. Hosts are named after PodByIP.
func Read(ctx context.Context, f Fetcher, in ReadInput) (Table, error) {
	var t Table
	switch in.View {
	case Envoy, "":
		base, err := readEnvoyEDS(ctx, f, in.Client, in.Cluster)
		if err != nil {
			return Table{}, err
		}
		live, err := f.EnvoyAdmin(ctx, in.Client, AdminClustersPath)
		if err != nil {
			return Table{}, fmt.Errorf("read /clusters of %s: %w", in.Client, err)
		}
		hosts, err := ParseAdminClusters(live, in.Cluster)
		if err != nil {
			return Table{}, fmt.Errorf("client %s: %w", in.Client, err)
		}
		t = OverlayHealth(base, hosts)
	case Raw:
		out, err := f.IstiodDebug(ctx, IstiodEDSPath(in.ProxyID))
		if err != nil {
			return Table{}, fmt.Errorf("istiod view of %s: %w", in.Client, err)
		}
		if t, err = ParseIstiodEDS(out, in.Cluster); err != nil {
			return Table{}, fmt.Errorf("istiod view of %s: %w", in.Client, err)
		}
	default:
		return Table{}, fmt.Errorf("unknown endpoints view %q", in.View)
	}
	for i := range t.Rows {
		for j := range t.Rows[i].Hosts {
			h := &t.Rows[i].Hosts[j]
			if p, ok := in.PodByIP[h.Address]; ok {
				h.Pod = p
			}
			if pl, ok := in.Places[h.Address]; ok {
				h.Cluster, h.Network, h.Gateway = pl.Cluster, pl.Network, pl.Gateway
			}
		}
	}
	t.Sort()
	return t, nil
}

// readEnvoyEDS reads the sidecar's EDS dump restricted to the endpoint
// section; if that fails or holds no EDS it reads the whole dump, whose
// other sections the parser skips.
func readEnvoyEDS(ctx context.Context, f Fetcher, client, cluster string) (Table, error) {
	var errs []string
	for _, path := range []string{AdminEDSPath, AdminEDSFullPath} {
		out, err := f.EnvoyAdmin(ctx, client, path)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		t, err := ParseConfigDumpEDS(out, cluster)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		return t, nil
	}
	return Table{}, fmt.Errorf("read EDS of %s: %s", client, strings.Join(errs, "; then: "))
}
