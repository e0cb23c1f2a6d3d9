package oauth

import (
	"slices"
	"strings"
)

// graphResource is Graph's resource URI; scopes qualified with it are
// accepted so that apps ported from External ID need no change.
const graphResource = "https://graph.microsoft.com"

// canonicalScopes spells the delegated scopes graphdir knows the way Graph
// does; others keep the client's spelling.
var canonicalScopes = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{"openid", "profile", "email", "offline_access", "User.Read", "User.ReadWrite",
		"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "User.RevokeSessions.All",
		"Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"} {
		m[strings.ToLower(s)] = s
	}
	return m
}()

// defaultScope is the ".default" of a resource: every consented scope.
const defaultScope = ".default"

// normalizeScopes reads a space-separated scope parameter: bare names,
// names qualified with audience ("api://graphdir/User.Read") or with
// Graph's resource URI, in any case, deduplicated, in the order given.
// A ".default" (bare or qualified) is returned as defaultScope. ok is
// false for a scope of another resource or an empty element.
// TODO(issue 12): replace by the directory normaliser once merged.
func normalizeScopes(raw, audience string) (out []string, bad string, ok bool) {
	if raw == "" {
		return nil, "", true
	}
	for _, s := range strings.Split(raw, " ") {
		if s == "" {
			continue // MSAL's percent-encoding leaves doubled spaces alone
		}
		name := s
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			res := s[:i]
			if !strings.EqualFold(res, audience) && !strings.EqualFold(res, graphResource) {
				return nil, s, false
			}
			name = s[i+1:]
		}
		if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r == 0x7f }) {
			return nil, s, false
		}
		if strings.EqualFold(name, defaultScope) {
			name = defaultScope
		} else if c, known := canonicalScopes[strings.ToLower(name)]; known {
			name = c
		}
		if !containsFold(out, name) {
			out = append(out, name)
		}
	}
	return out, "", true
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// isOIDCScope reports whether s is an OpenID Connect scope (granted with
// every sign-in, never an API permission).
func isOIDCScope(s string) bool {
	switch strings.ToLower(s) {
	case "openid", "profile", "email", "offline_access":
		return true
	}
	return false
}
