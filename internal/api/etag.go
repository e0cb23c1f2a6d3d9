package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// Optimistic concurrency (beyond Graph, which has none). Every user has a
// version that each write increases; responses carrying a user show it as
// the weak ETag W/"<version>" (the ETag header of single-user responses,
// @odata.etag in every user object). PATCH and DELETE with If-Match write
// only when it still matches, checked in the UPDATE itself (store), else
// 412 Request_PreconditionFailed. "If-Match: *" matches any existing user.
// Without If-Match the last write wins, as in Graph.

// etagOf returns u's ETag, "" when it has no version (fakes in tests).
func etagOf(u *directory.User) string {
	if u == nil || u.Version <= 0 {
		return ""
	}
	return `W/"` + strconv.FormatInt(u.Version, 10) + `"`
}

// setETag sets the ETag header for u.
func setETag(c *gin.Context, u *directory.User) {
	if t := etagOf(u); t != "" {
		c.Header("ETag", t)
	}
}

// appendETag appends ,"@odata.etag":"W/\"n\"" (or, with first, without the
// comma) when u has a version; it returns whether it wrote a member.
func appendETag(b []byte, u *directory.User, first bool) ([]byte, bool) {
	t := etagOf(u)
	if t == "" {
		return b, false
	}
	if !first {
		b = append(b, ',')
	}
	b = append(b, `"@odata.etag":`...)
	return appendString(b, t), true
}

// appendUserItem appends u as one element of a collection: its
// @odata.etag (and, when typ is set, @odata.type) before its properties.
func appendUserItem(b []byte, u *directory.User, props []*directory.Property, typ bool) []byte {
	b = append(b, '{')
	first := true
	if typ {
		b = append(b, `"@odata.type":"#microsoft.graph.user"`...)
		first = false
	}
	b, wrote := appendETag(b, u, first)
	first = first && !wrote
	if first {
		return appendUser(b[:len(b)-1], u, props, true)
	}
	return appendUser(b, u, props, false)
}

// preconditions reads If-Match on PATCH and DELETE of a user into the
// request's context (directory.WithIfMatch). One ETag or "*"; an ETag
// graphdir did not issue never matches (412), several are refused (400).
func (s *server) preconditions(c *gin.Context) {
	vals := c.Request.Header.Values("If-Match")
	if len(vals) == 0 {
		c.Next()
		return
	}
	var tags []string
	for _, v := range vals {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	switch {
	case len(tags) == 0:
		c.Next()
		return
	case len(tags) > 1:
		s.writeError(c, (&directory.Error{Kind: directory.KindBadRequest,
			Message: "If-Match may carry one ETag (or *) only."}).WithTarget("If-Match"))
		return
	case tags[0] == "*":
		c.Next()
		return
	}
	version := parseETag(tags[0])
	c.Request = c.Request.WithContext(directory.WithIfMatch(c.Request.Context(), version))
	c.Next()
}

// parseETag returns the version of W/"n" or "n", -1 (never matches) for
// anything else.
func parseETag(t string) int64 {
	t = strings.TrimPrefix(t, "W/")
	if len(t) < 3 || t[0] != '"' || t[len(t)-1] != '"' {
		return -1
	}
	n, err := strconv.ParseInt(t[1:len(t)-1], 10, 64)
	if err != nil || n <= 0 {
		return -1
	}
	return n
}

// statusNoContentWithETag ends a successful PATCH: 204 and the new ETag.
func statusNoContentWithETag(c *gin.Context, u *directory.User) {
	setETag(c, u)
	c.Status(http.StatusNoContent)
}
