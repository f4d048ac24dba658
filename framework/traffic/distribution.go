package traffic

import "github.com/localitylb/locality-e2e/framework/split"

// ByPod counts successful responses per serving pod; every other response
// is counted under its class, so errors are never silently dropped.
func (b Batch) ByPod() *split.Distribution {
	d := split.NewDistribution()
	for _, r := range b.Responses {
		if r.Class() == ClassOK && r.Pod != "" {
			d.Add(r.Pod)
		} else {
			d.Add(r.Class())
		}
	}
	return d
}

// ByLocality counts successful responses per locality of the serving pod
// (podLocality maps pod name → "region/zone"); other responses are counted
// under their class, and a pod with no known locality under "unknown pod <name>".
func (b Batch) ByLocality(podLocality map[string]string) *split.Distribution {
	d := split.NewDistribution()
	for _, r := range b.Responses {
		switch {
		case r.Class() != ClassOK || r.Pod == "":
			d.Add(r.Class())
		case podLocality[r.Pod] != "":
			d.Add(podLocality[r.Pod])
		default:
			d.Add("unknown pod " + r.Pod)
		}
	}
	return d
}

// ByClass counts responses per response class.
func (b Batch) ByClass() *split.Distribution {
	d := split.NewDistribution()
	for _, r := range b.Responses {
		d.Add(r.Class())
	}
	return d
}
