package api

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/logtest"
)

const (
	tenantA = "11111111-1111-1111-1111-111111111111"
	tenantB = "22222222-2222-2222-2222-222222222222"
	meID    = "33333333-3333-3333-3333-333333333333"
)

// fakeVerifier maps bearer tokens to principals.
type fakeVerifier struct{}

var principals = map[string]*directory.Principal{
	"app-rw":    {Kind: directory.PrincipalApp, TenantID: tenantA, AppID: "app-1", Permissions: []string{directory.PermUserReadWriteAll}},
	"app-rw-b":  {Kind: directory.PrincipalApp, TenantID: tenantB, AppID: "app-2", Permissions: []string{directory.PermUserReadWriteAll}},
	"app-read":  {Kind: directory.PrincipalApp, TenantID: tenantA, AppID: "app-3", Permissions: []string{directory.PermUserReadAll}},
	"app-none":  {Kind: directory.PrincipalApp, TenantID: tenantA, AppID: "app-4"},
	"user-rw":   {Kind: directory.PrincipalUser, TenantID: tenantA, AppID: "app-5", UserID: meID, Permissions: []string{directory.PermUserReadWrite}},
	"user-none": {Kind: directory.PrincipalUser, TenantID: tenantA, AppID: "app-6", UserID: meID},
}

func (fakeVerifier) Verify(_ context.Context, authz []string) (*directory.Principal, error) {
	switch {
	case len(authz) == 0:
		return nil, directory.Errorf(directory.KindUnauthenticated, "Access token is empty.")
	case len(authz) > 1:
		return nil, directory.Errorf(directory.KindBadRequest, "Only one Authorization header is allowed.")
	}
	tok, ok := strings.CutPrefix(authz[0], "Bearer ")
	if !ok {
		return nil, directory.Errorf(directory.KindUnauthenticated, "Access token is empty.")
	}
	if p, ok := principals[tok]; ok {
		cp := *p
		return &cp, nil
	}
	return nil, directory.Errorf(directory.KindUnauthenticated, "CompactToken parsing failed with error code: 80049217")
}

// fakeUsers records calls and returns what the test set. It embeds
// Directory (nil) and overrides what the tests use; a route calling
// anything else panics, which the router answers 500.
type fakeUsers struct {
	Directory

	mu     sync.Mutex
	calls  []string
	key    string
	values map[string]any
	query  directory.ListQuery
	tenant string

	user  *directory.User
	page  *directory.Page
	count int64
	err   error
	panic bool
}

func (f *fakeUsers) record(ctx context.Context, call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if p := directory.PrincipalFrom(ctx); p != nil {
		f.tenant = p.TenantID
	}
	if f.panic {
		panic("secret internal state: db password hunter2")
	}
	return f.err
}

func (f *fakeUsers) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeUsers) GetUser(ctx context.Context, key string) (*directory.User, error) {
	f.key = key
	if err := f.record(ctx, "GetUser"); err != nil {
		return nil, err
	}
	return f.user, nil
}

func (f *fakeUsers) GetMe(ctx context.Context) (*directory.User, error) {
	if err := f.record(ctx, "GetMe"); err != nil {
		return nil, err
	}
	return f.user, nil
}

func (f *fakeUsers) ListUsers(ctx context.Context, q directory.ListQuery) (*directory.Page, error) {
	f.query = q
	if err := f.record(ctx, "ListUsers"); err != nil {
		return nil, err
	}
	if f.page == nil {
		return &directory.Page{}, nil
	}
	return f.page, nil
}

func (f *fakeUsers) CountUsers(ctx context.Context, q directory.ListQuery) (int64, error) {
	f.query = q
	if err := f.record(ctx, "CountUsers"); err != nil {
		return 0, err
	}
	return f.count, nil
}

func (f *fakeUsers) CreateUser(ctx context.Context, values map[string]any) (*directory.User, error) {
	f.values = values
	if err := f.record(ctx, "CreateUser"); err != nil {
		return nil, err
	}
	return f.user, nil
}

func (f *fakeUsers) UpdateUser(ctx context.Context, key string, values map[string]any) (*directory.User, error) {
	f.key, f.values = key, values
	if err := f.record(ctx, "UpdateUser"); err != nil {
		return nil, err
	}
	return f.user, nil
}

