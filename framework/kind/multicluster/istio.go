package multicluster

// What Istio gets in each cluster: the IstioOperators of istiod and the
// east-west gateway, the cross-network Gateway, MetalLB pools, the shared
// root and per-cluster intermediate CAs, and the istioctl and kubectl argv.

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	meshconfig "istio.io/api/mesh/v1alpha1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"istio.io/istio/operator/pkg/apis"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/validation/agent"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/topology"
)

// Names of what the multi-cluster install creates in istio-system.
const (
	// CACertsSecret is the plugged-in CA secret istiod reads at start
	// (Istio's "Plug in CA certificates": kubectl create secret generic
	// cacerts -n istio-system --from-file=ca-cert.pem ... ).
	CACertsSecret = "cacerts"
	// EastWestGateway is the east-west gateway's Deployment and Service
	// (gen-eastwest-gateway.sh's ingressGateways[0].name).
	EastWestGateway = "istio-eastwestgateway"
	// CrossNetworkGateway is expose-services.yaml's Gateway.
	CrossNetworkGateway = "cross-network-gateway"
)

// IstiodIstioOperator is the IstioOperator one cluster's istiod is
// installed with (Istio's "Install Multi-Primary" guides, cluster1.yaml):
//
//	spec:
//	  profile: <Config.IstioProfile>
//	  meshConfig: {accessLogFile: /dev/stdout}
//	  values:
//	    global:
//	      meshID: mesh1
//	      multiCluster: {clusterName: <cluster>}
//	      network: <network>        # only when networks are declared
//
// meshConfig is mc (MeshConfig), marshalled with protojson;
// values are the operator's own Values proto (istio.io/istio/operator/pkg/apis).
func IstiodIstioOperator(profile, meshID string, c topology.Cluster, mc *meshconfig.MeshConfig) (*apis.IstioOperator, error) {
	mcJSON, err := protojson.Marshal(mc)
	if err != nil {
		return nil, fmt.Errorf("marshal meshConfig: %w", err)
	}
	vals := &apis.Values{Global: &apis.GlobalConfig{
		MeshID:       meshID,
		MultiCluster: &apis.MultiClusterConfig{ClusterName: c.Name},
		Network:      c.Network,
	}}
	vJSON, err := protojson.Marshal(vals)
	if err != nil {
		return nil, fmt.Errorf("marshal values: %w", err)
	}
	return &apis.IstioOperator{
		TypeMeta:   metav1.TypeMeta{APIVersion: "install.istio.io/v1alpha1", Kind: "IstioOperator"},
		ObjectMeta: metav1.ObjectMeta{Name: c.Name},
		Spec: apis.IstioOperatorSpec{
			Profile:    profile,
			MeshConfig: json.RawMessage(mcJSON),
			Values:     json.RawMessage(vJSON),
		},
	}, nil
}

