package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// TestPgBouncer_TransactionMode runs graphdir, wired as `serve` wires it,
// through PgBouncer in transaction mode with a pool smaller than the
// number of concurrent clients: migrations over GRAPHDIR_DB_MIGRATE_URL,
// requests over the pooler with GRAPHDIR_DB_PREPARED_STATEMENTS=false. On
// PgBouncer 1.21+ it runs again with max_prepared_statements and prepared
// statements on.
func TestPgBouncer_TransactionMode(t *testing.T) {
	bin, why := findPgBouncer(t)
	if bin == "" {
		t.Skipf("SKIPPED LOUDLY: no PgBouncer: %s", why)
	}
	version := pgBouncerVersion(t, bin)
	t.Logf("PgBouncer %d.%d", version[0], version[1])

	t.Run("prepared statements off", func(t *testing.T) {
		direct := pgtest.NewURL(t)
		pb := startPgBouncer(t, bin, direct, pgBouncerOptions{PoolSize: 3})
		exercisePooled(t, newPooledStack(t, pb.URL, direct, false))
	})
	t.Run("prepared statements on, max_prepared_statements", func(t *testing.T) {
		if version[0] == 1 && version[1] < 21 {
			t.Skipf("SKIPPED: PgBouncer %d.%d has no max_prepared_statements (1.21+)", version[0], version[1])
		}
		direct := pgtest.NewURL(t)
		pb := startPgBouncer(t, bin, direct, pgBouncerOptions{PoolSize: 3, MaxPreparedStatements: 200})
		exercisePooled(t, newPooledStack(t, pb.URL, direct, true))
	})
}

