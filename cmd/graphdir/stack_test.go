package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/issuer"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// stack is graphdir wired exactly as `serve` wires it, over a fresh database,
// behind a real HTTPS listener.
type stack struct {
	t      *testing.T
	srv    *httptest.Server
	db     *database
	iss    *issuer.Issuer
	cfg    *config.Config
	tenant string
	domain string
	client *http.Client
}

const testPublicURL = "https://graphdir.test"

// openTestDatabase loads the configuration from env and opens its
// database for the rest of the test.
func openTestDatabase(t *testing.T, env map[string]string) (*config.Config, func(string) string, *database) {
	t.Helper()
	cfg, getenv, db := openStartupDatabase(t, env)
	// The pool serve uses (binary parameters, statement timeout), so the
	// tests run the statements the way production sends them.
	if err := db.reopenForServing(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return cfg, getenv, db
}

// openStartupDatabase is openTestDatabase before serve swaps in its
// serving pool: the pool that migrations and start-up use.
func openStartupDatabase(t *testing.T, env map[string]string) (*config.Config, func(string) string, *database) {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	cfg, err := config.Load(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	db, err := openDatabase(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return cfg, getenv, db
}

func newStack(t *testing.T) *stack {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":        pgtest.NewURL(t),
		"GRAPHDIR_PUBLIC_URL": testPublicURL,
		"GRAPHDIR_DOMAINS":    "graphdir.test,contoso.com",
	}
	cfg, getenv, db := openTestDatabase(t, env)
	ctx := context.Background()
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

func (s *stack) appToken(roles ...string) string {
	s.t.Helper()
	tok, err := s.iss.MintAppToken(context.Background(), s.tenant, uuid.NewString(), roles, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

func (s *stack) userToken(userID string, scopes ...string) string {
	s.t.Helper()
	tok, err := s.iss.MintUserToken(context.Background(), s.tenant, userID, uuid.NewString(), scopes, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// signedToken signs arbitrary claims with the tenant's real signing key, so
// tests can produce tokens that are valid in every way but one.
func (s *stack) signedToken(claims map[string]any, hdr map[string]any) string {
	s.t.Helper()
	keys, err := s.db.store.SigningKeys(context.Background(), s.tenant)
	if err != nil || len(keys) == 0 {
		s.t.Fatalf("signing keys: %v", err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(keys[0].PrivateDER)
	if err != nil {
		s.t.Fatal(err)
	}
	return signWith(s.t, priv.(*rsa.PrivateKey), keys[0].ID, claims, hdr)
}

func signWith(t *testing.T, priv *rsa.PrivateKey, kid string, claims map[string]any, hdr map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	headers := jws.NewHeaders()
	_ = headers.Set(jws.KeyIDKey, kid)
	_ = headers.Set(jws.TypeKey, "at+jwt")
	for k, v := range hdr {
		_ = headers.Set(k, v)
	}
	key, err := jwk.FromRaw(priv)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, key, jws.WithProtectedHeaders(headers)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// validClaims are the claims of a good app-only token; tests change one.
func (s *stack) validClaims(roles ...string) map[string]any {
	now := time.Now()
	app := uuid.NewString()
	return map[string]any{
		"iss": testPublicURL + "/" + s.tenant + "/v2.0", "aud": s.cfg.Audience, "sub": app, "oid": app,
		"azp": app, "tid": s.tenant, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": uuid.NewString(), "idtyp": "app", "roles": roles, "ver": "2.0",
	}
}

func otherKey(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// ErrorCode returns error.code of a Graph error envelope, after checking the
// envelope's shape.
func (r *response) ErrorCode(t *testing.T) string {
	t.Helper()
	m := r.JSON(t)
	e, ok := m["error"].(map[string]any)
	if !ok || len(m) != 1 {
		t.Fatalf("not a Graph error envelope: %s", r.Body)
	}
	inner, _ := e["innerError"].(map[string]any)
	if e["code"] == "" || e["message"] == "" || inner == nil || inner["request-id"] == "" || inner["date"] == nil {
		t.Fatalf("incomplete Graph error envelope: %s", r.Body)
	}
	if r.Header.Get("request-id") == "" {
		t.Fatalf("error response without request-id header")
	}
	return e["code"].(string)
}

func (s *stack) do(method, path, token string, body any, headers ...string) *response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	url := path
	if !strings.HasPrefix(path, "https://") {
		url = s.srv.URL + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return s.roundTrip(req)
}

// roundTrip sends req with the stack's client and reads the whole
// response.
func (s *stack) roundTrip(req *http.Request) *response {
	res, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// snapshot is a fingerprint of everything users-related in the database, to
// prove a rejected request wrote nothing.
func (s *stack) snapshot() string {
	s.t.Helper()
	var out string
	err := s.db.store.DB().QueryRowContext(context.Background(), `
		SELECT coalesce(md5(string_agg(u::text, '|' ORDER BY u.id)), '') ||
		       (SELECT coalesce(md5(string_agg(i::text, '|' ORDER BY i.user_id, i.issuer_assigned_id)), '') FROM user_identities i) ||
		       (SELECT coalesce(md5(string_agg(ra::text, '|' ORDER BY ra.tenant_id, ra.id)), '') FROM role_assignments ra) ||
		       (SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), '') FROM tenants t)
		FROM users u`).Scan(&out)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
