package multicluster

// Tests of what Istio gets in each cluster (istio.go): the IstioOperators
// and the Gateway against upstream's, and the CA chain.

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/topology"
)

func TestIstiodIstioOperatorYAML(t *testing.T) {
	// Mesh settings are applied per scenario at Deploy, never installed.
	topo := topology.ThreeZonesTwoClusters("network1", "network2")
	mc := MeshConfig()
	iop, err := IstiodIstioOperator("minimal", DefaultMeshID, topo.Clusters[1], mc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := IstioOperatorYAML(iop)
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: cluster2
spec:
  meshConfig:
    accessLogFile: /dev/stdout
  profile: minimal
  values:
    global:
      meshID: mesh1
      multiCluster:
        clusterName: cluster2
      network: network2
`
	if string(b) != want {
		t.Errorf("IstioOperator\n%s\nwant\n%s", b, want)
	}
	// a flat network: no values.global.network
	iop, _ = IstiodIstioOperator("minimal", DefaultMeshID, topology.Cluster{Name: "cluster1"}, MeshConfig())
	b, err = IstioOperatorYAML(iop)
	if err != nil || strings.Contains(string(b), "network") || strings.Contains(string(b), "serviceSettings") {
		t.Errorf("flat IstioOperator %v\n%s", err, b)
	}
	// the check catches what istioctl would refuse
	if err := checkIstioOperatorYAML([]byte("apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  profle: minimal\n")); err == nil || !strings.Contains(err.Error(), "profle") {
		t.Errorf("misspelt field: %v", err)
	}
	if err := checkIstioOperatorYAML([]byte("spec:\n  values:\n    global:\n      meshId: m\n")); err == nil || !strings.Contains(err.Error(), "meshId") {
		t.Errorf("misspelt value: %v", err)
	}
	if err := checkIstioOperatorYAML([]byte("spec:\n  meshConfig:\n    localityLbSetting:\n      distribute:\n      - from: kr/b/*\n        to: {kr/a/*: 90}\n")); err == nil || !strings.Contains(err.Error(), "meshConfig") {
		t.Errorf("bad meshConfig: %v", err)
	}
}

// normalize parses YAML into plain maps, dropping what marshalling a
// typed object adds without meaning (creationTimestamp: null, empty status).
func normalize(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	if s, ok := m["status"].(map[string]any); ok && len(s) == 0 {
		delete(m, "status")
	}
	return m
}

func TestEastWestIstioOperatorMatchesUpstream(t *testing.T) {
	upstream, err := os.ReadFile("testdata/eastwest-network1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := normalize(t, upstream)
	// gen-eastwest-gateway.sh prints revision: "" (no --revision): the
	// default revision, what an absent field means.
	if spec := want["spec"].(map[string]any); spec["revision"] == "" {
		delete(spec, "revision")
	}
	iop, err := EastWestIstioOperator("network1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := IstioOperatorYAML(iop)
	if err != nil {
		t.Fatal(err)
	}
	if got := normalize(t, b); !reflect.DeepEqual(got, want) {
		t.Errorf("east-west IstioOperator\n%s\nupstream\n%s", b, upstream)
	}
}

func TestCrossNetworkGatewayMatchesUpstream(t *testing.T) {
	upstream, err := os.ReadFile("testdata/expose-services.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gw, err := CrossNetworkGatewayObject()
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(gw)
	if err != nil {
		t.Fatal(err)
	}
	got := normalize(t, b)
	if got["metadata"].(map[string]any)["namespace"] != kind.IstioNamespace {
		t.Errorf("namespace: %s", b)
	}
	delete(got["metadata"].(map[string]any), "namespace") // the guide applies it with -n istio-system
	if want := normalize(t, upstream); !reflect.DeepEqual(got, want) {
		t.Errorf("Gateway\n%s\nupstream\n%s", b, upstream)
	}
}

// TestCAChainVerifies: the intermediates of two clusters chain to the one
// root, so a workload certificate issued by either verifies against the
// root the other cluster's sidecars trust (cross-cluster mTLS).
func TestCAChainVerifies(t *testing.T) {
	now := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	root, err := NewRootCA(2048, now)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root.Cert)
	if !root.Cert.IsCA || root.Cert.Subject.CommonName != "Root CA" || root.Cert.Subject.Organization[0] != "Istio" || len(root.Cert.SubjectKeyId) == 0 ||
		root.Cert.KeyUsage&x509.KeyUsageCertSign == 0 || root.Cert.NotAfter.Sub(now) < 3649*24*time.Hour {
		t.Errorf("root %+v", root.Cert.Subject)
	}
	for _, cluster := range []string{"cluster1", "cluster2"} {
		ica, err := NewIntermediateCA(root, cluster, 2048, now)
		if err != nil {
			t.Fatal(err)
		}
		c := ica.Cert
		if !c.IsCA || !c.MaxPathLenZero || c.MaxPathLen != 0 || c.Subject.Locality[0] != cluster || c.DNSNames[0] != "istiod.istio-system.svc" {
			t.Errorf("%s intermediate %+v", cluster, c.Subject)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s intermediate does not verify: %v", cluster, err)
		}
		// a workload certificate as istiod issues from cacerts
		spiffe, _ := url.Parse("spiffe://cluster.local/ns/le2e/sa/default")
		leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{}, URIs: []*url.URL{spiffe},
			NotBefore: now.Add(-time.Minute), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
		der, err := x509.CreateCertificate(nil, leafTmpl, ica.Cert, &ica.key.PublicKey, ica.key)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(der)
		inter := x509.NewCertPool()
		inter.AddCert(ica.Cert)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s workload certificate does not verify against the shared root: %v", cluster, err)
		}
		s := CACertsSecretObject(root, ica)
		if s.Name != "cacerts" || s.Namespace != "istio-system" || len(s.Data) != 4 ||
			!bytes.Equal(s.Data["cert-chain.pem"], append(append([]byte(nil), ica.CertPEM...), root.CertPEM...)) ||
			!bytes.Equal(s.Data["root-cert.pem"], root.CertPEM) || !bytes.Equal(s.Data["ca-key.pem"], ica.KeyPEM) {
			t.Errorf("%s secret %v", cluster, s.ObjectMeta)
		}
	}
	if _, err := NewIntermediateCA(nil, "x", 2048, now); err == nil {
		t.Error("intermediate without root")
	}
}
