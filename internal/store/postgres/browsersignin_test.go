package postgres_test

import (
	"context"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

func hash32(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func testCode(tenant, client string, now time.Time) directory.AuthCode {
	return directory.AuthCode{TenantID: tenant, ClientID: client, RedirectURI: "https://rp.example/cb", RedirectKind: directory.RedirectWeb,
		CodeChallenge: "c", Nonce: "n", SessionID: uuid.NewString(), UserID: uuid.NewString(), Scopes: []string{"openid"},
		AMR: []string{"pwd"}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
}

// TestAuthCodeRedeemedOnceAcrossInstances: two instances race on one code
// many times over; exactly one redemption wins, every other sees it used.
func TestAuthCodeRedeemedOnceAcrossInstances(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewURL(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	tn := mustTenant(t, a, "codes.test")
	client := uuid.NewString()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := a.CreateAuthCode(ctx, testCode(tn.ID, client, now), hash32("code")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, used := 0, 0
	for i := range 16 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			c, first, err := s.RedeemAuthCode(ctx, tn.ID, client, hash32("code"), now)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case first:
				wins++
			case c.UsedAt != nil:
				used++
			}
		})
	}
	wg.Wait()
	if wins != 1 || used != 15 {
		t.Fatalf("%d redemptions won, %d saw the code used", wins, used)
	}
	// The family recorded later is what a replay revokes.
	family := uuid.NewString()
	if err := a.SetAuthCodeFamily(ctx, tn.ID, hash32("code"), family); err != nil {
		t.Fatal(err)
	}
	if c, first, err := b.RedeemAuthCode(ctx, tn.ID, client, hash32("code"), now); err != nil || first || c.FamilyID != family {
		t.Fatalf("replay: %v %v %+v", err, first, c)
	}
}

// TestAuthCodeOtherClientAndUnknown: another client's request leaves the
// code unspent; an unknown code is KindNotFound.
func TestAuthCodeOtherClientAndUnknown(t *testing.T) {
	ctx := context.Background()
	s, tn := newTenant(t)
	client := uuid.NewString()
	// PostgreSQL keeps microseconds, rounding the rest; a time that has
	// none compares equal after the round trip.
	now := time.Now().UTC().Truncate(time.Microsecond)
	want := testCode(tn.ID, client, now)
	if err := s.CreateAuthCode(ctx, want, hash32("k")); err != nil {
		t.Fatal(err)
	}
	if c, first, err := s.RedeemAuthCode(ctx, tn.ID, uuid.NewString(), hash32("k"), now); err != nil || first || c.UsedAt != nil {
		t.Fatalf("other client: %v %v %+v", err, first, c)
	}
	c, first, err := s.RedeemAuthCode(ctx, tn.ID, client, hash32("k"), now)
	if err != nil || !first || c.RedirectURI != want.RedirectURI || c.Nonce != "n" || c.CodeChallenge != "c" || c.SessionID != want.SessionID ||
		c.RedirectKind != directory.RedirectWeb || len(c.Scopes) != 1 || !c.AuthTime.Equal(want.AuthTime) {
		t.Fatalf("redeem: %v %v %+v", err, first, c)
	}
	if _, _, err := s.RedeemAuthCode(ctx, tn.ID, client, hash32("unknown"), now); directory.KindOf(err) != directory.KindNotFound {
		t.Fatalf("unknown: %v", err)
	}
	if _, _, err := s.RedeemAuthCode(ctx, "not-a-tenant", client, hash32("k"), now); directory.KindOf(err) != directory.KindNotFound {
		t.Fatalf("bad tenant: %v", err)
	}
}

// TestBrowserSessionLifecycle: a session is found by its token until it
// ends, expires, or its user's sessions are revoked or the user disabled.
func TestBrowserSessionLifecycle(t *testing.T) {
	ctx := context.Background()
	s, tn := newTenant(t)
	u := newUser(tn.ID, "sess@contoso.onmicrosoft.com")
	mustCreate(t, s, u)
	now := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	mk := func(token string) directory.BrowserSession {
		bs := directory.BrowserSession{TenantID: tn.ID, ID: uuid.NewString(), UserID: u.ID, AMR: []string{"pwd"}, AuthTime: now,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.CreateBrowserSession(ctx, bs, hash32(token)); err != nil {
			t.Fatal(err)
		}
		return bs
	}
	live := func(token string, at time.Time) bool {
		_, err := s.BrowserSessionByToken(ctx, tn.ID, hash32(token), at)
		if err != nil && directory.KindOf(err) != directory.KindNotFound {
			t.Fatal(err)
		}
		return err == nil
	}
	one := mk("one")
	if got, err := s.BrowserSessionByToken(ctx, tn.ID, hash32("one"), now); err != nil || got.ID != one.ID || got.UserID != u.ID {
		t.Fatalf("lookup: %v %+v", err, got)
	}
	if err := s.AddBrowserSessionClient(ctx, tn.ID, one.ID, "client-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddBrowserSessionClient(ctx, tn.ID, one.ID, "client-a"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.BrowserSessionByToken(ctx, tn.ID, hash32("one"), now); len(got.Clients) != 1 {
		t.Fatalf("clients %v", got.Clients)
	}
	if live("one", now.Add(2*time.Hour)) {
		t.Fatal("expired session found")
	}
	if err := s.EndBrowserSession(ctx, tn.ID, hash32("one"), now); err != nil || live("one", now) {
		t.Fatalf("ended session found (%v)", err)
	}
	mk("two")
	if _, err := s.DB().Exec(`UPDATE users SET sign_in_sessions_valid_from = $1 WHERE id = $2`, now.Add(time.Second), u.ID); err != nil {
		t.Fatal(err)
	}
	if live("two", now) {
		t.Fatal("a session older than the user's revocation was found")
	}
	if live("absent", now) {
		t.Fatal("unknown token found")
	}
	n, err := s.PruneBrowserSignIn(ctx, now.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("prune: %d %v", n, err)
	}
}
