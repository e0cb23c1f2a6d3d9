package gosdk

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// server is `graphdir serve` built from this tree, on a fresh database.
type server struct {
	t    *testing.T
	bin  string
	url  string
	env  []string
	dir  string
	out  *bytes.Buffer
	proc *exec.Cmd
}

func startServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "graphdir")
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &server{t: t, bin: bin, url: "http://" + addr, dir: dir, out: &bytes.Buffer{}}
	s.env = append(os.Environ(), "DATABASE_URL="+pgtest.NewURL(t), "GRAPHDIR_PUBLIC_URL="+s.url,
		"GRAPHDIR_STATE_DIR="+filepath.Join(dir, ".graphdir"))
	s.proc = exec.Command(bin, "serve", "--addr", addr)
	s.proc.Env, s.proc.Stdout, s.proc.Stderr = s.env, s.out, s.out
	if err := s.proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.proc.Process.Signal(syscall.SIGTERM)
		_ = s.proc.Wait()
	})
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		res, err := http.Get(s.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("graphdir serve did not become ready: %v\n%s", err, s.out)
		}
	}
}

// cli runs a graphdir subcommand against the server's database.
func (s *server) cli(args ...string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = s.env
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("graphdir %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// appToken is an app-only token of the default tenant with roles.
func (s *server) appToken(roles ...string) string {
	return s.cli("token", "--roles", strings.Join(roles, " "))
}
