package postgres_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/importer"
	"github.com/graphdir/graphdir/internal/password"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// importRows prepares lines (numbered from 1) for tenant tn, failing the
// test on any the importer refuses.
func importRows(t *testing.T, tn *directory.Tenant, lines ...string) []directory.ImportRow {
	t.Helper()
	cheap := password.Params{MemoryKiB: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}
	im := importer.NewPreparer(tn, directory.WithPasswordHasher(func(pw string) (string, error) { return password.HashWith(pw, cheap) }))
	var rows []directory.ImportRow
	for i, l := range lines {
		row, rej := im.Prepare(i+1, []byte(l))
		if rej != nil {
			t.Fatalf("line %d: %s", i+1, rej)
		}
		rows = append(rows, row)
	}
	return rows
}

func TestImportUsers(t *testing.T) {
	ctx := context.Background()
	s, tn := newTenant(t)
	existing := newUser(tn.ID, "taken@contoso.onmicrosoft.com",
		directory.Identity{SignInType: "emailAddress", Issuer: "contoso.onmicrosoft.com", IssuerAssignedID: "taken@example.com"})
	if err := s.CreateUser(ctx, existing, nil); err != nil {
		t.Fatal(err)
	}
	wf := func(upn string) string {
		return `{"accountEnabled":true,"displayName":"W","mailNickname":"w","userPrincipalName":"` + upn +
			`","passwordProfile":{"password":"Str0ng!Passw0rd"}}`
	}
	cust := func(upn, issuer, email string) string {
		u := ""
		if upn != "" {
			u = `"userPrincipalName":"` + upn + `",`
		}
		return `{` + u + `"displayName":"C","identities":[{"signInType":"emailAddress","issuer":"` + issuer +
			`","issuerAssignedId":"` + email + `"}],"passwordProfile":{"password":"Str0ng!Passw0rd"}}`
	}
	rows := importRows(t, tn,
		wf("a@contoso.onmicrosoft.com"),                                                   // 1 loads
		wf("A@CONTOSO.onmicrosoft.com"),                                                   // 2 repeats line 1
		wf("TAKEN@contoso.onmicrosoft.com"),                                               // 3 taken
		cust("", "Contoso.onmicrosoft.com", "Taken@Example.com"),                          // 4 identity taken, other case
		cust("", "contoso.onmicrosoft.com", "b@example.com"),                              // 5 loads
		cust("", "CONTOSO.onmicrosoft.com", "B@example.com"),                              // 6 repeats line 5's identity
		cust("c@contoso.onmicrosoft.com", "x", "taken@example.com"),                       // 7 identity issuer differs: loads
		cust("d@contoso.onmicrosoft.com", "contoso.onmicrosoft.com", "TAKEN@example.com"), // 8 identity taken
		wf("D@contoso.onmicrosoft.com"),                                                   // 9 loads: line 8, which claimed the UPN, did not
	)
	// One user listing an identity twice, as only a caller bypassing the
	// importer could send.
	twice := importRows(t, tn, cust("", "i", "e@example.com"))[0]
	twice.Line = 10
	twice.User.Identities = append(twice.User.Identities, directory.Identity{SignInType: "emailAddress", Issuer: "I", IssuerAssignedID: "E@example.com"})
	rows = append(rows, twice)

	rejected, err := s.ImportUsers(ctx, tn.ID, rows)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		line         int
		prop, reason string
	}{
		{2, "userPrincipalName", "Repeats line 1"},
		{3, "userPrincipalName", "already has the userPrincipalName 'TAKEN@contoso.onmicrosoft.com'"},
		{4, "identities", "already has the identity (issuer 'Contoso.onmicrosoft.com', issuerAssignedId 'Taken@Example.com')"},
		{6, "identities", "Repeats line 5"},
		{8, "identities", "already has the identity"},
		{10, "identities", "listed twice"},
	}
	if len(rejected) != len(want) {
		t.Fatalf("rejected = %+v", rejected)
	}
	for i, w := range want {
		r := rejected[i]
		if r.Line != w.line || r.Property != w.prop || !strings.Contains(r.Reason, w.reason) {
			t.Errorf("reject %d = %+v, want line %d %s %q", i, r, w.line, w.prop, w.reason)
		}
	}
	loaded := map[int]bool{1: true, 5: true, 7: true, 9: true}
	for _, r := range rows {
		got, err := s.GetUserWithPassword(ctx, tn.ID, directory.UserKey{ID: r.User.ID})
		if !loaded[r.Line] {
			if directory.KindOf(err) != directory.KindNotFound {
				t.Errorf("line %d: rejected but readable (%v)", r.Line, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("line %d: %v", r.Line, err)
			continue
		}
		if *got.UserPrincipalName != *r.User.UserPrincipalName || len(got.Identities) != len(r.User.Identities) ||
			got.Password.Hash != r.User.Password.Hash || got.CreatedDateTime == nil || got.LastPasswordChangeDateTime == nil {
			t.Errorf("line %d: read back %+v", r.Line, got)
		}
	}
	var n int
	if err := s.DB().QueryRow(`SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM user_identities)`).Scan(&n); err != nil || n != 5+3 {
		t.Errorf("users + identities = %d (%v), want 5 users and 3 identities", n, err)
	}

	// The same batch again: everything is taken now.
	again, err := s.ImportUsers(ctx, tn.ID, rows[:9])
	if err != nil || len(again) != 9 {
		t.Errorf("second import: %d rejected, %v", len(again), err)
	}
	// A batch out of line order is a caller bug.
	if _, err := s.ImportUsers(ctx, tn.ID, []directory.ImportRow{rows[1], rows[0]}); directory.KindOf(err) != directory.KindInternal {
		t.Errorf("out of order: %v", err)
	}
}

// TestImportUsersConcurrently loads the same users from several importers
// at once: each user is loaded exactly once, the others reject it, and no
// importer fails (a unique violation from a concurrent writer is retried,
// then the colliding rows are rejected on their own).
func TestImportUsersConcurrently(t *testing.T) {
	ctx := context.Background()
	s, tn := newTenant(t)
	var lines []string
	for i := range 40 {
		n := strconv.Itoa(i)
		lines = append(lines, `{"displayName":"C","identities":[{"signInType":"emailAddress","issuer":"i","issuerAssignedId":"c`+n+
			`@example.com"}],"userPrincipalName":"c`+n+`@contoso.onmicrosoft.com","passwordProfile":{"passwordHash":"$2a$04$`+strings.Repeat("a", 53)+`"}}`)
	}
	const importers = 6
	var wg sync.WaitGroup
	var mu sync.Mutex
	loaded := 0
	for range importers {
		rows := importRows(t, tn, lines...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rejected, err := s.ImportUsers(ctx, tn.ID, rows)
			if err != nil {
				t.Errorf("ImportUsers: %v", err)
				return
			}
			mu.Lock()
			loaded += len(rows) - len(rejected)
			mu.Unlock()
		}()
	}
	wg.Wait()
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM users`).Scan(&n); err != nil || n != len(lines) || loaded != len(lines) {
		t.Errorf("%d users in the table, %d reported loaded; want %d (%v)", n, loaded, len(lines), err)
	}
}

// TestImportCheckPlanAfterFirstBatch: once the first batch of a load into a
// fresh database has landed, the next batches' name check probes the
// userPrincipalName and identity unique indexes, not an index that reads the
// whole tenant per name (users_created_at_idx: planned against a near-empty
// users table every index on (tenant_id, ...) costs the same, and a load
// turned quadratic).
func TestImportCheckPlanAfterFirstBatch(t *testing.T) {
	ctx := context.Background()
	s, tn := newTenant(t)
	const n = 3000
	lines := make([]string, n)
	for i := range lines {
		lines[i] = `{"displayName":"P ` + strconv.Itoa(i) + `","identities":[{"signInType":"emailAddress","issuer":"` + tn.DefaultDomain +
			`","issuerAssignedId":"p` + strconv.Itoa(i) + `@example.com"}],"passwordProfile":{"password":"Str0ng!Passw0rd"}}`
	}
	rejected, err := s.ImportUsers(ctx, tn.ID, importRows(t, tn, lines...))
	if err != nil || len(rejected) != 0 {
		t.Fatalf("first batch: %v, %d rejected", err, len(rejected))
	}
	upns := make([]string, 500)
	for i := range upns {
		upns[i] = "next" + strconv.Itoa(i) + "@example.com"
	}
	plan, err := postgres.ImportCheckPlanForTest(ctx, s, tn.ID, upns, tn.DefaultDomain)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"users_created_at_idx", `"Seq Scan"`} {
		if strings.Contains(plan, bad) {
			t.Errorf("the import's name check uses %s after the first batch:\n%s", bad, plan)
		}
	}
	if !strings.Contains(plan, "users_upn_key") && !strings.Contains(plan, "users_user_principal_name_key_idx") {
		t.Errorf("the import's name check does not probe a userPrincipalName index:\n%s", plan)
	}
}
