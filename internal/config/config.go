package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is graphdir's configuration.
type Config struct {
	// DatabaseURL is a lib/pq URL. Empty means: start the private
	// PostgreSQL under StateDir.
	DatabaseURL string
	// DBDirectURL, when set, is a direct (unpooled) connection to the
	// primary for migrations and start-up: goose's migration lock is a
	// session advisory lock, which a transaction-mode pooler would strand
	// on a pooled server connection. DatabaseURL then serves requests.
	DBDirectURL string
	// PublicURL is the externally visible base URL; issuer URLs derive from it.
	PublicURL string
	Addr      string
	TLSCert   string
	TLSKey    string
	StateDir  string
	// Domains are the default tenant's verified domains; the first is its
	// default domain, used for generated userPrincipalNames.
	Domains []string
	// Audience is the aud value tokens must carry.
	Audience     string
	LogLevel     string
	MaxBodyBytes int64
	// ShutdownGrace bounds how long in-flight requests may finish on SIGTERM.
	ShutdownGrace time.Duration
	// ShutdownDrain is how long, on SIGTERM, /readyz answers 503 while the
	// listener still serves, so a balancer's health checks take the
	// instance out before its listener closes (0: close at once).
	ShutdownDrain time.Duration
	// StepUpProperties are the user properties a signed-in user may change
	// at /me only with multi-factor authentication (empty: no step-up);
	// StepUpACRS the authentication contexts that count as such.
	StepUpProperties []string
	StepUpACRS       []string
	// DeletedRetention is how long deleted users stay restorable;
	// PurgeInterval is how often the background jobs run: the purge of deleted
	// users and the change-log prune (cmd/graphdir/serve.go backgroundJobs).
	DeletedRetention time.Duration
	PurgeInterval    time.Duration
	// Runtime holds timeouts, limits, throttling and observability settings.
	Runtime
	// Mail is the SMTP relay or development outbox and the one-time code rules.
	Mail Mail
	// RefreshTokens are the refresh-token lifetimes (refresh.go).
	RefreshTokens RefreshTokens
	// Protection holds account protection and sign-in log settings
	// (protection.go).
	Protection Protection
	// NativeAuthHideUserNotFound hides whether an account exists at
	// native sign-in and password reset, for tenants that have not chosen
	// (directory.Tenant.HideUserNotFound; nativeauth.go).
	NativeAuthHideUserNotFound bool
	// Replicas are the read replicas for eventual reads (replicas.go).
	Replicas Replicas
}

// Var documents one setting for --help and the README's table.
type Var struct {
	Env, Flag, Default, Usage string
}

// Vars lists every setting, in the order the README documents them.
var Vars = append([]Var{
	{"DATABASE_URL", "", "(private PostgreSQL under GRAPHDIR_STATE_DIR)", "PostgreSQL connection URL"},
	{"GRAPHDIR_DB_MIGRATE_URL", "", "(DATABASE_URL)", "direct connection to the primary for migrations, start-up and admin commands, when DATABASE_URL goes through PgBouncer in transaction mode"},
	{"GRAPHDIR_PUBLIC_URL", "", "http://localhost:8080", "base URL clients use; issuer is {url}/{tenantId}/v2.0"},
	{"GRAPHDIR_ADDR", "--addr", ":8080", "listen address"},
	{"GRAPHDIR_TLS_CERT", "--tls-cert", "", "PEM certificate; with --tls-key serves HTTPS"},
	{"GRAPHDIR_TLS_KEY", "--tls-key", "", "PEM private key"},
	{"GRAPHDIR_STATE_DIR", "", ".graphdir", "where the private PostgreSQL and dev certificate live"},
	{"GRAPHDIR_DOMAINS", "", "graphdir.local", "comma-separated verified domains of the default tenant; the first is the default domain"},
	{"GRAPHDIR_AUDIENCE", "", "api://graphdir", "audience (aud) access tokens must carry"},
	{"GRAPHDIR_TRUSTED_ISSUERS", "", "", "JSON array of external token issuers (Entra, Keycloak, ...)"},
	{"GRAPHDIR_TRUSTED_ISSUERS_FILE", "", "", "path to the same JSON, instead of the variable"},
	{"GRAPHDIR_LOG_LEVEL", "", "info", "debug, info, warn or error"},
	{"GRAPHDIR_MAX_BODY_BYTES", "", "1048576", "largest request body accepted (after decompression)"},
	{"GRAPHDIR_SHUTDOWN_GRACE", "", "20s", "time in-flight requests get to finish on SIGTERM"},
	{"GRAPHDIR_SHUTDOWN_DRAIN", "", "0s", "on SIGTERM, time /readyz answers 503 while requests are still served, before the listener closes; behind a balancer at least its health-check interval times its fall count"},
	{"GRAPHDIR_STEPUP_PROPERTIES", "", "mail,otherMails,mobilePhone,identities,passwordProfile", "properties a user may change at /me only with MFA (password = passwordProfile and changePassword); none disables step-up"},
	{"GRAPHDIR_STEPUP_ACRS", "", "c1", "comma-separated authentication contexts (acrs) that count as MFA beside amr mfa; the first is requested in claims challenges"},
}, append(append(runtimeVars, deletedVars...), mailVars...)...)

