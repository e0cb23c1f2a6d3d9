package config

import (
	"strings"
	"testing"
	"time"
)

func TestLoadRefreshTokens(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	got, err := LoadRefreshTokens(env(nil))
	if err != nil || got != (RefreshTokens{Idle: 90 * 24 * time.Hour, MaxAge: 365 * 24 * time.Hour, SPAMaxAge: 24 * time.Hour, ReuseGrace: 30 * time.Second}) {
		t.Fatalf("defaults: %+v %v", got, err)
	}
	got, err = LoadRefreshTokens(env(map[string]string{"GRAPHDIR_REFRESH_TOKEN_IDLE": "1h", "GRAPHDIR_REFRESH_TOKEN_REUSE_GRACE": "0s"}))
	if err != nil || got.Idle != time.Hour || got.ReuseGrace != 0 {
		t.Fatalf("set: %+v %v", got, err)
	}
	for name, v := range map[string]string{
		"GRAPHDIR_REFRESH_TOKEN_IDLE":        "soon",
		"GRAPHDIR_REFRESH_TOKEN_MAX_AGE":     "30s",
		"GRAPHDIR_REFRESH_TOKEN_SPA_MAX_AGE": "-1h",
		"GRAPHDIR_REFRESH_TOKEN_REUSE_GRACE": "10m",
	} {
		if _, err := LoadRefreshTokens(env(map[string]string{name: v})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v", name, v, err)
		}
	}
	// Load reports them with every other problem.
	if _, err := Load(nil, env(map[string]string{"GRAPHDIR_REFRESH_TOKEN_IDLE": "x"}), nil); err == nil || !strings.Contains(err.Error(), "GRAPHDIR_REFRESH_TOKEN_IDLE") {
		t.Fatalf("Load: %v", err)
	}
}
