package api

import (
	"net/http"
	"net/url"
	"strings"
)

// usersParen is how Graph's key-in-parentheses form starts.
const usersParen = apiPrefix + "/users("

// rewriteKeySegment maps Graph's /v1.0/users('key')[/rest] onto the router's
// /v1.0/users/'key'[/rest], keeping the quotes so the handler knows the key
// was a literal (which may start with '$') and so it can never be mistaken
// for a static segment such as $count. Other requests pass unchanged.
func rewriteKeySegment(r *http.Request) *http.Request {
	raw := r.URL.EscapedPath()
	if !strings.HasPrefix(raw, usersParen) {
		return r
	}
	seg, rest, _ := strings.Cut(raw[len(apiPrefix)+1:], "/")
	if rest != "" {
		rest = "/" + rest
	}
	seg, err := url.PathUnescape(seg)
	if err != nil || !strings.HasPrefix(seg, "users(") || !strings.HasSuffix(seg, ")") {
		return r
	}
	literal := seg[len("users(") : len(seg)-1]
	restPath, err := url.PathUnescape(rest)
	if err != nil {
		return r
	}
	u := *r.URL
	u.Path = apiPrefix + "/users/" + literal + restPath
	u.RawPath = apiPrefix + "/users/" + url.PathEscape(literal) + rest
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = &u
	return r2
}
