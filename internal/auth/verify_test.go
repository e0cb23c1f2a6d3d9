package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/graphdir/graphdir/internal/auth"
	"github.com/graphdir/graphdir/internal/directory"
)

func bearer(tok string) []string { return []string{"Bearer " + tok} }

func TestVerifyAccepts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	appTok, err := f.iss.MintAppToken(ctx, tenant, appID, []string{"User.Read.All", "User.ReadWrite.All"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	userTok, err := f.iss.MintUserToken(ctx, tenant, userID, appID, []string{"User.Read", "User.ReadWrite"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	app := &directory.Principal{Kind: directory.PrincipalApp, TenantID: tenant, AppID: appID, Permissions: []string{"User.Read.All", "User.ReadWrite.All"}}
	user := &directory.Principal{Kind: directory.PrincipalUser, TenantID: tenant, AppID: appID, UserID: userID, Permissions: []string{"User.Read", "User.ReadWrite"}}
	appOne := &directory.Principal{Kind: directory.PrincipalApp, TenantID: tenant, AppID: appID, Permissions: []string{"User.Read.All"}}

	cases := []struct {
		name  string
		authz []string
		want  *directory.Principal
	}{
		{"minted app token", bearer(appTok), app},
		{"minted user token", bearer(userTok), user},
		{"lowercase bearer", []string{"bearer " + appTok}, app},
		{"upper-case BEARER", []string{"BEARER " + appTok}, app},
		{"typ application/at+jwt", bearer(f.sign(with(f.header(), "typ", "application/AT+JWT"), appClaims())), appOne},
		{"aud as one-element array", bearer(f.sign(f.header(), with(appClaims(), "aud", []string{audience}))), appOne},
		{"expired within skew", bearer(f.sign(f.header(), with(appClaims(), "exp", now.Add(-time.Minute).Unix(), "iat", now.Add(-time.Hour).Unix()))), appOne},
		{"scp and roles: delegated, roles are the user's",
			bearer(f.sign(f.header(), with(userClaims(), "idtyp", nil, "roles", []string{"Admin"}, "amr", []string{"pwd", "mfa"}))),
			&directory.Principal{Kind: directory.PrincipalUser, TenantID: tenant, AppID: appID, UserID: userID,
				Permissions: []string{"User.Read", "User.ReadWrite"}, Roles: []string{"Admin"}, AMR: []string{"pwd", "mfa"}}},
		{"legacy app token (no idtyp, oid == sub)", bearer(f.sign(f.header(), with(appClaims(), "idtyp", nil))), appOne},
		{"v1 appid only", bearer(f.sign(f.header(), with(appClaims(), "azp", nil))), appOne},
		{"upper-case oid is normalised", bearer(f.sign(f.header(), with(userClaims(), "oid", strings.ToUpper(userID)))), user},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.v.Verify(ctx, tc.authz)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if got.Kind != tc.want.Kind || got.TenantID != tc.want.TenantID || got.AppID != tc.want.AppID || got.UserID != tc.want.UserID ||
				!slices.Equal(got.Permissions, tc.want.Permissions) || !slices.Equal(got.Roles, tc.want.Roles) || !slices.Equal(got.AMR, tc.want.AMR) {
				t.Errorf("principal = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	f := newFixture(t)
	good := f.sign(f.header(), appClaims())
	parts := strings.Split(good, ".")

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tamperedPayload := parts[0] + "." + b64(mustJSON(with(appClaims(), "roles", []string{"Directory.ReadWrite.All"}))) + "." + parts[2]
	sig := []byte(parts[2])
	if sig[0] == 'A' {
		sig[0] = 'B'
	} else {
		sig[0] = 'A'
	}
	tamperedSig := parts[0] + "." + parts[1] + "." + string(sig)
	unknownTenant := "33333333-2222-3333-4444-555555555555"
	hdrB := b64(mustJSON(f.header()))

	const (
		invalid = auth.MsgInvalidToken
		empty   = auth.MsgEmptyToken
	)
	un, forbidden, bad := directory.KindUnauthenticated, directory.KindForbidden, directory.KindBadRequest

	cases := []struct {
		name   string
		authz  []string
		kind   directory.Kind
		msg    string
		reason auth.Reason
	}{
		// A. transport
		{"no header", nil, un, empty, auth.ReasonMissing},
		{"empty header", []string{""}, un, empty, auth.ReasonMissing},
		{"Bearer without token", []string{"Bearer"}, un, empty, auth.ReasonMissing},
		{"Bearer and a space", []string{"Bearer "}, un, empty, auth.ReasonMissing},
		{"Basic scheme", []string{"Basic dXNlcjpwYXNz"}, un, empty, auth.ReasonUnsupportedScheme},
		{"bare token, no scheme", []string{good}, un, empty, auth.ReasonUnsupportedScheme},
		{"two spaces", []string{"Bearer  " + good}, un, invalid, auth.ReasonMalformedHeader},
		{"trailing junk", []string{"Bearer " + good + " x"}, un, invalid, auth.ReasonMalformedHeader},
		{"two headers", []string{"Bearer " + good, "Bearer " + good}, bad, auth.MsgTwoHeaders, auth.ReasonMultipleHeaders},
		{"token too long", bearer(good + "." + strings.Repeat("a", auth.MaxTokenLength)), un, invalid, auth.ReasonTooLong},

		// B. shape and encoding
		{"JWE five segments", bearer("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"), un, invalid, auth.ReasonEncrypted},
		{"JSON serialization", bearer(`{"payload":"` + parts[1] + `","signatures":[]}`), un, invalid, auth.ReasonMalformedHeader},
		{"two segments", bearer(parts[0] + "." + parts[1]), un, invalid, auth.ReasonNotCompact},
		{"four segments", bearer(good + ".x"), un, invalid, auth.ReasonNotCompact},
		{"empty signature", bearer(parts[0] + "." + parts[1] + "."), un, invalid, auth.ReasonNotCompact},
		{"empty payload", bearer(parts[0] + ".." + parts[2]), un, invalid, auth.ReasonNotCompact},
		{"empty header", bearer("." + parts[1] + "." + parts[2]), un, invalid, auth.ReasonNotCompact},
		{"padding inside the token", bearer(parts[0] + "=." + parts[1] + "." + parts[2]), un, invalid, auth.ReasonMalformedHeader},
		{"padded signature", bearer(good + "="), un, invalid, auth.ReasonEncoding},
		{"standard base64 alphabet", bearer(parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+/"), un, invalid, auth.ReasonEncoding},
		{"invalid UTF-8 in payload", bearer(signRaw(f.priv, mustJSON(f.header()), []byte(strings.Replace(string(mustJSON(appClaims())), `"ver":"2.0"`, "\"ver\":\"2.0\xff\"", 1)))), un, invalid, auth.ReasonEncoding},
		{"invalid UTF-8 in header", bearer(signRaw(f.priv, []byte("{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\""+f.kid+"\",\"x\":\"\xc3\"}"), mustJSON(appClaims()))), un, invalid, auth.ReasonEncoding},
		{"duplicate claim", bearer(signRaw(f.priv, mustJSON(f.header()), []byte(strings.Replace(string(mustJSON(appClaims())), `"aud":`, `"aud":"api://other","aud":`, 1)))), un, invalid, auth.ReasonEncoding},
		{"duplicate header alg", bearer(signRaw(f.priv, []byte(`{"alg":"none","alg":"RS256","typ":"at+jwt","kid":"`+f.kid+`"}`), mustJSON(appClaims()))), un, invalid, auth.ReasonEncoding},
		{"payload not an object", bearer(signRaw(f.priv, mustJSON(f.header()), []byte(`[1]`))), un, invalid, auth.ReasonEncoding},
		{"trailing data after payload", bearer(signRaw(f.priv, mustJSON(f.header()), append(mustJSON(appClaims()), []byte(" {}")...))), un, invalid, auth.ReasonEncoding},

		// B. header, algorithm and key attacks
		{"alg none, empty signature", bearer(b64(mustJSON(with(f.header(), "alg", "none"))) + "." + parts[1] + "."), un, invalid, auth.ReasonNotCompact},
		{"alg none with a signature", bearer(b64(mustJSON(with(f.header(), "alg", "none"))) + "." + parts[1] + "." + parts[2]), un, invalid, auth.ReasonAlgorithm},
		{"alg rs256 lower case", bearer(f.sign(with(f.header(), "alg", "rs256"), appClaims())), un, invalid, auth.ReasonAlgorithm},
		{"alg PS256", bearer(f.sign(with(f.header(), "alg", "PS256"), appClaims())), un, invalid, auth.ReasonAlgorithm},
		{"HS256 keyed with the RSA public key", bearer(f.hs256WithPublicKey(appClaims())), un, invalid, auth.ReasonAlgorithm},
		{"tampered payload", bearer(tamperedPayload), un, invalid, auth.ReasonSignature},
		{"tampered signature", bearer(tamperedSig), un, invalid, auth.ReasonSignature},
		{"signature of another token", bearer(parts[0] + "." + parts[1] + "." + strings.Split(f.sign(f.header(), userClaims()), ".")[2]), un, invalid, auth.ReasonSignature},
		{"unknown kid", bearer(f.sign(with(f.header(), "kid", "nope"), appClaims())), un, invalid, auth.ReasonUnknownKey},
		{"missing kid", bearer(f.sign(with(f.header(), "kid", nil), appClaims())), un, invalid, auth.ReasonKeyID},
		{"empty kid", bearer(f.sign(with(f.header(), "kid", ""), appClaims())), un, invalid, auth.ReasonKeyID},
		{"kid too long", bearer(f.sign(with(f.header(), "kid", strings.Repeat("k", 129)), appClaims())), un, invalid, auth.ReasonKeyID},
		{"kid not a string", bearer(f.sign(with(f.header(), "kid", 7), appClaims())), un, invalid, auth.ReasonKeyID},
		{"kid with path", bearer(f.sign(with(f.header(), "kid", "../../etc/passwd\n"), appClaims())), un, invalid, auth.ReasonKeyID},
		{"jku header", bearer(f.sign(with(f.header(), "jku", "https://evil.test/keys"), appClaims())), un, invalid, auth.ReasonForbiddenHeader},
		{"x5u header", bearer(f.sign(with(f.header(), "x5u", "https://evil.test/cert"), appClaims())), un, invalid, auth.ReasonForbiddenHeader},
		{"jwk header", bearer(f.sign(with(f.header(), "jwk", map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}), appClaims())), un, invalid, auth.ReasonForbiddenHeader},
		{"x5c header", bearer(f.sign(with(f.header(), "x5c", []string{"MIIB"}), appClaims())), un, invalid, auth.ReasonForbiddenHeader},
		{"crit header", bearer(f.sign(with(f.header(), "crit", []string{"exp"}), appClaims())), un, invalid, auth.ReasonForbiddenHeader},
		{"b64 header", bearer(f.sign(with(f.header(), "b64", false), appClaims())), un, invalid, auth.ReasonForbiddenHeader},
		{"cty JWT (nesting)", bearer(f.sign(with(f.header(), "cty", "JWT"), appClaims())), un, invalid, auth.ReasonForbiddenHeader},
		{"typ JWT when at+jwt required", bearer(f.sign(with(f.header(), "typ", "JWT"), appClaims())), un, invalid, auth.ReasonType},
		{"typ missing", bearer(f.sign(with(f.header(), "typ", nil), appClaims())), un, invalid, auth.ReasonType},
		{"signed by another key with the same kid", bearer(signRaw(other, mustJSON(f.header()), mustJSON(appClaims()))), un, invalid, auth.ReasonSignature},
		{"signed by a 1024-bit key with the same kid", bearer(signRaw(short, mustJSON(f.header()), mustJSON(appClaims()))), un, invalid, auth.ReasonSignature},
		{"other tenant's iss, this tenant's kid", bearer(f.sign(f.header(), with(appClaims(), "iss", publicURL+"/"+otherTen+"/v2.0", "tid", otherTen))), un, invalid, auth.ReasonUnknownKey},
		{"unknown tenant", bearer(f.sign(f.header(), with(appClaims(), "iss", publicURL+"/"+unknownTenant+"/v2.0", "tid", unknownTenant))), un, invalid, auth.ReasonUnknownKey},

		// C. registered claims
		{"expired", bearer(f.sign(f.header(), with(appClaims(), "exp", now.Add(-3*time.Minute).Unix(), "iat", now.Add(-time.Hour).Unix()))), un, invalid, auth.ReasonExpired},
		{"nbf in the future", bearer(f.sign(f.header(), with(appClaims(), "nbf", now.Add(5*time.Minute).Unix()))), un, invalid, auth.ReasonNotYetValid},
		{"iat in the future", bearer(f.sign(f.header(), with(appClaims(), "iat", now.Add(5*time.Minute).Unix()))), un, invalid, auth.ReasonIssuedAt},
		{"missing exp", bearer(f.sign(f.header(), with(appClaims(), "exp", nil))), un, invalid, auth.ReasonMissingClaim},
		{"missing iat", bearer(f.sign(f.header(), with(appClaims(), "iat", nil))), un, invalid, auth.ReasonMissingClaim},
		{"exp 0", bearer(f.sign(f.header(), with(appClaims(), "exp", 0))), un, invalid, auth.ReasonExpired},
		{"exp negative", bearer(f.sign(f.header(), with(appClaims(), "exp", -1))), un, invalid, auth.ReasonClaimType},
		{"nbf as a string", bearer(f.sign(f.header(), with(appClaims(), "nbf", "2020-01-01T00:00:00Z"))), un, invalid, auth.ReasonClaimType},
		{"exp as a string", bearer(f.sign(f.header(), with(appClaims(), "exp", "1900000000"))), un, invalid, auth.ReasonClaimType},
		{"lifetime over 28h", bearer(f.sign(f.header(), with(appClaims(), "iat", now.Add(-time.Hour).Unix(), "exp", now.Add(28*time.Hour).Unix()))), un, invalid, auth.ReasonLifetime},
		{"missing iss", bearer(f.sign(f.header(), with(appClaims(), "iss", nil))), un, invalid, auth.ReasonMissingClaim},
		{"wrong iss host", bearer(f.sign(f.header(), with(appClaims(), "iss", "https://evil.test/"+tenant+"/v2.0"))), un, invalid, auth.ReasonUnknownIssuer},
		{"iss with trailing slash", bearer(f.sign(f.header(), with(appClaims(), "iss", publicURL+"/"+tenant+"/v2.0/"))), un, invalid, auth.ReasonUnknownIssuer},
		{"iss tenant upper case", bearer(f.sign(f.header(), with(appClaims(), "iss", publicURL+"/"+strings.ToUpper(tenant)+"/v2.0", "tid", strings.ToUpper(tenant)))), un, invalid, auth.ReasonUnknownIssuer},
		{"non-GUID tenant in iss", bearer(f.sign(f.header(), with(appClaims(), "iss", publicURL+"/../../../../etc/pass/v2.0"))), un, invalid, auth.ReasonUnknownIssuer},
		{"wrong aud", bearer(f.sign(f.header(), with(appClaims(), "aud", "https://graph.microsoft.com"))), un, invalid, auth.ReasonAudience},
		{"aud list of others", bearer(f.sign(f.header(), with(appClaims(), "aud", []string{"api://other", "api://another"}))), un, invalid, auth.ReasonAudience},
		{"aud list with ours and another", bearer(f.sign(f.header(), with(appClaims(), "aud", []string{audience, "api://other"}))), un, invalid, auth.ReasonAudience},
		{"aud missing", bearer(f.sign(f.header(), with(appClaims(), "aud", nil))), un, invalid, auth.ReasonAudience},
		{"tid mismatch", bearer(f.sign(f.header(), with(appClaims(), "tid", otherTen))), un, invalid, auth.ReasonTenant},
		{"tid missing", bearer(f.sign(f.header(), with(appClaims(), "tid", nil))), un, invalid, auth.ReasonMissingClaim},
		{"ver 1.0", bearer(f.sign(f.header(), with(appClaims(), "ver", "1.0"))), un, invalid, auth.ReasonVersion},
		{"sub missing", bearer(f.sign(f.header(), with(appClaims(), "sub", nil))), un, invalid, auth.ReasonMissingClaim},
		{"ID token with nonce", bearer(f.sign(f.header(), with(userClaims(), "nonce", "n-0S6_WzA2Mj"))), un, invalid, auth.ReasonIDToken},
		{"ID token with at_hash", bearer(f.sign(f.header(), with(userClaims(), "at_hash", "77QmUPtjPfzWtF2AnpK9RQ"))), un, invalid, auth.ReasonIDToken},
		{"ID token with c_hash", bearer(f.sign(f.header(), with(userClaims(), "c_hash", "LDktKdoQak3Pk0cnXxCltA"))), un, invalid, auth.ReasonIDToken},

		// D. token kind and permissions
		{"scp not a string", bearer(f.sign(f.header(), with(userClaims(), "scp", []string{"User.Read"}))), un, invalid, auth.ReasonClaimType},
		{"scp null", bearer(f.sign(f.header(), with(userClaims(), "scp", map[string]any(nil)))), un, invalid, auth.ReasonClaimType},
		{"scp with double space", bearer(f.sign(f.header(), with(userClaims(), "scp", "User.Read  User.ReadWrite"))), un, invalid, auth.ReasonClaimType},
		{"roles not an array", bearer(f.sign(f.header(), with(appClaims(), "roles", "User.Read.All"))), un, invalid, auth.ReasonClaimType},
		{"roles holding a number", bearer(f.sign(f.header(), with(appClaims(), "roles", []any{"User.Read.All", 1}))), un, invalid, auth.ReasonClaimType},
		{"idtyp not a string", bearer(f.sign(f.header(), with(appClaims(), "idtyp", true))), un, invalid, auth.ReasonClaimType},
		{"idtyp app with scp", bearer(f.sign(f.header(), with(appClaims(), "scp", "User.Read"))), un, invalid, auth.ReasonInconsistentKind},
		{"idtyp unknown", bearer(f.sign(f.header(), with(appClaims(), "idtyp", "device"))), un, invalid, auth.ReasonInconsistentKind},
		{"idtyp user without scp", bearer(f.sign(f.header(), with(userClaims(), "scp", nil, "roles", []string{"User.Read.All"}))), forbidden, "Insufficient privileges to complete the operation.", auth.ReasonNoPermissions},
		{"no scp and no roles", bearer(f.sign(f.header(), with(appClaims(), "idtyp", nil, "roles", nil))), forbidden, "Insufficient privileges to complete the operation.", auth.ReasonNoPermissions},
		{"app token with empty roles", bearer(f.sign(f.header(), with(appClaims(), "roles", []string{}))), forbidden, "Insufficient privileges to complete the operation.", auth.ReasonNoPermissions},
		{"legacy roles token with oid != sub", bearer(f.sign(f.header(), with(appClaims(), "idtyp", nil, "oid", userID))), un, invalid, auth.ReasonInconsistentKind},
		{"legacy roles token with upn", bearer(f.sign(f.header(), with(appClaims(), "idtyp", nil, "upn", "a@b.test"))), un, invalid, auth.ReasonInconsistentKind},
		{"azp and appid disagree", bearer(f.sign(f.header(), with(appClaims(), "appid", "someone-else"))), un, invalid, auth.ReasonInconsistentKind},
		{"no client id", bearer(f.sign(f.header(), with(appClaims(), "azp", nil, "appid", nil))), un, invalid, auth.ReasonMissingClaim},
		{"delegated without oid", bearer(f.sign(f.header(), with(userClaims(), "oid", nil))), un, invalid, auth.ReasonMissingClaim},
		{"delegated oid not a GUID", bearer(f.sign(f.header(), with(userClaims(), "oid", "admin"))), un, invalid, auth.ReasonMissingClaim},
		{"json header segment garbage", bearer(b64([]byte("not json")) + "." + parts[1] + "." + parts[2]), un, invalid, auth.ReasonEncoding},
		{"header is base64 of nothing useful", bearer(hdrB[:len(hdrB)-2] + "." + parts[1] + "." + parts[2]), un, invalid, auth.ReasonEncoding},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.v.Verify(context.Background(), tc.authz)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			var e *directory.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not a *directory.Error: %v", err, err)
			}
			if e.Kind != tc.kind || e.Message != tc.msg {
				t.Errorf("got kind %v message %q, want %v %q", e.Kind, e.Message, tc.kind, tc.msg)
			}
			if got := auth.ReasonOf(err); got != tc.reason {
				t.Errorf("reason %q, want %q (%v)", got, tc.reason, err)
			}
			if p != nil {
				t.Error("principal returned with an error")
			}
		})
	}
}

// The test above pins exact reasons; this pins the promise that matters to
// clients: one message for every bad token, whatever the reason.
func TestVerifyOneMessageForEveryBadToken(t *testing.T) {
	f := newFixture(t)
	for _, authz := range [][]string{
		bearer(f.sign(with(f.header(), "kid", "nope"), appClaims())),
		bearer(f.sign(f.header(), with(appClaims(), "exp", 0))),
		bearer(f.sign(f.header(), with(appClaims(), "aud", "x"))),
		bearer("a.b.c"),
	} {
		_, err := f.v.Verify(context.Background(), authz)
		var e *directory.Error
		if !errors.As(err, &e) || e.Message != auth.MsgInvalidToken || e.Kind != directory.KindUnauthenticated {
			t.Errorf("%v", err)
		}
		if !strings.Contains(auth.Challenge(err), `error="invalid_token"`) {
			t.Errorf("challenge %q", auth.Challenge(err))
		}
	}
}

type failingKeys struct{}

func (failingKeys) Key(context.Context, string, string) (jwk.Key, error) {
	return nil, errors.New("database is down")
}

func TestKeySourceFailureIsUnavailableNotUnauthenticated(t *testing.T) {
	f := newFixture(t)
	v, err := auth.NewVerifier(auth.Config{Issuers: []auth.TrustedIssuer{auth.Builtin(publicURL, []string{audience}, failingKeys{})}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), bearer(f.sign(f.header(), appClaims())))
	if directory.KindOf(err) != directory.KindUnavailable || auth.ReasonOf(err) != auth.ReasonKeysUnavailable {
		t.Errorf("got %v", err)
	}
}

// An Entra-style issuer accepts typ JWT; the ID-token rules must still hold.
func TestConfigurableTyp(t *testing.T) {
	f := newFixture(t)
	ti := auth.Builtin(publicURL, []string{audience}, f.iss)
	ti.AcceptedTypes = []string{"JWT"}
	v, err := auth.NewVerifier(auth.Config{Issuers: []auth.TrustedIssuer{ti}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), bearer(f.sign(with(f.header(), "typ", "JWT"), appClaims()))); err != nil {
		t.Errorf("typ JWT refused: %v", err)
	}
	if _, err := v.Verify(context.Background(), bearer(f.sign(with(f.header(), "typ", "at+jwt"), appClaims()))); auth.ReasonOf(err) != auth.ReasonType {
		t.Errorf("typ at+jwt with JWT-only issuer: %v", err)
	}
	if _, err := v.Verify(context.Background(), bearer(f.sign(with(f.header(), "typ", "JWT"), with(userClaims(), "nonce", "x")))); auth.ReasonOf(err) != auth.ReasonIDToken {
		t.Errorf("ID token: %v", err)
	}
}

func TestSkewIsConfigurable(t *testing.T) {
	f := newFixture(t)
	v, err := auth.NewVerifier(auth.Config{
		Issuers: []auth.TrustedIssuer{auth.Builtin(publicURL, []string{audience}, f.iss)},
		Skew:    time.Second, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := f.sign(f.header(), with(appClaims(), "exp", now.Add(-time.Minute).Unix(), "iat", now.Add(-time.Hour).Unix()))
	if _, err := v.Verify(context.Background(), bearer(tok)); auth.ReasonOf(err) != auth.ReasonExpired {
		t.Errorf("expired a minute ago with 1s skew: %v", err)
	}
}

func TestNewVerifierRefusesBadConfig(t *testing.T) {
	f := newFixture(t)
	for name, cfg := range map[string]auth.Config{
		"no issuers":        {},
		"no audiences":      {Issuers: []auth.TrustedIssuer{auth.Builtin(publicURL, nil, f.iss)}},
		"no keys":           {Issuers: []auth.TrustedIssuer{auth.Builtin(publicURL, []string{audience}, nil)}},
		"fixed w/o tenant":  {Issuers: []auth.TrustedIssuer{{Issuer: "https://x.test", Audiences: []string{audience}, Keys: f.iss}}},
		"two placeholders":  {Issuers: []auth.TrustedIssuer{{Issuer: "https://x.test/{tenantid}/{tenantid}", Audiences: []string{audience}, Keys: f.iss}}},
		"negative skew":     {Issuers: []auth.TrustedIssuer{auth.Builtin(publicURL, []string{audience}, f.iss)}, Skew: -time.Second},
		"templated + fixed": {Issuers: []auth.TrustedIssuer{{Issuer: publicURL + "/{tenantid}/v2.0", TenantID: tenant, Audiences: []string{audience}, Keys: f.iss}}},
	} {
		if _, err := auth.NewVerifier(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A single-tenant issuer (the shape issue 4's external issuers take) pins
// the tenant from configuration rather than from iss.
func TestFixedIssuer(t *testing.T) {
	f := newFixture(t)
	iss := publicURL + "/" + tenant + "/v2.0"
	v, err := auth.NewVerifier(auth.Config{
		Issuers: []auth.TrustedIssuer{{Name: "fixed", Issuer: iss, TenantID: tenant, Audiences: []string{audience}, Keys: f.iss}},
		Now:     func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Verify(context.Background(), bearer(f.sign(f.header(), appClaims()))); err != nil || p.TenantID != tenant {
		t.Errorf("%+v %v", p, err)
	}
	if _, err := v.Verify(context.Background(), bearer(f.sign(f.header(), with(appClaims(), "tid", otherTen)))); auth.ReasonOf(err) != auth.ReasonTenant {
		t.Errorf("tid mismatch: %v", err)
	}
}
