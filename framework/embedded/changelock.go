package embedded

// This file owns how a change to the mesh (ApplyDestinationRule, Scale,
// DeleteVirtualService, ...) holds the mesh lock (issue 23 item 6): the
// write lock only while objects change, then the read lock while it waits
// for istiod's pushes, so Send, Pods, Endpoints and the like run
// meanwhile; and every wait (poll) ends at once when Close starts, so
// Close never waits out a change's sync timeout.

import "errors"

// changeLock is the mesh lock as one change holds it.
type changeLock struct {
	m     *Mesh
	write bool
}

// lockChange takes the mesh's write lock for a change; defer unlock.
func (m *Mesh) lockChange() *changeLock {
	m.mu.Lock()
	return &changeLock{m: m, write: true}
}

// waiting trades the write lock for the read lock before a wait for
// istiod: objects no longer change, and readers are not held up.
func (l *changeLock) waiting() {
	if l.write {
		l.m.mu.Unlock()
		l.m.mu.RLock()
		l.write = false
	}
}

func (l *changeLock) unlock() {
	if l.write {
		l.m.mu.Unlock()
	} else {
		l.m.mu.RUnlock()
	}
}

// errClosedWhileWaiting is what a wait returns when Close starts.
var errClosedWhileWaiting = errors.New("the mesh was closed")

// startClosing tells batches in flight and waits in progress to stop. It
// runs before Close takes the mesh lock: a change waiting under the read
// lock returns, so Close gets the lock at once.
func (m *Mesh) startClosing() {
	m.closeOnce.Do(func() {
		m.closing.Store(true)
		close(m.closingCh)
	})
}
