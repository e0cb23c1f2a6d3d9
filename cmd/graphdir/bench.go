package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/graphdir/graphdir/internal/bench"
	"github.com/graphdir/graphdir/internal/bench/benchdb"
	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/importer"
	"github.com/graphdir/graphdir/internal/localpg"
	"github.com/graphdir/graphdir/internal/oauth"
	"github.com/graphdir/graphdir/internal/password"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/pkg/odata"
)

// benchUsage documents `graphdir bench` (what `make bench` runs).
const benchUsage = `Usage: graphdir bench [--users N] [--duration D] [--clients C] [--out FILE]

Seeds a tenant of the dedicated database graphdir_bench (on the server
make test uses, or BENCH_DATABASE_URL) with N users by bulk SQL, unless it
already holds them, measures the import path against a raw COPY, then runs each scenario for D against graphdir
served in this process over loopback HTTP with real tokens from C clients,
and the same SQL straight against PostgreSQL from a pool of C connections.
Prints one table and writes it to --out.

Environment: BENCH_USERS, BENCH_DURATION, BENCH_CLIENTS, BENCH_DATABASE (name,
default graphdir_bench), BENCH_DATABASE_URL, BENCH_SCENARIOS (comma-separated names to run), BENCH_PROFILE (a directory:
one CPU profile per scenario's API run), BENCH_IMPORT_USERS (size of the
import-rate run: that many users through the import path into a scratch
tenant of the same database; 0 skips it), BENCH_SEED=import (seed through
the import path instead of bulk SQL), BENCH_PG_CPU (which PostgreSQL
processes the PostgreSQL CPU column charges: "database", the default,
for the bench database's backends; "server" for every process of a
server the bench has to itself), BENCH_REPLICA_USERS (users seeded into
the read-scaling run's own primary and replica, default 100000).

Flags:
`

// benchSettings are the knobs of one bench run.
type benchSettings struct {
	users, clients, importUsers int
	duration, warmup            time.Duration
	out, profileDir, dbURL      string
	dbName                      string
	seedImport                  bool
	only                        map[string]bool
	// pgScope is benchdb.ScopeDatabase or ScopeServer (BENCH_PG_CPU).
	pgScope      string
	replicaUsers int
}

