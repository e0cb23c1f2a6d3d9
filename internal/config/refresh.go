package config

import (
	"fmt"
	"time"
)

// refreshVars document the refresh-token settings. They are appended to
// Vars here rather than in its literal so that this file is their one home.
var refreshVars = []Var{
	{"GRAPHDIR_REFRESH_TOKEN_IDLE", "", "2160h", "refresh token sliding lifetime: a token unused this long expires (Entra: 90 days of inactivity)"},
	{"GRAPHDIR_REFRESH_TOKEN_MAX_AGE", "", "8760h", "absolute lifetime of a refresh-token family (one sign-in and its rotations)"},
	{"GRAPHDIR_REFRESH_TOKEN_SPA_MAX_AGE", "", "24h", "absolute lifetime for single-page apps (Entra: 24 hours)"},
	{"GRAPHDIR_REFRESH_TOKEN_REUSE_GRACE", "", "30s", "how long a rotated refresh token may be presented again and get the same successor (racing tabs); after it, reuse revokes the family"},
}

func init() { Vars = append(Vars, refreshVars...) }

// RefreshTokens are the refresh-token lifetimes.
type RefreshTokens struct {
	Idle, MaxAge, SPAMaxAge, ReuseGrace time.Duration
}

// LoadRefreshTokens reads the refresh-token settings through getenv,
// applying the documented defaults.
func LoadRefreshTokens(getenv func(string) string) (RefreshTokens, error) {
	var r RefreshTokens
	var problems []string
	for _, v := range []struct {
		name string
		dst  *time.Duration
		min  time.Duration
	}{
		{"GRAPHDIR_REFRESH_TOKEN_IDLE", &r.Idle, time.Minute},
		{"GRAPHDIR_REFRESH_TOKEN_MAX_AGE", &r.MaxAge, time.Minute},
		{"GRAPHDIR_REFRESH_TOKEN_SPA_MAX_AGE", &r.SPAMaxAge, time.Minute},
		{"GRAPHDIR_REFRESH_TOKEN_REUSE_GRACE", &r.ReuseGrace, 0},
	} {
		raw := getenv(v.name)
		if raw == "" {
			raw = defaultOf(v.name)
		}
		d, err := time.ParseDuration(raw)
		if err != nil || d < v.min || d < 0 {
			problems = append(problems, fmt.Sprintf("%s: %q must be a duration of at least %s, such as %s", v.name, raw, v.min, defaultOf(v.name)))
		}
		*v.dst = d
	}
	if len(problems) == 0 && r.ReuseGrace > 5*time.Minute {
		problems = append(problems, "GRAPHDIR_REFRESH_TOKEN_REUSE_GRACE: at most 5m (a longer window weakens reuse detection)")
	}
	if len(problems) > 0 {
		return r, &Error{Problems: problems}
	}
	return r, nil
}

func defaultOf(name string) string {
	for _, v := range refreshVars {
		if v.Env == name {
			return v.Default
		}
	}
	return ""
}
