package config

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.PublicURL != "http://localhost:8080" || c.StateDir != ".graphdir" ||
		c.Domains[0] != "graphdir.local" || c.Audience != "api://graphdir" || c.MaxBodyBytes != 1<<20 ||
		c.ShutdownGrace != 20*time.Second || c.DatabaseURL != "" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestLoadFlagsAndEnv(t *testing.T) {
	c, err := Load([]string{"--addr", "127.0.0.1:9999"}, env(map[string]string{
		"GRAPHDIR_PUBLIC_URL": "https://id.example.com/", "GRAPHDIR_DOMAINS": "Example.com, other.org",
		"DATABASE_URL": "postgres://u@db/graphdir",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.PublicURL != "https://id.example.com" || strings.Join(c.Domains, ",") != "example.com,other.org" {
		t.Fatalf("got %+v", c)
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	_, err := Load([]string{"--tls-cert", "/nonexistent.pem", "extra"}, env(map[string]string{
		"GRAPHDIR_PUBLIC_URL":     "ftp://x",
		"GRAPHDIR_DOMAINS":        "not a domain",
		"GRAPHDIR_MAX_BODY_BYTES": "12",
		"GRAPHDIR_SHUTDOWN_GRACE": "soon",
		"GRAPHDIR_LOG_LEVEL":      "loud",
		"DATABASE_URL":            "mysql://x",
	}), io.Discard)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Error", err)
	}
	for _, want := range []string{"GRAPHDIR_PUBLIC_URL", "GRAPHDIR_DOMAINS", "GRAPHDIR_MAX_BODY_BYTES", "GRAPHDIR_SHUTDOWN_GRACE",
		"GRAPHDIR_LOG_LEVEL", "DATABASE_URL", "--tls-cert and --tls-key", "unexpected arguments"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems do not mention %s:\n%v", want, err)
		}
	}
	if len(ce.Problems) < 8 {
		t.Errorf("got %d problems, want all of them", len(ce.Problems))
	}
}

// TestREADMEDocumentsEverySetting keeps the README's configuration table true.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(readme), "`"+v.Env+"`") {
			t.Errorf("README.md does not document %s", v.Env)
		}
	}
}

func TestLoadProtection(t *testing.T) {
	c, err := Load(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Protection{LockoutThreshold: 10, LockoutDuration: time.Minute, LockoutMax: 15 * time.Minute, LockoutReset: 12 * time.Hour,
		RateWindow: time.Minute, RatePerIP: 60, RatePerTenant: 6000, SignInRetention: 720 * time.Hour}
	if c.Protection != want {
		t.Fatalf("defaults: %+v", c.Protection)
	}
	env := map[string]string{"GRAPHDIR_LOCKOUT_THRESHOLD": "3", "GRAPHDIR_LOCKOUT_DURATION": "10m", "GRAPHDIR_LOCKOUT_MAX_DURATION": "5m",
		"GRAPHDIR_SIGNIN_RATE_PER_IP": "0", "GRAPHDIR_SIGNIN_LOG_RETENTION": "forever"}
	_, err = Load(nil, func(k string) string { return env[k] }, io.Discard)
	for _, name := range []string{"GRAPHDIR_LOCKOUT_MAX_DURATION", "GRAPHDIR_SIGNIN_RATE_PER_IP", "GRAPHDIR_SIGNIN_LOG_RETENTION"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("bad %s accepted: %v", name, err)
		}
	}
}