func (f *fakeUsers) UpdateMe(ctx context.Context, values map[string]any) (*directory.User, error) {
	f.values = values
	if err := f.record(ctx, "UpdateMe"); err != nil {
		return nil, err
	}
	return f.user, nil
}

func (f *fakeUsers) DeleteUser(ctx context.Context, key string) error {
	f.key = key
	return f.record(ctx, "DeleteUser")
}

// AuthorizeOperation checks the token's permissions alone: the fakes'
// principals hold no directory roles.
func (f *fakeUsers) AuthorizeOperation(ctx context.Context, op directory.Operation) error {
	return directory.Authorize(directory.PrincipalFrom(ctx), op)
}

// RecordDenied drops the event: the audit trail is directory's, tested there
// and end to end.
func (f *fakeUsers) RecordDenied(context.Context, directory.Activity, string, error) {}

// AuthorizeUserFlows decides from the token alone, as the Service does
// before it reads anything.
func (f *fakeUsers) AuthorizeUserFlows(ctx context.Context, write bool, _ directory.Activity, _ string) error {
	return directory.AuthorizeUserFlows(directory.PrincipalFrom(ctx), write)
}

// AuthorizeBranding decides from the token alone, as the Service does
// before it reads anything.
func (f *fakeUsers) AuthorizeBranding(ctx context.Context, write bool, _ directory.Activity, _ string) error {
	return directory.AuthorizeBranding(directory.PrincipalFrom(ctx), write)
}

// fakeApplications stands in for the applications service, which the
// tests of this package do not call.
type fakeApplications struct{ Applications }

type fakeIssuer struct{}

func (fakeIssuer) JWKS(_ context.Context, tenant string) ([]byte, error) {
	if tenant != tenantA {
		return nil, directory.Errorf(directory.KindNotFound, "Tenant '%s' not found.", tenant)
	}
	return []byte(`{"keys":[]}`), nil
}

func (fakeIssuer) Discovery(_ context.Context, tenant string) ([]byte, error) {
	if tenant != tenantA {
		return nil, directory.Errorf(directory.KindNotFound, "Tenant '%s' not found.", tenant)
	}
	return []byte(`{"issuer":"x"}`), nil
}

// testAPI is the real router over fakes, with its log captured.
type testAPI struct {
	h     http.Handler
	users *fakeUsers
	logs  *logtest.Buffer
}

func newTestAPI(t *testing.T, mod ...func(*Options)) *testAPI {
	t.Helper()
	a := &testAPI{users: &fakeUsers{user: sampleUser()}, logs: &logtest.Buffer{}}
	opts := Options{
		Directory:    a.users,
		Applications: fakeApplications{},
		Verifier:     fakeVerifier{},
		Issuer:       fakeIssuer{},
		Logger:       slog.New(slog.NewJSONHandler(a.logs, nil)),
		SkipTokenKey: []byte("test-key-0123456789abcdef"),
		MaxBodyBytes: 4096,
		Ready:        func(context.Context) error { return nil },
	}
	for _, m := range mod {
		m(&opts)
	}
	a.h = NewHandler(opts)
	return a
}

// request describes one call.
type request struct {
	method, target string
	token          string // Bearer token; "" sends no Authorization header
	header         map[string]string
	body           []byte
	unknownLength  bool // send the body without Content-Length (chunked)
}

func (a *testAPI) do(t *testing.T, r request) *httptest.ResponseRecorder {
	t.Helper()
	var body *bytes.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	} else {
		body = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(r.method, "http://graph.test:8080"+r.target, body)
	if r.unknownLength {
		req.ContentLength = -1
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, req)
	return w
}

func ptr[T any](v T) *T { return &v }

func sampleUser() *directory.User {
	return &directory.User{
		ID:                "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
		TenantID:          tenantA,
		BusinessPhones:    []string{"+1 425 555 0109"},
		DisplayName:       ptr("Adele \"AV\" Vance"),
		GivenName:         ptr("Adele"),
		Mail:              ptr("AdeleV@contoso.com"),
		UserPrincipalName: ptr("AdeleV@contoso.com"),
		AccountEnabled:    ptr(true),
	}
}

var errBoom = errors.New("pq: connection refused to 10.0.0.7")
