package main

import (
	"time"

	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/oauth"
	"github.com/graphdir/graphdir/internal/protect"
	"github.com/graphdir/graphdir/internal/signin"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// protectionPolicy is the account-protection policy the configuration
// sets (README "Account protection and sign-in logs").
func protectionPolicy(cfg *config.Config) protect.Policy {
	p := cfg.Protection
	return protect.Policy{
		LockoutThreshold: p.LockoutThreshold, LockoutDuration: p.LockoutDuration,
		LockoutMax: p.LockoutMax, LockoutReset: p.LockoutReset,
		Window: p.RateWindow, PerIP: p.RatePerIP, PerTenant: p.RatePerTenant,
	}
}

// newSignInCore is the sign-in core the sign-in flows (native
// authentication, hosted pages) check credentials with: the store's users
// and sign-in log, guarded by the configured protection.
func newSignInCore(cfg *config.Config, store *postgres.Store) (*signin.Core, error) {
	return signin.New(store, protect.New(store, protectionPolicy(cfg)))
}

// Failure limits kept by internal/protect in PostgreSQL, so a subject
// locked through one instance is locked on every instance. Each keeps the
// rate of the in-memory limiter it replaced: the token endpoint's buckets
// (oauth.Default*: 10 failures per client, then one every 6 s; 30 per
// address, then one every 2 s) become locks after as many failures, of one
// refill interval and doubling up to a full bucket's refill; changePassword
// keeps its 5 wrong current passwords per user per 15 minutes.
func tokenFailureCounters(cfg *config.Config, store *postgres.Store) (byClient, byIP *protect.Failures) {
	g := protect.New(store, protectionPolicy(cfg))
	limit := func(name string, n int, every time.Duration) protect.FailureLimit {
		return protect.FailureLimit{Name: name, Threshold: n, Duration: every,
			Max: time.Duration(n) * every, Reset: time.Duration(n) * every}
	}
	return g.Failures(limit("token-client", oauth.DefaultClientFailures, oauth.DefaultClientRefill)),
		g.Failures(limit("token-ip", oauth.DefaultIPFailures, oauth.DefaultIPRefill))
}

// passwordAttemptCounter is changePassword's limit on wrong current
// passwords, per user, shared by every instance.
func passwordAttemptCounter(cfg *config.Config, store *postgres.Store) *protect.Failures {
	w := directory.DefaultPasswordAttemptWindow
	return protect.New(store, protectionPolicy(cfg)).Failures(protect.FailureLimit{Name: "change-password",
		Threshold: directory.DefaultPasswordAttempts, Duration: w, Max: w, Reset: w})
}
