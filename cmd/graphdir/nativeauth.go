package main

import (
	"context"
	"errors"

	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/flowstate"
	"github.com/graphdir/graphdir/internal/nativeauth"
	"github.com/graphdir/graphdir/internal/oauth"
	"github.com/graphdir/graphdir/internal/password"
	"github.com/graphdir/graphdir/internal/protect"
	"github.com/graphdir/graphdir/internal/signin"
)

// newNativeAuth wires the native authentication API: applications and
// accounts from the directory, flows (continuation tokens) and email codes
// in PostgreSQL, so any instance serves any step.
func newNativeAuth(ctx context.Context, cfg *config.Config, db *database, svc *directory.Service, apps *directory.Applications, tokens *oauth.Server) (*nativeauth.Server, error) {
	codes, err := newCodes(ctx, cfg, db.store) // mail.go
	if err != nil {
		return nil, err
	}
	core, err := newSignInCore(cfg, db.store) // signin.go
	if err != nil {
		return nil, err
	}
	return nativeauth.New(nativeauth.Deps{
		Apps: apps, Accounts: svc, Flows: flowstate.New(db.store), Codes: codes, Hash: password.Hash,
		Tokens: tokens, Password: nativePassword(core), Record: nativeRecord(core),
		Guard:            protect.New(db.store, protectionPolicy(cfg)), // signin.go
		HideUserNotFound: hideUserNotFound(db.store, cfg.NativeAuthHideUserNotFound),
	}), nil
}

// hideUserNotFound is the per-request decision of native authentication:
// the tenant's setting (graphdir tenant set --hide-user-not-found), else
// the deployment's default. Read from PostgreSQL each time, not cached:
// it is asked only when a username matches no account, it is one
// primary-key read of a small table, and so an operator's change holds on
// every instance at once.
func hideUserNotFound(st interface {
	TenantHideUserNotFound(ctx context.Context, tenantID string) (*bool, error)
}, deflt bool) func(ctx context.Context, tenantID string) (bool, error) {
	return func(ctx context.Context, tenantID string) (bool, error) {
		hide, err := st.TenantHideUserNotFound(ctx, tenantID)
		switch {
		case directory.KindOf(err) == directory.KindNotFound:
			return deflt, nil // no such tenant: nothing to reveal, the default answers
		case err != nil:
			return false, err
		case hide == nil:
			return deflt, nil
		}
		return *hide, nil
	}
}

// nativePassword is the password first factor of native sign-in: the
// sign-in core's check (lockout, rate limits, sign-in log) with its
// refusals in native authentication's words.
func nativePassword(core *signin.Core) nativeauth.CheckPassword {
	return func(ctx context.Context, c nativeauth.PasswordCheck) (string, *nativeauth.Error) {
		u, err := core.CheckPassword(ctx, signin.PasswordAttempt{TenantID: c.TenantID, ClientID: c.ClientID,
			AppDisplayName: c.AppName, Username: c.Username, Password: c.Password, IP: c.IP})
		var se *signin.Error
		switch {
		case err == nil:
			return u.ID, nil
		case !errors.As(err, &se):
			return "", nativeauth.ErrServer(err)
		case se.Reason == signin.ReasonRateLimited:
			return "", nativeauth.ErrTooMany(se.RetryAfter, "Too many sign-in attempts. Retry later.")
		case se.Reason == signin.ReasonLocked:
			return "", nativeauth.ErrAccountLocked()
		case se.Reason == signin.ReasonDisabled:
			return "", nativeauth.ErrAccountDisabled()
		case se.UserNotFound:
			return "", nativeauth.ErrUserNotFound()
		}
		return "", nativeauth.ErrWrongPassword()
	}
}

// nativeRecord writes native authentication's own outcomes to the
// sign-in log.
func nativeRecord(core *signin.Core) nativeauth.RecordSignIn {
	return func(ctx context.Context, r nativeauth.SignInRecord) error {
		return core.RecordSignIn(ctx, signin.SignInEvent{TenantID: r.TenantID, UserID: r.UserID, UserPrincipalName: r.Username,
			AppID: r.AppID, AppDisplayName: r.AppName, IPAddress: r.IP, ErrorCode: r.ErrorCode, FailureReason: r.FailureReason,
			MultiFactor: r.MultiFactor})
	}
}
