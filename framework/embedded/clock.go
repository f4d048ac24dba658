package embedded

import (
	"sync"
	"time"
)

// virtualClock is the time the embedded sidecars' outlier detectors read
// (interval ticks, ejection times). It starts at the real time the mesh
// was deployed and moves only when a spec waits (Mesh.Wait), so no spec
// sleeps in real time on embedded and none depends on how fast this
// machine sends requests.
type virtualClock struct {
	mu  sync.Mutex
	now time.Time
}

func newVirtualClock() *virtualClock { return &virtualClock{now: time.Now()} }

// Now is the virtual time.
func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the virtual time forward by d.
func (c *virtualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
