package browsertest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Browser is one headless Chromium driven by testdata/browser/run.mjs.
// Its methods may be called from parallel tests.
type Browser struct {
	// Version is Chromium's, as it reports it (e.g. "156.0.8078.129").
	Version string

	stdin  io.WriteCloser
	stderr *tail
	mu     sync.Mutex
	nextID int
	calls  map[int]chan reply
	dead   chan struct{} // closed when the runner exits
	err    error         // why it exited; read after dead is closed
}

var shared struct {
	once sync.Once
	b    *Browser
	err  error
}

// Shared returns the test binary's browser, installing what is missing and
// starting Chromium on first use. It stays up until the test binary exits
// (the runner ends when its stdin closes). A machine that cannot run it
// fails the test with what to install, or skips it when
// GRAPHDIR_BROWSER_TESTS=skip.
func Shared(t testing.TB) *Browser {
	t.Helper()
	shared.once.Do(func() {
		// First use may install Chromium (minutes) and node modules.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		shared.b, shared.err = start(ctx, t.Logf)
	})
	if shared.err != nil {
		unavailable(t, shared.err)
	}
	return shared.b
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errUnavailable) && os.Getenv("GRAPHDIR_BROWSER_TESTS") == "skip" {
		t.Skipf("GRAPHDIR_BROWSER_TESTS=skip: %v", err)
	}
	t.Fatal(err)
}

func start(ctx context.Context, logf func(string, ...any)) (*Browser, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w: node is needed for the browser tests (install Node.js 20+)", errUnavailable)
	}
	dir, err := projectDir()
	if err != nil {
		return nil, err
	}
	if err := ensureNodeModules(ctx, dir, logf); err != nil {
		return nil, err
	}
	chromium, err := ensureChromium(ctx, logf)
	if err != nil {
		return nil, err
	}
	// Not CommandContext: the runner outlives this start-up context.
	cmd := exec.Command(node, filepath.Join(dir, "run.mjs"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GRAPHDIR_CHROMIUM="+chromium)
	b := &Browser{stderr: &tail{}, calls: map[int]chan reply{}, dead: make(chan struct{})}
	cmd.Stderr = b.stderr
	if b.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 64<<20)
	ready := make(chan error, 1)
	go b.read(cmd, lines, ready)
	select {
	case err := <-ready:
		if err != nil {
			return nil, err
		}
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("browsertest: Chromium did not start: %v\n%s", ctx.Err(), b.stderr)
	}
	return b, nil
}

type reply struct {
	ID       int             `json:"id"`
	Ready    bool            `json:"ready"`
	Version  string          `json:"version"`
	OK       bool            `json:"ok"`
	Result   json.RawMessage `json:"result"`
	Error    string          `json:"error"`
	PageURL  string          `json:"pageURL"`
	PageHTML string          `json:"pageHTML"`
	Console  []string        `json:"console"`
	Network  []string        `json:"network"`
}

// read dispatches the runner's replies until it exits.
func (b *Browser) read(cmd *exec.Cmd, lines *bufio.Scanner, ready chan<- error) {
	started := false
	for lines.Scan() {
		var r reply
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil {
			fmt.Fprintf(b.stderr, "browsertest: unreadable runner output %q\n", lines.Text())
			continue
		}
		if r.Ready && !started {
			started = true
			b.Version = r.Version
			ready <- nil
			continue
		}
		b.mu.Lock()
		ch := b.calls[r.ID]
		delete(b.calls, r.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
	err := cmd.Wait()
	b.err = fmt.Errorf("browsertest: the browser runner exited (%v); its output:\n%s", err, b.stderr)
	if !started {
		ready <- b.err
	}
	close(b.dead)
}

// Scenario names a module of testdata/browser/scenarios and what it gets.
type Scenario struct {
	// Name is the module's file name without .mjs, or an absolute path to
	// a .mjs file (its imports resolve from that file's folder).
	Name string
	// URL is opened (and its "load" awaited) before the module runs; empty
	// leaves the page at about:blank.
	URL string
	// Args is marshalled to JSON and handed to the module as args.
	Args any
	// Timeout is the default timeout of every Playwright wait in the
	// scenario; the whole scenario gets 2 s more. Zero means 30 s.
	Timeout time.Duration
}

// Result is what a scenario returned, with the logs of its browser context.
type Result struct {
	// Value is the JSON of the module's return value.
	Value json.RawMessage
	// Console has the pages' console messages and uncaught errors, and
	// the scenario's log() lines.
	Console []string
	// Network has every request ("-> GET url"), response ("<- 200 GET
	// url") and failure ("xx GET url: net::ERR_...") of the context.
	// CORS preflights are not visible to Playwright: assert them server side.
	Network []string
}

// Decode unmarshals the scenario's return value into v, failing t if it
// does not fit.
func (r *Result) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Value, v); err != nil {
		t.Fatalf("browser scenario returned %s: %v", r.Value, err)
	}
}

