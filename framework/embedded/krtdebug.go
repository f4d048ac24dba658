package embedded

// This file owns releasing what a closed mesh leaves in istiod's one
// package-level registry (issue 23 item 7). pilot/test/xds's fake (fake.go)
// and pilot/pkg/networking/core's fake build every krt collection with
// krt.GlobalDebugHandler as its debugger, and krt appends each collection
// to that handler for /debug/krtz dumps (pkg/kube/krt/debug.go,
// maybeRegisterCollectionForDebugging) with no way to remove it. The
// entry's dump closure holds the collection, and through its handlers the
// whole discovery server, its informers and fake clients: about 3.9 MB a
// mesh that never came back (heap profile: bufconn pipes, krt process
// listeners, client-go ring buffers and schemes). Close removes the
// entries its deploy added.
//
// The handler has no exported way to do this, so the two fields are reached
// by name with reflect and unsafe. If a newer Istio renames them,
// krtDebugAccess reports it and TestMeshesReleaseHeap fails with that
// message (nothing panics; the mesh only leaks as before).

import (
	"fmt"
	"net"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"istio.io/istio/pkg/backoff"
	"istio.io/istio/pkg/kube/krt"
)

// krtDebug is the handler's lock and collection list, or why they could
// not be reached.
var krtDebug = sync.OnceValues(func() (*krtDebugFields, error) {
	v := reflect.ValueOf(krt.GlobalDebugHandler).Elem()
	mu, list := v.FieldByName("mu"), v.FieldByName("debugCollections")
	if !mu.IsValid() || mu.Type() != reflect.TypeFor[sync.RWMutex]() ||
		!list.IsValid() || list.Type() != reflect.TypeFor[[]krt.DebugCollection]() {
		return nil, fmt.Errorf("krt.DebugHandler has no fields mu (sync.RWMutex) and debugCollections ([]krt.DebugCollection) any more: closed meshes cannot be released from krt.GlobalDebugHandler")
	}
	if f, ok := reflect.TypeFor[krt.DebugCollection]().FieldByName("uid"); !ok || f.Type.Kind() != reflect.Uint64 {
		return nil, fmt.Errorf("krt.DebugCollection has no uint64 field uid any more: closed meshes cannot be released from krt.GlobalDebugHandler")
	}
	return &krtDebugFields{
		mu:   (*sync.RWMutex)(unsafe.Pointer(mu.UnsafeAddr())),
		list: (*[]krt.DebugCollection)(unsafe.Pointer(list.UnsafeAddr())),
	}, nil
})

type krtDebugFields struct {
	mu   *sync.RWMutex
	list *[]krt.DebugCollection
}

func krtUID(c krt.DebugCollection) uint64 {
	return reflect.ValueOf(c).FieldByName("uid").Uint()
}

// krtDebugUIDs is the set of collections registered now.
func krtDebugUIDs() map[uint64]bool {
	f, err := krtDebug()
	if err != nil {
		return nil
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[uint64]bool, len(*f.list))
	for _, c := range *f.list {
		out[krtUID(c)] = true
	}
	return out
}

// krtDebugAdded is what was registered since before (a deploy's
// collections; with deploys running at once in one process, also theirs,
// which then lose only their /debug/krtz entries when this mesh closes).
func krtDebugAdded(before map[uint64]bool) map[uint64]bool {
	added := map[uint64]bool{}
	for uid := range krtDebugUIDs() {
		if !before[uid] {
			added[uid] = true
		}
	}
	return added
}

// releaseKrtDebug removes the collections uids from the handler.
func releaseKrtDebug(uids map[uint64]bool) {
	f, err := krtDebug()
	if err != nil || len(uids) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	kept := (*f.list)[:0]
	for _, c := range *f.list {
		if !uids[krtUID(c)] {
			kept = append(kept, c)
		}
	}
	clear((*f.list)[len(kept):]) // drop the references, not just the length
	*f.list = kept
}

// reconnectBackoff is the sidecars' ADS reconnect policy. adsc's default
// (pkg/adsc/adsc.go, handleRecv) waits an exponential backoff before it
// tries again after its stream ends, in a time.AfterFunc that holds the
// closed client, its gRPC connection and their bufconn pipes (about 2 MB
// a sidecar) until it fires; reconnect then sees the client closed and
// returns. The stream ends only when the mesh closes, so a short wait
// releases all of it at once.
func reconnectBackoff() backoff.BackOff {
	return backoff.NewExponentialBackOff(backoff.Option{InitialInterval: time.Millisecond, MaxInterval: 10 * time.Millisecond})
}

// deadlineReleasingConn is a sidecar's bufconn connection to istiod. When
// gRPC closes its client transport it sets a 10 s write deadline (for the
// GOAWAY; grpc internal/transport/http2_client.go, Close, which runs again
// after the connection is closed when the reader fails) and bufconn arms a
// time.AfterFunc per deadline that holds the pipe, a 1 MB buffer, until it
// fires (test/bufconn/bufconn.go, SetWriteDeadline). Closing clears the
// deadlines, and a closed connection takes no new ones.
type deadlineReleasingConn struct {
	net.Conn
	mu     sync.Mutex
	closed bool
}

func (c *deadlineReleasingConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	err := c.Conn.Close()
	_ = c.Conn.SetDeadline(time.Time{})
	return err
}

func (c *deadlineReleasingConn) SetDeadline(t time.Time) error {
	return c.deadline(t, c.Conn.SetDeadline)
}

func (c *deadlineReleasingConn) SetReadDeadline(t time.Time) error {
	return c.deadline(t, c.Conn.SetReadDeadline)
}

func (c *deadlineReleasingConn) SetWriteDeadline(t time.Time) error {
	return c.deadline(t, c.Conn.SetWriteDeadline)
}

func (c *deadlineReleasingConn) deadline(t time.Time, set func(time.Time) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	return set(t)
}
