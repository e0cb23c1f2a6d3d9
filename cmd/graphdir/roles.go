package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/issuer"
)

const roleUsage = `Usage:
  graphdir role assign --user <id|UPN|sign-in name> --role <name or template id> [--tenant ID]
  graphdir role list   [--user <id|UPN|sign-in name>] [--role <name or id>] [--tenant ID]
  graphdir role remove (--id ASSIGNMENT-ID | --user <...> --role <...>) [--tenant ID]
  graphdir role definitions

Built-in roles: ` + "Global Administrator, Privileged Role Administrator, Privileged Authentication Administrator, User Administrator, Authentication Administrator, Helpdesk Administrator, Password Administrator, Directory Readers, Guest Inviter" + `
`

const tenantUsage = `Usage:
  graphdir tenant create --domain example.com [--domain other.example ...] [--name NAME]
  graphdir tenant list
  graphdir tenant set --id TENANT-ID --hide-user-not-found=true|false|default
`

// runRole manages directory role assignments from the command line: the
// operator's way to make the first administrator, whom the API's
// roleManagement routes then serve.
func runRole(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, roleUsage)
		return errUsage
	}
	sub := args[0]
	fs := flag.NewFlagSet("role "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "", "object id, userPrincipalName or sign-in name of the user")
	role := fs.String("role", "", "role display name (e.g. \"User Administrator\") or template id")
	id := fs.String("id", "", "role assignment id (remove)")
	tenantID := fs.String("tenant", "", "tenant id (default: the default tenant)")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
		fmt.Fprint(stderr, roleUsage)
		return errUsage
	}
	if sub == "definitions" {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TEMPLATE ID\tDISPLAY NAME")
		for _, r := range directory.RoleDefinitions() {
			fmt.Fprintf(tw, "%s\t%s\n", r.ID, r.DisplayName)
		}
		return tw.Flush()
	}
	var def *directory.RoleDefinition
	if *role != "" {
		var ok bool
		if def, ok = directory.LookupRole(*role); !ok {
			return fmt.Errorf("role: unknown role %q; `graphdir role definitions` lists them", *role)
		}
	}
	switch sub {
	case "assign":
		if *user == "" || def == nil {
			fmt.Fprint(stderr, roleUsage)
			return errUsage
		}
	case "remove":
		if (*id == "") == (*user == "" || def == nil) {
			fmt.Fprint(stderr, roleUsage)
			return errUsage
		}
	case "list":
	default:
		fmt.Fprintf(stderr, "role: unknown subcommand %q\n\n%s", sub, roleUsage)
		return errUsage
	}

	_, db, err := openCommandDatabase(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	tenant, err := db.tenantOrDefault(ctx, *tenantID)
	if err != nil {
		return fmt.Errorf("role: tenant %q: %w", *tenantID, err)
	}
	var userObjectID string
	if *user != "" {
		if userObjectID, err = userIDIn(ctx, db, tenant.ID, *user); err != nil {
			return fmt.Errorf("role: user %q: %w", *user, err)
		}
	}
	// The operator's writes go through the domain, audited like the API's
	// (initiator: the command line).
	svc := directory.NewService(db.store, directory.WithAuditLog(db.store))

	switch sub {
	case "assign":
		a, err := svc.AssignRole(ctx, tenant.ID, userObjectID, def.ID)
		if err != nil {
			return fmt.Errorf("role assign: %w", err)
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", a.ID, a.PrincipalID, def.DisplayName)
		return nil
	case "remove":
		if *id == "" {
			list, err := db.store.ListRoleAssignments(ctx, tenant.ID, directory.RoleAssignmentFilter{PrincipalID: userObjectID, RoleDefinitionID: def.ID})
			if err != nil {
				return err
			}
			if len(list) == 0 {
				return fmt.Errorf("role remove: %s does not hold %s", *user, def.DisplayName)
			}
			*id = list[0].ID
		}
		if err := svc.RemoveRole(ctx, tenant.ID, *id); err != nil {
			return fmt.Errorf("role remove: %w", err)
		}
		fmt.Fprintf(stdout, "removed %s\n", *id)
		return nil
	}
	f := directory.RoleAssignmentFilter{PrincipalID: userObjectID}
	if def != nil {
		f.RoleDefinitionID = def.ID
	}
	list, err := db.store.ListRoleAssignments(ctx, tenant.ID, f)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ASSIGNMENT ID\tUSER\tUSER PRINCIPAL NAME\tROLE")
	for _, a := range list {
		upn := ""
		if u, err := db.store.GetUser(ctx, tenant.ID, directory.UserKey{ID: a.PrincipalID}); err == nil && u.UserPrincipalName != nil {
			upn = *u.UserPrincipalName
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.ID, a.PrincipalID, upn, directory.RoleName(a.RoleDefinitionID))
	}
	return tw.Flush()
}

// userIDIn resolves a user in a given tenant: an object id, a
// userPrincipalName, or the issuerAssignedId a customer signs in with.
func userIDIn(ctx context.Context, db *database, tenantID, key string) (string, error) {
	u, err := db.store.GetUser(ctx, tenantID, directory.ParseUserKey(key))
	if err == nil {
		return u.ID, nil
	}
	if directory.KindOf(err) != directory.KindNotFound {
		return "", err
	}
	return db.store.UserIDBySignInName(ctx, tenantID, key)
}

// domainList collects repeated --domain flags.
type domainList []string

func (d *domainList) String() string { return strings.Join(*d, ",") }
func (d *domainList) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*d = append(*d, x)
		}
	}
	return nil
}

// runTenant adds, lists and configures tenants. Every tenant is isolated: its users, role
// assignments, signing keys and skiptokens are invisible to the others, and
// a token's tid decides which tenant a request acts in.
func runTenant(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tenantUsage)
		return errUsage
	}
	sub := args[0]
	if sub == "set" {
		return runTenantSet(ctx, args[1:], getenv, stdout, stderr) // tenant_set.go
	}
	fs := flag.NewFlagSet("tenant "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var domains domainList
	fs.Var(&domains, "domain", "a verified domain; the first is the default domain (repeatable)")
	name := fs.String("name", "", "display name")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
		fmt.Fprint(stderr, tenantUsage)
		return errUsage
	}
	switch sub {
	case "create":
		if len(domains) == 0 {
			fmt.Fprintln(stderr, "tenant create: --domain is required")
			return errUsage
		}
		for _, d := range domains {
			if !directory.ValidDomain(d) {
				return fmt.Errorf("tenant create: %q is not a domain name", d)
			}
		}
	case "list":
	default:
		fmt.Fprintf(stderr, "tenant: unknown subcommand %q\n\n%s", sub, tenantUsage)
		return errUsage
	}
	cfg, db, err := openCommandDatabase(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	if sub == "list" {
		ts, err := db.store.Tenants(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TENANT ID\tDEFAULT DOMAIN\tNAME\tHIDE USER NOT FOUND")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.DefaultDomain, t.DisplayName, hideSettingText(t.HideUserNotFound))
		}
		return tw.Flush()
	}
	svc := directory.NewService(db.store, directory.WithAuditLog(db.store))
	t, err := svc.CreateTenant(ctx, *name, domains)
	if err != nil {
		return fmt.Errorf("tenant create: %w", err)
	}
	iss := issuer.New(db.store, cfg.PublicURL, issuer.WithAudience(cfg.Audience))
	if err := iss.EnsureSigningKey(ctx, t.ID); err != nil {
		return fmt.Errorf("tenant create: signing key: %w", err)
	}
	fmt.Fprintln(stdout, t.ID)
	return nil
}
