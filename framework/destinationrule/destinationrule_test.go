package destinationrule

import (
	"errors"
	"strings"
	"testing"

	"github.com/localitylb/locality-e2e/manifests"
)

const head = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: bad-dr
spec:
  host: helloworld-svc.default.svc.cluster.local
  trafficPolicy:
`

const outlier = `    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 1m
`

func lbYAML(body string) string {
	return head + "    loadBalancer:\n      localityLbSetting:\n        enabled: true\n" + body
}

func TestInvalidRules(t *testing.T) {
	const lb = "trafficPolicy.loadBalancer.localityLbSetting"
	cases := []struct {
		name     string
		yaml     string
		parseErr bool     // rejected by Parse rather than Validate
		want     []string // substrings of the error
	}{
		{
			name: "weights sum to 90",
			yaml: lbYAML(`        distribute:
        - from: "kr/a/*"
          to:
            "kr/a/*": 100
        - from: "kr/b/*"
          to:
            "kr/a/*": 80
            "kr/c/*": 10
`),
			want: []string{lb + ".distribute[1].to", "total locality weight 90 != 100", "add up to exactly 100"},
		},
		{
			name: "weight 0",
			yaml: lbYAML(`        distribute:
        - from: "kr/a/*"
          to:
            "kr/a/*": 100
            "kr/b/*": 0
`),
			want: []string{lb + `.distribute[0].to["kr/b/*"]`, "locality weight must be in range [1, 100]", "weight is 0"},
		},
		{
			name: "weight 101",
			yaml: lbYAML(`        distribute:
        - from: "kr/a/*"
          to:
            "kr/a/*": 101
`),
			want: []string{lb + `.distribute[0].to["kr/a/*"]`, "locality weight must be in range [1, 100]", "weight is 101"},
		},
		{
			name: "overlapping from",
			yaml: lbYAML(`        distribute:
        - from: "kr/*"
          to:
            "kr/a/*": 100
        - from: "kr/a/*"
          to:
            "kr/b/*": 100
`),
			want: []string{lb + ".distribute[1].from", "locality kr/a/* overlap with previous specified ones"},
		},
		{
			name: "same from twice",
			yaml: lbYAML(`        distribute:
        - from: "kr/a"
          to:
            "kr/a": 100
        - from: "kr/a"
          to:
            "kr/b": 100
`),
			want: []string{lb + ".distribute[1].from", "locality kr/a overlap with previous specified ones"},
		},
		{
			name: "distribute and failover together",
			yaml: lbYAML(`        distribute:
        - from: "kr/a/*"
          to:
            "kr/a/*": 100
        failover:
        - from: kr
          to: us
`) + outlier,
			want: []string{lb + ": can not simultaneously specify 'distribute' and 'failover'", "not both"},
		},
		{
			name: "failover from == to",
			yaml: lbYAML(`        failover:
        - from: us
          to: kr
        - from: kr
          to: kr
`) + outlier,
			want: []string{lb + ".failover[1]", "locality lb failover settings must specify different regions"},
		},
		{
			name: "failover with slash",
			yaml: lbYAML(`        failover:
        - from: kr/a
          to: us
`) + outlier,
			want: []string{lb + ".failover[0].from", "locality lb failover only specify region", "kr/a"},
		},
		{
			name: "failover with star",
			yaml: lbYAML(`        failover:
        - from: kr
          to: "*"
`) + outlier,
			want: []string{lb + ".failover[0].to", "locality lb failover region should not contain '*' wildcard"},
		},
		{
			name: "two wildcards",
			yaml: lbYAML(`        distribute:
        - from: "kr/*/a"
          to:
            "kr/a": 100
`),
			want: []string{lb + ".distribute[0].from", "locality kr/*/a wildcard '*' number can not exceed 1 and must be in the end"},
		},
		{
			name: "wildcard in to not at end",
			yaml: lbYAML(`        distribute:
        - from: "kr/a"
          to:
            "*/a": 100
