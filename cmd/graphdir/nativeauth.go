package main

import (
	"context"

	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/flowstate"
	"github.com/graphdir/graphdir/internal/nativeauth"
	"github.com/graphdir/graphdir/internal/oauth"
	"github.com/graphdir/graphdir/internal/password"
)

// newNativeAuth wires the native authentication API: applications and
// accounts from the directory, flows (continuation tokens) and email codes
// in PostgreSQL, so any instance serves any step.
func newNativeAuth(ctx context.Context, cfg *config.Config, db *database, svc *directory.Service, apps *directory.Applications, tokens *oauth.Server) (*nativeauth.Server, error) {
	codes, err := newCodes(ctx, cfg, db.store) // mail.go
	if err != nil {
		return nil, err
	}
	return nativeauth.New(nativeauth.Deps{
		Apps: apps, Accounts: svc, Flows: flowstate.New(db.store), Codes: codes, Hash: password.Hash,
		Tokens: tokens,
	}), nil
}
