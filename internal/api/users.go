package api

import (
	"crypto/sha256"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/textlimit"
)

// handleListUsers serves GET /v1.0/users: every query option parsed with
// pkg/odata into a directory.ListQuery, one page back with
// @odata.count (when $count=true, on every page) and an absolute
// @odata.nextLink that repeats the client's options and carries a signed
// $skiptoken. With ConsistencyLevel: eventual the page may come from a read
// replica (consistency.go); every query is answered with or without it.
func (s *server) handleListUsers(c *gin.Context) {
	q, err := s.parseUserQuery(c) // signins.go: signInActivity needs AuditLog.Read.All
	if err != nil {
		s.writeError(c, err)
		return
	}
	l := userListing{context: "#users", shape: q.shapeHash(), selection: (*queryOptions).properties}
	lq, err := s.pageQuery(c, q, l.shape)
	if err != nil {
		s.writeError(c, err)
		return
	}
	page, err := s.dir.ListUsers(eventualContext(c), lq)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.selectExtensions(c, q, page.Users); err != nil { // extensions.go
		s.writeError(c, err)
		return
	}
	s.writeUserPage(c, q, l, page)
}

// userListing is what sets a listing of users (/users, deleted items)
// apart from another.
type userListing struct {
	context string            // @odata.context fragment, before the $select suffix
	shape   [sha256.Size]byte // what $skiptoken values are bound to
	// selection is the properties of each item; it is read after the
	// page is, since $select of extension properties resolves only then.
	selection func(*queryOptions) []*directory.Property
	typed     bool // each item carries @odata.type, as a directoryObject
}

// pageQuery is q's ListQuery, positioned after the cursor of q's
// $skiptoken, which is bound to the caller's tenant and shape.
func (s *server) pageQuery(c *gin.Context, q *queryOptions, shape [sha256.Size]byte) (directory.ListQuery, error) {
	lq := q.listQuery()
	if q.skipToken != "" {
		p := directory.PrincipalFrom(c.Request.Context())
		var err error
		if lq.After, err = s.skipTokens.Open(p.TenantID, shape, q.skipToken); err != nil {
			return lq, err
		}
		// $skip positioned the first page; the cursor already lies past
		// the skipped rows. The token is bound to $skip's value, so it
		// cannot be replayed with another one.
		lq.Skip = 0
	}
	return lq, nil
}

// writeUserPage writes one page of a user listing, with @odata.count
// (when $count=true, on every page) and an absolute @odata.nextLink that
// repeats the client's options and carries a signed $skiptoken.
func (s *server) writeUserPage(c *gin.Context, q *queryOptions, l userListing, page *directory.Page) {
	base := s.base(c.Request)
	b := make([]byte, 0, 256+len(page.Users)*512)
	b = append(b, `{"@odata.context":`...)
	b = appendString(b, base+apiPrefix+"/$metadata"+l.context+q.selectSuffix())
	if q.count && page.Count != nil {
		b = append(b, `,"@odata.count":`...)
		b = strconv.AppendInt(b, *page.Count, 10)
	}
	if page.Next != nil {
		p := directory.PrincipalFrom(c.Request.Context())
		link := base + c.Request.URL.EscapedPath() + "?" + q.nextLinkQuery(s.skipTokens.Sign(p.TenantID, l.shape, page.Next))
		b = append(b, `,"@odata.nextLink":`...)
		b = appendString(b, link)
	}
	b = append(b, `,"value":[`...)
	props := l.selection(q)
	for i, u := range page.Users {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendUserItem(b, u, props, l.typed) // etag.go: with @odata.etag
	}
	b = append(b, "]}"...)
	writeJSON(c, http.StatusOK, b)
}

// handleCountUsers serves GET /v1.0/users/$count: the number of users
// $filter and $search match, as a bare integer in text/plain. Graph wants
// ConsistencyLevel: eventual here; graphdir answers with or without it, from
// a read replica with it (consistency.go).
func (s *server) handleCountUsers(c *gin.Context) {
	q, err := s.parseUserQuery(c) // signins.go: signInActivity needs AuditLog.Read.All
	if err != nil {
		s.writeError(c, err)
		return
	}
	n, err := s.dir.CountUsers(eventualContext(c), q.listQuery())
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeCount(c, n)
}

// writeCount answers a $count request: the bare number in text/plain.
func writeCount(c *gin.Context, n int64) {
	h := c.Writer.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	_, _ = c.Writer.Write(strconv.AppendInt(nil, n, 10))
}

