package issuer_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
)

// TestVerifyIDTokenHint: an ID token of this issuer and tenant names its
// client, even expired; anything else is refused.
func TestVerifyIDTokenHint(t *testing.T) {
	iss := newIssuer(newMemStore())
	ctx := context.Background()
	if err := iss.EnsureSigningKey(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	const user, client = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
	g := directory.UserGrant{TenantID: tenant, UserID: user, ClientID: client, Scopes: []string{"openid"}, SessionID: "sid-1", AuthTime: time.Now()}
	idt, err := iss.MintIDToken(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	h, err := iss.VerifyIDTokenHint(ctx, tenant, idt)
	if err != nil || h.ClientID != client || h.SessionID != "sid-1" || h.UserID != user {
		t.Fatalf("%+v %v", h, err)
	}
	at, err := iss.MintUserAccessToken(ctx, g, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(idt, ".")
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"`+client+`","iss":"x"}`)) + "." + parts[2]
	for name, bad := range map[string]string{"access token": at, "alg none": unsigned, "tampered": tampered, "garbage": "a.b.c", "empty": ""} {
		if _, err := iss.VerifyIDTokenHint(ctx, tenant, bad); directory.KindOf(err) != directory.KindUnauthenticated {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := iss.VerifyIDTokenHint(ctx, "cccccccc-0000-4000-8000-000000000003", idt); err == nil {
		t.Error("another tenant's issuer accepted the hint")
	}
}
