package config

import (
	"io"
	"strings"
	"testing"
)

func TestLoadMigrateURL(t *testing.T) {
	c, err := Load(nil, env(map[string]string{
		"DATABASE_URL":            "postgres://u@pgbouncer:6432/graphdir",
		"GRAPHDIR_DB_MIGRATE_URL": "postgres://u@primary:5432/graphdir",
	}), io.Discard)
	if err != nil || c.DBDirectURL != "postgres://u@primary:5432/graphdir" || c.DatabaseURL != "postgres://u@pgbouncer:6432/graphdir" {
		t.Fatalf("%+v, %v", c, err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DATABASE_URL": "postgres://u@h/db", "GRAPHDIR_DB_MIGRATE_URL": "mysql://h/db"}, "GRAPHDIR_DB_MIGRATE_URL: must be a postgres:// URL"},
		{map[string]string{"GRAPHDIR_DB_MIGRATE_URL": "postgres://u@h/db"}, "GRAPHDIR_DB_MIGRATE_URL: needs DATABASE_URL"},
	} {
		if _, err := Load(nil, env(tc.env), io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.env, err, tc.want)
		}
	}
}
