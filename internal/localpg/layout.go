package localpg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// account is the unprivileged user the server runs as when we are root;
// nil means "run as ourselves".
type account struct {
	name     string
	uid, gid uint32
	groups   []uint32
}

// layout is where one state dir's cluster, socket and log live and how to
// run the server binaries against them.
type layout struct {
	stateDir  string // absolute; lock and port files always live here
	base      string // stateDir, or the /tmp relocation recorded in stateDir/pgbase
	dataDir   string
	socketDir string
	logPath   string
	bin       string   // directory holding initdb, pg_ctl, postgres
	acct      *account // nil: run as ourselves
}

// maxSocketDir keeps "<dir>/.s.PGSQL.NNNNN" within sun_path (104 bytes on
// macOS, 108 on Linux, including the NUL).
const maxSocketDir = 103 - len("/.s.PGSQL.65535")

// shortDir is a per-state-dir directory under /tmp, used when the state dir
// is unreachable for the postgres account or too deep for a socket path.
// Literal /tmp rather than os.TempDir: macOS's $TMPDIR is itself too long.
func shortDir(stateDir string) string {
	sum := sha256.Sum256([]byte(stateDir))
	return "/tmp/graphdir-pg-" + hex.EncodeToString(sum[:6])
}

// existingLayout computes paths without creating anything, for callers that
// only inspect or stop the cluster.
func existingLayout(stateDir string) layout {
	base := stateDir
	if b, err := os.ReadFile(filepath.Join(stateDir, "pgbase")); err == nil {
		if p := strings.TrimSpace(string(b)); filepath.IsAbs(p) {
			base = p
		}
	}
	return layoutAt(stateDir, base)
}

func layoutAt(stateDir, base string) layout {
	l := layout{
		stateDir:  stateDir,
		base:      base,
		dataDir:   filepath.Join(base, "pgdata"),
		socketDir: filepath.Join(base, "run"),
		logPath:   filepath.Join(base, "postgres.log"),
	}
	if len(l.socketDir) > maxSocketDir {
		l.socketDir = filepath.Join(shortDir(stateDir), "run")
	}
	return l
}

// prepareLayout creates the directories the server needs, owned by the
// account that will run it, relocating to /tmp when that account cannot
// traverse to the state dir.
func prepareLayout(stateDir string, acct *account, logf func(string, ...any)) (layout, error) {
	l := existingLayout(stateDir)
	if l.base == stateDir && acct != nil && !canTraverse(acct, stateDir) {
		base := shortDir(stateDir)
		logf("localpg: user %s cannot reach %s (a parent directory is private); keeping the cluster in %s instead",
			acct.name, stateDir, base)
		if err := os.WriteFile(filepath.Join(stateDir, "pgbase"), []byte(base+"\n"), 0o644); err != nil {
			return l, fmt.Errorf("localpg: record relocation: %w", err)
		}
		l = layoutAt(stateDir, base)
	}
	if l.base != stateDir {
		if err := ensurePrivateDir(l.base, acct); err != nil {
			return l, err
		}
		link := filepath.Join(stateDir, "postgres.log")
		if _, err := os.Lstat(link); errors.Is(err, os.ErrNotExist) {
			_ = os.Symlink(l.logPath, link) // a convenience only
		}
	}
	if d := filepath.Dir(l.socketDir); d != l.base {
		if err := ensurePrivateDir(d, acct); err != nil {
			return l, err
		}
	}
	for _, d := range []string{l.dataDir, l.socketDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return l, fmt.Errorf("localpg: %w", err)
		}
	}
	f, err := os.OpenFile(l.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return l, fmt.Errorf("localpg: %w", err)
	}
	f.Close()
	if acct != nil {
		for _, p := range []string{l.dataDir, l.socketDir, l.logPath} {
			if err := os.Lchown(p, int(acct.uid), int(acct.gid)); err != nil {
				return l, fmt.Errorf("localpg: give %s to %s: %w", p, acct.name, err)
			}
		}
	}
	l.acct = acct
	return l, nil
}

// ensurePrivateDir creates dir 0700 for the server account, refusing one
// somebody else planted in the world-writable /tmp (or a symlink there).
func ensurePrivateDir(dir string, acct *account) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("localpg: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	uid, _, ok := fileOwner(fi)
	mine := ok && (int(uid) == os.Geteuid() || (acct != nil && uid == acct.uid))
	if !fi.IsDir() || !mine {
		return fmt.Errorf("localpg: %s exists but is not a directory owned by us; remove it", dir)
	}
	if acct != nil {
		if err := os.Lchown(dir, int(acct.uid), int(acct.gid)); err != nil {
			return fmt.Errorf("localpg: %w", err)
		}
	}
	return os.Chmod(dir, 0o700)
}

