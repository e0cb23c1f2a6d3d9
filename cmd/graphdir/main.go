package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal starts a graceful shutdown, restore the default
	// handling so that a second one ends the process at once.
	go func() { <-ctx.Done(); stop() }()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "graphdir:", err)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = `graphdir — a Microsoft Graph v1.0 /users directory on PostgreSQL

Usage:
  graphdir serve   [--addr :8080] [--tls-cert FILE --tls-key FILE]
  graphdir migrate [up|down|status]
  graphdir token   --roles "User.ReadWrite.All" [--app-id ID] [--ttl 1h] [--tenant ID]
  graphdir token   --user <id or UPN> --scopes "User.Read User.ReadWrite" [--app-id ID] [--ttl 1h] [--tenant ID]
  graphdir devcert [--dir .graphdir/tls]
  graphdir role    assign --user <id|UPN|sign-in name> --role "User Administrator" [--tenant ID]
  graphdir role    list [--user ...] [--role ...] | remove (--id ID | --user ... --role ...) | definitions
  graphdir tenant  create --domain example.com [--name NAME] | list
  graphdir tenant  set --id ID --hide-user-not-found=true|false|default
  graphdir import  [--tenant ID] [--batch 5000] [--workers N] [--reject-file F] FILE|-
  graphdir bench   [--users 1000000] [--duration 10s] [--clients 16]   (what make bench runs)
  graphdir app     create --name NAME [--permissions "User.ReadWrite.All"] [--tenant ID] | list | grant | delete
  graphdir app     secret add --app ID [--days 730] | secret remove --app ID --key-id KEYID

Configuration comes from the environment (DATABASE_URL, GRAPHDIR_PUBLIC_URL, ...);
see README.md for the full table.
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		return runToken(ctx, args[1:], getenv, stdout, stderr)
	case "devcert":
		return runDevCert(args[1:], getenv, stdout, stderr)
	case "role":
		return runRole(ctx, args[1:], getenv, stdout, stderr)
	case "tenant":
		return runTenant(ctx, args[1:], getenv, stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], getenv, stdout, stderr)
	case "app":
		return runApp(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
	return errUsage
}
