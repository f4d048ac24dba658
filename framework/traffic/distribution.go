package traffic

import "github.com/localitylb/locality-e2e/framework/split"

// ByPod counts successful responses per serving pod; every other response
// is counted under its class, so errors are never silently dropped.
func (b Batch) ByPod() *split.Distribution {
	_, classes, pods := b.tally()
	d := split.NewDistribution()
	named := 0
	for p, c := range pods {
		d.AddN(p, c)
		named += c
	}
	for class, c := range classes {
		if class == ClassOK {
			c -= named // 200 OK without a pod in the body
		}
		d.AddN(class, c)
	}
	return d
}

// ByLocality counts successful responses per locality of the serving pod
// (podLocality maps pod name → "region/zone"); other responses are counted
// under their class, and a pod with no known locality under "unknown pod <name>".
func (b Batch) ByLocality(podLocality map[string]string) *split.Distribution {
	_, classes, pods := b.tally()
	d := split.NewDistribution()
	named := 0
	for p, c := range pods {
		named += c
		if l := podLocality[p]; l != "" {
			d.AddN(l, c)
		} else {
			d.AddN("unknown pod "+p, c)
		}
	}
	for class, c := range classes {
		if class == ClassOK {
			c -= named
		}
		d.AddN(class, c)
	}
	return d
}

// ByClass counts responses per response class.
func (b Batch) ByClass() *split.Distribution {
	_, classes, _ := b.tally()
	return split.DistributionOf(classes)
}
