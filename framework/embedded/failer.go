package embedded

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
)

// lifetime is the test.Failer istio's fake discovery server wants, for a
// mesh that lives beyond any one *testing.T: Fatal records the error and
// ends the calling goroutine (as testing.T does), Cleanup functions run at
// Close, last in first out.
type lifetime struct {
	mu       sync.Mutex
	err      error
	cleanups []func()
	logf     func(format string, args ...any)
}

func (l *lifetime) Fail()    { l.Fatal("fail called") }
func (l *lifetime) FailNow() { l.Fatal("fail now called") }
func (l *lifetime) Fatal(args ...any) {
	l.mu.Lock()
	if l.err == nil {
		l.err = errors.New(fmt.Sprint(args...))
	}
	l.mu.Unlock()
	runtime.Goexit()
}
func (l *lifetime) Fatalf(format string, args ...any) { l.Fatal(fmt.Sprintf(format, args...)) }
func (l *lifetime) Log(args ...any) {
	if l.logf != nil {
		l.logf("%s", fmt.Sprint(args...))
	}
}
func (l *lifetime) Logf(format string, args ...any) {
	if l.logf != nil {
		l.logf(format, args...)
	}
}
func (l *lifetime) TempDir() string {
	dir, err := os.MkdirTemp("", "locality-e2e-istiod")
	if err != nil {
		l.Fatal(err)
	}
	l.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
func (l *lifetime) Helper()          {}
func (l *lifetime) Skip(args ...any) { l.Fatal(append([]any{"skip: "}, args...)...) }
func (l *lifetime) Cleanup(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cleanups = append(l.cleanups, f)
}

// Err returns the first Fatal error.
func (l *lifetime) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// run calls f in its own goroutine so that Fatal can end it, and returns
// the recorded error.
func (l *lifetime) run(f func()) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
	return l.Err()
}

// close runs the cleanups, last registered first.
func (l *lifetime) close() {
	l.mu.Lock()
	cs := l.cleanups
	l.cleanups = nil
	l.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}
