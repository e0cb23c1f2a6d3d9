package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/issuer"
	"github.com/graphdir/graphdir/internal/oauth"
)

// clientSecretKeyName names the server secret that keys client-secret
// hashes (see directory.Applications). Every instance shares it through
// the database; losing or changing it invalidates every client secret.
const clientSecretKeyName = "client-secret-hmac"

// bootstrapAppName is the display name of the bootstrap administrator app.
const bootstrapAppName = "graphdir bootstrap admin"

// newApplications returns the applications service over the database;
// with a users service, writes are audited in its audit trail.
func newApplications(ctx context.Context, db *database, audited ...*directory.Service) (*directory.Applications, error) {
	var opts []directory.ApplicationsOption
	for _, svc := range audited {
		opts = append(opts, directory.WithApplicationsAuditor(svc.Auditor()))
	}
	key, err := db.store.Secret(ctx, clientSecretKeyName, func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the client-secret key: %w", err)
	}
	return directory.NewApplications(db.store, key, opts...), nil
}

// newUserTokenEndpoint returns the token endpoint's protocol logic: the
// client credentials grant over apps and iss, the refresh token grant and IssueUserTokens for the sign-in flows, with
// refresh tokens in the database and the successor key shared by every
// instance (a server secret).
func newUserTokenEndpoint(ctx context.Context, cfg *config.Config, db *database, apps *directory.Applications, iss *issuer.Issuer, log *slog.Logger) (*oauth.Server, error) {
	key, err := db.store.Secret(ctx, "refresh-token-successor", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, err
	}
	rt := cfg.RefreshTokens
	byClient, byIP := tokenFailureCounters(cfg, db.store) // signin.go
	return oauth.New(apps, iss, oauth.Options{Logger: log, ClientFailureCounter: byClient, IPFailureCounter: byIP, User: &oauth.UserTokens{
		Store: db.store, Minter: iss, Consents: apps, Apps: apps, Users: db.store, SuccessorKey: key,
		Idle: rt.Idle, MaxAge: rt.MaxAge, SPAMaxAge: rt.SPAMaxAge, Grace: rt.ReuseGrace,
		// The browser redirect sign-in's code grant and revocation.
		Codes: db.store, Revocations: db.store,
		// Users' own consent (the consent page's grants) beside the
		// tenant-wide one.
		Grants: directory.NewPermissionGrants(db.store),
	}}), nil
}

