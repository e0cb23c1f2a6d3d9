package localpg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	// Registers the "postgres" driver used to probe servers with SELECT 1.
	_ "github.com/lib/pq"
)

// Options configure a private instance.
type Options struct {
	// StateDir holds the data directory, socket and log (default ".graphdir").
	StateDir string
	// Log receives progress lines for a person watching (may be nil).
	Log io.Writer
}

// Instance is a running private PostgreSQL started (or reused) by Start.
type Instance struct {
	url     string
	lay     layout
	started bool // this process started the server, so Stop may stop it

	mu      sync.Mutex
	stopped bool
}

// URL is a lib/pq connection URL for the instance's postgres database.
func (i *Instance) URL() string { return i.url }

// DataDir is the cluster directory; it is outside StateDir when relocated
// for the postgres account's sake, which callers cleaning up need to know.
func (i *Instance) DataDir() string { return i.lay.dataDir }

// Started reports whether this process started the server (as opposed to
// reusing one already running), i.e. whether Stop will stop it.
func (i *Instance) Started() bool { return i.started }

const (
	superuser  = "postgres"
	startWait  = 60 // seconds pg_ctl waits for start/stop
	defaultDir = ".graphdir"
)

// publicServerURL is the server our machines and CI run; a variable so tests
// can point the probe at a dead port to exercise the fallback.
var publicServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Start starts (or reuses, if already running) the private instance under
// opts.StateDir, installing PostgreSQL with apt-get when no server binaries
// exist and we are root. Concurrent callers (other processes included) are
// serialised by a lock file, so exactly one of them starts the server and
// the rest reuse it.
func Start(ctx context.Context, opts Options) (*Instance, error) {
	logf := logger(opts.Log)
	stateDir, err := absStateDir(opts.StateDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("localpg: create state dir: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(stateDir, "lock"))
	if err != nil {
		return nil, fmt.Errorf("localpg: lock %s: %w", stateDir, err)
	}
	defer unlock()

	// Reuse a server that is already up, whoever started it.
	existing := existingLayout(stateDir)
	if port, ok := runningPort(existing.dataDir); ok {
		u := tcpURL(port)
		if err := waitReady(ctx, u, 10*time.Second); err != nil {
			return nil, fmt.Errorf("localpg: a server process is recorded in %s but does not answer on port %d (%v); "+
				"stop it or, if no postgres runs, delete that file%s",
				filepath.Join(existing.dataDir, "postmaster.pid"), port, err, logTail(existing.logPath))
		}
		logf("localpg: reusing PostgreSQL on 127.0.0.1:%d (data in %s)", port, existing.dataDir)
		return &Instance{url: u, lay: existing}, nil
	}

	if err := removeStale(existing, logf); err != nil {
		return nil, err
	}

	// Binaries first: installing the package also creates the postgres user.
	bin, err := findOrInstall(ctx, pgVersionOf(existing.dataDir), logf)
	if err != nil {
		return nil, err
	}
	acct, err := serverAccount(ctx, logf)
	if err != nil {
		return nil, err
	}
	lay, err := prepareLayout(stateDir, acct, logf)
	if err != nil {
		return nil, err
	}
	lay.bin = bin

	if err := initCluster(ctx, lay); err != nil {
		return nil, err
	}
	port, err := choosePort(stateDir)
	if err != nil {
		return nil, err
	}
	if err := writeServerConf(lay, port); err != nil {
		return nil, err
	}
	if out, err := lay.pgCommand(ctx, "pg_ctl", "-D", lay.dataDir, "-l", lay.logPath,
		"-w", "-t", strconv.Itoa(startWait), "start").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("localpg: pg_ctl start: %v\n%s%s", err, out, logTail(lay.logPath))
	}
	u := tcpURL(port)
	if err := waitReady(ctx, u, 30*time.Second); err != nil {
		return nil, fmt.Errorf("localpg: server started but SELECT 1 fails: %w%s", err, logTail(lay.logPath))
	}
	logf("localpg: started PostgreSQL on 127.0.0.1:%d (data in %s, log %s)", port, lay.dataDir, lay.logPath)
	return &Instance{url: u, lay: lay, started: true}, nil
}

// Stop stops an instance that Start started (not one it merely reused).
// Other processes may still be using it (e.g. tests reusing the `make run`
// server); stopping is the starter's privilege by design, so that a server
// started by a foreground `make run` does not outlive it.
func (i *Instance) Stop() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.started || i.stopped {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), (startWait+10)*time.Second)
	defer cancel()
	unlock, err := lockFile(ctx, filepath.Join(i.lay.stateDir, "lock"))
	if err != nil {
		return fmt.Errorf("localpg: lock %s: %w", i.lay.stateDir, err)
	}
	defer unlock()
	if err := i.lay.stop(ctx); err != nil {
		return err
	}
	i.stopped = true
	return nil
}