// Load reads the environment through getenv and the serve flags from args.
func Load(args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	env := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		for _, v := range Vars {
			if v.Env == name && !strings.HasPrefix(v.Default, "(") {
				return v.Default
			}
		}
		return ""
	}
	c := &Config{
		DatabaseURL: getenv("DATABASE_URL"),
		DBDirectURL: getenv("GRAPHDIR_DB_MIGRATE_URL"),
		PublicURL:   strings.TrimRight(env("GRAPHDIR_PUBLIC_URL"), "/"),
		StateDir:    env("GRAPHDIR_STATE_DIR"),
		Audience:    env("GRAPHDIR_AUDIENCE"),
		LogLevel:    env("GRAPHDIR_LOG_LEVEL"),
	}
	var problems []string
	for _, d := range strings.Split(env("GRAPHDIR_DOMAINS"), ",") {
		if d = strings.TrimSpace(d); d != "" {
			if strings.ContainsAny(d, "@/ ") || !strings.Contains(d, ".") {
				problems = append(problems, fmt.Sprintf("GRAPHDIR_DOMAINS: %q is not a domain name", d))
			}
			c.Domains = append(c.Domains, strings.ToLower(d))
		}
	}
	if len(c.Domains) == 0 {
		problems = append(problems, "GRAPHDIR_DOMAINS: at least one domain is required")
	}
	if _, err := fmt.Sscan(env("GRAPHDIR_MAX_BODY_BYTES"), &c.MaxBodyBytes); err != nil || c.MaxBodyBytes < 1024 {
		problems = append(problems, "GRAPHDIR_MAX_BODY_BYTES: must be a whole number of bytes, at least 1024")
	}
	grace, err := time.ParseDuration(env("GRAPHDIR_SHUTDOWN_GRACE"))
	if err != nil || grace <= 0 {
		problems = append(problems, "GRAPHDIR_SHUTDOWN_GRACE: must be a positive duration such as 20s")
	}
	c.ShutdownGrace = grace
	drain, err := time.ParseDuration(env("GRAPHDIR_SHUTDOWN_DRAIN"))
	if err != nil || drain < 0 {
		problems = append(problems, "GRAPHDIR_SHUTDOWN_DRAIN: must be a duration such as 2s, or 0s")
	}
	c.ShutdownDrain = drain
	c.Runtime = loadRuntime(env, &problems)
	c.DeletedRetention, c.PurgeInterval = loadDeleted(env, &problems)
	c.StepUpProperties, c.StepUpACRS = loadStepUp(env, &problems)
	c.Mail = loadMail(env, &problems)
	if rt, err := LoadRefreshTokens(getenv); err != nil {
		problems = append(problems, err.(*Error).Problems...)
	} else {
		c.RefreshTokens = rt
	}
	c.Protection = loadProtection(env, &problems)
	c.NativeAuthHideUserNotFound = loadNativeAuthHide(env, &problems)
	c.Replicas = loadReplicas(env, &problems)
	if len(c.Replicas.URLs) > 0 && c.DatabaseURL == "" {
		problems = append(problems, "GRAPHDIR_REPLICA_URLS: needs DATABASE_URL (replicas of the private development database are not supported)")
	}

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", env("GRAPHDIR_ADDR"), "listen address")
	fs.StringVar(&c.TLSCert, "tls-cert", getenv("GRAPHDIR_TLS_CERT"), "PEM certificate file; with --tls-key serves HTTPS")
	fs.StringVar(&c.TLSKey, "tls-key", getenv("GRAPHDIR_TLS_KEY"), "PEM private key file")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}

	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		problems = append(problems, fmt.Sprintf("GRAPHDIR_PUBLIC_URL: %q must be an absolute http(s) URL without query", c.PublicURL))
	}
	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			problems = append(problems, "DATABASE_URL: must be a postgres:// URL")
		}
	}
	if c.DBDirectURL != "" {
		if u, err := url.Parse(c.DBDirectURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			problems = append(problems, "GRAPHDIR_DB_MIGRATE_URL: must be a postgres:// URL")
		} else if c.DatabaseURL == "" {
			problems = append(problems, "GRAPHDIR_DB_MIGRATE_URL: needs DATABASE_URL (it is the direct route to the same database)")
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		problems = append(problems, "--tls-cert and --tls-key go together")
	}
	for _, f := range []string{c.TLSCert, c.TLSKey} {
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				problems = append(problems, fmt.Sprintf("TLS file %s: %v", f, err))
			}
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		problems = append(problems, fmt.Sprintf("GRAPHDIR_LOG_LEVEL: %q is not one of debug, info, warn, error", c.LogLevel))
	}
	if c.Audience == "" {
		problems = append(problems, "GRAPHDIR_AUDIENCE: must not be empty")
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return c, nil
}

// Error lists every configuration problem found.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "configuration errors:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// IsConfigError reports whether err is a *Error.
func IsConfigError(err error) bool {
	var ce *Error
	return errors.As(err, &ce)
}
