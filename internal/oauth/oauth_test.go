package oauth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
)

func TestFailureLimiter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newFailureLimiter(3, time.Second, 4)
	for i := 0; i < 3; i++ {
		if w := l.wait("a", now); w != 0 {
			t.Fatalf("attempt %d throttled (%v)", i, w)
		}
		l.fail("a", now)
	}
	if w := l.wait("a", now); w != time.Second {
		t.Fatalf("after 3 failures wait %v, want 1s", w)
	}
	if w := l.wait("b", now); w != 0 {
		t.Fatalf("another key throttled: %v", w)
	}
	if w := l.wait("a", now.Add(time.Second)); w != 0 {
		t.Fatalf("not refilled after 1s: %v", w)
	}
	// Distinct keys never grow the map beyond its bound.
	for i := 0; i < 100; i++ {
		l.fail(string(rune('c'+i)), now.Add(time.Duration(i)*time.Millisecond))
		if len(l.buckets) > 4 {
			t.Fatalf("%d buckets, bound 4", len(l.buckets))
		}
	}
}

type fakeClients struct{ err error }

func (f fakeClients) AuthenticateClient(context.Context, string, string, string) (*directory.Application, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &directory.Application{ID: "11111111-1111-1111-1111-111111111111", AppID: "22222222-2222-2222-2222-222222222222", Permissions: []string{"User.Read.All"}}, nil
}

type fakeMinter struct{}

func (fakeMinter) MintClientToken(context.Context, string, string, string, []string, time.Duration) (string, error) {
	return "tok", nil
}
func (fakeMinter) Audience() string { return "api://graphdir" }

func TestClientCredentials_StoreFailureIsNotInvalidClient(t *testing.T) {
	s := New(fakeClients{err: directory.Internal(errors.New("db down"), "x")}, fakeMinter{}, Options{})
	_, err := s.ClientCredentials(context.Background(), Request{
		TenantID: "33333333-3333-3333-3333-333333333333", GrantType: "client_credentials",
		ClientID: "22222222-2222-2222-2222-222222222222", ClientSecret: "s", Scope: "API://graphdir/.default", RemoteIP: "1.2.3.4",
	})
	var oe *Error
	if !errors.As(err, &oe) || oe.Code != CodeServerError {
		t.Fatalf("store failure: %v", err)
	}
	// A database outage must not count as a failed guess.
	if w, _ := s.byClient.Wait(context.Background(), "33333333-3333-3333-3333-333333333333\x0022222222-2222-2222-2222-222222222222"); w != 0 {
		t.Fatal("an outage drained the client's bucket")
	}
	ok := New(fakeClients{}, fakeMinter{}, Options{})
	tok, err := ok.ClientCredentials(context.Background(), Request{
		TenantID: "33333333-3333-3333-3333-333333333333", GrantType: "client_credentials",
		ClientID: "22222222-2222-2222-2222-222222222222", ClientSecret: "s", Scope: "API://graphdir/.default",
	})
	if err != nil || tok.AccessToken != "tok" || tok.ExpiresIn != 3599 {
		t.Fatalf("%v %+v", err, tok)
	}
}
