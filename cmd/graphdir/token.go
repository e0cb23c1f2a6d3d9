package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/graphdir/graphdir/internal/issuer"
)

// cliAppID is the client id tokens minted by `graphdir token` carry unless
// --app-id names another.
const cliAppID = "6f1b8f5e-2b7a-4c0e-9d3a-7a1c0de11c11"

// runToken prints one access token from the built-in issuer: app-only with
// --roles, or delegated for --user with --scopes.
func runToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	roles := fs.String("roles", "", "application permissions, space- or comma-separated (app-only token)")
	user := fs.String("user", "", "object id or userPrincipalName of the signed-in user (delegated token)")
	scopes := fs.String("scopes", "", "delegated scopes, space-separated (with --user)")
	appID := fs.String("app-id", cliAppID, "client (application) id the token is issued to")
	ttl := fs.Duration("ttl", time.Hour, "token lifetime")
	tenantID := fs.String("tenant", "", "tenant id the token is for (default: the default tenant)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if (*roles == "") == (*user == "") {
		fmt.Fprintln(stderr, "token: give either --roles (app-only) or --user with --scopes (delegated)")
		return errUsage
	}
	if *user != "" && *scopes == "" {
		fmt.Fprintln(stderr, "token: --user needs --scopes, e.g. --scopes \"User.Read User.ReadWrite\"")
		return errUsage
	}
	if *ttl <= 0 || *ttl > 24*time.Hour {
		return errors.New("token: --ttl must be between 1s and 24h")
	}
	cfg, db, err := openCommandDatabase(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	iss := issuer.New(db.store, cfg.PublicURL, issuer.WithAudience(cfg.Audience))
	t, err := db.tenantOrDefault(ctx, *tenantID)
	if err != nil {
		return fmt.Errorf("token: tenant %q: %w", *tenantID, err)
	}
	tenant := t.ID

	var tok string
	if *roles != "" {
		tok, err = iss.MintAppToken(ctx, tenant, *appID, splitList(*roles), *ttl)
	} else {
		id, lerr := userIDIn(ctx, db, tenant, *user)
		if lerr != nil {
			return fmt.Errorf("token: user %q: %w", *user, lerr)
		}
		tok, err = iss.MintUserToken(ctx, tenant, id, *appID, splitList(*scopes), *ttl)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
}