// handleGetUser serves GET /v1.0/users/{id | userPrincipalName}.
func (s *server) handleGetUser(c *gin.Context) {
	if c.Param("key") == "$count" {
		// /users/%24count: the router matched the escaped form as a key.
		// CountUsers checks the listing permission itself; the options
		// are those of the $count row.
		c.Set(routeOptionsKey, countOptions)
		s.handleCountUsers(c)
		return
	}
	key, err := userKey(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	q, err := s.parseUserQuery(c) // signins.go: signInActivity needs AuditLog.Read.All
	if err != nil {
		s.writeError(c, err)
		return
	}
	u, err := s.dir.GetUser(c.Request.Context(), key)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeEntity(c, http.StatusOK, u, q)
}

// handleGetMe serves GET /v1.0/me.
func (s *server) handleGetMe(c *gin.Context) {
	q, err := s.parseUserQuery(c) // signins.go: signInActivity needs AuditLog.Read.All
	if err != nil {
		s.writeError(c, err)
		return
	}
	u, err := s.dir.GetMe(c.Request.Context())
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeEntity(c, http.StatusOK, u, q)
}

// handleCreateUser serves POST /v1.0/users: 201 with the default
// properties of the new user and its URL in Location.
func (s *server) handleCreateUser(c *gin.Context) {
	values, ok := s.decodeWrite(c)
	if !ok {
		return
	}
	u, err := s.dir.CreateUser(c.Request.Context(), values)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", s.base(c.Request)+apiPrefix+"/users/"+u.ID)
	s.writeEntity(c, http.StatusCreated, u, &queryOptions{})
}

// handleUpdateUser serves PATCH /v1.0/users/{key}: 204 without a body.
func (s *server) handleUpdateUser(c *gin.Context) {
	key, err := userKey(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	values, ok := s.decodeWrite(c)
	if !ok {
		return
	}
	u, err := s.dir.UpdateUser(c.Request.Context(), key, values)
	if err != nil {
		s.writeError(c, err)
		return
	}
	statusNoContentWithETag(c, u)
}

// handleUpdateMe serves PATCH /v1.0/me: 204 without a body.
func (s *server) handleUpdateMe(c *gin.Context) {
	values, ok := s.decodeWrite(c)
	if !ok {
		return
	}
	u, err := s.dir.UpdateMe(c.Request.Context(), values)
	if err != nil {
		s.writeError(c, err)
		return
	}
	statusNoContentWithETag(c, u)
}

// handleDeleteUser serves DELETE /v1.0/users/{key}: 204 without a body.
func (s *server) handleDeleteUser(c *gin.Context) {
	key, err := userKey(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if _, err := parseQuery(c.Request.URL.RawQuery, routeOptions(c)); err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.dir.DeleteUser(c.Request.Context(), key); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// decodeWrite checks the query string of a write and decodes its body. On
// failure it has written the error and returns false.
func (s *server) decodeWrite(c *gin.Context) (map[string]any, bool) {
	if _, err := parseQuery(c.Request.URL.RawQuery, routeOptions(c)); err != nil {
		s.writeError(c, err)
		return nil, false
	}
	data, err := s.readBody(c)
	if err != nil {
		s.writeError(c, err)
		return nil, false
	}
	values, err := decodeUserBody(data)
	if err != nil {
		s.writeError(c, err)
		return nil, false
	}
	return values, true
}

// writeEntity writes one user with its @odata.context.
func (s *server) writeEntity(c *gin.Context, status int, u *directory.User, q *queryOptions) {
	if err := s.selectExtensions(c, q, []*directory.User{u}); err != nil { // extensions.go
		s.writeError(c, err)
		return
	}
	b := make([]byte, 0, 512)
	b = append(b, `{"@odata.context":`...)
	b = appendString(b, s.base(c.Request)+apiPrefix+"/$metadata#users"+q.selectSuffix()+"/$entity")
	b, _ = appendETag(b, u, false) // etag.go
	b = appendUser(b, u, q.properties(), false)
	setETag(c, u)
	writeJSON(c, status, b)
}

// userKey returns the :key path parameter as the user key it denotes.
func userKey(c *gin.Context) (string, error) { return keyParam(c, "key") }

// keyParam returns the path parameter name as the key it denotes. A quoted
// key ('…', from Graph's set('…') form, quotes doubled inside) is an OData
// string literal and may start with '$'; a bare key starting with '$' would
// be a system segment ($count, $ref, …), which we do not serve.
func keyParam(c *gin.Context, name string) (string, error) {
	key := c.Param(name)
	if len(key) >= 2 && key[0] == '\'' && key[len(key)-1] == '\'' {
		inner := key[1 : len(key)-1]
		var b strings.Builder
		for i := 0; i < len(inner); i++ {
			if inner[i] == '\'' {
				if i+1 >= len(inner) || inner[i+1] != '\'' {
					return "", directory.Errorf(directory.KindBadRequest, "Invalid key literal: a single quote inside a key must be doubled.")
				}
				i++
			}
			b.WriteByte(inner[i])
		}
		return b.String(), nil
	}
	if strings.HasPrefix(key, "$") {
		return "", errSegmentNotFound(textlimit.Clip(key, maxEchoed))
	}
	return key, nil
}

// base is scheme://host of the API as the caller reached it.
func (s *server) base(r *http.Request) string {
	if s.baseURL != "" {
		return s.baseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
