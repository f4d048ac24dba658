package endpoints

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/localitylb/locality-e2e/framework/envoyadmin/envoyadmintest"
)

// mapFetcher answers from documents keyed by path.
type mapFetcher struct {
	envoy, istiod map[string][]byte
	asked         []string
}

func (m *mapFetcher) EnvoyAdmin(_ context.Context, client, path string) ([]byte, error) {
	m.asked = append(m.asked, client+" "+path)
	if b, ok := m.envoy[path]; ok {
		return b, nil
	}
	return nil, errors.New("received unsuccessful status code 404")
}

func (m *mapFetcher) IstiodDebug(_ context.Context, path string) ([]byte, error) {
	m.asked = append(m.asked, "istiod "+path)
	if b, ok := m.istiod[path]; ok {
		return b, nil
	}
	return nil, errors.New("received unsuccessful status code 404")
}

func TestReadEnvoyView(t *testing.T) {
	docs, err := envoyadmintest.FailoverEjected("ns1")
	if err != nil {
		t.Fatal(err)
	}
	cluster := envoyadmintest.ClusterName("ns1")
	f := &mapFetcher{envoy: map[string][]byte{AdminEDSPath: docs.EDS, AdminClustersPath: docs.Clusters}}
	in := ReadInput{Client: "netshoot-b", ProxyID: "netshoot-b.ns1", Cluster: cluster, PodByIP: map[string]string{envoyadmintest.HostIP("b", 0): "helloworld-zone-b-0"}}
	tab, err := Read(context.Background(), f, in)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{
		"kr/b": {Priority: 0, Weight: 3, Hosts: 3, Healthy: 2},
		"kr/a": {Priority: 1, Weight: 3, Hosts: 3, Healthy: 3},
		"kr/c": {Priority: 1, Weight: 3, Hosts: 3, Healthy: 3},
	}
	if got := tab.Summarize(); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s\n%s", got, want, tab)
	}
	if h := tab.Rows[0].Hosts[0]; h.Health != Ejected || h.Pod != "helloworld-zone-b-0" {
		t.Errorf("host %+v", h)
	}
	// without resource= support: the whole dump.
	f = &mapFetcher{envoy: map[string][]byte{AdminEDSFullPath: docs.ConfigDump, AdminClustersPath: docs.Clusters}}
	tab2, err := Read(context.Background(), f, in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tab2, tab) {
		t.Errorf("fallback table\n%s\nwant\n%s", tab2, tab)
	}
	if got := strings.Join(f.asked, ","); got != "netshoot-b "+AdminEDSPath+",netshoot-b "+AdminEDSFullPath+",netshoot-b "+AdminClustersPath {
		t.Errorf("asked %s", got)
	}
	// nothing: both errors reported.
	if _, err := Read(context.Background(), &mapFetcher{}, in); err == nil || !strings.Contains(err.Error(), "; then: ") {
		t.Errorf("error %v", err)
	}
	if _, err := Read(context.Background(), f, ReadInput{View: "other"}); err == nil {
		t.Error("unknown view accepted")
	}
}

func TestReadRawView(t *testing.T) {
	cla := envoyadmintest.DistributeBToB("ns1")
	edsz, err := envoyadmintest.IstiodEDS(cla)
	if err != nil {
		t.Fatal(err)
	}
	f := &mapFetcher{istiod: map[string][]byte{IstiodEDSPath("netshoot-b.ns1"): edsz}}
	tab, err := Read(context.Background(), f, ReadInput{Client: "netshoot-b", ProxyID: "netshoot-b.ns1", Cluster: cla.GetClusterName(), View: Raw})
	if err != nil {
		t.Fatalf("%v\n%s", err, edsz)
	}
	want := Summary{
		"kr/a": {Priority: 0, Weight: 3},
		"kr/b": {Priority: 0, Weight: 100, Hosts: 3, Healthy: 3},
		"kr/c": {Priority: 0, Weight: 3},
	}
	if got := tab.Summarize(); tab.View != Raw || !reflect.DeepEqual(got, want) {
		t.Errorf("view %s\n%s\nwant\n%s", tab.View, got, want)
	}
	if !strings.Contains(tab.String(), "(none)") {
		t.Errorf("emptied localities not printed:\n%s", tab)
	}
	// istiod prints lowerCamel names (jsonpb).
	if !strings.Contains(string(edsz), `"clusterName"`) {
		t.Errorf("istiod document not in jsonpb form:\n%.300s", edsz)
	}
}
