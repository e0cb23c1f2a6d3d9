package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/graphdir/graphdir/internal/auth"
	"github.com/graphdir/graphdir/internal/directory"
)

func TestChallenge(t *testing.T) {
	f := newFixture(t)
	verr := func(authz []string) error {
		_, err := f.v.Verify(context.Background(), authz)
		return err
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"no credentials", verr(nil), `Bearer realm="graphdir"`},
		{"other scheme", verr([]string{"Basic abc"}), `Bearer realm="graphdir"`},
		{"bad token", verr(bearer("a.b.c")), `Bearer realm="graphdir", error="invalid_token", error_description="Access token validation failure."`},
		{"two headers", verr([]string{"Bearer a", "Bearer b"}), `Bearer realm="graphdir", error="invalid_request"`},
		{"no permissions in token", verr(bearer(f.sign(f.header(), with(appClaims(), "roles", []string{})))), `Bearer realm="graphdir", error="insufficient_scope"`},
		{"route needs a scope", directory.ErrInsufficientPrivileges("User.Read.All", "User.ReadWrite.All"), `Bearer realm="graphdir", error="insufficient_scope", scope="User.Read.All User.ReadWrite.All"`},
		{"scope names are sanitised", directory.ErrInsufficientPrivileges(`a"b`, "User.Read"), `Bearer realm="graphdir", error="insufficient_scope", scope="User.Read"`},
		{"object-level denial", directory.ErrInsufficientPrivileges(), ""},
		{"not found", directory.ErrNotFoundUser("x"), ""},
		{"plain error", errors.New("boom"), ""},
		{"nil", nil, ""},
	}
	for _, tc := range cases {
		if got := auth.Challenge(tc.err); got != tc.want {
			t.Errorf("%s: Challenge = %q, want %q", tc.name, got, tc.want)
		}
	}
}
