package virtualservice

import (
	"errors"
	"strings"
	"testing"
)

func TestLoadEveryEmbeddedVirtualService(t *testing.T) {
	names := Names()
	if len(names) == 0 {
		t.Fatal("no VirtualService embedded in manifests/virtualservices")
	}
	for _, n := range names {
		vs, err := Load(n)
		if err != nil {
			t.Errorf("Load(%q): %v", n, err)
			continue
		}
		got := ForTopology(vs, "helloworld", "helloworld.ns1.svc.cluster.local", "ns1", 5000)
		if got.Name != "helloworld" || got.Namespace != "ns1" || got.Spec.Hosts[0] != "helloworld.ns1.svc.cluster.local" {
			t.Errorf("ForTopology(%q) = %s/%s hosts %v", n, got.Namespace, got.Name, got.Spec.Hosts)
		}
		for _, r := range got.Spec.Http {
			for _, d := range r.Route {
				if d.Destination.Host != "helloworld.ns1.svc.cluster.local" || d.Destination.Port.GetNumber() != 5000 {
					t.Errorf("ForTopology(%q): destination %v", n, d.Destination)
				}
			}
		}
		if _, err := Validate("x", got); err != nil {
			t.Errorf("retargeted %q is invalid: %v", n, err)
		}
	}
}

func TestParseAndValidateRejectBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"wrong kind", "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: x}\nspec: {}\n", `kind is "DestinationRule"`},
		{"unknown field", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [a]\n  http:\n  - retries: {attempts: 2, retryon: 5xx}\n    route: [{destination: {host: a}}]\n", "retryon"},
		{"empty", "", "empty document"},
		{"negative attempts", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [a]\n  http:\n  - retries: {attempts: -1}\n    route: [{destination: {host: a}}]\n", "attempts"},
		{"bad retryOn", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [a]\n  http:\n  - retries: {attempts: 1, retryOn: \"5xx,teapot\"}\n    route: [{destination: {host: a}}]\n", "teapot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs, err := Parse("f.yaml", []byte(tc.yaml))
			if err == nil {
				_, err = Validate("f.yaml", vs)
				if err != nil && !errors.Is(err, ErrInvalid) {
					t.Errorf("validation error %v does not wrap ErrInvalid", err)
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "f.yaml") {
				t.Fatalf("error = %v, want one naming f.yaml and %q", err, tc.want)
			}
		})
	}
}

func TestLoadUnknownNameListsAvailable(t *testing.T) {
	_, err := Load("nope")
	if err == nil || !strings.Contains(err.Error(), "retry-5xx") {
		t.Fatalf("Load(nope) = %v, want the available names", err)
	}
}
