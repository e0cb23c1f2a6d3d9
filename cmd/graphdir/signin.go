package main

import (
	"github.com/graphdir/graphdir/internal/config"
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
