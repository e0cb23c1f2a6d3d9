package api

import (
	"net/http"
	"net/url"
	"strings"
)

// parenKeySets are the entity sets whose Graph key-in-parentheses form,
// /v1.0/{set}({key})[/rest], the router serves as /v1.0/{set}/{key}[/rest].
// For users and deleted items the key keeps its quotes ('key'), so the
// handler knows it was a literal (which may start with '$') and it can never
// be mistaken for a static segment such as $count or graph.user (keyParam);
// for applications it is appId='{id}'.
var parenKeySets = []string{"users", "applications", "directory/deletedItems", "identity/authenticationEventsFlows"}

// rewriteKeySegment maps the key-in-parentheses form of parenKeySets onto
// the :key routes. Other requests pass unchanged.
func rewriteKeySegment(r *http.Request) *http.Request {
	raw := r.URL.EscapedPath()
	for _, set := range parenKeySets {
		if strings.HasPrefix(raw, apiPrefix+"/"+set+"(") {
			return rewriteParenKey(r, raw, set)
		}
	}
	return r
}

func rewriteParenKey(r *http.Request, raw, set string) *http.Request {
	seg, rest, _ := strings.Cut(raw[len(apiPrefix)+1+len(set):], "/")
	if rest != "" {
		rest = "/" + rest
	}
	seg, err := url.PathUnescape(seg)
	if err != nil || !strings.HasPrefix(seg, "(") || !strings.HasSuffix(seg, ")") {
		return r
	}
	key := seg[1 : len(seg)-1]
	// Graph's alternate key users(userPrincipalName='…') (the Go SDK's
	// UsersWithUserPrincipalName builder) is the quoted-key form.
	if name, lit, ok := strings.Cut(key, "="); set == "users" && ok && strings.EqualFold(name, "userPrincipalName") && strings.HasPrefix(lit, "'") {
		key = lit
	}
	restPath, err := url.PathUnescape(rest)
	if err != nil {
		return r
	}
	u := *r.URL
	u.Path = apiPrefix + "/" + set + "/" + key + restPath
	u.RawPath = apiPrefix + "/" + set + "/" + url.PathEscape(key) + rest
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = &u
	return r2
}