func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	envInt := func(name string, def int) int {
		if v, err := strconv.Atoi(getenv(name)); err == nil {
			return v
		}
		return def
	}
	envDur := func(name string, def time.Duration) time.Duration {
		if v, err := time.ParseDuration(getenv(name)); err == nil {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	var s benchSettings
	fs.IntVar(&s.users, "users", envInt("BENCH_USERS", 1_000_000), "seeded users")
	fs.IntVar(&s.clients, "clients", envInt("BENCH_CLIENTS", 16), "concurrent clients (and raw-SQL connections)")
	fs.IntVar(&s.importUsers, "import-users", envInt("BENCH_IMPORT_USERS", 50_000), "users of the import-rate run (0: skip)")
	fs.DurationVar(&s.duration, "duration", envDur("BENCH_DURATION", 10*time.Second), "measured time per scenario and side")
	fs.DurationVar(&s.warmup, "warmup", envDur("BENCH_WARMUP", time.Second), "unmeasured warm-up before each run")
	fs.StringVar(&s.out, "out", "bench/results/latest.md", "where to write the results (Markdown)")
	fs.StringVar(&s.profileDir, "profile", getenv("BENCH_PROFILE"), "directory for per-scenario CPU profiles of the API runs")
	fs.StringVar(&s.dbURL, "database-url", getenv("BENCH_DATABASE_URL"), "database to seed and use (default: graphdir_bench on the test server)")
	fs.StringVar(&s.dbName, "database", envStr(getenv, "BENCH_DATABASE", "graphdir_bench"), "name of the dedicated database on the test server (ignored with --database-url)")
	fs.BoolVar(&s.seedImport, "seed-import", getenv("BENCH_SEED") == "import", "seed through the import path (COPY) instead of bulk SQL")
	fs.StringVar(&s.pgScope, "pg-cpu", envStr(getenv, "BENCH_PG_CPU", benchdb.ScopeDatabase), "PostgreSQL processes charged: database (the bench database's backends) or server (every process of the server)")
	fs.IntVar(&s.replicaUsers, "replica-users", envInt("BENCH_REPLICA_USERS", 100_000), "users seeded into the read-scaling run's primary (and so its replica)")
	only := fs.String("scenarios", getenv("BENCH_SCENARIOS"), "comma-separated scenario names (default: all)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return errUsage
	}
	if s.users < 1 || s.clients < 1 || s.duration <= 0 {
		return errors.New("bench: --users, --clients and --duration must be positive")
	}
	if *only != "" {
		s.only = map[string]bool{}
		for _, n := range strings.Split(*only, ",") {
			s.only[strings.TrimSpace(n)] = true
		}
	}
	if s.pgScope != benchdb.ScopeDatabase && s.pgScope != benchdb.ScopeServer {
		return fmt.Errorf("bench: BENCH_PG_CPU=%q: want %s or %s", s.pgScope, benchdb.ScopeDatabase, benchdb.ScopeServer)
	}
	return benchMain(ctx, s, getenv, stdout, stderr)
}

func benchMain(ctx context.Context, s benchSettings, getenv func(string) string, stdout, stderr io.Writer) error {
	start := time.Now()
	if s.dbURL == "" {
		admin, err := localpg.TestServerURL(ctx, getenv)
		if err != nil {
			return fmt.Errorf("bench: finding PostgreSQL: %w", err)
		}
		if s.dbURL, err = benchdb.EnsureDatabase(ctx, admin, s.dbName); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	// The listener comes first so that the public URL (issuer, nextLink)
	// is the address the clients use.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()
	benchEnv := benchEnvFor(getenv, s.dbURL, base, nil)
	cfg, err := config.Load(nil, benchEnv, stderr)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	tenant := db.tenant

	// PostgreSQL's CPU, read from /proc when the server runs here.
	var (
		pgMeter bench.Meter
		pgNote  string
	)
	if s.pgScope == "" {
		s.pgScope = benchdb.ScopeDatabase
	}
	if m, err := benchdb.OpenPGCPU(ctx, s.dbURL, s.pgScope); err != nil {
		pgNote = "not measured: " + err.Error()
		fmt.Fprintf(stderr, "bench: PostgreSQL CPU %s\n", pgNote)
	} else {
		defer m.Close()
		pgMeter, pgNote = m, m.Describe()
	}

	// ----- Seed
	have, err := benchdb.Prepare(ctx, db.store.DB().DB, tenant.ID)
	if err != nil {
		return err
	}
	hash, err := password.Hash("Bench-Passw0rd!")
	if err != nil {
		return err
	}
	var importLine, seedLine string
	switch {
	case int(have) < s.users && s.seedImport:
		fmt.Fprintf(stderr, "bench: seeding users %d..%d of tenant %s through the import path\n", have, s.users, tenant.ID)
		st, err := benchSeed(ctx, db.store, tenant, int(have), s.users, hash, stderr, nil)
		if err != nil {
			return err
		}
		importLine = fmt.Sprintf("import (seeding, COPY path, pre-hashed argon2id passwords): %s users in %s = **%s users/s**",
			importer.Group(st.Loaded), st.Elapsed.Round(time.Millisecond), importer.Group(int64(float64(st.Loaded)/st.Elapsed.Seconds())))
	case int(have) < s.users:
		fmt.Fprintf(stderr, "bench: seeding users %d..%d of tenant %s (bulk: INSERT ... SELECT generate_series, indexes rebuilt)\n", have, s.users, tenant.ID)
		t0 := time.Now()
		if err := benchdb.BulkSeed(ctx, db.store.DB().DB, tenant.ID, tenant.DefaultDomain, int(have), s.users, hash, benchdb.SeedNames{
			First: benchFirstNames, Last: benchSurnames, Cities: benchCities, Departments: benchDepartments, Titles: benchTitles,
		}); err != nil {
			return fmt.Errorf("bench: seeding: %w", err)
		}
		seedLine = fmt.Sprintf("seeded %s users in %s (bulk SQL, indexes rebuilt)", importer.Group(int64(s.users)-have), time.Since(t0).Round(time.Second))
		fmt.Fprintf(stderr, "bench: %s\n", seedLine)
	default:
		fmt.Fprintf(stderr, "bench: reusing %d seeded users of tenant %s\n", have, tenant.ID)
	}
	// Storage per user, before the import run and the create scenarios
	// leave free space behind in the user tables.
	if err := benchdb.Analyze(ctx, db.store.DB().DB); err != nil {
		return err
	}
	storageLine, err := benchStorage(ctx, db, int(have) < s.users)
	if err != nil {
		return err
	}
	var importRow *bench.Row
	if importLine == "" && s.importUsers > 0 && s.selected("import") {
		if importLine, importRow, err = benchImportRate(ctx, db, s.importUsers, hash, stderr, pgMeter); err != nil {
			return err
		}
		if err := benchdb.Analyze(ctx, db.store.DB().DB); err != nil {
			return err
		}
	}
	seeded := time.Since(start)

	// ----- Serve
	if err := db.reopenForServing(ctx, cfg); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	handler, iss, err := buildHandlerWith(ctx, cfg, benchEnv, db, log, nil)
	if err != nil {
		return err
	}
	srv := newHTTPServer(cfg, handler, log)
	go srv.Serve(ln) //nolint:errcheck // ends with Close below
	defer srv.Close()
	token, err := iss.MintAppToken(ctx, tenant.ID, "b3c4e5f6-0000-4000-8000-00000000be9c", []string{"User.ReadWrite.All"}, 2*time.Hour)
	if err != nil {
		return err
	}
	// The raw side connects exactly as graphdir's serving pool does.
	rawURL, err := postgres.ServingURL(cfg.DatabaseURL, postgres.ServingOptions{
		StatementTimeout: cfg.StatementTimeout, ConnectTimeout: cfg.DBConnectTimeout,
	})
	if err != nil {
		return err
	}
	raw, err := postgres.Open(ctx, rawURL)
	if err != nil {
		return err
	}
	defer raw.Close()
	rawSQL := benchdb.NewRaw(raw.DB().DB)
	defer rawSQL.Close()

	sample, err := benchdb.Sample(ctx, db.store.DB().DB, tenant.ID, 10_000)
	if err != nil {
		return err
	}
	if len(sample) == 0 {
		return errors.New("bench: no seeded users to sample")
	}
	apps, err := newApplications(ctx, db)
	if err != nil {
		return err
	}
	tokens, err := newUserTokenEndpoint(ctx, cfg, db, apps, iss, log)
	if err != nil {
		return err
	}
	b := &benchRun{s: s, base: base, token: token, tenant: tenant, store: db.store, raw: rawSQL, sample: sample, hash: hash,
		cfg: cfg, apps: apps, oauth: tokens,
		client: &http.Client{Transport: &http.Transport{
			MaxIdleConns: s.clients, MaxIdleConnsPerHost: s.clients, MaxConnsPerHost: s.clients,
			DisableCompression: true, IdleConnTimeout: time.Minute,
		}}}
	b.runID = randomHex(4)
	scenarios, err := b.scenarios(ctx)
	if err != nil {
		return err
	}

	// Peak RSS counts from here: the seeding's buffers are not graphdir's.
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	var rows []bench.Row
	rssBeforeHashing := int64(-1)
	for _, sc := range scenarios {
		if !s.selected(sc.name) {
			continue
		}
		if sc.hashing && rssBeforeHashing < 0 {
			rssBeforeHashing = peakRSS()
		}
		if sc.setup != nil {
			if err := sc.setup(ctx); err != nil {
				return err
			}
		}
		fmt.Fprintf(stderr, "bench: %s ...", sc.name)
		row := bench.Row{Scenario: sc.name, Unit: sc.unit}
		stop := b.profile(sc.name)
		row.API = bench.RunMetered(ctx, s.clients, s.warmup, s.duration, sc.api, pgMeter)
		stop()
		if sc.raw != nil {
			r := bench.RunMetered(ctx, s.clients, s.warmup, s.duration, sc.raw, pgMeter)
			row.Raw = &r
		}
		fmt.Fprintf(stderr, " %.0f/s p50 %s ms p99 %s ms", row.API.PerSecond(), bench.Ms(row.API.P50), bench.Ms(row.API.P99))
		if row.Raw != nil {
			fmt.Fprintf(stderr, "; raw %.0f/s (%.0f%%)", row.Raw.PerSecond(), 100*row.Ratio())
		}
		fmt.Fprintln(stderr)
		rows = append(rows, row)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	peak := peakRSS()
	if rssBeforeHashing < 0 {
		rssBeforeHashing = peak
	}
	if importRow != nil {
		rows = append(rows, *importRow)
	}
	var scaling string
	if s.selected(benchReadScalingName) {
		if scaling, err = benchReadScaling(ctx, s, getenv, stderr); err != nil {
			// A machine without pg_basebackup still gets the rest.
			scaling = fmt.Sprintf("## Read scaling\n\nNot measured: %v\n", err)
			fmt.Fprintf(stderr, "bench: read scaling: %v\n", err)
		}
	}

	var out bytes.Buffer
	fmt.Fprintf(&out, "# graphdir bench\n\n")
	fmt.Fprintf(&out, "%s users in tenant %s; %d clients; %s per scenario and side (after %s warm-up); Go %s, GOMAXPROCS %d, %d CPUs; %s\n\n",
		importer.Group(int64(have+max(0, int64(s.users)-have))), tenant.ID, s.clients, s.duration, s.warmup, runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))
	bench.WriteTable(&out, rows)
	fmt.Fprintln(&out)
	fmt.Fprintf(&out, "- requests/s, p50, p99: graphdir over loopback HTTP (real tokens, real handler and http.Server, in this process); raw SQL/s: the same statements straight against PostgreSQL from a pool of %d connections, rows read as raw bytes; ratio = requests/s ÷ raw SQL/s; CPU µs/req: CPU time of this process (getrusage: graphdir and the HTTP load generator, not PostgreSQL) per API request, which other load on the machine disturbs far less than the rates.\n", s.clients)
	fmt.Fprintf(&out, "- PostgreSQL CPU µs/req: CPU time PostgreSQL spent per API request over the same window, and in brackets per raw operation of the raw side; counted: %s.\n", pgNote)
	if importRow != nil {
		fmt.Fprintln(&out, "- import (per user): the import path's users/s (no latency per user: batches), raw = a plain COPY of the same rows; CPU µs per user of this process (the import engine and the generation of its JSON lines) and of PostgreSQL, the raw COPY's PostgreSQL CPU in brackets.")
	}
	fmt.Fprintf(&out, "- refresh token: the refresh grant over loopback HTTP (a public client: client id, refresh token, MSAL's scope; access, ID and new refresh token back), each client rotating its own families of seeded users; raw: the grant's statements from the store (application and secrets, the rotation's UPDATE and successor INSERT in one transaction, the user). password sign-in: in process, no flow's HTTP: the first factor (%s) and IssueUserTokens (access, ID and refresh token, a new family); its raw column is argon2id verifications/s alone at the configured parameters, same clients.\n", benchPasswordCheckLabel)
	fmt.Fprintf(&out, "- %s: the native authentication API as Microsoft's SDK calls it, over loopback HTTP: oauth2/v2.0/initiate (the account by sign-in email, a continuation token stored), /challenge (password), /token with grant_type=password (the same first factor, the flow ended, access, ID and refresh token, client_info): one row = one whole sign-in of three requests; raw: argon2id verifications/s alone, as for the in-process password sign-in.\n", benchNativeName)
	fmt.Fprintln(&out, "- authorization code: one full browser-redirect sign-in with single sign-on per request: GET authorize with a live session cookie (302 with the code, PKCE S256, as MSAL.js sends it), then the code exchanged at the token endpoint from the spa origin (access, ID and refresh token back); raw: the statements both run, from the store (application and secrets, the session, the code INSERT, the session's client list; application and secrets, the code's conditional UPDATE, the refresh-token INSERT, the user, the code's family). The user flow's read at authorize is not on the raw side.")
	fmt.Fprintf(&out, "- peak RSS of the bench process during the scenarios without password hashing: **%s MiB** (graphdir in-process: includes the load generator and the raw-SQL pool; seeding excluded)", mib(rssBeforeHashing))
	if peak != rssBeforeHashing {
		fmt.Fprintf(&out, "; with the argon2id scenarios (19 MiB per hash, at most GOMAXPROCS hashes at once): %s MiB", mib(peak))
	}
	fmt.Fprintln(&out)
	if importLine != "" {
		fmt.Fprintf(&out, "- %s\n", importLine)
	}
	if seedLine != "" {
		fmt.Fprintf(&out, "- %s\n", seedLine)
	}
	fmt.Fprintf(&out, "- %s\n", storageLine)
	fmt.Fprintf(&out, "- seeding/reuse, ANALYZE and setup took %s; whole run %s\n", seeded.Round(time.Second), time.Since(start).Round(time.Second))
	if e := bench.Errors(rows); e != "" {
		fmt.Fprintf(&out, "\nErrors:\n\n```\n%s```\n", e)
	}
	if scaling != "" {
		fmt.Fprintf(&out, "\n%s", scaling)
	}
	stdout.Write(out.Bytes()) //nolint:errcheck
	if s.out != "" {
		if err := os.MkdirAll(filepath.Dir(s.out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(s.out, out.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "bench: wrote %s\n", s.out)
	}
	return nil
}

// benchEnvFor is the environment graphdir runs with in the bench: the
// database and public URL given, extra settings on top, the rest from
// getenv.
func benchEnvFor(getenv func(string) string, dbURL, base string, extra map[string]string) func(string) string {
	env := map[string]string{
		"DATABASE_URL":        dbURL,
		"GRAPHDIR_PUBLIC_URL": base,
		"GRAPHDIR_DOMAINS":    "bench.graphdir.test",
		// Throttling is a per-application policy, not capacity: off, so
		// the bench measures what one instance can serve.
		"GRAPHDIR_THROTTLE": "false",
		// The sign-in rate limits likewise: every check still runs (and
		// costs what it costs), but none refuses the load generator.
		"GRAPHDIR_SIGNIN_RATE_PER_IP":     "1000000000",
		"GRAPHDIR_SIGNIN_RATE_PER_TENANT": "1000000000",
		"GRAPHDIR_LOG_LEVEL":              "warn",
		"GRAPHDIR_MAX_CONCURRENT":         "1024",
		"GRAPHDIR_BOOTSTRAP_APP":          "",
		"GRAPHDIR_TRUSTED_ISSUERS":        "",
		"GRAPHDIR_REPLICA_URLS":           "",
	}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		if k == "GRAPHDIR_TRUSTED_ISSUERS_FILE" {
			return ""
		}
		return getenv(k)
	}
}

// selected says whether BENCH_SCENARIOS names the scenario (or is unset).
func (s benchSettings) selected(name string) bool { return s.only == nil || s.only[name] }

func envStr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// benchRun is the state the scenarios share.
type benchRun struct {
	s      benchSettings
	base   string
	token  string
	tenant *directory.Tenant
	store  *postgres.Store // graphdir's own pool (serving settings)
	raw    *benchdb.Raw    // the raw-SQL side, on a pool of its own
	sample []benchdb.User
	hash   string
	client *http.Client
	runID  string

	cfg    *config.Config
	apps   *directory.Applications
	oauth  *oauth.Server // the token endpoint's logic, for in-process sign-ins
	signIn signInBench   // state of the sign-in scenarios (bench_signin.go)
	native nativeBench   // state of the native authentication scenario (bench_native.go)
	// authCode is the authorization-code scenario's (bench_authcode.go).
	authCode authCodeBench
}

type benchScenario struct {
	name     string
	unit     string
	api, raw bench.Op
	hashing  bool
	// setup runs before the scenario when it is selected (once per run).
	setup func(context.Context) error
}

// pick spreads the clients over the sample.
func (b *benchRun) pick(worker, seq int) benchdb.User {
	return b.sample[(worker*7919+seq)%len(b.sample)]
}

var errStatus = errors.New("unexpected status")

// do sends one request and reads the whole answer into buf (reset first).
func (b *benchRun) do(ctx context.Context, method, target string, body []byte, want int, buf *bytes.Buffer) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if buf != nil {
		buf.Reset()
		_, err = buf.ReadFrom(resp.Body)
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		msg := ""
		if buf != nil {
			msg = buf.String()
		}
		return fmt.Errorf("%w %d for %s %s: %.300s", errStatus, resp.StatusCode, method, target, msg)
	}
	return nil
}

func (b *benchRun) get(ctx context.Context, path string) error {
	return b.do(ctx, http.MethodGet, b.base+path, nil, http.StatusOK, nil)
}

func (b *benchRun) rawQuery(ctx context.Context, st postgres.Statement, wantRows bool) error {
	n, err := b.raw.Query(ctx, st)
	if err == nil && wantRows && n == 0 {
		err = errors.New("no rows")
	}
	return err
}

func emailFilter(u benchdb.User) string {
	return "identities/any(i:i/issuerAssignedId eq '" + strings.ReplaceAll(u.Email, "'", "''") +
		"' and i/issuer eq '" + strings.ReplaceAll(u.Issuer, "'", "''") + "')"
}

// pageChain is a startsWith listing followed ten pages deep: the first
// page's URL and, for the raw side, the ten statements of its pages.
type pageChain struct {
	first string
	stmts []postgres.Statement
}

var benchPrefixes = []string{"Ma", "Jo", "Da", "An", "Li", "Sa", "Ka", "El"}

const benchPages = 10

func (b *benchRun) pageChains(ctx context.Context) ([]pageChain, error) {
	var out []pageChain
	for _, p := range benchPrefixes {
		filter := "startsWith(displayName,'" + p + "')"
		f, err := odata.ParseFilter(filter)
		if err != nil {
			return nil, err
		}
		ob, err := odata.ParseOrderBy("displayName")
		if err != nil {
			return nil, err
		}
		q := directory.ListQuery{Filter: f, OrderBy: ob, Top: 100}
		c := pageChain{first: "/v1.0/users?$filter=" + url.QueryEscape(filter) + "&$orderby=displayName&$top=100"}
		for range benchPages {
			st, err := postgres.ListStatement(b.tenant.ID, q)
			if err != nil {
				return nil, err
			}
			c.stmts = append(c.stmts, st)
			page, err := b.store.ListUsers(ctx, b.tenant.ID, q)
			if err != nil {
				return nil, err
			}
			if page.Next == nil {
				break
			}
			q.After = page.Next
		}
		out = append(out, c)
	}
	return out, nil
}

// nextLink returns the @odata.nextLink of a list answer, or "".
func nextLink(body []byte) string {
	const key = `"@odata.nextLink":`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 {
		return ""
	}
	var s string
	if json.Unmarshal(rest[:end+2], &s) != nil {
		return ""
	}
	return s
}

func (b *benchRun) scenarios(ctx context.Context) ([]benchScenario, error) {
	t := b.tenant.ID
	listStmt := func(filter, search, orderby string, top int, count bool) (postgres.Statement, error) {
		q := directory.ListQuery{Top: top, Count: count}
		var err error
		if filter != "" {
			if q.Filter, err = odata.ParseFilter(filter); err != nil {
				return postgres.Statement{}, err
			}
		}
		if search != "" {
			if q.Search, err = odata.ParseSearch(search); err != nil {
				return postgres.Statement{}, err
			}
		}
		if orderby != "" {
			if q.OrderBy, err = odata.ParseOrderBy(orderby); err != nil {
				return postgres.Statement{}, err
			}
		}
		return postgres.ListStatement(t, q)
	}
	getByID := func(ctx context.Context, w, seq int) error { return b.get(ctx, "/v1.0/users/"+b.pick(w, seq).ID) }
	rawByID := func(ctx context.Context, w, seq int) error {
		st, err := postgres.GetUserStatement(t, directory.UserKey{ID: b.pick(w, seq).ID})
		if err != nil {
			return err
		}
		return b.rawQuery(ctx, st, true)
	}
	getByUPN := func(ctx context.Context, w, seq int) error {
		return b.get(ctx, "/v1.0/users/"+url.PathEscape(b.pick(w, seq).UPN))
	}
	rawByUPN := func(ctx context.Context, w, seq int) error {
		st, err := postgres.GetUserStatement(t, directory.UserKey{UPN: b.pick(w, seq).UPN})
		if err != nil {
			return err
		}
		return b.rawQuery(ctx, st, true)
	}
	byEmail := func(ctx context.Context, w, seq int) error {
		var buf bytes.Buffer
		u := b.pick(w, seq)
		if err := b.do(ctx, http.MethodGet, b.base+"/v1.0/users?$filter="+url.QueryEscape(emailFilter(u)), nil, http.StatusOK, &buf); err != nil {
			return err
		}
		if !bytes.Contains(buf.Bytes(), []byte(u.ID)) {
			return fmt.Errorf("lookup of %s did not find %s", u.Email, u.ID)
		}
		return nil
	}
	rawByEmail := func(ctx context.Context, w, seq int) error {
		st, err := listStmt(emailFilter(b.pick(w, seq)), "", "", 0, false)
		if err != nil {
			return err
		}
		return b.rawQuery(ctx, st, true)
	}
	firstPage, err := listStmt("", "", "", 0, false)
	if err != nil {
		return nil, err
	}
	chains, err := b.pageChains(ctx)
	if err != nil {
		return nil, err
	}
	// Each client walks its chain: page 1 from the URL, then nextLink.
	next := make([]string, b.s.clients)
	depth := make([]int, b.s.clients)
	bufs := make([]bytes.Buffer, b.s.clients)
	pages := func(ctx context.Context, w, seq int) error {
		c := chains[w%len(chains)]
		target := next[w]
		if target == "" || depth[w] >= benchPages {
			target, depth[w] = b.base+c.first, 0
		}
		if err := b.do(ctx, http.MethodGet, target, nil, http.StatusOK, &bufs[w]); err != nil {
			next[w] = ""
			return err
		}
		depth[w]++
		next[w] = nextLink(bufs[w].Bytes())
		return nil
	}
	rawPages := func(ctx context.Context, w, seq int) error {
		c := chains[w%len(chains)]
		return b.rawQuery(ctx, c.stmts[seq%len(c.stmts)], true)
	}
	countFilter := func(w, seq int) string {
		return "city eq '" + strings.ReplaceAll(benchCities[(w+seq)%len(benchCities)], "_", " ") + "'"
	}
	searchText := func(w, seq int) string {
		return `"displayName:` + strings.ToLower(benchSurnames[(w*31+seq)%len(benchSurnames)][:3]) + `"`
	}
	createBody := func(w, seq int, withPassword bool) ([]byte, *directory.User) {
		id := fmt.Sprintf("%s.%d.%d", b.runID, w, seq)
		kind := "c"
		if withPassword {
			kind = "p"
		}
		upn := "created." + kind + "." + id + "@" + b.tenant.DefaultDomain
		body := `{"accountEnabled":true,"displayName":"Bench Created ` + id + `","mailNickname":"created.` + kind + "." + id +
			`","userPrincipalName":"` + upn + `","employeeType":"` + benchdb.CreatedType +
			`","identities":[{"signInType":"federated","issuer":"facebook.com","issuerAssignedId":"` + kind + "-" + id + `"}]`
		u := &directory.User{
			ID: newUUID(), TenantID: b.tenant.ID, UserPrincipalName: &upn, EmployeeType: ptr(benchdb.CreatedType),
			AccountEnabled: ptr(true), DisplayName: ptr("Bench Created raw " + id), MailNickname: ptr("raw." + id),
			Identities: []directory.Identity{{SignInType: "federated", Issuer: "facebook.com", IssuerAssignedID: "raw-" + kind + "-" + id}},
		}
		upnRaw := "raw." + kind + "." + id + "@" + b.tenant.DefaultDomain
		u.UserPrincipalName = &upnRaw
		if withPassword {
			body += `,"passwordProfile":{"password":"Bench-Passw0rd-` + strconv.Itoa(seq) + `!","forceChangePasswordNextSignIn":false}`
			u.Password.Hash = b.hash
		}
		return []byte(body + "}"), u
	}
	create := func(withPassword bool) (bench.Op, bench.Op) {
		return func(ctx context.Context, w, seq int) error {
				body, _ := createBody(w, seq, withPassword)
				return b.do(ctx, http.MethodPost, b.base+"/v1.0/users", body, http.StatusCreated, nil)
			}, func(ctx context.Context, w, seq int) error {
				_, u := createBody(w, seq, withPassword)
				st, err := postgres.CreateUserStatement(u)
				if err != nil {
					return err
				}
				return b.raw.InTx(ctx, st, 1)
			}
	}
	patch := func(ctx context.Context, w, seq int) error {
		body := `{"jobTitle":"Engineer ` + strconv.Itoa(seq) + `","officeLocation":"Building ` + strconv.Itoa(w) + `"}`
		return b.do(ctx, http.MethodPatch, b.base+"/v1.0/users/"+b.pick(w, seq).ID, []byte(body), http.StatusNoContent, nil)
	}
	rawPatch := func(ctx context.Context, w, seq int) error {
		st, err := postgres.UpdateUserStatement(t, directory.UserKey{ID: b.pick(w, seq).ID}, directory.UserPatch{Values: map[string]any{
			"jobTitle": ptr("Engineer " + strconv.Itoa(seq)), "officeLocation": ptr("Building " + strconv.Itoa(w)),
		}})
		if err != nil {
			return err
		}
		return b.raw.InTx(ctx, st, 1)
	}
	// The mix: of every ten operations one PATCH, nine reads spread over
	// id, UPN and sign-in email.
	mix := func(read [3]bench.Op, write bench.Op) bench.Op {
		return func(ctx context.Context, w, seq int) error {
			if seq%10 == 9 {
				return write(ctx, w, seq)
			}
			return read[seq%3](ctx, w, seq)
		}
	}
	createAPI, createRaw := create(false)
	createPwAPI, createPwRaw := create(true)
	refreshAPI, refreshRaw := b.refreshOps()
	signInAPI, signInRaw := b.passwordSignInOps()
	nativeAPI, nativeRaw := b.nativeSignInOps()
	authCodeAPI, authCodeRaw := b.authCodeOps()
	return []benchScenario{
		{name: "get by id", api: getByID, raw: rawByID},
		{name: "get by UPN", api: getByUPN, raw: rawByUPN},
		{name: "lookup by sign-in email", api: byEmail, raw: rawByEmail},
		{name: "first page (100)", api: func(ctx context.Context, w, seq int) error { return b.get(ctx, "/v1.0/users") },
			raw: func(ctx context.Context, w, seq int) error { return b.rawQuery(ctx, firstPage, true) }},
		{name: "startsWith+orderby 10 pages deep", unit: "page", api: pages, raw: rawPages},
		{name: "$count=true with filter", api: func(ctx context.Context, w, seq int) error {
			return b.get(ctx, "/v1.0/users?$count=true&$filter="+url.QueryEscape(countFilter(w, seq)))
		}, raw: func(ctx context.Context, w, seq int) error {
			st, err := listStmt(countFilter(w, seq), "", "", 0, true)
			if err != nil {
				return err
			}
			return b.rawQuery(ctx, st, true)
		}},
		{name: "$search", api: func(ctx context.Context, w, seq int) error {
			return b.get(ctx, "/v1.0/users?$search="+url.QueryEscape(searchText(w, seq)))
		}, raw: func(ctx context.Context, w, seq int) error {
			st, err := listStmt("", searchText(w, seq), "", 0, false)
			if err != nil {
				return err
			}
			return b.rawQuery(ctx, st, true)
		}},
		{name: "create (no password)", api: createAPI, raw: createRaw},
		{name: "PATCH", api: patch, raw: rawPatch},
		{name: "90/10 read/write mix", api: mix([3]bench.Op{getByID, getByUPN, byEmail}, patch),
			raw: mix([3]bench.Op{rawByID, rawByUPN, rawByEmail}, rawPatch)},
		{name: "create (argon2id password)", api: createPwAPI, raw: createPwRaw, hashing: true},
		{name: "refresh token", api: refreshAPI, raw: refreshRaw, setup: b.setupSignIn},
		{name: "password sign-in (argon2id + tokens)", api: signInAPI, raw: signInRaw, hashing: true, setup: b.setupSignIn},
		{name: benchNativeName, api: nativeAPI, raw: nativeRaw, hashing: true, setup: b.setupNative},
		{name: "authorization code (SSO session + PKCE)", api: authCodeAPI, raw: authCodeRaw, setup: b.setupAuthCode},
	}, nil
}

// profile starts a CPU profile of one scenario's API run when asked to.
func (b *benchRun) profile(name string) func() {
	if b.s.profileDir == "" {
		return func() {}
	}
	if err := os.MkdirAll(b.s.profileDir, 0o755); err != nil {
		return func() {}
	}
	file := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
	f, err := os.Create(filepath.Join(b.s.profileDir, file+".pprof"))
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func ptr[T any](v T) *T { return &v }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// resetPeakRSS resets the kernel's high-water mark of this process's
// resident set (VmHWM), so peakRSS reports the peak from now on.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is VmHWM in bytes, or -1 where /proc does not tell.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return -1
}

func mib(n int64) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f", float64(n)/(1<<20))
}