// canTraverse reports whether acct has search (x) permission on every
// directory from / down to dir, from the mode bits (ACLs are not consulted;
// an ACL-only grant just costs a needless relocation).
func canTraverse(acct *account, dir string) bool {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	p := real
	for {
		fi, err := os.Stat(p)
		if err != nil {
			return false
		}
		uid, gid, ok := fileOwner(fi)
		if !ok {
			return false
		}
		perm := fi.Mode().Perm()
		var bit os.FileMode
		switch {
		case uid == acct.uid:
			bit = 0o100
		case acct.inGroup(gid):
			bit = 0o010
		default:
			bit = 0o001
		}
		if perm&bit == 0 {
			return false
		}
		parent := filepath.Dir(p)
		if parent == p {
			return true
		}
		p = parent
	}
}

func (a *account) inGroup(gid uint32) bool {
	if gid == a.gid {
		return true
	}
	for _, g := range a.groups {
		if g == gid {
			return true
		}
	}
	return false
}

// serverAccount picks who runs the server: ourselves, or (as root, which
// PostgreSQL refuses) the postgres system user, creating it if we can.
func serverAccount(ctx context.Context, logf func(string, ...any)) (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(superuser)
	if err != nil {
		var unknown user.UnknownUserError
		if !errors.As(err, &unknown) {
			return nil, fmt.Errorf("localpg: look up user %s: %w", superuser, err)
		}
		useradd, lerr := exec.LookPath("useradd")
		if lerr != nil {
			return nil, fmt.Errorf("localpg: PostgreSQL refuses to run as root and there is no %q user to run it as; "+
				"create one (e.g. `useradd --system --user-group postgres`) or run as a normal user", superuser)
		}
		logf("localpg: PostgreSQL refuses to run as root; creating system user %s", superuser)
		out, err := exec.CommandContext(ctx, useradd, "--system", "--user-group", "--no-create-home",
			"--home-dir", "/var/lib/postgresql", "--shell", "/bin/sh", superuser).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("localpg: useradd %s: %v\n%s", superuser, err, out)
		}
		if u, err = user.Lookup(superuser); err != nil {
			return nil, fmt.Errorf("localpg: look up user %s: %w", superuser, err)
		}
	}
	return accountFor(u)
}

// ownerAccount is who to run pg_ctl as to control an existing cluster.
func ownerAccount(dataDir string) *account {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(dataDir)
	if err != nil {
		return nil
	}
	uid, gid, ok := fileOwner(fi)
	if !ok || uid == 0 {
		return nil
	}
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		if a, err := accountFor(u); err == nil {
			return a
		}
	}
	return &account{name: strconv.Itoa(int(uid)), uid: uid, gid: gid}
}

func accountFor(u *user.User) (*account, error) {
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("localpg: user %s: %w", u.Username, err)
	}
	a := &account{name: u.Username, uid: uint32(uid), gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.ParseUint(s, 10, 32); err == nil {
				a.groups = append(a.groups, uint32(g))
			}
		}
	}
	if len(a.groups) == 0 {
		a.groups = []uint32{a.gid}
	}
	return a, nil
}

// pgCommand runs one of the server binaries as the server account, from a
// directory it can enter (initdb and pg_ctl complain about an unreadable cwd).
func (l *layout) pgCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(l.bin, name), args...)
	cmd.Dir = l.base
	if l.acct != nil {
		cmd.SysProcAttr = procAttr(l.acct)
		env := make([]string, 0, len(os.Environ())+1)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "HOME=") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "HOME="+l.base)
	}
	return cmd
}

// runningPort reads postmaster.pid; a live postgres PID there means a
// server owns the cluster, and line 4 is the port it listens on.
func runningPort(dataDir string) (int, bool) {
	port, _, running, _ := pidFileState(dataDir)
	return port, running
}

// pidFileState also reports a stale postmaster.pid whose PID is a zombie or
// now belongs to another program (common after a container restart):
// PostgreSQL itself would refuse to start over such a file because
// kill(pid, 0) succeeds, so the caller removes it.
func pidFileState(dataDir string) (port, pid int, running, stale bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, 0, false, false
	}
	lines := strings.Split(string(b), "\n")
	pid, err = strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return 0, 0, false, false // half-written; let postgres judge it
	}
	if len(lines) >= 4 {
		port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	switch processState(pid) {
	case procPostgres:
		if port > 0 {
			return port, pid, true, false
		}
		return 0, pid, false, false // file still being written; postgres will judge
	case procZombie, procOther:
		return port, pid, false, true
	default:
		return port, pid, false, false // a dead PID: postgres itself ignores the file
	}
}

