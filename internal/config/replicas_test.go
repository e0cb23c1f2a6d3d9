package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestLoadReplicas(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://primary/db"}
	load := func(extra map[string]string) (*Config, error) {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return Load(nil, func(k string) string { return env[k] }, io.Discard)
	}
	c, err := load(nil)
	if err != nil || len(c.Replicas.URLs) != 0 || c.Replicas.MaxLag != 5*time.Second {
		t.Fatalf("defaults: %+v, %v", c.Replicas, err)
	}
	c, err = load(map[string]string{"GRAPHDIR_REPLICA_URLS": " postgres://r1:5432/db , ,postgresql://r2/db", "GRAPHDIR_REPLICA_MAX_LAG": "750ms"})
	if err != nil || strings.Join(c.Replicas.URLs, "|") != "postgres://r1:5432/db|postgresql://r2/db" || c.Replicas.MaxLag != 750*time.Millisecond {
		t.Fatalf("two replicas: %+v, %v", c.Replicas, err)
	}
	for name, env := range map[string]map[string]string{
		"not postgres": {"GRAPHDIR_REPLICA_URLS": "mysql://u:secretpw@r1/db"},
		"no host":      {"GRAPHDIR_REPLICA_URLS": "postgres:///db?password=secretpw"},
		"bad lag":      {"GRAPHDIR_REPLICA_MAX_LAG": "soon"},
		"negative lag": {"GRAPHDIR_REPLICA_MAX_LAG": "-1s"},
		"no primary":   {"DATABASE_URL": "", "GRAPHDIR_REPLICA_URLS": "postgres://r1/db"},
	} {
		_, err := load(env)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), "secretpw") {
			t.Errorf("%s: the error repeats a password: %v", name, err)
		}
	}
}
