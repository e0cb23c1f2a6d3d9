package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/logtest"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// newServingStack is newStack with extra environment, the log captured and
// the handler behind a real listener configured exactly as serve does
// (timeouts, header limit).
func newServingStack(t *testing.T, extra map[string]string, logw io.Writer) (*stack, string) {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":        pgtest.NewURL(t),
		"GRAPHDIR_PUBLIC_URL": testPublicURL,
		"GRAPHDIR_DOMAINS":    "graphdir.test,contoso.com",
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, getenv, db := openTestDatabase(t, env)
	ctx := context.Background()
	if err := db.reopenForServing(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, iss, err := buildHandler(ctx, cfg, getenv, db, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config = newHTTPServer(cfg, h, log)
	srv.Start()
	t.Cleanup(srv.Close)
	return &stack{t: t, srv: srv, db: db, iss: iss, cfg: cfg, tenant: db.tenant.ID, domain: db.tenant.DefaultDomain,
		client: &http.Client{Timeout: 30 * time.Second}}, srv.Listener.Addr().String()
}

// TestSlowClientDoesNotTieUpTheServer sends headers a byte at a time, slower
// than ReadHeaderTimeout allows: the server drops the connection, and
// meanwhile serves normal requests promptly.
func TestSlowClientDoesNotTieUpTheServer(t *testing.T) {
	s, addr := newServingStack(t, map[string]string{"GRAPHDIR_READ_HEADER_TIMEOUT": "1s"}, io.Discard)
	const slowClients = 20
	closed := make(chan time.Duration, slowClients)
	for range slowClients {
		go func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				closed <- -1
				return
			}
			defer conn.Close()
			start := time.Now()
			req := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100) + "\r\n\r\n"
			for i := 0; i < len(req); i++ {
				if _, err := conn.Write([]byte{req[i]}); err != nil {
					closed <- time.Since(start)
					return
				}
				time.Sleep(200 * time.Millisecond)
				conn.SetReadDeadline(time.Now().Add(time.Millisecond))
				if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
					closed <- time.Since(start) // EOF: the server hung up
					return
				}
			}
			closed <- -2 // the whole request went through: not cut off
		}()
	}
	// Normal requests are served while the slow clients hang on.
	tok := s.appToken("User.Read.All")
	for range 10 {
		start := time.Now()
		if r := s.do("GET", "/v1.0/users?$top=1", tok, nil); r.Status != 200 {
			t.Fatalf("normal request during slow clients: %d", r.Status)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("normal request took %v", d)
		}
	}
	for range slowClients {
		select {
		case d := <-closed:
			if d < 0 || d > 10*time.Second {
				t.Fatalf("slow client was not disconnected by ReadHeaderTimeout (result %v)", d)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("slow client still connected")
		}
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestHeaderAndURLLimits: oversized headers are 431 from the HTTP server,
// an over-long URL a clear 414 from the API.
func TestHeaderAndURLLimits(t *testing.T) {
	s, addr := newServingStack(t, map[string]string{"GRAPHDIR_MAX_HEADER_BYTES": "8192", "GRAPHDIR_MAX_URL_BYTES": "2048"}, io.Discard)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n"))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB header: status %d, want 431", res.StatusCode)
	}

	tok := s.appToken("User.Read.All")
	r := s.do("GET", "/v1.0/users?$filter=displayName%20eq%20'"+strings.Repeat("a", 3000)+"'", tok, nil)
	if r.Status != http.StatusRequestURITooLong || s.tErrorCode(r) != "Request_UriTooLong" ||
		!strings.Contains(string(r.Body), "2048 bytes") {
		t.Fatalf("long URL: %d %s", r.Status, r.Body)
	}
}

func (s *stack) tErrorCode(r *response) string { return r.ErrorCode(s.t) }

// TestLogsNeverContainTokensOrPasswords runs requests that carry a bearer
// token and passwords (create with passwordProfile, a bad token, a password
// change) and scans every log line for them.
func TestLogsNeverContainTokensOrPasswords(t *testing.T) {
	logs := &logtest.Buffer{}
	s, _ := newServingStack(t, nil, logs)
	admin := s.appToken("User.ReadWrite.All")
	const password = "Str0ng!Passw0rd"
	body := customer(s.domain, "logcheck@example.com")
	r := s.do("POST", "/v1.0/users", admin, body)
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id, _ := r.JSON(t)["id"].(string)
	// A refused create with a password in the body, and a refused token.
	s.do("POST", "/v1.0/users", admin, map[string]any{"passwordProfile": map[string]any{"password": password + "X"}, "bogus": 1})
	s.do("GET", "/v1.0/users", admin+"tampered", nil)
	s.do("GET", "/v1.0/users", "", nil, "Authorization", "Basic "+password)
	// Self-service password change, where the API has it.
	user := s.userToken(id, "User.ReadWrite", "Directory.AccessAsUser.All")
	s.do("POST", "/v1.0/me/changePassword", user, map[string]any{"currentPassword": password, "newPassword": password + "-new2"})
	s.do("GET", "/v1.0/me", user, nil)

	out := logs.String()
	if !strings.Contains(out, `"msg":"request"`) {
		t.Fatalf("no access log captured:\n%s", out)
	}
	for name, secret := range map[string]string{
		"admin token": admin, "admin token signature": admin[strings.LastIndex(admin, ".")+1:],
		"user token": user, "password": password, "Authorization header": "Bearer ",
	} {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
}