// EastWestIstioOperator is the east-west gateway of one network, as
// samples/multicluster/gen-eastwest-gateway.sh --network <network> renders
// it (istio/istio at the commit in config.go): profile empty, the
// gateway istio-eastwestgateway labelled istio=eastwestgateway,
// app=istio-eastwestgateway and topology.istio.io/network=<network> (the
// label istiod reads on the gateway Service), env
// ISTIO_META_REQUESTED_NETWORK_VIEW=<network>, Service ports status-port
// 15021, tls 15443, tls-istiod 15012, tls-webhook 15017, values
// gateways.istio-ingressgateway.injectionTemplate gateway and
// global.network. testdata/eastwest-network1.yaml is the script's own
// output; the test compares the two.
func EastWestIstioOperator(network string) (*apis.IstioOperator, error) {
	var enabled apis.BoolValue
	if err := json.Unmarshal([]byte("true"), &enabled); err != nil {
		return nil, err
	}
	vals := &apis.Values{
		Gateways: &apis.GatewaysConfig{IstioIngressgateway: &apis.IngressGatewayConfig{InjectionTemplate: "gateway"}},
		Global:   &apis.GlobalConfig{Network: network},
	}
	vJSON, err := protojson.Marshal(vals)
	if err != nil {
		return nil, fmt.Errorf("marshal values: %w", err)
	}
	port := func(name string, p int32) corev1.ServicePort {
		return corev1.ServicePort{Name: name, Port: p, TargetPort: intstr.FromInt32(p)}
	}
	return &apis.IstioOperator{
		TypeMeta:   metav1.TypeMeta{APIVersion: "install.istio.io/v1alpha1", Kind: "IstioOperator"},
		ObjectMeta: metav1.ObjectMeta{Name: "eastwest"},
		Spec: apis.IstioOperatorSpec{
			Profile: "empty",
			Components: &apis.IstioComponentSpec{IngressGateways: []apis.GatewayComponentSpec{{
				Name: EastWestGateway,
				Label: map[string]string{
					"istio":               "eastwestgateway",
					"app":                 EastWestGateway,
					topology.LabelNetwork: network,
				},
				ComponentSpec: apis.ComponentSpec{
					Enabled: &enabled,
					Kubernetes: &apis.KubernetesResources{
						// traffic through this gateway should be routed inside the network
						Env: []*corev1.EnvVar{{Name: "ISTIO_META_REQUESTED_NETWORK_VIEW", Value: network}},
						Service: &corev1.ServiceSpec{Ports: []corev1.ServicePort{
							port("status-port", 15021),
							port("tls", topology.EastWestGatewayPort),
							port("tls-istiod", 15012),
							port("tls-webhook", 15017),
						}},
					},
				},
			}}},
			Values: json.RawMessage(vJSON),
		},
	}, nil
}

// IstioOperatorYAML marshals an IstioOperator (sigs.k8s.io/yaml) and
// checks it as istioctl would read it: the YAML decodes into the pinned
// istio's IstioOperator type with unknown fields refused (what
// operator/pkg/apis/validation.ParseAndValidateIstioOperator starts
// with), values decode strictly into its Values proto, and meshConfig,
// merged over Istio's default mesh config, passes Istio's own
// ValidateMeshConfig. (The validation package itself pulls modules this
// module does not require.)
func IstioOperatorYAML(iop *apis.IstioOperator) ([]byte, error) {
	b, err := yaml.Marshal(iop)
	if err != nil {
		return nil, fmt.Errorf("IstioOperator %s: marshal: %w", iop.Name, err)
	}
	if err := checkIstioOperatorYAML(b); err != nil {
		return nil, fmt.Errorf("IstioOperator %s is not valid for istioctl: %w", iop.Name, err)
	}
	return b, nil
}

func checkIstioOperatorYAML(b []byte) error {
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return err
	}
	var iop apis.IstioOperator
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&iop); err != nil {
		return fmt.Errorf("could not unmarshal: %w", err)
	}
	if len(iop.Spec.Values) > 0 {
		if err := protojson.Unmarshal(iop.Spec.Values, &apis.Values{}); err != nil {
			return fmt.Errorf("values: %w", err)
		}
	}
	if len(iop.Spec.MeshConfig) > 0 {
		mc, err := mesh.ApplyMeshConfigDefaults(string(iop.Spec.MeshConfig))
		if err != nil {
			return fmt.Errorf("meshConfig: %w", err)
		}
		if _, err := agent.ValidateMeshConfig(mc); err != nil {
			return fmt.Errorf("meshConfig: %w", err)
		}
	}
	return nil
}

// MeshConfig is the meshConfig of every cluster's install:
// accessLogFile /dev/stdout, as on one cluster (IstioctlInstallArgs).
// Topologies' mesh settings are not installed: Deploy applies them per
// scenario to the live mesh config and Close restores it
// (acquireMeshSettings).
func MeshConfig() *meshconfig.MeshConfig {
	return &meshconfig.MeshConfig{AccessLogFile: "/dev/stdout"}
}

