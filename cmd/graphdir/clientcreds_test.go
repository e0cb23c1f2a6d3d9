package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClientCredentialsWithOpenIDClient runs the client credentials flow
// end to end with openid-client from npm (pinned in
// testdata/graphjs/package-lock.json): OpenID discovery over HTTPS at the
// issuer, a token with client_secret_post and client_secret_basic, OAuth
// errors for a wrong secret and a foreign scope, then /users through the
// Graph JavaScript client with the token (allowed) and a user creation the
// app was not granted (403).
func TestClientCredentialsWithOpenIDClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed for the OAuth client test (install Node.js 20+)")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("npm is needed for the OAuth client test")
	}
	dir, err := filepath.Abs("../../testdata/graphjs")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, mod := range []string{"openid-client", filepath.Join("@microsoft", "microsoft-graph-client")} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", mod)); err != nil {
			cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("npm ci: %v\n%s", err, out)
			}
			break
		}
	}

	s, logs := newPublicStack(t)
	app, secret := s.provision("js job", "User.Read.All")
	certFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, "clientcreds.mjs", s.iss.IssuerURL(s.tenant), app.AppID, secret,
		s.cfg.Audience+"/.default", s.srv.URL)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+certFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openid-client flow: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res struct {
		ExpiresIn   int      `json:"expiresIn"`
		Roles       []string `json:"roles"`
		Basic       bool     `json:"basic"`
		WrongSecret string   `json:"wrongSecret"`
		WrongScope  string   `json:"wrongScope"`
		Users       *int     `json:"users"`
		Denied      string   `json:"denied"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("unexpected client output: %s", out)
	}
	if res.ExpiresIn != 3599 || len(res.Roles) != 1 || res.Roles[0] != "User.Read.All" || !res.Basic ||
		res.WrongSecret != "invalid_client" || res.WrongScope != "invalid_scope" || res.Users == nil ||
		res.Denied != "Authorization_RequestDenied" {
		t.Fatalf("client results: %+v (%s)", res, out)
	}
	t.Logf("openid-client: %s", lines[len(lines)-1])
	if strings.Contains(logs.String(), secret) {
		t.Fatal("the client secret reached the log")
	}
}
