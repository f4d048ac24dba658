package specs

import (
	"os"
	"runtime"

	. "github.com/onsi/ginkgo/v2"
)

// shareCores gives each of N parallel Ginkgo processes (`ginkgo -p`,
// make specs) its share of the cores, GOMAXPROCS/N and at least one,
// unless GOMAXPROCS is set in the environment.
//
// Why: with every process keeping the whole machine's GOMAXPROCS, the
// processes' schedulers compete for the same cores, and every loopback
// request wakes a second OS thread for the goroutine at the other end. One
// P per process keeps a request's client and server goroutines on one
// thread. Measured on 2 cores with 2 processes (docs/performance.md): the
// suite's wall time 10.5 s → 9.2 s, system time 4.4 s → 3.3 s.
func shareCores() {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	sc, _ := GinkgoConfiguration()
	if sc.ParallelTotal <= 1 {
		return
	}
	runtime.GOMAXPROCS(max(1, runtime.GOMAXPROCS(0)/sc.ParallelTotal))
}