// removeStale deletes the lock files a dead postmaster left: postmaster.pid
// and the socket lock, which PostgreSQL checks the same way.
func removeStale(l layout, logf func(string, ...any)) error {
	_, pid, _, stale := pidFileState(l.dataDir)
	if !stale {
		return nil
	}
	pidFile := filepath.Join(l.dataDir, "postmaster.pid")
	logf("localpg: removing stale %s (process %d is gone)", pidFile, pid)
	if err := os.Remove(pidFile); err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	locks, _ := filepath.Glob(filepath.Join(l.socketDir, ".s.PGSQL.*.lock"))
	for _, lock := range locks {
		b, err := os.ReadFile(lock)
		if err != nil {
			continue
		}
		if first, _, _ := strings.Cut(string(b), "\n"); strings.TrimSpace(first) == strconv.Itoa(pid) {
			os.Remove(strings.TrimSuffix(lock, ".lock"))
			if err := os.Remove(lock); err != nil {
				return fmt.Errorf("localpg: %w", err)
			}
		}
	}
	return nil
}

type procState int

const (
	procGone procState = iota
	procZombie
	procOther    // alive, but not a postgres process: the PID was reused
	procPostgres // alive and (as far as we can tell) postgres
)

// pgVersionOf is the major version that created the cluster ("" if none),
// so we pick matching binaries when several versions are installed.
func pgVersionOf(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// initCluster runs initdb unless the cluster exists. A data dir without
// PG_VERSION is a leftover of an interrupted initdb and is wiped.
func initCluster(ctx context.Context, l layout) error {
	if pgVersionOf(l.dataDir) != "" {
		return nil
	}
	if err := os.RemoveAll(l.dataDir); err != nil {
		return fmt.Errorf("localpg: clear %s: %w", l.dataDir, err)
	}
	if err := os.Mkdir(l.dataDir, 0o700); err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	if l.acct != nil {
		if err := os.Lchown(l.dataDir, int(l.acct.uid), int(l.acct.gid)); err != nil {
			return fmt.Errorf("localpg: %w", err)
		}
	}
	// --no-sync: a fresh, empty dev cluster is not worth a second of fsync.
	out, err := l.pgCommand(ctx, "initdb", "-D", l.dataDir, "-U", superuser, "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("localpg: initdb %s: %v\n%s", l.dataDir, err, out)
	}
	// Per-start settings go in an included file rather than `pg_ctl -o`,
	// which passes through a shell and would need quoting of our paths.
	conf := filepath.Join(l.dataDir, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	_, err = f.WriteString("\n# Added by graphdir (internal/localpg); rewritten on every start.\ninclude_if_exists = 'graphdir.conf'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	return nil
}

// writeServerConf pins the listen address, port and socket directory; the
// port may change between starts if another program took it meanwhile.
func writeServerConf(l layout, port int) error {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	conf := fmt.Sprintf("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = %s\n",
		port, q(l.socketDir))
	p := filepath.Join(l.dataDir, "graphdir.conf")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	if l.acct != nil {
		if err := os.Lchown(p, int(l.acct.uid), int(l.acct.gid)); err != nil {
			return fmt.Errorf("localpg: %w", err)
		}
	}
	return nil
}

// choosePort reuses the recorded port when it is free (stable URLs across
// restarts), else picks a kernel-assigned free one. Never 5432: a system
// server may start there later.
func choosePort(stateDir string) (int, error) {
	file := filepath.Join(stateDir, "port")
	if b, err := os.ReadFile(file); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 && p < 65536 && p != 5432 && portFree(p) {
			return p, nil
		}
	}
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("localpg: find a free port: %w", err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if p == 5432 {
			continue
		}
		if err := os.WriteFile(file, []byte(strconv.Itoa(p)+"\n"), 0o644); err != nil {
			return 0, fmt.Errorf("localpg: %w", err)
		}
		return p, nil
	}
	return 0, errors.New("localpg: no free TCP port on 127.0.0.1")
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// stop is pg_ctl's fast shutdown: it disconnects clients rather than waiting
// for them, which is what a developer stopping `make run` expects.
func (l *layout) stop(ctx context.Context) error {
	if _, ok := runningPort(l.dataDir); !ok {
		return nil
	}
	out, err := l.pgCommand(ctx, "pg_ctl", "-D", l.dataDir, "-m", "fast", "-w",
		"-t", strconv.Itoa(startWait), "stop").CombinedOutput()
	if err != nil {
		if _, ok := runningPort(l.dataDir); !ok {
			return nil // stopped meanwhile (by someone else)
		}
		return fmt.Errorf("localpg: pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}
