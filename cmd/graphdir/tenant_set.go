package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/graphdir/graphdir/internal/directory"
)

// runTenantSet changes a tenant's settings: today whether native
// authentication hides that an account does not exist. The change is
// audited in the tenant's own trail with the command line as initiator.
func runTenantSet(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tenant set", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "the tenant's id")
	hideFlag := fs.String("hide-user-not-found", "", "true, false, or default (GRAPHDIR_NATIVE_AUTH_HIDE_USER_NOT_FOUND)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprint(stderr, tenantUsage)
		return errUsage
	}
	if *id == "" || *hideFlag == "" {
		fmt.Fprintln(stderr, "tenant set: --id and --hide-user-not-found are required")
		return errUsage
	}
	if !directory.IsGUID(*id) {
		return fmt.Errorf("tenant set: %q is not a tenant id (a GUID)", *id)
	}
	hide, err := parseHideSetting(*hideFlag)
	if err != nil {
		return fmt.Errorf("tenant set: %w", err)
	}
	_, db, err := openCommandDatabase(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := directory.NewService(db.store, directory.WithAuditLog(db.store))
	if err := svc.SetTenantHideUserNotFound(ctx, *id, hide); err != nil {
		return fmt.Errorf("tenant set: %w", err)
	}
	fmt.Fprintf(stdout, "%s hide-user-not-found %s\n", strings.ToLower(*id), hideSettingText(hide))
	return nil
}

// parseHideSetting reads --hide-user-not-found: true, false, or default
// (nil: the deployment's GRAPHDIR_NATIVE_AUTH_HIDE_USER_NOT_FOUND).
func parseHideSetting(v string) (*bool, error) {
	switch strings.ToLower(v) {
	case "true":
		t := true
		return &t, nil
	case "false":
		f := false
		return &f, nil
	case "default":
		return nil, nil
	}
	return nil, fmt.Errorf("--hide-user-not-found is %q; want true, false or default", v)
}

// hideSettingText shows a tenant's setting: true, false, or default. The
// default's value is not shown: it is the servers' environment
// (GRAPHDIR_NATIVE_AUTH_HIDE_USER_NOT_FOUND), which the command line's
// own need not match.
func hideSettingText(hide *bool) string {
	if hide == nil {
		return "default"
	}
	return fmt.Sprint(*hide)
}
