package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
)

// env is the environment newStack configured, for running CLI commands
// against the same database.
func (s *stack) env() func(string) string {
	m := map[string]string{
		"DATABASE_URL":        s.cfg.DatabaseURL,
		"GRAPHDIR_PUBLIC_URL": testPublicURL,
		"GRAPHDIR_DOMAINS":    "graphdir.test,contoso.com",
	}
	return func(k string) string { return m[k] }
}

// cli runs one graphdir command and returns its stdout.
func (s *stack) cli(args ...string) (string, error) {
	s.t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, s.env(), &out, &errb)
	if err != nil && errb.Len() > 0 {
		s.t.Logf("graphdir %s: %s", strings.Join(args, " "), errb.String())
	}
	return strings.TrimSpace(out.String()), err
}

// newTenant creates a tenant with `graphdir tenant create` and returns its id.
func (s *stack) newTenant(domain string) string {
	s.t.Helper()
	id, err := s.cli("tenant", "create", "--domain", domain, "--name", "Tenant "+domain)
	if err != nil || !directory.IsGUID(id) {
		s.t.Fatalf("tenant create: %q %v", id, err)
	}
	return id
}

func (s *stack) appTokenIn(tenant string, roles ...string) string {
	s.t.Helper()
	tok, err := s.iss.MintAppToken(context.Background(), tenant, uuid.NewString(), roles, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

func (s *stack) userTokenIn(tenant, userID string, scopes ...string) string {
	s.t.Helper()
	tok, err := s.iss.MintUserToken(context.Background(), tenant, userID, uuid.NewString(), scopes, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// rawUser inserts a user straight into the store (no password, so no
// hashing cost) with the given directory roles, and returns its id.
func (s *stack) rawUser(tenant, upn string, roles ...string) string {
	s.t.Helper()
	ctx := context.Background()
	name, enabled, nick := "User "+upn, true, strings.Split(upn, "@")[0]
	job, city, phone := "Secret Job", "Hidden City", "+1 555 0100"
	u := &directory.User{TenantID: tenant, UserPrincipalName: &upn, DisplayName: &name, AccountEnabled: &enabled,
		MailNickname: &nick, JobTitle: &job, City: &city, MobilePhone: &phone}
	if err := s.db.store.CreateUser(ctx, u, nil); err != nil {
		s.t.Fatalf("create %s: %v", upn, err)
	}
	for _, r := range roles {
		s.assignRole(tenant, u.ID, r)
	}
	return u.ID
}

// assignRole assigns a built-in role (name or id) with the store.
func (s *stack) assignRole(tenant, userID, role string) string {
	s.t.Helper()
	def, ok := directory.LookupRole(role)
	if !ok {
		s.t.Fatalf("unknown role %q", role)
	}
	a := &directory.RoleAssignment{TenantID: tenant, PrincipalID: userID, RoleDefinitionID: def.ID}
	if err := s.db.store.CreateRoleAssignment(context.Background(), a, nil); err != nil {
		s.t.Fatalf("assign %s: %v", role, err)
	}
	return a.ID
}

// checkDenied asserts the invariants of every refused request: no 5xx, the
// Graph envelope, a request-id, and (with before) nothing written.
func (s *stack) checkDenied(t *testing.T, r *response, before string) string {
	t.Helper()
	if r.Status >= 500 {
		t.Fatalf("5xx: %d %s", r.Status, r.Body)
	}
	code := r.ErrorCode(t)
	if before != "" && s.snapshot() != before {
		t.Fatalf("a refused request changed the database: %d %s", r.Status, r.Body)
	}
	return code
}