// Log is the console and network log, for failure messages.
func (r *Result) Log() string {
	return formatLogs(r.Console, r.Network)
}

func formatLogs(console, network []string) string {
	var s strings.Builder
	s.WriteString("--- browser console\n")
	for _, l := range console {
		s.WriteString("  " + l + "\n")
	}
	s.WriteString("--- browser network\n")
	for _, l := range network {
		s.WriteString("  " + l + "\n")
	}
	return s.String()
}

// Run runs a scenario and returns its result; a scenario that throws or
// times out fails t with the error, the page's URL and HTML, and the logs.
// When the test fails later (an assertion on the result), the logs are
// printed too.
func (b *Browser) Run(t testing.TB, s Scenario) *Result {
	t.Helper()
	res, err := b.Try(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("browser scenario %s:\n%s", s.Name, res.Log())
		}
	})
	return res
}

// Try is Run returning the scenario's failure (with the logs in its text)
// instead of failing the test.
func (b *Browser) Try(s Scenario) (*Result, error) { return b.try(0, s) }

func (b *Browser) try(session int, s Scenario) (*Result, error) {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	args, err := json.Marshal(s.Args)
	if err != nil {
		return nil, err
	}
	r, err := b.call(map[string]any{"scenario": s.Name, "url": s.URL, "args": json.RawMessage(args),
		"timeoutMs": timeout.Milliseconds(), "session": session}, timeout)
	if err != nil {
		return nil, err
	}
	if !r.OK {
		return nil, fmt.Errorf("browser scenario %s failed: %s\n--- page %s\n%s\n%s",
			s.Name, r.Error, r.PageURL, r.PageHTML, formatLogs(r.Console, r.Network))
	}
	return &Result{Value: r.Result, Console: r.Console, Network: r.Network}, nil
}

// call sends one request to the runner and waits for its reply.
func (b *Browser) call(req map[string]any, timeout time.Duration) (reply, error) {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan reply, 1)
	b.calls[id] = ch
	req["id"] = id
	line, err := json.Marshal(req)
	if err == nil {
		_, err = b.stdin.Write(append(line, '\n'))
	}
	b.mu.Unlock()
	if err != nil {
		return reply{}, fmt.Errorf("browsertest: writing to the runner: %v", err)
	}
	// The runner enforces scenario timeouts itself; this margin only
	// catches a runner that hangs.
	select {
	case r := <-ch:
		return r, nil
	case <-b.dead:
		return reply{}, b.err
	case <-time.After(timeout + 30*time.Second):
		return reply{}, fmt.Errorf("browsertest: the runner did not answer %v; its output:\n%s", req, b.stderr)
	}
}

// Session is one browser context and page kept across scenarios, for
// flows that need the Go test between steps (read the one-time code from
// the mail sink, then submit it): the page's JavaScript state (an MSAL
// result state kept in a window variable), storage and cookies survive
// from one Run to the next.
type Session struct {
	b  *Browser
	id int
}

// Open starts a session, closed when t ends.
func (b *Browser) Open(t testing.TB) *Session {
	t.Helper()
	r, err := b.call(map[string]any{"op": "open"}, 30*time.Second)
	if err == nil && !r.OK {
		err = errors.New(r.Error)
	}
	if err != nil {
		t.Fatalf("browsertest: opening a session: %v", err)
	}
	s := &Session{b: b, id: r.ID}
	t.Cleanup(func() { _, _ = b.call(map[string]any{"op": "close", "session": s.id}, 30*time.Second) })
	return s
}

// Run runs a scenario in the session's page (navigating first only when
// sc.URL is set). Its Result logs what happened during this step; a
// failure shows the whole session's logs.
func (s *Session) Run(t testing.TB, sc Scenario) *Result {
	t.Helper()
	res, err := s.Try(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("browser scenario %s:\n%s", sc.Name, res.Log())
		}
	})
	return res
}

// Try is Run returning the failure instead of failing the test.
func (s *Session) Try(sc Scenario) (*Result, error) { return s.b.try(s.id, sc) }

// Eval runs the eval scenario: fn is a JavaScript function's source,
// called in the page with arg (as JSON); its result is returned.
func Eval(fn string, arg any) Scenario {
	return Scenario{Name: "eval", Args: map[string]any{"fn": fn, "arg": arg}}
}

// tail keeps the last 64 KiB written to it (the runner's stderr).
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if n := len(w.buf) - 64<<10; n > 0 {
		w.buf = w.buf[n:]
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
