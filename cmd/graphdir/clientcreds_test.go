package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestClientCredentialsWithOpenIDClient runs the client credentials flow
// end to end with openid-client from npm (pinned in
// testdata/graphjs/package-lock.json): OpenID discovery over HTTPS at the
// issuer, a token with client_secret_post and client_secret_basic, OAuth
// errors for a wrong secret and a foreign scope, then /users through the
// Graph JavaScript client with the token (allowed) and a user creation the
// app was not granted (403).
func TestClientCredentialsWithOpenIDClient(t *testing.T) {
	s, logs := newPublicStack(t)
	app, secret := s.provision("js job", "User.Read.All")
	last := runGraphJS(t, s, "clientcreds.mjs", s.iss.IssuerURL(s.tenant), app.AppID, secret,
		s.cfg.Audience+"/.default", s.srv.URL)
	var res struct {
		ExpiresIn   int      `json:"expiresIn"`
		Roles       []string `json:"roles"`
		Basic       bool     `json:"basic"`
		WrongSecret string   `json:"wrongSecret"`
		WrongScope  string   `json:"wrongScope"`
		Users       *int     `json:"users"`
		Denied      string   `json:"denied"`
	}
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		t.Fatalf("unexpected client output: %s", last)
	}
	if res.ExpiresIn != 3599 || len(res.Roles) != 1 || res.Roles[0] != "User.Read.All" || !res.Basic ||
		res.WrongSecret != "invalid_client" || res.WrongScope != "invalid_scope" || res.Users == nil ||
		res.Denied != "Authorization_RequestDenied" {
		t.Fatalf("client results: %+v (%s)", res, last)
	}
	t.Logf("openid-client: %s", last)
	if strings.Contains(logs.String(), secret) {
		t.Fatal("the client secret reached the log")
	}
}
