package browsertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// errUnavailable marks a machine that cannot run browser tests (no node,
// no Chromium and no way to install it): the test skips when the user
// asked for that with GRAPHDIR_BROWSER_TESTS=skip and fails otherwise.
var errUnavailable = errors.New("browser tests unavailable")

const chromiumHelp = `Chromium (or Chrome) was not found and could not be installed. Install it:
    Debian/Ubuntu:  sudo apt-get install chromium
    macOS:          install Google Chrome, or set GRAPHDIR_CHROMIUM=/path/to/chrome
or set GRAPHDIR_BROWSER_TESTS=skip to skip the browser tests.`

// projectDir is testdata/browser of the checkout the test runs in; go test
// runs each package in its own folder, so it is found from go.mod upward.
func projectDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "browser"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("browsertest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// installLock serialises installs across the test binaries of one go test
// run (and across checkouts: apt-get has one lock per machine anyway).
func installLock(ctx context.Context) (func(), error) {
	return lockFile(ctx, filepath.Join(os.TempDir(), "graphdir-browsertest.lock"))
}

// stampName records which package-lock.json node_modules was installed
// from, so that a version bump in the lock reinstalls on the next run.
const stampName = ".graphdir-lock.sha256"

// ensureNodeModules runs npm ci in dir unless node_modules already matches
// package-lock.json.
func ensureNodeModules(ctx context.Context, dir string, logf func(string, ...any)) error {
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(lock)
	want := hex.EncodeToString(sum[:])
	stamp := filepath.Join(dir, "node_modules", stampName)
	current := func() bool {
		got, err := os.ReadFile(stamp)
		return err == nil && strings.TrimSpace(string(got)) == want
	}
	if current() {
		return nil
	}
	unlock, err := installLock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if current() { // another test binary installed while we waited
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("%w: npm is needed to install testdata/browser (install Node.js 20+)", errUnavailable)
	}
	logf("browsertest: npm ci in %s", dir)
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("browsertest: npm ci: %v\n%s", err, out)
	}
	return os.WriteFile(stamp, []byte(want+"\n"), 0o644)
}

// chromiumNames are the binaries Chromium and Chrome packages put in PATH.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"}

func findChromium() string {
	for _, n := range chromiumNames {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if runtime.GOOS == "darwin" {
		p := "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// ensureChromium finds a Chromium, installing Debian's chromium package
// with apt-get when there is none and we are root (CI, fresh machines),
// as internal/localpg does for PostgreSQL. playwright-core's own browser
// download is not used: it fetches from a CDN, not a package registry.
func ensureChromium(ctx context.Context, logf func(string, ...any)) (string, error) {
	if p := os.Getenv("GRAPHDIR_CHROMIUM"); p != "" {
		// Asked for by name: never install something else instead.
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("%w: GRAPHDIR_CHROMIUM=%s is not an executable file\n%s", errUnavailable, p, chromiumHelp)
		}
		return p, nil
	}
	if p := findChromium(); p != "" {
		return p, nil
	}
	aptGet, err := exec.LookPath("apt-get")
	if err != nil || os.Geteuid() != 0 {
		return "", fmt.Errorf("%w: %s", errUnavailable, chromiumHelp)
	}
	unlock, err := installLock(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	if p := findChromium(); p != "" {
		return p, nil
	}
	logf("browsertest: no Chromium found; installing Debian's chromium package with apt-get (a few minutes, once)")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "chromium"}} {
		cmd := exec.CommandContext(ctx, aptGet, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("browsertest: apt-get %s: %v\n%s\n%s", args[0], err, out.Bytes(), chromiumHelp)
		}
	}
	if p := findChromium(); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("%w: installed chromium but found no binary\n%s", errUnavailable, chromiumHelp)
}
