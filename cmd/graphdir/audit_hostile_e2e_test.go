package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/logtest"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// newLoggedStack is newStack with the server's slog output (JSON lines)
// kept in log.
func newLoggedStack(t *testing.T, log io.Writer) *stack {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":        pgtest.NewURL(t),
		"GRAPHDIR_PUBLIC_URL": testPublicURL,
		"GRAPHDIR_DOMAINS":    "graphdir.test,contoso.com",
	}
	cfg, getenv, db := openTestDatabase(t, env)
	h, iss, err := buildHandler(context.Background(), cfg, getenv, db, slog.New(slog.NewJSONHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return &stack{t: t, srv: srv, db: db, iss: iss, cfg: cfg, tenant: db.tenant.ID,
		domain: db.tenant.DefaultDomain, client: srv.Client()}
}

// auditRows counts the audit events stored under one request id, straight
// from the table (the id itself may be anything a client sent).
func (s *stack) auditRows(requestID string) int {
	s.t.Helper()
	var n int
	if err := s.db.store.DB().QueryRowContext(context.Background(),
		`SELECT count(*) FROM audit_events WHERE correlation_id = $1`, requestID).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// hostileKeys are path keys an attacker probes with, percent-encoded as
// sent: NUL alone, inside a UPN and inside a key literal; invalid UTF-8;
// a lone surrogate encoded as UTF-8 would encode it; and the longest key
// a URL can carry. (A 100 KB key is a 414 before authentication, when
// there is no caller or tenant to record an event for; the test checks
// that answer. 100 KB values go in bodies.)
var hostileKeys = map[string]string{
	"nul":           "%00",
	"nul in upn":    "a%00b@contoso.com",
	"nul literal":   "'%00'",
	"invalid utf-8": "%FF%FE",
	"surrogate":     "%ED%A0%80",
	"15 KB":         strings.Repeat("k", 15<<10),
	"15 KB nul upn": strings.Repeat("%00", 100) + strings.Repeat("k", 14<<10) + "@contoso.com",
}

// hostileValues are JSON string literals (raw, as they appear in the body):
// an escaped NUL, raw invalid UTF-8, an escaped lone surrogate, and
// 100 KB.
var hostileValues = map[string]string{
	"nul":           `"a\u0000b"`,
	"invalid utf-8": "\"a\xff\xfeb\"",
	"surrogate":     `"a\ud800b"`,
	"100 KB":        `"` + strings.Repeat("v", 100<<10) + `"`,
	"100 KB nul":    `"` + strings.Repeat(`\u0000`, 100) + strings.Repeat("v", 100<<10) + `"`,
}

// Every write endpoint, sent the hostile corpus in its keys and in its
// body values, records each attempt as exactly one audit event, and no
// attempt logs an ERROR (issue 11: "audit events are never lost").
func TestAuditHostileInputEveryWriteLeavesOneEvent(t *testing.T) {
	var logs logtest.Buffer
	s := newLoggedStack(t, &logs)
	admin := s.appToken("User.ReadWrite.All", "Directory.ReadWrite.All", "User.ManageIdentities.All",
		"User-PasswordProfile.ReadWrite.All", "User.DeleteRestore.All", directory.PermApplicationReadWriteAll,
		directory.PermAppRoleAssignmentReadWriteAll, "RoleManagement.ReadWrite.Directory")

	// Real targets for the body probes: a user who may edit herself, an
	// application, a deleted user.
	r := s.do("POST", "/v1.0/users", admin, workforceUser("hostile@contoso.com"))
	s.mustStatus(r, 201, "create user")
	userID := r.JSON(t)["id"].(string)
	me := s.userToken(userID, "User.ReadWrite", "Directory.AccessAsUser.All")
	r = s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": "hostile target"})
	s.mustStatus(r, 201, "create application")
	appID := r.JSON(t)["id"].(string)

	type probe struct {
		name, method, path, token string
		body                      []byte
	}
	var probes []probe
	for kn, k := range hostileKeys {
		for _, p := range []struct{ method, path, body string }{
			{"PATCH", "/v1.0/users/" + k, `{"city":"Oslo"}`},
			{"DELETE", "/v1.0/users/" + k, ""},
			{"POST", "/v1.0/directory/deletedItems/" + k + "/restore", ""},
			{"DELETE", "/v1.0/directory/deletedItems/" + k, ""},
			{"PATCH", "/v1.0/applications/" + k, `{"displayName":"x"}`},
			{"DELETE", "/v1.0/applications/" + k, ""},
			{"POST", "/v1.0/applications/" + k + "/addPassword", `{}`},
			{"POST", "/v1.0/applications/" + k + "/removePassword", `{"keyId":"00000000-0000-0000-0000-000000000001"}`},
			{"POST", "/v1.0/applications/" + k + "/extensionProperties", `{"name":"x","dataType":"String","targetObjects":["User"]}`},
			{"DELETE", "/v1.0/applications/" + appID + "/extensionProperties/" + k, ""},
			{"DELETE", "/v1.0/roleManagement/directory/roleAssignments/" + k, ""},
		} {
			var body []byte
			if p.body != "" {
				body = []byte(p.body)
			}
			probes = append(probes, probe{"key " + kn, p.method, p.path, admin, body})
		}
	}
	for vn, v := range hostileValues {
		for _, p := range []struct{ method, path, token, body string }{
			{"POST", "/v1.0/users", admin, `{"accountEnabled":true,"displayName":%[1]s,"mailNickname":%[1]s,"userPrincipalName":%[1]s,"passwordProfile":{"password":%[1]s}}`},
			{"POST", "/v1.0/users", admin, `{"displayName":%[1]s,"identities":[{"signInType":"emailAddress","issuer":%[1]s,"issuerAssignedId":%[1]s}],"passwordProfile":{"password":"Str0ng!Passw0rd"}}`},
			{"PATCH", "/v1.0/users/" + userID, admin, `{"displayName":%[1]s,"city":%[1]s,"otherMails":[%[1]s]}`},
			{"PATCH", "/v1.0/me", me, `{"city":%[1]s}`},
			{"POST", "/v1.0/me/changePassword", me, `{"currentPassword":%[1]s,"newPassword":%[1]s}`},
			{"POST", "/v1.0/applications", admin, `{"displayName":%[1]s}`},
			{"PATCH", "/v1.0/applications/" + appID, admin, `{"displayName":%[1]s}`},
			{"POST", "/v1.0/applications/" + appID + "/addPassword", admin, `{"passwordCredential":{"displayName":%[1]s}}`},
			{"POST", "/v1.0/applications/" + appID + "/removePassword", admin, `{"keyId":%[1]s}`},
			{"POST", "/v1.0/applications/" + appID + "/extensionProperties", admin, `{"name":%[1]s,"dataType":"String","targetObjects":["User"]}`},
			{"POST", "/v1.0/roleManagement/directory/roleAssignments", admin, `{"principalId":%[1]s,"roleDefinitionId":%[1]s,"directoryScopeId":"/"}`},
		} {
			probes = append(probes, probe{"value " + vn, p.method, p.path, p.token, []byte(fmt.Sprintf(p.body, v))})
		}
	}

	for _, p := range probes {
		var body any
		if p.body != nil {
			body = p.body
		}
		r := s.do(p.method, p.path, p.token, body)
		what := fmt.Sprintf("%s %.80s (%s)", p.method, p.path, p.name)
		if r.Status >= 500 {
			t.Errorf("%s: %d %.300s", what, r.Status, r.Body)
		}
		id := r.Header.Get("request-id")
		if id == "" {
			t.Errorf("%s: no request-id", what)
			continue
		}
		if n := s.auditRows(id); n != 1 {
			t.Errorf("%s: answered %d, %d audit events, want 1 (%.200s)", what, r.Status, n, r.Body)
		}
	}

	r = s.do("DELETE", "/v1.0/users/"+strings.Repeat("k", 100<<10), admin, nil)
	if r.Status != 414 {
		t.Errorf("100 KB key: %d, want 414 before any handler", r.Status)
	}

	for _, line := range strings.Split(logs.String(), "\n") {
		var rec map[string]any
		if line == "" || json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec["level"] == "ERROR" {
			t.Errorf("ERROR logged: %.400s", line)
		}
	}
}
