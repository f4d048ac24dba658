package embedded

// This file owns the open-file budget (issue 23 item 10): before a deploy
// or a scale-up, the process must be allowed enough file descriptors for
// every pod; the soft RLIMIT_NOFILE is raised toward the hard limit when
// that is enough, and otherwise the change is refused with the numbers,
// before anything starts. Without it, pods start and then requests fail
// with "503 upstream connect error" once the limit is reached.

import (
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/localitylb/locality-e2e/framework/topology"
)

// fdsPerPod is what one pod costs in file descriptors at most, measured
// by TestFDsPerPod: its listener, the server side of the sidecars'
// connections to it and their client side in this process (the shared
// transport keeps up to 4 idle connections per pod).
const fdsPerPod = 9

// fdReserve is kept free for istiod, its informers, the debug server and
// the test binary's own files.
const fdReserve = 256

var fdMu sync.Mutex

// checkFDBudget makes room for addPods more pods (workload pods, clients
// and gateways together): it raises the soft open-file limit when the
// current one is too low and the hard limit allows enough, and otherwise
// returns an error with the numbers.
func checkFDBudget(what string, addPods int) error {
	if addPods <= 0 {
		return nil
	}
	fdMu.Lock()
	defer fdMu.Unlock()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // no limit to read: nothing to check against
	}
	open := openFDs()
	need := uint64(open) + uint64(addPods)*fdsPerPod + fdReserve
	if need <= lim.Cur {
		return nil
	}
	if need <= lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s: %d more pods need about %d open files (%d per pod, %d open now, %d kept in reserve) but the open-file limit is %d (hard limit %d): raise it (ulimit -n %d) or use fewer pods",
		what, addPods, need, fdsPerPod, open, fdReserve, lim.Cur, lim.Max, need)
}

// openFDs counts this process's open file descriptors (0 where /proc is
// not there: the check then counts the pods only).
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// podsOf counts what a topology's deploy binds: workload pods, clients and
// one east-west gateway per cluster (at most).
func podsOf(t topology.Topology) int {
	n := len(t.Clients) + len(t.ClusterNames())
	for _, w := range t.Workloads {
		n += w.Replicas
	}
	return n
}
