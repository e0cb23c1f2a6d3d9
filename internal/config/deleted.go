package config

import (
	"fmt"
	"time"
)

// deletedVars document the deleted-items settings; Vars includes them.
var deletedVars = []Var{
	{"GRAPHDIR_DELETED_RETENTION", "", "720h", "how long a deleted user stays in deleted items (restorable) before the background purge removes it for good"},
	{"GRAPHDIR_PURGE_INTERVAL", "", "1h", "how often each instance runs the background purge of expired deleted users (batches of 500, SKIP LOCKED: safe with several instances)"},
}

// loadDeleted reads the deleted-items settings through env (which applies
// the documented defaults), appending every problem it finds.
func loadDeleted(env func(string) string, problems *[]string) (retention, interval time.Duration) {
	for _, v := range []struct {
		name string
		dst  *time.Duration
	}{{"GRAPHDIR_DELETED_RETENTION", &retention}, {"GRAPHDIR_PURGE_INTERVAL", &interval}} {
		d, err := time.ParseDuration(env(v.name))
		if err != nil || d <= 0 {
			*problems = append(*problems, fmt.Sprintf("%s: %q must be a positive duration such as 720h", v.name, env(v.name)))
		}
		*v.dst = d
	}
	return retention, interval
}
