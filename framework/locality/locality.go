// Package locality parses, formats and matches Istio localities
// ("region/zone/subzone").
//
// Matching follows istio.io/istio/pilot/pkg/networking/util.LocalityMatch:
// the region must be equal or "*"; zone and subzone must be equal, "*", or
// omitted. So "kr" ≡ "kr/*" ≡ "kr/*/*".
package locality

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Locality is a region/zone/subzone triple. Empty fields are unset.
type Locality struct {
	Region  string
	Zone    string
	Subzone string
}

// Parse reads "region", "region/zone" or "region/zone/subzone".
// It rejects more than three segments and empty segments in the middle.
func Parse(s string) (Locality, error) {
	if s == "" {
		return Locality{}, fmt.Errorf("locality is empty: want region[/zone[/subzone]], e.g. kr/a")
	}
	parts := strings.Split(s, "/")
	if len(parts) > 3 {
		return Locality{}, fmt.Errorf("locality %q has %d segments: want at most region/zone/subzone", s, len(parts))
	}
	for i, p := range parts {
		if p == "" {
			return Locality{}, fmt.Errorf("locality %q has an empty segment %d: want region[/zone[/subzone]]", s, i+1)
		}
	}
	l := Locality{Region: parts[0]}
	if len(parts) > 1 {
		l.Zone = parts[1]
	}
	if len(parts) > 2 {
		l.Subzone = parts[2]
	}
	return l, nil
}

// MustParse is Parse for literals in code and tests; it panics on bad input.
func MustParse(s string) Locality {
	l, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return l
}

// String formats the locality as Istio and the seed print it: "kr/a",
// "kr/a/s1", or "kr". Trailing empty fields are dropped.
func (l Locality) String() string {
	switch {
	case l.Subzone != "":
		return l.Region + "/" + l.Zone + "/" + l.Subzone
	case l.Zone != "":
		return l.Region + "/" + l.Zone
	default:
		return l.Region
	}
}

// Validate reports whether the locality can be deployed: a region, a zone
// if there is a subzone, and each part a valid Kubernetes label value (the
// node labels topology.kubernetes.io/region, topology.kubernetes.io/zone
// and topology.istio.io/subzone carry them), so no "/", spaces, "*" or
// non-ASCII. The error names the part and the fix.
func (l Locality) Validate() error {
	if l.Region == "" {
		return fmt.Errorf("locality %q has no region: set at least Region (e.g. kr)", l.String())
	}
	if l.Subzone != "" && l.Zone == "" {
		return fmt.Errorf("locality {Region: %q, Subzone: %q} has a subzone but no zone: set Zone too (Istio's localities are region/zone/subzone)", l.Region, l.Subzone)
	}
	for _, part := range []struct{ field, value string }{{"Region", l.Region}, {"Zone", l.Zone}, {"Subzone", l.Subzone}} {
		if part.value == "" {
			continue
		}
		if strings.Contains(part.value, "/") {
			return fmt.Errorf("locality %s %q contains \"/\": set Region, Zone and Subzone separately (locality.Parse splits \"kr/a/s1\")", part.field, part.value)
		}
		if errs := validation.IsValidLabelValue(part.value); len(errs) > 0 {
			return fmt.Errorf("locality %s %q is not a valid Kubernetes label value: %s", part.field, part.value, strings.Join(errs, "; "))
		}
	}
	return nil
}

// IsZero reports whether no field is set.
func (l Locality) IsZero() bool { return l == Locality{} }

// Matches reports whether this (concrete) locality is selected by the rule
// locality string, with Istio's wildcard rules (util.LocalityMatch).
func (l Locality) Matches(rule string) bool {
	ruleRegion, ruleZone, ruleSubzone := split(rule)
	regionMatch := ruleRegion == "*" || l.Region == ruleRegion
	zoneMatch := ruleZone == "*" || ruleZone == "" || l.Zone == ruleZone
	subzoneMatch := ruleSubzone == "*" || ruleSubzone == "" || l.Subzone == ruleSubzone
	return regionMatch && zoneMatch && subzoneMatch
}

// Match is Matches on a string locality; an unparsable proxy locality never matches.
func Match(proxy, rule string) bool {
	r, z, s := split(proxy)
	return Locality{Region: r, Zone: z, Subzone: s}.Matches(rule)
}

func split(s string) (region, zone, subzone string) {
	parts := strings.SplitN(s, "/", 3)
	region = parts[0]
	if len(parts) > 1 {
		zone = parts[1]
	}
	if len(parts) > 2 {
		subzone = parts[2]
	}
	return
}