// CrossNetworkGatewayObject is samples/multicluster/expose-services.yaml
// (Gateway cross-network-gateway: selector istio=eastwestgateway, port
// 15443 tls TLS, AUTO_PASSTHROUGH, hosts "*.local"), in istio-system: the
// one object both backends apply (topology.CrossNetworkGateway);
// testdata/expose-services.yaml is the upstream file, the test compares.
func CrossNetworkGatewayObject() (*networkingv1.Gateway, error) {
	gw, err := topology.CrossNetworkGateway()
	if err != nil {
		return nil, err
	}
	gw.TypeMeta = metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "Gateway"}
	return gw, nil
}

// IstioSystemNamespace is istio-system of one cluster, labelled
// topology.istio.io/network=<network> when networks are declared (the
// multi-network guides: kubectl label namespace istio-system
// topology.istio.io/network=network1).
func IstioSystemNamespace(network string) *corev1.Namespace {
	ns := &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: kind.IstioNamespace},
	}
	if network != "" {
		ns.Labels = map[string]string{topology.LabelNetwork: network}
	}
	return ns
}

// MetalLBPool is the IPAddressPool and L2Advertisement install_metallb
// applies (default-pool, default-l2 in metallb-system), as unstructured
// objects: MetalLB's Go types are not a dependency.
func MetalLBPool(addresses []string) []*unstructured.Unstructured {
	addrs := make([]any, len(addresses))
	for i, a := range addresses {
		addrs[i] = a
	}
	pool := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
		"metadata": map[string]any{"name": "default-pool", "namespace": "metallb-system"},
		"spec":     map[string]any{"addresses": addrs},
	}}
	l2 := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
		"metadata": map[string]any{"name": "default-l2", "namespace": "metallb-system"},
		"spec":     map[string]any{"ipAddressPools": []any{"default-pool"}},
	}}
	return []*unstructured.Unstructured{pool, l2}
}

// multiDocYAML joins objects as one YAML stream.
func multiDocYAML(objs ...any) ([]byte, error) {
	var parts []string
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		parts = append(parts, string(b))
	}
	return []byte(strings.Join(parts, "---\n")), nil
}

// Argv of the multi-cluster setup. Every command is an argv, never a shell
// string.

// IstioctlInstallFileArgs installs the IstioOperator in file into the
// cluster of kubeconfig (the guides' istioctl install -f cluster1.yaml).
func IstioctlInstallFileArgs(istioctl, kubeconfig, file string, readiness time.Duration) []string {
	return []string{istioctl, "install", "-y", "-f", file, "--readiness-timeout", readiness.String(), "--kubeconfig", kubeconfig}
}

// CreateRemoteSecretArgs prints the remote secret through which the other
// clusters' istiods read cluster name's API server: istioctl connects
// with kubeconfig (the host's), and --server puts the API server's
// address on the kind network into the secret (istioctl's own hint:
// "if you're using Kubernetes in Docker, pass --server with the container
// IP for the API Server", istioctl/pkg/multicluster/remote_secret.go).
// That is what kind get kubeconfig --internal gives, with the control
// plane's IP for its host name as setup_kind_clusters writes it.
func CreateRemoteSecretArgs(istioctl, kubeconfig, name, server string) []string {
	return []string{istioctl, "create-remote-secret", "--kubeconfig=" + kubeconfig, "--name=" + name, "--server=" + server}
}

// KubectlApplyArgs applies a file or URL in the cluster of kubeconfig.
func KubectlApplyArgs(kubectl, kubeconfig, file string) []string {
	return []string{kubectl, "--kubeconfig=" + kubeconfig, "apply", "-f", file}
}

// MetalLB's workloads in metallb-native.yaml (v0.14.3; istio/istio's copy
// common/scripts/metallb-native.yaml): the Deployment "controller", which
// also serves webhook-service, the validating webhooks of the pool's
// kinds (failurePolicy: Fail, so an apply fails while it does not
// answer), and the DaemonSet "speaker".
const (
	MetalLBNamespace  = "metallb-system"
	MetalLBController = "deploy/controller"
	MetalLBSpeaker    = "ds/speaker"
	// MetalLBRolloutTimeout bounds each rollout wait: every node pulls
	// MetalLB's images from quay.io.
	MetalLBRolloutTimeout = 3 * time.Minute
	// MetalLBPoolRetry bounds the retries of the pool apply, every
	// MetalLBPoolRetryEvery, until MetalLB's webhook answers.
	MetalLBPoolRetry      = 2 * time.Minute
	MetalLBPoolRetryEvery = 5 * time.Second
)

