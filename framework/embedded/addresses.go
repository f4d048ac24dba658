package embedded

// This file owns the loopback addresses pods, clients, gateways and the
// debug server bind: where a process starts in 127/8 and how it skips
// addresses other processes hold (issue 23 item 9).

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
)

// The address space: 127.b.c.d with b in [20, 220), c in [0, 250), d in
// [1, 251): never 127.0.0.x (left to the host), never .0 or .255.
const (
	addrSpan  = 250
	addrBases = 200
	addrSpace = addrBases * addrSpan * addrSpan // 12,500,000 addresses
	// addrBlock is what one process takes before it can meet the next
	// process's start: each process starts at a random multiple of it, so
	// two processes (go test runs packages in parallel, ginkgo -p runs
	// one process per worker) overlap only by chance, 1 in 3,051.
	addrBlock = 4096
)

// addresses is this process's cursor in the address space. It starts at a
// random block (seeded from the pid and the clock by math/rand/v2's
// runtime source) and moves on by one for every address handed out,
// whether bound or found taken.
var addresses = struct {
	mu   sync.Mutex
	next uint32
}{next: addressStart}

// addressStart is where this process starts: a random block, its offset
// in the block from the pid (two processes that draw the same block still
// start apart).
var addressStart = uint32(rand.IntN(addrSpace/addrBlock)*addrBlock) ^ uint32(os.Getpid()%addrBlock)

func nextAddress() string {
	addresses.mu.Lock()
	defer addresses.mu.Unlock()
	n := addresses.next % addrSpace
	addresses.next = (n + 1) % addrSpace
	d := n%addrSpan + 1
	c := (n / addrSpan) % addrSpan
	b := 20 + n/(addrSpan*addrSpan)
	return fmt.Sprintf("127.%d.%d.%d", b, c, d)
}

// maxProbes bounds the search for a free address: enough to step over
// every pod of several other processes at their replica caps (1,000 pods
// and their clients each), small enough to fail in well under a second
// when something other than address use is wrong.
const maxProbes = 20_000

// probeAddresses calls bind with successive addresses until one binds,
// skipping the addresses another process holds (EADDRINUSE) and returning
// any other error at once.
func probeAddresses(port int, bind func(ip string) error) (string, error) {
	var lastErr error
	for range maxProbes {
		ip := nextAddress()
		err := bind(ip)
		if err == nil {
			return ip, nil
		}
		lastErr = err
		if !errors.Is(err, syscall.EADDRINUSE) {
			return "", err
		}
	}
	return "", fmt.Errorf("no free loopback address on port %d: the next %d addresses of 127.20.0.1-127.219.249.250 are all in use by other processes; stop some of them: %w", port, maxProbes, lastErr)
}