`),
			want: []string{lb + `.distribute[0].to["*/a"]`, "wildcard '*' number can not exceed 1"},
		},
		{
			name: "failover with failoverPriority topology label",
			yaml: lbYAML(`        failover:
        - from: kr
          to: us
        failoverPriority:
        - topology.istio.io/network
        - topology.kubernetes.io/region
`) + outlier,
			want: []string{lb + ".failoverPriority[1]", "can not simultaneously set 'failover' and topology label 'topology.kubernetes.io/region' in 'failover_priority'"},
		},
		{
			name:     "unknown field",
			yaml:     head + "    loadBalancer:\n      localityLbSettings:\n        enabled: true\n",
			parseErr: true,
			want:     []string{`unknown field "spec.trafficPolicy.loadBalancer.localityLbSettings"`},
		},
		{
			name:     "unknown nested field",
			yaml:     lbYAML("        distribute:\n        - from: kr/a\n          too:\n            kr/a: 100\n"),
			parseErr: true,
			want:     []string{`unknown field "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].too"`},
		},
		{
			name:     "unknown metadata field",
			yaml:     strings.Replace(head, "  name: bad-dr", "  name: bad-dr\n  nmespace: x", 1) + outlier,
			parseErr: true,
			want:     []string{"nmespace"},
		},
		{
			name:     "wrong kind",
			yaml:     strings.Replace(head, "kind: DestinationRule", "kind: VirtualService", 1) + outlier,
			parseErr: true,
			want:     []string{`kind is "VirtualService"`, "want DestinationRule"},
		},
		{
			name:     "not YAML",
			yaml:     "spec: [unclosed",
			parseErr: true,
			want:     []string{"not valid YAML"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const file = "testdata/bad.yaml"
			dr, err := Parse(file, []byte(tc.yaml))
			if tc.parseErr {
				if err == nil {
					t.Fatalf("Parse accepted:\n%s", tc.yaml)
				}
			} else {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				_, err = Validate(file, dr)
				if err == nil {
					t.Fatalf("Validate accepted:\n%s", tc.yaml)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error does not wrap ErrInvalid: %v", err)
				}
				tc.want = append(tc.want, `DestinationRule "bad-dr"`)
			}
			tc.want = append(tc.want, file)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			t.Log(err)
		})
	}
}

func TestFailoverWithoutOutlierDetectionWarns(t *testing.T) {
	dr, err := Parse("x.yaml", []byte(lbYAML("        failover:\n        - from: kr\n          to: us\n")))
	if err != nil {
		t.Fatal(err)
	}
	warnings, err := Validate("x.yaml", dr)
	if err != nil {
		t.Fatalf("a warning only, got error %v", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "trafficPolicy.outlierDetection: outlier detection policy must be provided for failover") {
		t.Fatalf("warnings = %q", warnings)
	}
}

func TestEmbeddedRulesAreValid(t *testing.T) {
	names := Names()
	// The seed's rules must be there; the beyond-the-seed scenarios add more.
	want := []string{"distribute-90-10", "distribute-local-zone", "failover", "failover-max-ejection-100", "outlier-only"}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("Names() = %v, missing %s", names, w)
		}
	}
	for _, n := range names {
		dr, err := Load(n)
		if err != nil {
			t.Errorf("Load(%q): %v", n, err)
			continue
		}
		warnings, err := Validate(n, dr)
		if err != nil || len(warnings) > 0 {
			t.Errorf("%s: err %v warnings %v", n, err, warnings)
		}
		if dr.Name != "helloworld-dr" || dr.Spec.Host != "helloworld-svc.default.svc.cluster.local" {
			t.Errorf("%s: name %q host %q", n, dr.Name, dr.Spec.Host)
		}
		if dr.APIVersion != "networking.istio.io/v1" || dr.Kind != "DestinationRule" {
			t.Errorf("%s: %s %s", n, dr.APIVersion, dr.Kind)
		}
	}
}

func TestEmbeddedRuleContents(t *testing.T) {
	dr, err := Load("distribute-90-10")
	if err != nil {
		t.Fatal(err)
	}
	d := dr.Spec.GetTrafficPolicy().GetLoadBalancer().GetLocalityLbSetting().GetDistribute()
	if len(d) != 3 || d[1].GetFrom() != "kr/b/*" || d[1].GetTo()["kr/a/*"] != 90 || d[1].GetTo()["kr/c/*"] != 10 {
		t.Errorf("distribute-90-10 = %v", d)
	}
	dr, err = Load("distribute-local-zone")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range dr.Spec.GetTrafficPolicy().GetLoadBalancer().GetLocalityLbSetting().GetDistribute() {
		if len(e.GetTo()) != 1 || e.GetTo()[e.GetFrom()] != 100 {
			t.Errorf("distribute-local-zone entry %v", e)
		}
	}
	for _, n := range []string{"failover", "failover-max-ejection-100", "outlier-only"} {
		dr, err := Load(n)
		if err != nil {
			t.Fatal(err)
		}
		od := dr.Spec.GetTrafficPolicy().GetOutlierDetection()
		if od.GetConsecutive_5XxErrors().GetValue() != 1 || od.GetInterval().AsDuration().String() != "1s" || od.GetBaseEjectionTime().AsDuration().String() != "1m0s" {
			t.Errorf("%s: outlierDetection %v", n, od)
		}
		lb := dr.Spec.GetTrafficPolicy().GetLoadBalancer().GetLocalityLbSetting()
		if (n == "outlier-only") != (lb == nil) {
			t.Errorf("%s: localityLbSetting %v", n, lb)
		}
		if lb != nil && !lb.GetEnabled().GetValue() {
			t.Errorf("%s: enabled false", n)
		}
		if got, want := od.GetMaxEjectionPercent(), map[string]int32{"failover-max-ejection-100": 100}[n]; got != want {
			t.Errorf("%s: maxEjectionPercent %d, want %d", n, got, want)
		}
	}
}

func TestLoadUnknownListsNames(t *testing.T) {
	_, err := Load("nope")
	if err == nil || !strings.Contains(err.Error(), "distribute-90-10") || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := Load("../manifests"); err == nil {
		t.Fatal("path accepted")
	}
}

func TestParseSeedV1beta1(t *testing.T) {
	dr, err := Parse("seed.yaml", []byte(strings.Replace(lbYAML(""), "networking.istio.io/v1", "networking.istio.io/v1beta1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if dr.APIVersion != "networking.istio.io/v1" || !dr.Spec.GetTrafficPolicy().GetLoadBalancer().GetLocalityLbSetting().GetEnabled().GetValue() {
		t.Fatalf("got %+v", dr)
	}
}

func TestForTopology(t *testing.T) {
	dr, err := Load("failover")
	if err != nil {
		t.Fatal(err)
	}
	got := ForTopology(dr, "helloworld.test.svc.cluster.local", "test")
	if got.Spec.Host != "helloworld.test.svc.cluster.local" || got.Namespace != "test" {
		t.Fatalf("got host %q ns %q", got.Spec.Host, got.Namespace)
	}
	if dr.Spec.Host != "helloworld-svc.default.svc.cluster.local" || dr.Namespace != "" {
		t.Fatalf("original modified: %q %q", dr.Spec.Host, dr.Namespace)
	}
	got.Spec.TrafficPolicy.OutlierDetection.MaxEjectionPercent = 7
	if dr.Spec.TrafficPolicy.OutlierDetection.MaxEjectionPercent == 7 {
		t.Fatal("not a deep copy")
	}
	if ForTopology(nil, "h", "n") != nil {
		t.Fatal("nil in, non-nil out")
	}
}

func TestEmbeddedFilesParseStrictly(t *testing.T) {
	for _, n := range manifests.DestinationRuleNames() {
		b, err := manifests.DestinationRule(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(n, b); err != nil {
			t.Error(err)
		}
	}
}
