package main

import (
	"context"
	"errors"

	"github.com/graphdir/graphdir/internal/api"
	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/flowstate"
	"github.com/graphdir/graphdir/internal/issuer"
	"github.com/graphdir/graphdir/internal/oauth"
	"github.com/graphdir/graphdir/internal/signin"
)

// newBrowserSignIn wires the browser redirect sign-in (issue 14): the
// hosted pages check passwords with the sign-in core (lockout, rate
// limits, sign-in log), keep their flows in flowstate and their sessions
// and codes in the store, and issue codes through the token endpoint.
func newBrowserSignIn(cfg *config.Config, db *database, svc *directory.Service, apps *directory.Applications, tokens *oauth.Server, iss *issuer.Issuer) (*api.BrowserSignIn, error) {
	core, err := newSignInCore(cfg, db.store)
	if err != nil {
		return nil, err
	}
	return &api.BrowserSignIn{
		Apps: apps, Passwords: hostedPasswords{core}, Store: db.store, Flows: flowstate.New(db.store),
		Codes: tokens, Users: db.store, UserFlows: svc, IssuerURL: iss.IssuerURL,
	}, nil
}

// hostedPasswords adapts the sign-in core to the pages: every refusal is
// an api.SignInRefusal, throttled or not, and never says whether the
// account exists.
type hostedPasswords struct{ core *signin.Core }

func (h hostedPasswords) CheckPassword(ctx context.Context, a api.PasswordAttempt) (*directory.User, error) {
	u, err := h.core.CheckPassword(ctx, signin.PasswordAttempt{TenantID: a.TenantID, ClientID: a.ClientID, AppDisplayName: a.AppDisplayName,
		Username: a.Username, Password: a.Password, IP: a.IP, UserAgent: a.UserAgent, ClientAppUsed: "Browser"})
	var se *signin.Error
	if errors.As(err, &se) {
		return nil, &api.SignInRefusal{Throttled: se.Reason == signin.ReasonLocked || se.Reason == signin.ReasonRateLimited, RetryAfter: se.RetryAfter}
	}
	return u, err
}
