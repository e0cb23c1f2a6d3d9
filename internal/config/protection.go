package config

import (
	"fmt"
	"strconv"
	"time"
)

// Protection is the account-protection and sign-in log settings
// (internal/protect, internal/signin; README "Account protection").
type Protection struct {
	// LockoutThreshold failures lock a sign-in name for LockoutDuration,
	// doubling on each further lock up to LockoutMax; LockoutReset of
	// quiet forgets the failures.
	LockoutThreshold int
	LockoutDuration  time.Duration
	LockoutMax       time.Duration
	LockoutReset     time.Duration
	// RateWindow is the fixed window of the per-IP and per-tenant limits
	// (attempts per window and credential-checking step).
	RateWindow      time.Duration
	RatePerIP       int
	RatePerTenant   int
	SignInRetention time.Duration
}

// protectionVars document the settings; Vars includes them.
var protectionVars = []Var{
	{"GRAPHDIR_LOCKOUT_THRESHOLD", "", "10", "failed sign-ins (password or code) that lock a sign-in name, known or not (Entra smart lockout's default)"},
	{"GRAPHDIR_LOCKOUT_DURATION", "", "60s", "length of the first lock; each further lock after it runs out doubles it"},
	{"GRAPHDIR_LOCKOUT_MAX_DURATION", "", "15m", "longest lock"},
	{"GRAPHDIR_LOCKOUT_RESET", "", "12h", "quiet time after the last failure that forgets a name's failures and locks"},
	{"GRAPHDIR_SIGNIN_RATE_WINDOW", "", "1m", "window of the per-IP and per-tenant limits on each credential-checking step"},
	{"GRAPHDIR_SIGNIN_RATE_PER_IP", "", "60", "attempts one IP address may make per window and step (password, code verify, code send)"},
	{"GRAPHDIR_SIGNIN_RATE_PER_TENANT", "", "6000", "attempts per window and step in one tenant, all addresses together"},
	{"GRAPHDIR_SIGNIN_LOG_RETENTION", "", "720h", "how long sign-in log entries (auditLogs/signIns) are kept (Entra Free: 30 days); pruned by the background jobs"},
}

func init() { Vars = append(Vars, protectionVars...) }

// loadProtection reads the settings through env (which applies the
// documented defaults), appending every problem it finds.
func loadProtection(env func(string) string, problems *[]string) Protection {
	var p Protection
	for _, v := range []struct {
		name string
		dst  *time.Duration
	}{{"GRAPHDIR_LOCKOUT_DURATION", &p.LockoutDuration}, {"GRAPHDIR_LOCKOUT_MAX_DURATION", &p.LockoutMax},
		{"GRAPHDIR_LOCKOUT_RESET", &p.LockoutReset}, {"GRAPHDIR_SIGNIN_RATE_WINDOW", &p.RateWindow},
		{"GRAPHDIR_SIGNIN_LOG_RETENTION", &p.SignInRetention}} {
		d, err := time.ParseDuration(env(v.name))
		if err != nil || d < time.Second {
			*problems = append(*problems, fmt.Sprintf("%s: %q must be a duration of at least 1s such as 60s", v.name, env(v.name)))
		}
		*v.dst = d
	}
	for _, v := range []struct {
		name string
		dst  *int
	}{{"GRAPHDIR_LOCKOUT_THRESHOLD", &p.LockoutThreshold}, {"GRAPHDIR_SIGNIN_RATE_PER_IP", &p.RatePerIP},
		{"GRAPHDIR_SIGNIN_RATE_PER_TENANT", &p.RatePerTenant}} {
		n, err := strconv.Atoi(env(v.name))
		if err != nil || n < 1 || n > 1_000_000_000 {
			*problems = append(*problems, fmt.Sprintf("%s: %q must be a whole number from 1 to 1000000000", v.name, env(v.name)))
		}
		*v.dst = n
	}
	if p.LockoutMax < p.LockoutDuration {
		*problems = append(*problems, "GRAPHDIR_LOCKOUT_MAX_DURATION: must not be shorter than GRAPHDIR_LOCKOUT_DURATION")
	}
	return p
}
