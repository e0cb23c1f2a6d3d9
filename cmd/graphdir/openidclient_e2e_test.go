package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOpenIDClient_ConfidentialWebApp: openid-client 6.8.9 (npm, pinned in
// testdata/openidclient/package-lock.json), the strict relying party,
// unmodified, as a confidential web app over TLS: discovery, an
// authorization URL with PKCE, nonce and state; the Go test is the user on
// the hosted sign-in page; then the library validates the callback (iss
// per RFC 9207, state), exchanges the code (PKCE, nonce), checks the ID
// token, calls userinfo, refreshes and revokes. Once with
// client_secret_basic and once with client_secret_post.
func TestOpenIDClient_ConfidentialWebApp(t *testing.T) {
	f := newOIDCFix(t)
	dir, err := filepath.Abs("../../testdata/openidclient")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	npmCI(ctx, t, dir, "openid-client")
	ca := writeServerCA(t, f.s)
	issuer := f.s.iss.IssuerURL(f.s.tenant)
	node := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "node", append([]string{"rp.mjs"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), append(env, "NODE_EXTRA_CA_CERTS="+ca, "CLIENT_SECRET="+f.webSecret)...)
		out, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("node rp.mjs %s: %v\n%s%s", args[0], err, out, stderr)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return lines[len(lines)-1]
	}
	for _, auth := range []string{"client_secret_basic", "client_secret_post"} {
		t.Run(auth, func(t *testing.T) {
			var start struct {
				URL, State, Nonce, Verifier string
				PKCE                        bool
			}
			if err := json.Unmarshal([]byte(node(nil, "start", issuer, f.web.AppID, fixWebRedirect, auth)), &start); err != nil {
				t.Fatal(err)
			}
			if !start.PKCE || !strings.HasPrefix(start.URL, f.s.srv.URL+"/"+f.s.tenant+"/oauth2/v2.0/authorize?") {
				t.Fatalf("start: %+v", start)
			}
			b := f.s.newBrowser()
			p := b.get(start.URL)
			if p.status != http.StatusOK {
				t.Fatalf("authorize: %d %s", p.status, p.body)
			}
			cb, q := location(t, b.signIn(p, fixUser, fixPassword))
			if q.Get("code") == "" || !strings.HasPrefix(cb.String(), fixWebRedirect+"?") {
				t.Fatalf("callback %s", cb)
			}
			var res struct {
				WrongState, MissingIss, TokenType, Sub, Aud, Nonce, Iss string
				HasAuthTime                                             bool
				UserinfoSub, Email, RefreshedSub                        string
				RefreshRotated                                          bool
				Replay, AfterRevoke                                     string
			}
			line := node([]string{"STATE=" + start.State, "NONCE=" + start.Nonce, "VERIFIER=" + start.Verifier},
				"finish", issuer, f.web.AppID, fixWebRedirect, auth, cb.String())
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				t.Fatalf("finish: %s", line)
			}
			sub := strings.ToLower(f.user.ID)
			if res.WrongState != "OAUTH_INVALID_RESPONSE" || res.MissingIss != "OAUTH_INVALID_RESPONSE" ||
				res.TokenType != "bearer" || res.Sub != sub || res.Aud != f.web.AppID || res.Nonce != start.Nonce || res.Iss != issuer ||
				!res.HasAuthTime || res.UserinfoSub != sub || res.Email != fixUser || res.RefreshedSub != sub || !res.RefreshRotated ||
				res.Replay != "invalid_grant" || res.AfterRevoke != "invalid_grant" {
				t.Fatalf("openid-client: %s", line)
			}
		})
	}
}