// KubectlRolloutStatusArgs waits until one workload of MetalLB has rolled
// out (its pods exist, are updated and available). Not `kubectl wait pod
// -l app=metallb` (install_metallb's): run right after the apply, before
// the controllers have created any pod, it fails at once with "no
// matching resources found". The Deployment and DaemonSet exist as soon
// as the apply returns, and rollout status waits for their pods. One
// workload per call: kubectl's rollout status refused several resources
// ("rollout status is only supported on individual resources and
// resource collections", kubectl pkg/cmd/rollout/rollout_status.go) up to
// recent releases, and one call per workload names the one that did not
// roll out.
func KubectlRolloutStatusArgs(kubectl, kubeconfig, namespace, workload string, timeout time.Duration) []string {
	return []string{kubectl, "--kubeconfig=" + kubeconfig, "rollout", "status", workload, "-n", namespace, fmt.Sprintf("--timeout=%s", timeout)}
}

// IPRouteArgs adds a route inside a kind node (connect_kind_clusters:
// docker exec <node> ip route add <cidr> via <ip>).
func IPRouteArgs(node, cidr, via string) []string {
	return []string{"docker", "exec", node, "ip", "route", "add", cidr, "via", via}
}

// CA is a PEM-encoded certificate and key.
type CA struct {
	CertPEM, KeyPEM []byte
	Cert            *x509.Certificate
	key             *rsa.PrivateKey
}

// NewRootCA is tools/certs' root-ca: an RSA key of bits, a self-signed
// certificate O=Istio, CN=Root CA, valid 3650 days, basicConstraints
// critical CA:true, keyUsage critical digitalSignature, nonRepudiation,
// keyEncipherment, keyCertSign (common.mk root-ca.conf); Go adds the
// subjectKeyIdentifier.
func NewRootCA(bits int, now time.Time) (*CA, error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Istio"}, CommonName: "Root CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(3650 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              caKeyUsage,
	}
	return newCA(bits, tmpl, nil)
}

const caKeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign

// NewIntermediateCA is tools/certs' <cluster>-cacerts: an RSA key of bits
// and a certificate signed by root, O=Istio, CN=Intermediate CA,
// L=<cluster>, valid 730 days, CA:true pathlen:0, the root's key usage,
// subjectAltName DNS istiod.istio-system.svc (common.mk intermediate.conf).
func NewIntermediateCA(root *CA, cluster string, bits int, now time.Time) (*CA, error) {
	if root == nil || root.key == nil {
		return nil, fmt.Errorf("intermediate CA of %s: no root CA key", cluster)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Istio"}, CommonName: "Intermediate CA", Locality: []string{cluster}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(730 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              caKeyUsage,
		DNSNames:              []string{"istiod.istio-system.svc"},
	}
	return newCA(bits, tmpl, root)
}

func newCA(bits int, tmpl *x509.Certificate, parent *CA) (*CA, error) {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("generate %d-bit RSA key: %w", bits, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	signer, signerCert := key, tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.Cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		Cert:    cert,
		key:     key,
	}, nil
}

// CACertsSecretObject is one cluster's cacerts secret in istio-system,
// with the four files of the guide's kubectl create secret generic
// cacerts: ca-cert.pem, ca-key.pem (the intermediate's), root-cert.pem,
// cert-chain.pem (intermediate then root, as tools/certs concatenates).
func CACertsSecretObject(root, intermediate *CA) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: CACertsSecret, Namespace: kind.IstioNamespace},
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			"ca-cert.pem":    intermediate.CertPEM,
			"ca-key.pem":     intermediate.KeyPEM,
			"root-cert.pem":  root.CertPEM,
			"cert-chain.pem": append(append([]byte(nil), intermediate.CertPEM...), root.CertPEM...),
		},
	}
}
