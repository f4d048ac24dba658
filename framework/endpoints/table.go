// Package endpoints holds the endpoint table of one client sidecar for one
// service: locality, priority, weight and hosts with their health. Both
// backends produce it, the specs compare it, and reports print it like the
// seed's Text 2 (`locality weight endpoints(ip|status)`).
package endpoints

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
)

// View says whose view of the endpoints a Table is.
type View string

const (
	// Raw is istiod's ClusterLoadAssignment for the client (/debug/edsz):
	// every locality, including those a distribute rule emptied.
	Raw View = "istiod"
	// Envoy is what the sidecar holds (/clusters, config_dump?include_eds):
	// only localities with hosts.
	Envoy View = "envoy"
)

// Health of one host as Envoy reports it.
type Health string

const (
	Healthy   Health = "HEALTHY"
	Unhealthy Health = "UNHEALTHY"
	Draining  Health = "DRAINING"
	Ejected   Health = "EJECTED" // outlier detection; /clusters prints failed_outlier_check
	Unknown   Health = "UNKNOWN"
)

// Host is one endpoint.
type Host struct {
	Address string // IP
	Port    uint32
	Pod     string // pod name when known
	Health  Health
	// Cluster and Network are where the host is, when the backend knows
	// (ReadInput.Places). For an east-west gateway endpoint they are the
	// gateway's, and Gateway is set.
	Cluster string
	Network string
	Gateway bool
}

// Place is where an address is: a pod's or an east-west gateway's cluster
// and network.
type Place struct {
	Cluster string
	Network string
	Gateway bool
}

// Locality is one row: all hosts of one locality at one priority.
type Locality struct {
	Locality string // region/zone[/subzone]
	Priority uint32
	Weight   uint32 // load_balancing_weight; 0 when unset
	Hosts    []Host
}

// Table is the endpoint table of one cluster as seen by one client.
type Table struct {
	Cluster string // e.g. outbound|5000||helloworld.default.svc.cluster.local
	View    View
	Rows    []Locality
}

// Sort orders rows by priority then locality, and hosts by address, so
// tables compare and print stably.
func (t *Table) Sort() {
	for i := range t.Rows {
		h := t.Rows[i].Hosts
		sort.Slice(h, func(a, b int) bool { return h[a].Address < h[b].Address })
	}
	sort.SliceStable(t.Rows, func(a, b int) bool {
		if t.Rows[a].Priority != t.Rows[b].Priority {
			return t.Rows[a].Priority < t.Rows[b].Priority
		}
		return t.Rows[a].Locality < t.Rows[b].Locality
	})
}

// Row returns the row for a locality (the first, if it is split over
// priorities) and whether it exists.
func (t Table) Row(locality string) (Locality, bool) {
	for _, r := range t.Rows {
		if r.Locality == locality {
			return r, true
		}
	}
	return Locality{}, false
}

// Summary is the comparable shape of a table: per locality its priority,
// weight and host count (healthy/total). It is what scenarios expect.
type Summary map[string]RowSummary

// RowSummary is one locality of a Summary.
type RowSummary struct {
	Priority uint32
	Weight   uint32
	Hosts    int
	Healthy  int
}

func (r RowSummary) String() string {
	return fmt.Sprintf("priority %d, weight %d, hosts %d (healthy %d)", r.Priority, r.Weight, r.Hosts, r.Healthy)
}

// Summarize reduces a table to its Summary. Rows of one locality at several
// priorities (failoverPriority can split them) are keyed "loc@prio".
func (t Table) Summarize() Summary {
	s := Summary{}
	count := map[string]int{}
	for _, r := range t.Rows {
		count[r.Locality]++
	}
	for _, r := range t.Rows {
		key := r.Locality
		if count[r.Locality] > 1 {
			key = fmt.Sprintf("%s@%d", r.Locality, r.Priority)
		}
		rs := RowSummary{Priority: r.Priority, Weight: r.Weight, Hosts: len(r.Hosts)}
		for _, h := range r.Hosts {
			if h.Health == Healthy || h.Health == Unknown || h.Health == "" {
				rs.Healthy++
			}
		}
		s[key] = rs
	}
	return s
}

// String prints the table like the seed's Text 2, with priority added.
func (t Table) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %s (%s view)\n", t.Cluster, t.View)
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	header := "endpoints(ip|status|pod)"
	if t.placed() {
		header = "endpoints(ip|status|pod|cluster/network)"
	}
	fmt.Fprintln(w, "locality\tpriority\tweight\t"+header)
	for _, r := range t.Rows {
		hosts := make([]string, 0, len(r.Hosts))
		for _, h := range r.Hosts {
			s := h.Address + "|" + string(h.Health)
			if h.Pod != "" {
				s += "|" + h.Pod
			}
			if h.Cluster != "" {
				s += "|" + h.Cluster
				if h.Network != "" {
					s += "/" + h.Network
				}
			}
			hosts = append(hosts, s)
		}
		hs := strings.Join(hosts, ",")
		if hs == "" {
			hs = "(none)"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", r.Locality, r.Priority, r.Weight, hs)
	}
	_ = w.Flush()
	return b.String()
}

// String prints a summary sorted by locality.
func (s Summary) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, s[k])
	}
	return b.String()
}

// placed reports whether any host carries its cluster.
func (t Table) placed() bool {
	for _, r := range t.Rows {
		for _, h := range r.Hosts {
			if h.Cluster != "" {
				return true
			}
		}
	}
	return false
}
