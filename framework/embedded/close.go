package embedded

// close.go owns the end of a mesh: Close and what it releases.

import (
	"context"
)

// Close stops the pods, istiod and every goroutine they started.
func (m *Mesh) Close(ctx context.Context) error {
	m.startClosing()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	// Batches in flight stop at their next request; wait for them so none
	// counts the answer of a pod being stopped.
	m.sends.Wait()
	m.retiring.close()
	m.mu.Lock()
	for _, p := range m.allPods() {
		p.server.stop()
	}
	for _, c := range m.clients {
		if c.side != nil {
			c.side.close()
		}
		_ = c.admin.Close() // already closed by the admin server if it served
	}
	for _, g := range m.gateways() {
		g.close()
	}
	if m.debug != nil {
		m.debug.close()
	}
	m.mu.Unlock()
	m.life.close()
	releaseKrtDebug(m.krtUIDs)
	m.transport.CloseIdleConnections()
	if m.onClose != nil {
		m.onClose()
	}
	return nil
}
