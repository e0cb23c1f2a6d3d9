package signin

import (
	"context"

	"github.com/graphdir/graphdir/internal/directory"
)

// SignInEvent is one credential-checking outcome a flow records itself
// (a one-time code verified or refused, an MFA step, a refresh): the
// fields of Graph's signIn a flow knows. CheckPassword records its own.
type SignInEvent struct {
	TenantID string
	// UserID, UserPrincipalName and UserDisplayName name the account; for
	// an unknown name, UserPrincipalName is the name typed.
	UserID            string
	UserPrincipalName string
	UserDisplayName   string
	AppID             string
	AppDisplayName    string
	IPAddress         string
	ClientAppUsed     string // empty: "Browser"
	// ErrorCode is Entra's (directory.SignIn* constants): 0 for success.
	ErrorCode         int
	FailureReason     string
	AdditionalDetails string
	// MultiFactor marks a sign-in that satisfied MFA
	// (multiFactorAuthentication).
	MultiFactor bool
	// NonInteractive marks a sign-in without the user (a refresh).
	NonInteractive bool
	CorrelationID  string // empty: a new one
}

// RecordSignIn writes ev to the sign-in log (and, for a known user, its
// signInActivity, in the same transaction), with a new id and the time now.
func (c *Core) RecordSignIn(ctx context.Context, ev SignInEvent) error {
	si := c.event(PasswordAttempt{TenantID: ev.TenantID, ClientID: ev.AppID, AppDisplayName: ev.AppDisplayName,
		Username: ev.UserPrincipalName, IP: ev.IPAddress, ClientAppUsed: ev.ClientAppUsed, CorrelationID: ev.CorrelationID})
	si.UserID, si.UserDisplayName = ev.UserID, ev.UserDisplayName
	si.ErrorCode, si.FailureReason, si.AdditionalDetails = ev.ErrorCode, ev.FailureReason, ev.AdditionalDetails
	si.IsInteractive = !ev.NonInteractive
	if ev.MultiFactor {
		si.AuthenticationRequirement = directory.MultiFactorAuthentication
	}
	return c.store.RecordSignIn(ctx, si)
}
