package envoylb

import (
	"fmt"
	"testing"
)

// Key is "address:port", as fmt formats it (the format hosts are indexed by).
func TestHostKey(t *testing.T) {
	for _, h := range []Host{
		{Address: "127.20.0.1", Port: 5000},
		{Address: "10.0.0.1", Port: 0},
		{Address: "fd00::1", Port: 65535},
		{Address: "a-very-long-hostname.example.svc.cluster.local.with.more.labels", Port: 15443},
	} {
		if got, want := h.Key(), fmt.Sprintf("%s:%d", h.Address, h.Port); got != want {
			t.Errorf("Key() = %q, want %q", got, want)
		}
	}
}