// bootstrapEnabled reads GRAPHDIR_BOOTSTRAP_APP (set by `make run`).
func bootstrapEnabled(getenv func(string) string) bool {
	switch strings.ToLower(strings.TrimSpace(getenv("GRAPHDIR_BOOTSTRAP_APP"))) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// bootstrapApplication creates, when GRAPHDIR_BOOTSTRAP_APP is on and only
// on the first start ever against this database (whichever instance gets
// there first; a marker row settles races), an administrator application
// and prints its client id and secret to stdout, once. The secret is never
// logged: the JSON log goes to stderr and gets no line about it.
func bootstrapApplication(ctx context.Context, getenv func(string) string, db *database, iss *issuer.Issuer, stdout io.Writer) error {
	if !bootstrapEnabled(getenv) {
		return nil
	}
	apps, err := newApplications(ctx, db)
	if err != nil {
		return err
	}
	a, sec, err := apps.EnsureBootstrapApplication(ctx, db.tenant.ID, bootstrapAppName)
	if err != nil {
		return fmt.Errorf("creating the bootstrap application: %w", err)
	}
	if a == nil {
		return nil
	}
	fmt.Fprintf(stdout, `
Created the bootstrap administrator application %[1]q. Its secret is shown
now and never again (lost it? graphdir app secret add --app %[2]s):
  client id:      %[2]s
  client secret:  %[3]s
  expires:        %[4]s
  permissions:    %[5]s
  Get a token (client credentials):
    curl -s -u '%[2]s:%[3]s' -d grant_type=client_credentials -d scope=%[6]s %[7]s
  and call the API with it:
    curl -H "Authorization: Bearer <access_token>" %[8]s/v1.0/users
`, a.DisplayName, a.AppID, sec.SecretText, sec.EndDateTime.Format(time.RFC3339), strings.Join(a.Permissions, " "),
		urlEscapeScope(iss.Audience()+"/.default"), iss.TokenURL(db.tenant.ID), iss.PublicURL())
	return nil
}

func urlEscapeScope(s string) string {
	return strings.NewReplacer(":", "%3A", "/", "%2F").Replace(s)
}

const appUsage = `Usage:
  graphdir app create --name NAME [--permissions "User.ReadWrite.All ..."] [--secret-days 730] [--tenant ID]
  graphdir app create [--name NAME] --spa URI | --web URI | --public URI | --native-auth
                      [--logout-url URI] [--fallback-public-client] [--scopes "openid,profile,User.Read ..."]
                      (sign-in apps; --spa, --web and --public repeat; a public client gets no secret)
  graphdir app list   [--tenant ID]
  graphdir app grant  --app ID --permissions "User.Read.All ..."   (replaces the granted permissions)
  graphdir app delete --app ID
  graphdir app secret add    --app ID [--name NAME] [--days 730]
  graphdir app secret remove --app ID --key-id KEYID
--app takes the object id or the client id (appId). Secrets are printed once.
`

// runApp manages registered applications (client credentials).
func runApp(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, appUsage)
		return errUsage
	}
	cmd, args := args[0], args[1:]
	if cmd == "secret" {
		if len(args) == 0 || (args[0] != "add" && args[0] != "remove") {
			fmt.Fprint(stderr, appUsage)
			return errUsage
		}
		cmd, args = "secret "+args[0], args[1:]
	}
	fs := flag.NewFlagSet("app "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	tenant := fs.String("tenant", "", "tenant id (default: the default tenant)")
	var name, perms, app, keyID *string
	var days *int
	var signIn *signInFlags
	switch cmd {
	case "create":
		name = fs.String("name", "", "display name")
		perms = fs.String("permissions", "", "application permissions, space- or comma-separated")
		days = fs.Int("secret-days", 730, "lifetime of the first secret in days (at most 730)")
		signIn = newSignInFlags(fs)
	case "list":
	case "grant":
		app = fs.String("app", "", "object id or client id")
		perms = fs.String("permissions", "", "application permissions, space- or comma-separated (replaces the current ones)")
	case "delete":
		app = fs.String("app", "", "object id or client id")
	case "secret add":
		app = fs.String("app", "", "object id or client id")
		name = fs.String("name", "", "display name of the secret")
		days = fs.Int("days", 730, "lifetime in days (at most 730)")
	case "secret remove":
		app = fs.String("app", "", "object id or client id")
		keyID = fs.String("key-id", "", "keyId of the secret")
	default:
		fmt.Fprintf(stderr, "app: unknown command %q\n\n%s", cmd, appUsage)
		return errUsage
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprint(stderr, appUsage)
		return errUsage
	}
	switch {
	case name != nil && cmd == "create" && strings.TrimSpace(*name) == "" && !signIn.defaultName(name),
		app != nil && *app == "",
		keyID != nil && *keyID == "":
		fmt.Fprint(stderr, appUsage)
		return errUsage
	}
	var lifetime time.Duration
	if days != nil {
		if *days < 1 || *days > 730 {
			return errors.New("app: the secret lifetime must be 1 to 730 days")
		}
		lifetime = time.Duration(*days) * 24 * time.Hour
	}

	cfg, db, err := openCommandDatabase(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := db.tenantOrDefault(ctx, *tenant)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	tid := t.ID
	apps, err := newApplications(ctx, db)
	if err != nil {
		return err
	}
	iss := issuer.New(db.store, cfg.PublicURL, issuer.WithAudience(cfg.Audience))

	switch cmd {
	case "create":
		in, err := signIn.input()
		if err != nil {
			return fmt.Errorf("app create: %w", err)
		}
		a, sec, err := apps.OperatorRegisterApplication(ctx, tid, *name, splitList(*perms), in, lifetime)
		if err != nil {
			return fmt.Errorf("app create: %w", err)
		}
		// The tenant needs a signing key before its first token.
		if err := iss.EnsureSigningKey(ctx, tid); err != nil {
			return err
		}
		if sec == nil {
			fmt.Fprintf(stdout, "Created application %q in tenant %s, a public client: it has no secret.\n", a.DisplayName, tid)
			printApp(stdout, a)
			printSignIn(stdout, a)
			return nil
		}
		fmt.Fprintf(stdout, "Created application %q in tenant %s. The secret is shown only now.\n", a.DisplayName, tid)
		printApp(stdout, a)
		printSignIn(stdout, a)
		printSecret(stdout, sec)
		fmt.Fprintf(stdout, "  token endpoint: %s (scope %s/.default)\n", iss.TokenURL(tid), iss.Audience())
	case "list":
		list, err := apps.OperatorListApplications(ctx, tid)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT ID\tOBJECT ID\tNAME\tSECRETS\tPERMISSIONS")
		for _, a := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", a.AppID, a.ID, a.DisplayName, len(a.PasswordCredentials), strings.Join(a.Permissions, " "))
		}
		return tw.Flush()
	case "grant":
		if err := apps.OperatorSetPermissions(ctx, tid, *app, splitList(*perms)); err != nil {
			return fmt.Errorf("app grant: %w", err)
		}
		a, err := apps.OperatorGetApplication(ctx, tid, *app)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Permissions of %s: %s\n", a.AppID, strings.Join(a.Permissions, " "))
	case "delete":
		if err := apps.OperatorDeleteApplication(ctx, tid, *app); err != nil {
			return fmt.Errorf("app delete: %w", err)
		}
		fmt.Fprintln(stdout, "Deleted.")
	case "secret add":
		sec, err := apps.OperatorAddSecret(ctx, tid, *app, *name, lifetime)
		if err != nil {
			return fmt.Errorf("app secret add: %w", err)
		}
		fmt.Fprintln(stdout, "Added a secret. It is shown only now.")
		printSecret(stdout, sec)
	case "secret remove":
		if err := apps.OperatorRemoveSecret(ctx, tid, *app, *keyID); err != nil {
			return fmt.Errorf("app secret remove: %w", err)
		}
		fmt.Fprintln(stdout, "Removed.")
	}
	return nil
}

func printApp(w io.Writer, a *directory.Application) {
	fmt.Fprintf(w, "  object id:      %s\n  client id:      %s\n  permissions:    %s\n", a.ID, a.AppID, strings.Join(a.Permissions, " "))
}

func printSecret(w io.Writer, s *directory.NewSecret) {
	fmt.Fprintf(w, "  secret key id:  %s\n  client secret:  %s\n  expires:        %s\n", s.KeyID, s.SecretText, s.EndDateTime.Format(time.RFC3339))
}
