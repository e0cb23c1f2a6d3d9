package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// replicaVars document the read-replica settings; Vars includes them.
var replicaVars = []Var{
	{"GRAPHDIR_REPLICA_URLS", "", "", "comma-separated PostgreSQL URLs of streaming replicas of DATABASE_URL; user lists and $count requests sent with ConsistencyLevel: eventual are read from them (see Read replicas)"},
	{"GRAPHDIR_REPLICA_MAX_LAG", "", "5s", "a replica further behind the primary than this (or down) is skipped and its eventual reads go to the primary"},
}

func init() { Vars = append(Vars, replicaVars...) }

// Replicas are the read replicas and how stale they may be.
type Replicas struct {
	URLs   []string
	MaxLag time.Duration
}

// loadReplicas reads GRAPHDIR_REPLICA_URLS and GRAPHDIR_REPLICA_MAX_LAG.
// A URL's text is never echoed in a problem: it may hold a password.
func loadReplicas(env func(string) string, problems *[]string) Replicas {
	var r Replicas
	for i, raw := range strings.Split(env("GRAPHDIR_REPLICA_URLS"), ",") {
		u := strings.TrimSpace(raw)
		if u == "" {
			continue
		}
		if strings.Contains(u, "://") {
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "postgres" && p.Scheme != "postgresql") || p.Host == "" {
				*problems = append(*problems, fmt.Sprintf("GRAPHDIR_REPLICA_URLS: entry %d is not a postgres:// URL with a host", i+1))
				continue
			}
		}
		r.URLs = append(r.URLs, u)
	}
	d, err := time.ParseDuration(env("GRAPHDIR_REPLICA_MAX_LAG"))
	if err != nil || d <= 0 {
		*problems = append(*problems, fmt.Sprintf("GRAPHDIR_REPLICA_MAX_LAG: %q must be a positive duration such as 5s", env("GRAPHDIR_REPLICA_MAX_LAG")))
	}
	r.MaxLag = d
	return r
}
