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

// fdsPerPod is what one pod costs in file descriptors, measured by
// TestFDsPerPod (3.00 per pod over 100 added pods under traffic): its
// listener, plus the two ends (both in this process) of the one keep-alive
// connection the shared transport settles at per pod. More connections to
// one pod exist only while several requests to it are in flight at once:
// at most traffic.Concurrency per Send, which fdReserve covers.
const fdsPerPod = 3

// fdReserve is kept free for istiod, its informers, the sidecars' ADS
// streams, the debug server, concurrent Sends' extra connections and the
// test binary's own files.
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
	// The Go runtime already raises the soft limit to the hard one at
	// start (os package, Go 1.19+); this is for a limit lowered since, or
	// a hard limit the kernel's nr_open caps (then the raise to the hard
	// limit fails and the raise to what is needed is tried).
	if need <= lim.Max {
		for _, cur := range []uint64{lim.Max, need} {
			raised := syscall.Rlimit{Cur: cur, Max: lim.Max}
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
				return nil
			}
		}
	}
	return fmt.Errorf("%s: %d more pods need about %d open files (%d per pod, %d open now, %d kept in reserve) but the open-file limit is %d (hard limit %d): raise it (ulimit -n %d; above the hard limit that needs root or limits.conf) or use fewer pods",
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
	return t.WorkloadPods() + len(t.Clients) + len(t.ClusterNames())
}
