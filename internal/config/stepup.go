package config

import (
	"fmt"
	"strings"
)

// loadStepUp reads GRAPHDIR_STEPUP_PROPERTIES (property names; "none"
// disables step-up) and GRAPHDIR_STEPUP_ACRS. Names are checked for shape
// here; whether each is a writable user property is checked when the
// service starts (directory.NewStepUp).
func loadStepUp(env func(string) string, problems *[]string) (props, acrs []string) {
	raw := strings.TrimSpace(env("GRAPHDIR_STEPUP_PROPERTIES"))
	if !strings.EqualFold(raw, "none") {
		for _, p := range strings.Split(raw, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			if !isWord(p) {
				*problems = append(*problems, fmt.Sprintf("GRAPHDIR_STEPUP_PROPERTIES: %q is not a property name", p))
				continue
			}
			props = append(props, p)
		}
	}
	for _, a := range strings.Split(env("GRAPHDIR_STEPUP_ACRS"), ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if !isWord(a) || len(a) > 64 {
			*problems = append(*problems, fmt.Sprintf("GRAPHDIR_STEPUP_ACRS: %q must be letters, digits, '-', '_', '.' or ':'", a))
			continue
		}
		acrs = append(acrs, a)
	}
	if len(acrs) == 0 {
		*problems = append(*problems, "GRAPHDIR_STEPUP_ACRS: at least one authentication context is required")
	}
	return props, acrs
}

func isWord(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-_.:", r)) {
			return false
		}
	}
	return s != ""
}