// newPooledStack is newStack with DATABASE_URL through the pooler and the
// serving pool reopened as serve does.
func newPooledStack(t *testing.T, pooledURL, directURL string, prepared bool) *stack {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":                    pooledURL,
		"GRAPHDIR_DB_MIGRATE_URL":         directURL,
		"GRAPHDIR_DB_PREPARED_STATEMENTS": strconv.FormatBool(prepared),
		"GRAPHDIR_PUBLIC_URL":             testPublicURL,
		"GRAPHDIR_DOMAINS":                "graphdir.test,contoso.com",
	}
	cfg, getenv, db := openTestDatabase(t, env)
	ctx := context.Background()
	if err := db.reopenForServing(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h, iss, err := buildHandler(ctx, cfg, getenv, db, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return &stack{t: t, srv: srv, db: db, iss: iss, cfg: cfg, tenant: db.tenant.ID,
		domain: db.tenant.DefaultDomain, client: srv.Client()}
}

func exercisePooled(t *testing.T, s *stack) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The serving pool really goes through the pooler: the statement
	// timeout it has is the one PgBouncer's connect_query set, since
	// PgBouncer dropped the start-up parameter.
	var timeout string
	if err := s.db.store.DB().GetContext(ctx, &timeout, `SHOW statement_timeout`); err != nil || timeout != "5s" {
		t.Fatalf("statement_timeout through the pooler: %q, %v", timeout, err)
	}

	admin := s.appToken("User.ReadWrite.All")
	const clients = 24 // against a pool of 3 server connections

	// Concurrent creates.
	ids := make([]string, clients)
	parallel(clients, func(i int) {
		body := workforceUser(fmt.Sprintf("pool%02d@contoso.com", i))
		body["displayName"] = fmt.Sprintf("Pool %02d", i)
		body["mailNickname"] = fmt.Sprintf("pool%02d", i)
		r := s.do("POST", "/v1.0/users", admin, body)
		if r.Status != 201 {
			t.Errorf("create %d: %d %s", i, r.Status, r.Body)
			return
		}
		ids[i] = r.JSON(t)["id"].(string)
	})
	if t.Failed() {
		t.FailNow()
	}

	// Delta: the initial round sees every user.
	dc := newDeltaClient(s, admin, "?$select=displayName")
	dc.round(t)
	for _, id := range ids {
		if dc.view[id] == nil {
			t.Errorf("initial delta round misses %s", id)
		}
	}

	// Concurrent reads and updates of one user each, with more clients
	// than server connections, the reads twice (the second run is when
	// the statement cache would prepare).
	parallel(clients, func(i int) {
		for range 2 {
			r := s.do("GET", "/v1.0/users/"+ids[i]+"?$select=id,displayName", admin, nil)
			if r.Status != 200 || r.JSON(t)["displayName"] != fmt.Sprintf("Pool %02d", i) {
				t.Errorf("get %d: %d %s", i, r.Status, r.Body)
			}
		}
		if r := s.do("PATCH", "/v1.0/users/"+ids[i], admin, map[string]any{"displayName": fmt.Sprintf("Renamed %02d", i)}); r.Status != 204 {
			t.Errorf("patch %d: %d %s", i, r.Status, r.Body)
		}
		if r := s.do("GET", "/v1.0/users/"+ids[i]+"?$select=id,displayName", admin, nil); r.Status != 200 || r.JSON(t)["displayName"] != fmt.Sprintf("Renamed %02d", i) {
			t.Errorf("get after patch %d: %d %s", i, r.Status, r.Body)
		}
	})

	// Delta: the next round carries exactly the renamed users.
	changed := dc.round(t)
	if len(changed) != clients {
		t.Errorf("delta after renames: %d items, want %d", len(changed), clients)
	}
	for i, id := range ids {
		if got := dc.view[id]["displayName"]; got != fmt.Sprintf("Renamed %02d", i) {
			t.Errorf("delta view of %s: displayName %v", id, got)
		}
	}

	// A filtered list, paged five at a time, concurrently from several
	// clients: every page chain returns each matching user exactly once.
	parallel(6, func(int) {
		seen := map[string]bool{}
		link := "/v1.0/users?$filter=startswith(userPrincipalName,'pool')&$top=5&$select=id"
		for pages := 0; link != ""; pages++ {
			if pages > clients {
				t.Errorf("paging does not end")
				return
			}
			r := s.do("GET", link, admin, nil)
			if r.Status != 200 {
				t.Errorf("list: %d %s", r.Status, r.Body)
				return
			}
			m := r.JSON(t)
			for _, v := range m["value"].([]any) {
				id := v.(map[string]any)["id"].(string)
				if seen[id] {
					t.Errorf("list: %s twice", id)
				}
				seen[id] = true
			}
			link, _ = m["@odata.nextLink"].(string)
		}
		if len(seen) != clients {
			t.Errorf("list: %d users, want %d", len(seen), clients)
		}
	})

	// A sign-in flow step: of concurrent requests advancing the same
	// handle, exactly one wins (one guarded UPDATE, no session state).
	st := s.db.store
	now := time.Now().UTC().Truncate(time.Second)
	flow := directory.SignInFlow{TenantID: s.tenant, ID: uuid.NewString(), ClientID: uuid.NewString(), Kind: "signin",
		Step: "password", Username: "pool00@contoso.com", Data: map[string]string{}, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	handle := sha256.Sum256([]byte(flow.ID))
	if err := st.CreateSignInFlow(ctx, flow, handle[:]); err != nil {
		t.Fatal(err)
	}
	got, err := st.SignInFlowByHandle(ctx, s.tenant, handle[:])
	if err != nil {
		t.Fatal(err)
	}
	var wins, conflicts int
	var mu sync.Mutex
	parallel(8, func(i int) {
		next := got
		next.Step, next.UserID, next.AMR = "done", ids[0], []string{"pwd"}
		newHandle := sha256.Sum256([]byte(fmt.Sprint(flow.ID, i)))
		err := st.AdvanceSignInFlow(ctx, next, handle[:], newHandle[:])
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			wins++
		case directory.KindOf(err) == directory.KindConflict:
			conflicts++
		default:
			t.Errorf("advance %d: %v", i, err)
		}
	})
	if wins != 1 || conflicts != 7 {
		t.Errorf("advance: %d wins, %d conflicts; want 1 and 7", wins, conflicts)
	}

	// Background job under a transaction-scoped advisory lock: soft-delete
	// some users, purge from several "instances" at once; every deleted
	// user is purged exactly once and no advisory lock stays behind on a
	// pooled server connection.
	for _, id := range ids[:4] {
		if r := s.do("DELETE", "/v1.0/users/"+id, admin, nil); r.Status != 204 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
	}
	var purged int64
	parallel(6, func(int) {
		n, err := st.PurgeDeleted(ctx, time.Now().Add(time.Hour), 1)
		if err != nil {
			t.Errorf("purge: %v", err)
		}
		mu.Lock()
		purged += n
		mu.Unlock()
	})
	// Callers that found the lock taken returned at once, so one more run
	// picks up whatever they left.
	n, err := st.PurgeDeleted(ctx, time.Now().Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if purged+n != 4 {
		t.Errorf("purged %d+%d users, want 4", purged, n)
	}
	for _, id := range ids[:4] {
		if _, err := st.GetDeletedUser(ctx, s.tenant, id); directory.KindOf(err) != directory.KindNotFound {
			t.Errorf("deleted user %s after purge: %v", id, err)
		}
	}
	var locks int
	if err := st.DB().GetContext(ctx, &locks, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'`); err != nil || locks != 0 {
		t.Errorf("advisory locks held after the jobs: %d, %v", locks, err)
	}
	if r := s.do("GET", "/v1.0/users/"+ids[0], admin, nil); r.Status != 404 || r.ErrorCode(t) != "Request_ResourceNotFound" {
		t.Errorf("purged user: %d %s", r.Status, r.Body)
	}
}

// parallel runs fn(0..n-1) at once and waits for all.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); fn(i) }()
	}
	wg.Wait()
}

// TestMigrateURL_StartupGoesDirect: with GRAPHDIR_DB_MIGRATE_URL set,
// migrations and start-up use it alone (DATABASE_URL, here a port nothing
// listens on, is not touched) and the serving pool uses DATABASE_URL.
func TestMigrateURL_StartupGoesDirect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "postgres://postgres@" + ln.Addr().String() + "/graphdir?sslmode=disable"
	ln.Close()
	direct := pgtest.NewEmptyURL(t)
	cfg, _, db := openStartupDatabase(t, map[string]string{
		"DATABASE_URL":            dead,
		"GRAPHDIR_DB_MIGRATE_URL": direct,
		"GRAPHDIR_PUBLIC_URL":     testPublicURL,
		"GRAPHDIR_DOMAINS":        "graphdir.test",
	})
	ctx := context.Background()
	var applied int
	if err := db.store.DB().GetContext(ctx, &applied, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`); err != nil || applied == 0 {
		t.Fatalf("migrations over the direct URL: %d applied, %v", applied, err)
	}
	if db.tenant == nil {
		t.Fatal("no default tenant after start-up")
	}
	if err := db.reopenForServing(ctx, cfg); err == nil {
		t.Fatal("the serving pool opened without DATABASE_URL answering")
	}
}