// Shutdown stops the private instance under opts.StateDir whoever started
// it; it exists for the instance TestServerURL leaves running and for a
// "stop the dev database" command. It is a no-op when nothing runs.
func Shutdown(ctx context.Context, opts Options) error {
	stateDir, err := absStateDir(opts.StateDir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(stateDir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := lockFile(ctx, filepath.Join(stateDir, "lock"))
	if err != nil {
		return fmt.Errorf("localpg: lock %s: %w", stateDir, err)
	}
	defer unlock()
	lay := existingLayout(stateDir)
	if _, ok := runningPort(lay.dataDir); !ok {
		return nil
	}
	// Run pg_ctl as whoever owns the cluster: that is who started it.
	lay.acct = ownerAccount(lay.dataDir)
	bin, err := findOrInstall(ctx, pgVersionOf(lay.dataDir), logger(opts.Log))
	if err != nil {
		return err
	}
	lay.bin = bin
	if err := lay.stop(ctx); err != nil {
		return err
	}
	logger(opts.Log)("localpg: stopped PostgreSQL (data in %s)", lay.dataDir)
	return nil
}

// TestServerURL resolves the server tests use: GRAPHDIR_TEST_DATABASE_URL if
// set, else 127.0.0.1:5432 as user postgres if it answers SELECT 1, else the
// private instance under GRAPHDIR_STATE_DIR (default <repo root>/.graphdir),
// started if needed and deliberately left running so that the next test
// package (often a parallel `go test` process) reuses it instead of paying
// for another start. Stop it with Shutdown.
func TestServerURL(ctx context.Context, getenv func(string) string) (string, error) {
	if u := getenv("GRAPHDIR_TEST_DATABASE_URL"); u != "" {
		return u, nil
	}
	if err := probe(ctx, publicServerURL); err == nil {
		return publicServerURL, nil
	} else if !errors.Is(err, errNoListener) {
		fmt.Fprintf(os.Stderr, "localpg: %s answers but SELECT 1 as postgres fails (%v); using the private instance\n",
			hostPort(publicServerURL), err)
	}
	stateDir := getenv("GRAPHDIR_STATE_DIR")
	if stateDir == "" {
		root, err := repoRoot()
		if err != nil {
			return "", err
		}
		stateDir = filepath.Join(root, defaultDir)
	}
	inst, err := Start(ctx, Options{StateDir: stateDir, Log: os.Stderr})
	if err != nil {
		return "", err
	}
	return inst.URL(), nil
}

var errNoListener = errors.New("nothing listens")

// probe distinguishes "no server" (a fast TCP refusal, the common case on
// a laptop) from "a server we cannot use", so only the latter is reported.
func probe(ctx context.Context, u string) error {
	c, err := net.DialTimeout("tcp", hostPort(u), 500*time.Millisecond)
	if err != nil {
		return fmt.Errorf("%w: %v", errNoListener, err)
	}
	c.Close()
	return ping(ctx, u, 5*time.Second)
}

// hostPort extracts host:port from a TCP postgres URL, for the dial probe.
func hostPort(u string) string {
	s := strings.TrimPrefix(u, "postgres://")
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.IndexAny(s, "/?"); i >= 0 {
		s = s[:i]
	}
	return s
}

func tcpURL(port int) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", superuser, port)
}

// ping runs a real query: a TCP accept alone is also what a server still in
// recovery, or an unrelated program on the port, would give us.
func ping(ctx context.Context, u string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	db, err := sql.Open("postgres", u+sep+"connect_timeout="+strconv.Itoa(int(timeout/time.Second)+1))
	if err != nil {
		return err
	}
	defer db.Close()
	var one int
	return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// waitReady retries ping because a just-started or just-reused server may
// still be finishing crash recovery ("the database system is starting up").
func waitReady(ctx context.Context, u string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := ping(ctx, u, 3*time.Second)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// repoRoot walks up from the working directory to go.mod, because `go test`
// runs each package in its own directory but all must share one state dir.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("localpg: no go.mod above the working directory; set GRAPHDIR_STATE_DIR")
		}
		dir = parent
	}
}

func absStateDir(dir string) (string, error) {
	if dir == "" {
		dir = defaultDir
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("localpg: state dir: %w", err)
	}
	return abs, nil
}

func logger(w io.Writer) func(string, ...any) {
	if w == nil {
		return func(string, ...any) {}
	}
	return func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
}

// logTail puts the end of the server log into errors, since the reason a
// start failed is almost always there and nowhere else.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "\n--- last lines of " + path + " ---\n" + strings.Join(lines, "\n")
}
