package localpg

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Replicated is a throw-away primary with one streaming replica, for tests
// of replica routing and for cluster tests: both clusters live under the
// directory given to StartReplicated (a t.TempDir), on free loopback ports,
// with trust authentication. Unlike Start it never reuses anything, and
// Stop removes what it created.
type Replicated struct {
	Primary, Replica *Node
}

// Node is one server of a Replicated pair.
type Node struct {
	lay  layout
	port int

	mu      sync.Mutex
	running bool
}

// URL is a lib/pq connection URL for the node's postgres database.
func (n *Node) URL() string { return tcpURL(n.port) }

// StartReplicated initdb's a primary under dir/primary, starts it, clones
// it with pg_basebackup -R into dir/replica and starts that as a hot
// standby streaming from the primary. Everything is bounded by ctx; on
// error whatever was started is stopped again. Call Stop when done.
func StartReplicated(ctx context.Context, dir string, log io.Writer) (_ *Replicated, err error) {
	logf := logger(log)
	dir, err = absStateDir(dir)
	if err != nil {
		return nil, err
	}
	bin, err := findOrInstall(ctx, "", logf)
	if err != nil {
		return nil, err
	}
	// PATH may hold symlinks to a few server binaries only (pg_ctl in
	// /usr/local/bin); pg_basebackup lives beside the real ones.
	if real, err := filepath.EvalSymlinks(filepath.Join(bin, "pg_ctl")); err == nil {
		bin = filepath.Dir(real)
	}
	acct, err := serverAccount(ctx, logf)
	if err != nil {
		return nil, err
	}
	r := &Replicated{}
	defer func() {
		if err != nil {
			r.Stop()
		}
	}()
	node := func(name string) (*Node, error) {
		stateDir := filepath.Join(dir, name)
		if err := os.MkdirAll(stateDir, 0o755); err != nil {
			return nil, fmt.Errorf("localpg: %w", err)
		}
		lay, err := prepareLayout(stateDir, acct, logf)
		if err != nil {
			return nil, err
		}
		lay.bin = bin
		port, err := choosePort(stateDir)
		if err != nil {
			return nil, err
		}
		return &Node{lay: lay, port: port}, nil
	}

	if r.Primary, err = node("primary"); err != nil {
		return nil, err
	}
	p := r.Primary
	if err := initCluster(ctx, p.lay); err != nil {
		return nil, err
	}
	if err := writeServerConf(p.lay, p.port); err != nil {
		return nil, err
	}
	if err := p.Start(ctx); err != nil {
		return nil, err
	}

	if r.Replica, err = node("replica"); err != nil {
		return nil, err
	}
	rep := r.Replica
	// -R writes standby.signal and primary_conninfo; -X stream copies the
	// WAL written meanwhile; -c fast checkpoints at once instead of
	// spreading the checkpoint over minutes.
	out, err := rep.lay.pgCommand(ctx, "pg_basebackup", "-D", rep.lay.dataDir, "-h", "127.0.0.1",
		"-p", strconv.Itoa(p.port), "-U", superuser, "-R", "-X", "stream", "-c", "fast", "--no-sync").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("localpg: pg_basebackup: %v\n%s", err, out)
	}
	// The copy carries the primary's graphdir.conf (port, socket dir).
	if err := writeServerConf(rep.lay, rep.port); err != nil {
		return nil, err
	}
	if err := rep.Start(ctx); err != nil {
		return nil, err
	}
	logf("localpg: primary on 127.0.0.1:%d, streaming replica on 127.0.0.1:%d", p.port, rep.port)
	return r, nil
}

// Start starts the node (again); a no-op when it runs.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running {
		return nil
	}
	if out, err := n.lay.pgCommand(ctx, "pg_ctl", "-D", n.lay.dataDir, "-l", n.lay.logPath,
		"-w", "-t", strconv.Itoa(startWait), "start").CombinedOutput(); err != nil {
		return fmt.Errorf("localpg: pg_ctl start: %v\n%s%s", err, out, logTail(n.lay.logPath))
	}
	n.running = true
	if err := waitReady(ctx, n.URL(), 30*time.Second); err != nil {
		return fmt.Errorf("localpg: server started but SELECT 1 fails: %w%s", err, logTail(n.lay.logPath))
	}
	return nil
}

// StopServer stops the node (fast shutdown) and keeps its data, so Start
// can bring it back.
func (n *Node) StopServer(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.running {
		return nil
	}
	if err := n.lay.stop(ctx); err != nil {
		return err
	}
	n.running = false
	return nil
}

// Stop stops both servers and removes their data, including a /tmp
// relocation that the caller's directory cleanup would not reach.
func (r *Replicated) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), (startWait+10)*time.Second)
	defer cancel()
	for _, n := range []*Node{r.Replica, r.Primary} {
		if n == nil {
			continue
		}
		_ = n.StopServer(ctx)
		_ = os.RemoveAll(n.lay.base)
	}
}
