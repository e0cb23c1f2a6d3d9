package localpg

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// installHelp is the whole answer to "what do I install?", so the error a
// user sees on a bare machine is actionable without reading our docs.
const installHelp = `localpg: PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found
in PATH, in ` + "`pg_config --bindir`" + `, or in /usr/lib/postgresql/*/bin. Install them:
    Debian/Ubuntu:  sudo apt-get install postgresql
    Fedora:         sudo dnf install postgresql-server
    macOS:          brew install postgresql@15
or point graphdir at an existing server with DATABASE_URL (make run) or
GRAPHDIR_TEST_DATABASE_URL (make test).`

// binGlobs are where packages put versioned server binaries that are not in
// PATH: Debian/Ubuntu, PGDG RPMs, Homebrew (keg-only postgresql@N) on Apple
// silicon and Intel.
var binGlobs = []string{
	"/usr/lib/postgresql/*/bin",
	"/usr/pgsql-*/bin",
	"/opt/homebrew/opt/postgresql@*/bin",
	"/usr/local/opt/postgresql@*/bin",
	"/usr/local/pgsql/bin",
}

// findOrInstall returns a directory holding initdb, pg_ctl and postgres,
// preferring major version want (the cluster's) when several are installed,
// and installing the distribution package when we can (root with apt-get).
func findOrInstall(ctx context.Context, want string, logf func(string, ...any)) (string, error) {
	if dir, err := findBinDir(ctx, want); dir != "" || err != nil {
		return dir, err
	}
	aptGet, err := exec.LookPath("apt-get")
	if err != nil || os.Geteuid() != 0 {
		return "", fmt.Errorf("%s", installHelp)
	}
	logf("localpg: no PostgreSQL server binaries found; installing the postgresql package with apt-get (takes a minute)")
	out := logWriter(logf)
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "postgresql"}} {
		cmd := exec.CommandContext(ctx, aptGet, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("localpg: apt-get %s: %v\n%s", args[0], err, installHelp)
		}
	}
	if dir, err := findBinDir(ctx, want); dir != "" || err != nil {
		return dir, err
	}
	return "", fmt.Errorf("localpg: installed postgresql but still found no server binaries\n%s", installHelp)
}

// logWriter sends apt-get's progress to the caller's log, or nowhere.
func logWriter(logf func(string, ...any)) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		logf("%s", strings.TrimRight(string(p), "\n"))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func findBinDir(ctx context.Context, want string) (string, error) {
	var dirs []string
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	if p, err := exec.LookPath("pg_config"); err == nil {
		// Debian's pg_config comes with libpq-dev and may name a bindir
		// without a server in it; hasServer below filters that out.
		if out, err := exec.CommandContext(ctx, p, "--bindir").Output(); err == nil {
			dirs = append(dirs, strings.TrimSpace(string(out)))
		}
	}
	for _, g := range binGlobs {
		m, _ := filepath.Glob(g)
		slices.SortFunc(m, func(a, b string) int { return compareVersions(versionIn(b), versionIn(a)) })
		dirs = append(dirs, m...)
	}
	var found []string
	for _, d := range dirs {
		if d != "" && hasServer(d) && !slices.Contains(found, d) {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		return "", nil
	}
	if want == "" {
		return found[0], nil
	}
	var seen []string
	for _, d := range found {
		v := serverMajor(ctx, d)
		if v == want {
			return d, nil
		}
		seen = append(seen, fmt.Sprintf("%s (%s)", d, v))
	}
	return "", fmt.Errorf("localpg: the existing cluster was created by PostgreSQL %s but only these server binaries exist: %s; "+
		"install PostgreSQL %s or delete the cluster's data directory to start afresh", want, strings.Join(seen, ", "), want)
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

var versionRE = regexp.MustCompile(`\d+(\.\d+)*`)

// serverMajor asks the binary, since paths like /usr/bin carry no version.
// It returns "15" for 15.x and "9.6" for the pre-10 scheme, like PG_VERSION.
func serverMajor(ctx context.Context, dir string) string {
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return "?"
	}
	s := string(out)
	if i := strings.Index(s, ")"); i >= 0 {
		s = s[i+1:]
	}
	v := versionRE.FindString(s)
	parts := strings.Split(v, ".")
	if n, err := strconv.Atoi(parts[0]); err == nil && n < 10 && len(parts) > 1 {
		return parts[0] + "." + parts[1]
	}
	return parts[0]
}

func versionIn(path string) string { return versionRE.FindString(path) }

// compareVersions orders dotted numbers numerically so that 10 sorts above 9.6.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}
