// Package boundedread owns how the tools read a file a user names: rule
// files, virtual services, scenario files and folders, fingerprints. One
// size limit and one message for all of them, and non-regular files (FIFO,
// device, directory, socket) refused before they are opened, so a read can
// neither exhaust memory (/dev/zero) nor block forever (a FIFO).
package boundedread

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// MaxSize bounds every file the tools read. A whole suite's fingerprint is
// about 100 kB, a scenario or rule file a few kB.
const MaxSize = 16 << 20

// ReadFile reads path, which must be a regular file (or a symlink to one)
// of at most MaxSize bytes.
func ReadFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should the file be swapped for a FIFO between Stat and
	// open, the open does not wait for a writer; the mode is checked again
	// on the open file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s is larger than %d MiB: give a file the tools wrote or a smaller one", path, MaxSize>>20)
	}
	return data, nil
}

func regular(path string, fi os.FileInfo) error {
	if fi.Mode().IsRegular() {
		return nil
	}
	kind := "not a regular file"
	switch m := fi.Mode(); {
	case m.IsDir():
		kind = "a directory"
	case m&os.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case m&os.ModeDevice != 0:
		kind = "a device"
	case m&os.ModeSocket != 0:
		kind = "a socket"
	}
	return fmt.Errorf("%s is %s, not a regular file: give the path of a file", path, kind)
}
