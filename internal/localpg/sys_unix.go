//go:build unix

package localpg

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"syscall"
	"time"
)

// lockFile takes an exclusive flock(2) on path, polling so that ctx can
// cancel the wait. The lock dies with the process, so a crashed `go test`
// never leaves the state dir locked; Go opens files close-on-exec, so the
// postmaster we spawn does not inherit (and keep) the lock.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(fd, syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// processState classifies pid. EPERM counts as alive: when we are not root
// the postmaster may belong to another user. A zombie is reported apart: a
// killed postmaster stays one until its parent (often a lazy container init)
// reaps it, and kill(pid, 0) still succeeds on it.
func processState(pid int) procState {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return procGone
	}
	proc := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(proc + "/stat")
	if err != nil {
		return procPostgres // no procfs (macOS): trust kill(2)
	}
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return procZombie
	}
	comm, err := os.ReadFile(proc + "/comm")
	if err != nil || bytes.HasPrefix(comm, []byte("postgres")) || bytes.HasPrefix(comm, []byte("postmaster")) {
		return procPostgres
	}
	return procOther
}

func procAttr(a *account) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups}}
}

func fileOwner(fi os.FileInfo) (uid, gid uint32, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return st.Uid, st.Gid, true
}
