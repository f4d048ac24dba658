package boundedread

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(ok, []byte("kind: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, make([]byte, MaxSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadFile(ok); err != nil || string(data) != "kind: x\n" {
		t.Fatalf("ReadFile(ok) = %q, %v", data, err)
	}
	for _, c := range []struct{ path, want string }{
		{big, big + " is larger than 16 MiB: give a file the tools wrote or a smaller one"},
		{"/dev/zero", "/dev/zero is a device, not a regular file: give the path of a file"},
		{fifo, fifo + " is a named pipe (FIFO), not a regular file: give the path of a file"},
		{dir, dir + " is a directory, not a regular file: give the path of a file"},
		{filepath.Join(dir, "missing"), "no such file or directory"},
	} {
		_, err := ReadFile(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadFile(%s) = %v, want %q", c.path, err, c.want)
		}
	}
}
