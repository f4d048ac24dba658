package locality

import (
	"strings"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"istio.io/istio/pilot/pkg/networking/util"
)

func TestParseString(t *testing.T) {
	cases := []struct {
		in   string
		want Locality
	}{
		{"kr", Locality{Region: "kr"}},
		{"kr/a", Locality{Region: "kr", Zone: "a"}},
		{"kr/a/s1", Locality{Region: "kr", Zone: "a", Subzone: "s1"}},
		{"*", Locality{Region: "*"}},
		{"kr/*", Locality{Region: "kr", Zone: "*"}},
		{"kr/a/*", Locality{Region: "kr", Zone: "a", Subzone: "*"}},
		{"us-east-1/us-east-1a", Locality{Region: "us-east-1", Zone: "us-east-1a"}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if s := got.String(); s != tc.in {
				t.Errorf("String() = %q, want %q", s, tc.in)
			}
			if got.IsZero() {
				t.Error("IsZero on a parsed locality")
			}
		})
	}
	if !(Locality{}).IsZero() || (Locality{}).String() != "" {
		t.Error("zero Locality")
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "locality is empty"},
		{"a//b", "empty segment 2"},
		{"/a", "empty segment 1"},
		{"a/", "empty segment 2"},
		{"a/b/c/d", "has 4 segments"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Parse(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%q) error %v, want it to contain %q", tc.in, err, tc.want)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Error("MustParse(\"a//b\") did not panic")
		}
	}()
	MustParse("a//b")
}

// TestMatchesIstioCases holds every case of Istio's own TestLocalityMatch
// (pilot/pkg/networking/util/util_test.go at the pinned istio.io/istio).
func TestMatchesIstioCases(t *testing.T) {
	cases := []struct {
		name     string
		locality Locality
		rule     string
		match    bool
	}{
		{"wildcard matching", Locality{"region1", "zone1", "subzone1"}, "*", true},
		{"wildcard matching", Locality{"region1", "zone1", "subzone1"}, "region1/*", true},
		{"wildcard matching", Locality{"region1", "zone1", "subzone1"}, "region1/zone1/*", true},
		{"wildcard not matching", Locality{"region1", "zone1", "subzone1"}, "region1/zone2/*", false},
		{"region matching", Locality{"region1", "zone1", "subzone1"}, "region1", true},
		{"region and zone matching", Locality{"region1", "zone1", "subzone1"}, "region1/zone1", true},
		{"zubzone wildcard matching", Locality{Region: "region1", Zone: "zone1"}, "region1/zone1", true},
		{"subzone mismatching", Locality{Region: "region1", Zone: "zone1"}, "region1/zone1/subzone2", false},
	}
	for _, tc := range cases {
		t.Run(tc.name+" "+tc.rule, func(t *testing.T) {
			if got := tc.locality.Matches(tc.rule); got != tc.match {
				t.Errorf("%v.Matches(%q) = %v, want %v", tc.locality, tc.rule, got, tc.match)
			}
			if got := Match(tc.locality.String(), tc.rule); got != tc.match {
				t.Errorf("Match(%q, %q) = %v, want %v", tc.locality, tc.rule, got, tc.match)
			}
		})
	}
}

func TestMatchesMore(t *testing.T) {
	cases := []struct {
		proxy, rule string
		match       bool
	}{
		{"kr/a", "kr/a/*", true},
		{"kr/a", "kr/b/*", false},
		{"kr/a", "us", false},
		{"kr/a", "*/a", true},
		{"kr", "kr/a", false},
		{"kr/a/s1", "kr/a/s2", false},
		{"kr/a/s1", "kr/*/s1", true},
		{"us/b", "*", true},
	}
	for _, tc := range cases {
		if got := Match(tc.proxy, tc.rule); got != tc.match {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.proxy, tc.rule, got, tc.match)
		}
	}
}

// TestRegionWildcardEquivalence: kr ≡ kr/* ≡ kr/*/* for every locality.
func TestRegionWildcardEquivalence(t *testing.T) {
	for _, p := range []string{"kr", "kr/a", "kr/a/s1", "kr/b/s2", "us", "us/a", "us/a/s1"} {
		l := MustParse(p)
		a, b, c := l.Matches("kr"), l.Matches("kr/*"), l.Matches("kr/*/*")
		if a != b || b != c {
			t.Errorf("%s: kr=%v kr/*=%v kr/*/*=%v", p, a, b, c)
		}
		if want := l.Region == "kr"; a != want {
			t.Errorf("%s matches kr = %v, want %v", p, a, want)
		}
	}
}

// TestMatchesAgreesWithIstio compares Matches with Istio's
// util.LocalityMatch over a grid of localities and rules.
func TestMatchesAgreesWithIstio(t *testing.T) {
	var locs []Locality
	for _, r := range []string{"kr", "us"} {
		for _, z := range []string{"", "a", "b"} {
			for _, s := range []string{"", "s1", "s2"} {
				if z == "" && s != "" {
					continue
				}
				locs = append(locs, Locality{r, z, s})
			}
		}
	}
	var rules []string
	for _, r := range []string{"*", "kr", "us"} {
		rules = append(rules, r)
		for _, z := range []string{"*", "a", "b"} {
			rules = append(rules, r+"/"+z)
			for _, s := range []string{"*", "s1", "s2"} {
				rules = append(rules, r+"/"+z+"/"+s)
			}
		}
	}
	n := 0
	for _, l := range locs {
		cl := &core.Locality{Region: l.Region, Zone: l.Zone, SubZone: l.Subzone}
		for _, rule := range rules {
			n++
			if got, want := l.Matches(rule), util.LocalityMatch(cl, rule); got != want {
				t.Errorf("%s matches %q: ours %v, Istio %v", l, rule, got, want)
			}
		}
	}
	if n == 0 {
		t.Fatal("no cases")
	}
}
