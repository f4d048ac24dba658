package steps

import (
	"strings"
	"testing"

	"github.com/localitylb/locality-e2e/framework/endpoints"
)

func table(rows ...endpoints.Locality) endpoints.Table {
	return endpoints.Table{Cluster: "outbound|5000||helloworld.default.svc.cluster.local", View: endpoints.Envoy, Rows: rows}
}

func row(loc string, prio uint32, health ...endpoints.Health) endpoints.Locality {
	r := endpoints.Locality{Locality: loc, Priority: prio}
	for i, h := range health {
		r.Hosts = append(r.Hosts, endpoints.Host{Address: "127.20.0." + string(rune('1'+i)), Health: h})
	}
	return r
}

// TestTableChange: equal tables give ""; otherwise every locality that
// changed, vanished or appeared is named, in locality order, before both
// tables.
func TestTableChange(t *testing.T) {
	before := table(row("kr/b", 0, endpoints.Healthy, endpoints.Healthy), row("kr/a", 1, endpoints.Healthy), row("kr/c", 1, endpoints.Healthy))
	if got := TableChange(before, before); got != "" {
		t.Fatalf("equal tables: %q", got)
	}
	after := table(row("kr/b", 0, endpoints.Healthy, endpoints.Ejected), row("kr/a", 1, endpoints.Healthy), row("us/a", 2, endpoints.Healthy))
	got := TableChange(before, after)
	want := "endpoint table changed during the batch: " +
		"kr/b: priority 0, weight 0, hosts 2 (healthy 2) → priority 0, weight 0, hosts 2 (healthy 1); " +
		"kr/c vanished (was priority 1, weight 0, hosts 1 (healthy 1)); " +
		"us/a appeared (priority 2, weight 0, hosts 1 (healthy 1))\nbefore the batch:\n"
	if !strings.HasPrefix(got, want) || !strings.Contains(got, "after the batch:\n"+after.String()) {
		t.Errorf("TableChange:\n%s\nwant prefix\n%s", got, want)
	}
}

func TestParseMinRequests(t *testing.T) {
	for in, want := range map[string]int{"": 0, "0": 0, "5000": 5000, "1000000": 1000000} {
		if got, err := ParseMinRequests(in); err != nil || got != want {
			t.Errorf("ParseMinRequests(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"-1", "1000001", "5k", " 5"} {
		if _, err := ParseMinRequests(in); err == nil || !strings.Contains(err.Error(), "use 0 to 1000000") {
			t.Errorf("ParseMinRequests(%q): %v, want a refusal naming the range", in, err)
		}
	}
}
