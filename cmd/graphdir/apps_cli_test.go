package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

func TestAppCLI(t *testing.T) {
	env := map[string]string{"DATABASE_URL": pgtest.NewURL(t), "GRAPHDIR_DOMAINS": "graphdir.test"}
	cli := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"app"}, args...), func(k string) string { return env[k] }, &out, io.Discard); err != nil {
			t.Fatalf("app %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	out := cli("create", "--name", "cli job", "--permissions", "user.read.all,Directory.Read.All")
	client := regexp.MustCompile(`client id:\s+(\S+)`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`client secret:\s+(\S{40})\n`).FindStringSubmatch(out)
	if client == nil || secret == nil || !strings.Contains(out, "Directory.Read.All User.Read.All") || !strings.Contains(out, "/oauth2/v2.0/token") {
		t.Fatalf("create output:\n%s", out)
	}
	if out := cli("list"); !strings.Contains(out, client[1]) || !strings.Contains(out, "cli job") || strings.Contains(out, secret[1]) {
		t.Fatalf("list output:\n%s", out)
	}
	out = cli("secret", "add", "--app", client[1], "--name", "second", "--days", "30")
	key := regexp.MustCompile(`secret key id:\s+(\S+)`).FindStringSubmatch(out)
	if key == nil {
		t.Fatalf("secret add output:\n%s", out)
	}
	cli("secret", "remove", "--app", client[1], "--key-id", key[1])
	if out := cli("grant", "--app", client[1], "--permissions", "User.ReadWrite.All"); !strings.Contains(out, "User.ReadWrite.All") || strings.Contains(out, "Directory.Read.All") {
		t.Fatalf("grant output:\n%s", out)
	}
	cli("delete", "--app", client[1])
	if out := cli("list"); strings.Contains(out, client[1]) {
		t.Fatalf("deleted app still listed:\n%s", out)
	}
	var errOut bytes.Buffer
	if err := run(context.Background(), []string{"app", "create", "--name", "x", "--permissions", "Mail.Send"}, func(k string) string { return env[k] }, io.Discard, &errOut); err == nil {
		t.Fatal("unknown permission accepted")
	}
}

func TestAppCLISignIn(t *testing.T) {
	env := map[string]string{"DATABASE_URL": pgtest.NewURL(t), "GRAPHDIR_DOMAINS": "graphdir.test"}
	cli := func(args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"app"}, args...), func(k string) string { return env[k] }, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	// A SPA: a public client, no secret, the sign-in scopes consented.
	out, err := cli("create", "--spa", "https://app.example/cb", "--spa", "http://localhost:5173/cb")
	if err != nil {
		t.Fatalf("create --spa: %v\n%s", err, out)
	}
	client := regexp.MustCompile(`client id:\s+(\S+)`).FindStringSubmatch(out)
	if client == nil || strings.Contains(out, "client secret") || !strings.Contains(out, "public client") ||
		!strings.Contains(out, `"app.example"`) || !strings.Contains(out, "redirect URI:   http://localhost:5173/cb (spa)") ||
		!strings.Contains(out, "scopes:         openid profile email offline_access User.Read") {
		t.Fatalf("create --spa output:\n%s", out)
	}
	// A web app with a logout URL and chosen scopes gets a secret.
	out, err = cli("create", "--name", "portal", "--web", "https://portal.example/signin-oidc", "--logout-url", "https://portal.example/bye",
		"--scopes", "openid api://graphdir/User.ReadWrite")
	if err != nil || !regexp.MustCompile(`client secret:\s+\S{40}\n`).MatchString(out) ||
		!strings.Contains(out, "logout URL:     https://portal.example/bye") || !strings.Contains(out, "scopes:         openid User.ReadWrite (") {
		t.Fatalf("create --web: %v\n%s", err, out)
	}
	// A legacy web app without PKCE; --no-pkce is refused without --web.
	out, err = cli("create", "--name", "legacy", "--web", "https://legacy.example/cb", "--no-pkce")
	if err != nil || !strings.Contains(out, "PKCE:           optional for web redirect URIs") {
		t.Fatalf("create --no-pkce: %v\n%s", err, out)
	}
	// A native app: custom scheme, native authentication on.
	out, err = cli("create", "--name", "mobile", "--public", "com.example.shop://auth", "--native-auth", "--scopes", "openid,offline_access")
	if err != nil || !strings.Contains(out, "native auth:    enabled") || strings.Contains(out, "client secret") ||
		!strings.Contains(out, "com.example.shop://auth (public client)") {
		t.Fatalf("create --native-auth: %v\n%s", err, out)
	}
	for _, bad := range [][]string{
		{"create", "--spa", "http://app.example/cb"},
		{"create", "--spa", "https://app.example/cb#x"},
		{"create", "--spa", "https://*.example/cb"},
		{"create", "--name", "x", "--web", "com.example://cb"},
		{"create", "--spa", "https://app.example/cb", "--scopes", "Mail.Send"},
		{"create", "--spa", "https://app.example/cb", "--scopes", "api://graphdir/.default"},
		{"create", "--native-auth"}, // no name and no URI to name it after
		{"create", "--spa", "https://app.example/cb", "--no-pkce"},
	} {
		if out, err := cli(bad...); err == nil {
			t.Errorf("%v accepted:\n%s", bad, out)
		}
	}
	if out, _ := cli("list"); strings.Count(out, "\n") != 5 {
		t.Fatalf("refused creates left applications behind:\n%s", out)
	}
}
