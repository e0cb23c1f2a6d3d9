package api

import (
	"context"
	"crypto/sha256"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// DeletedItems serves /v1.0/directory/deletedItems (Graph's "List
// deletedItems", https://learn.microsoft.com/graph/api/directory-deleteditems-list).
type DeletedItems interface {
	ListDeletedUsers(ctx context.Context, q directory.ListQuery) (*directory.Page, error)
	CountDeletedUsers(ctx context.Context, q directory.ListQuery) (int64, error)
	GetDeletedUser(ctx context.Context, id string) (*directory.User, error)
	RestoreUser(ctx context.Context, id string) (*directory.User, error)
	PurgeUser(ctx context.Context, id string) error
}

// deletedItemsRequest starts every deleted-items handler: the query
// options the route does not take are refused.
func (s *server) deletedItemsRequest(c *gin.Context) (DeletedItems, *queryOptions, bool) {
	// Without the cast segment the item is a directoryObject, and $expand
	// names that type's navigation properties.
	typeName := "user"
	if c.FullPath() == deletedItemsPath+"/:id" {
		typeName = "directoryObject"
	}
	q, err := parseTypedQuery(c.Request.URL.RawQuery, routeOptions(c), typeName)
	if err == nil {
		err = s.checkSignInActivity(c, q) // signins.go: signInActivity needs AuditLog.Read.All
	}
	if err != nil {
		s.writeError(c, err)
		return nil, nil, false
	}
	return s.dir, q, true
}

// deletedItemRequest starts the handlers of one deleted item: the query
// options are checked as deletedItemsRequest does, then the {id} key is read.
func (s *server) deletedItemRequest(c *gin.Context) (DeletedItems, *queryOptions, string, bool) {
	d, q, ok := s.deletedItemsRequest(c)
	if !ok {
		return nil, nil, "", false
	}
	id, err := keyParam(c, "id")
	if err != nil {
		s.writeError(c, err)
		return nil, nil, "", false
	}
	return d, q, id, true
}

// deletedShape keeps $skiptoken values of the deleted-items listing apart
// from those of /users with the same options.
func deletedShape(q *queryOptions) [sha256.Size]byte {
	h := q.shapeHash()
	return sha256.Sum256(append([]byte("directory/deletedItems/microsoft.graph.user\x00"), h[:]...))
}

// deletedProperties is the default selection of a deleted user: Graph's
// default set plus deletedDateTime.
var deletedProperties = func() []*directory.Property {
	out := append([]*directory.Property{}, defaultProperties...)
	if p, ok := directory.LookupProperty("deletedDateTime"); ok {
		out = append(out, p)
	}
	return out
}()

func deletedSelection(q *queryOptions) []*directory.Property {
	if q.selected == nil {
		return deletedProperties
	}
	return q.properties()
}

// handleListDeletedUsers serves GET /v1.0/directory/deletedItems/microsoft.graph.user:
// the query options of GET /users ($filter, $search, $orderby with
// deletedDateTime, $top, $skiptoken paging, $count, $select).
func (s *server) handleListDeletedUsers(c *gin.Context) {
	d, q, ok := s.deletedItemsRequest(c)
	if !ok {
		return
	}
	l := userListing{context: "#directory/deletedItems/microsoft.graph.user", shape: deletedShape(q), selection: deletedSelection, typed: true}
	lq, err := s.pageQuery(c, q, l.shape)
	if err != nil {
		s.writeError(c, err)
		return
	}
	page, err := d.ListDeletedUsers(c.Request.Context(), lq)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeUserPage(c, q, l, page)
}

// handleCountDeletedUsers serves .../microsoft.graph.user/$count in text/plain.
func (s *server) handleCountDeletedUsers(c *gin.Context) {
	d, q, ok := s.deletedItemsRequest(c)
	if !ok {
		return
	}
	n, err := d.CountDeletedUsers(c.Request.Context(), q.listQuery())
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeCount(c, n)
}

// handleGetDeletedUser serves GET /v1.0/directory/deletedItems/{id}.
func (s *server) handleGetDeletedUser(c *gin.Context) {
	d, q, id, ok := s.deletedItemRequest(c)
	if !ok {
		return
	}
	u, err := d.GetDeletedUser(c.Request.Context(), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeDirectoryObject(c, "#directory/deletedItems/$entity", u, deletedSelection(q))
}

// handleRestoreUser serves POST /v1.0/directory/deletedItems/{id}/restore:
// 200 with the restored user as a directoryObject. Graph's beta body
// options are not supported; an empty body (or {}) is.
func (s *server) handleRestoreUser(c *gin.Context) {
	d, _, id, ok := s.deletedItemRequest(c)
	if !ok {
		return
	}
	u, err := d.RestoreUser(c.Request.Context(), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeDirectoryObject(c, "#directoryObjects/$entity", u, deletedProperties)
}

// handlePurgeUser serves DELETE /v1.0/directory/deletedItems/{id}: 204,
// permanent.
func (s *server) handlePurgeUser(c *gin.Context) {
	d, _, id, ok := s.deletedItemRequest(c)
	if !ok {
		return
	}
	if err := d.PurgeUser(c.Request.Context(), id); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// writeDirectoryObject writes a user typed as a directoryObject, with
// @odata.context fragment ctxFragment, its ETag and @odata.type.
func (s *server) writeDirectoryObject(c *gin.Context, ctxFragment string, u *directory.User, props []*directory.Property) {
	b := make([]byte, 0, 512)
	b = append(b, `{"@odata.context":`...)
	b = appendString(b, s.base(c.Request)+apiPrefix+"/$metadata"+ctxFragment)
	b = append(b, `,"@odata.type":"#microsoft.graph.user"`...)
	b, _ = appendETag(b, u, false)
	b = appendUser(b, u, props, false)
	setETag(c, u)
	writeJSON(c, http.StatusOK, b)
}
