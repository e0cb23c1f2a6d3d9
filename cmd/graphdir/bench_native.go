package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/graphdir/graphdir/internal/bench"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/password"
)

// The native authentication scenario of `graphdir bench`: a password
// sign-in as the SDK makes it (oauth2/v2.0/initiate, /challenge, /token
// with grant_type=password, three HTTP requests), next to the argon2id
// ceiling in the same run.

// benchNativeName is the scenario's name (BENCH_SCENARIOS selects it).
const benchNativeName = "native password sign-in (initiate+challenge+token)"

// benchNativeAppSecret names the server secret that remembers the bench's
// native-auth application across runs.
const benchNativeAppSecret = "bench-native-app"

// benchNativeAppName is the native application's display name (the
// sign-in log shows it; the smoke test counts its sign-ins).
const benchNativeAppName = "graphdir bench native sign-in"

// nativeBench is the state of the native scenario, set up once.
type nativeBench struct {
	once  sync.Once
	err   error
	appID string
}

// setupNative registers (once per database) a public client enabled for
// native authentication, consented to the sign-in scopes. No user flow
// names it, so the default one applies: passwords, no MFA.
func (b *benchRun) setupNative(ctx context.Context) error {
	nb := &b.native
	nb.once.Do(func() {
		t := b.tenant.ID
		id, err := b.store.Secret(ctx, benchNativeAppSecret, func() ([]byte, error) {
			var access []directory.ResourceAccess
			for _, sc := range benchSignInScopes {
				id, ok := directory.DelegatedScopeID(sc)
				if !ok {
					return nil, fmt.Errorf("bench: no delegated scope %s", sc)
				}
				access = append(access, directory.ResourceAccess{ID: id, Type: "Scope"})
			}
			rra := []directory.RequiredResourceAccess{{ResourceAppID: directory.GraphResourceAppID, ResourceAccess: access}}
			all := "all"
			a, _, err := b.apps.OperatorRegisterApplication(ctx, t, benchNativeAppName, nil,
				directory.SignInInput{SPA: &[]string{"https://bench.graphdir.test/"}, RequiredResourceAccess: &rra,
					NativeAuthenticationAPIs: &directory.Nullable[string]{Value: &all}}, 0)
			if err != nil {
				return nil, err
			}
			return []byte(a.AppID), nil
		})
		if err != nil {
			nb.err = fmt.Errorf("bench: native application: %w", err)
			return
		}
		app, err := b.apps.ClientApplication(ctx, t, string(id))
		if err != nil {
			nb.err = fmt.Errorf("bench: native application %s: %w", id, err)
			return
		}
		if !app.NativeAuthEnabled() || !app.IsPublicClient() {
			nb.err = fmt.Errorf("bench: application %s is not a public client enabled for native authentication", id)
			return
		}
		nb.appID = app.AppID
	})
	return nb.err
}

// nativeSignInOps are the native scenario's two sides. graphdir: the
// SDK's three calls over loopback HTTP for a sampled user, with
// account protection, the flow's continuation tokens in PostgreSQL, the
// sign-in log and the tokens (access, ID, refresh) at the end. Raw: an
// argon2id verification alone, as for the in-process password sign-in.
func (b *benchRun) nativeSignInOps() (api, raw bench.Op) {
	base := b.base + "/" + b.tenant.ID
	api = func(ctx context.Context, w, seq int) error {
		u := b.pick(w, seq)
		types := "password redirect"
		m, err := b.nativePost(ctx, base+"/oauth2/v2.0/initiate", url.Values{"client_id": {b.native.appID}, "username": {u.Email}, "challenge_type": {types}})
		if err != nil {
			return err
		}
		m, err = b.nativePost(ctx, base+"/oauth2/v2.0/challenge", url.Values{"client_id": {b.native.appID}, "continuation_token": {m["continuation_token"]}, "challenge_type": {types}})
		if err != nil {
			return err
		}
		if m["challenge_type"] != "password" {
			return fmt.Errorf("native challenge answered %q, not password", m["challenge_type"])
		}
		m, err = b.nativePost(ctx, base+"/oauth2/v2.0/token", url.Values{"client_id": {b.native.appID}, "continuation_token": {m["continuation_token"]},
			"grant_type": {"password"}, "password": {benchPassword}, "scope": {benchRefreshScope}, "client_info": {"1"}})
		if err != nil {
			return err
		}
		if m["access_token"] == "" || m["id_token"] == "" || m["refresh_token"] == "" || m["client_info"] == "" {
			return fmt.Errorf("native token answer without access, ID or refresh token or client_info")
		}
		return nil
	}
	raw = func(ctx context.Context, w, seq int) error {
		return password.Verify(b.hash, benchPassword)
	}
	return api, raw
}

// nativePost sends one native authentication form and returns the
// answer's string fields; anything but 200 is an error.
func (b *benchRun) nativePost(ctx context.Context, target string, form url.Values) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	path := target[strings.LastIndexByte(target, '/')+1:]
	if resp.StatusCode != http.StatusOK {
		// Error answers carry no secret; the body says which step failed.
		return nil, fmt.Errorf("%w %d for native %s: %.300s", errStatus, resp.StatusCode, path, body)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("native %s: %w", path, err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out, nil
}
