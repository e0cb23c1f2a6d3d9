package api

import (
	"context"

	"github.com/graphdir/graphdir/internal/directory"
)

// CheckSignInSession runs on every authenticated request; the fake's
// callers have no revoked sessions (the check is tested end to end in
// cmd/graphdir, TestRevokeSignInSessions).
func (f *fakeUsers) CheckSignInSession(context.Context, *directory.Principal) error { return nil }
