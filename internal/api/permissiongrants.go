package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/textlimit"
	"github.com/graphdir/graphdir/pkg/odata"
)

// PermissionGrants serves Graph's /oauth2PermissionGrants
// (*directory.PermissionGrants): the delegated permission grants, users'
// own consent (consent.go) and administrators' grants.
type PermissionGrants interface {
	ListGrants(ctx context.Context, f directory.PermissionGrantFilter) ([]directory.OAuth2PermissionGrant, error)
	GetGrant(ctx context.Context, id string) (*directory.OAuth2PermissionGrant, error)
	CreateGrant(ctx context.Context, g directory.OAuth2PermissionGrant, scope string) (*directory.OAuth2PermissionGrant, error)
	UpdateGrantScope(ctx context.Context, id, scope string) error
	DeleteGrant(ctx context.Context, id string) error
}

// The directory's grants service is what both the API and the consent
// page use.
var (
	_ PermissionGrants = (*directory.PermissionGrants)(nil)
	_ ConsentGrants    = (*directory.PermissionGrants)(nil)
)

const (
	grantsPath    = apiPrefix + "/oauth2PermissionGrants"
	grantsContext = "/$metadata#oauth2PermissionGrants"
)

// authorizeGrants is the grant routes' access check: the caller's
// permissions alone decide, before anything is parsed or read.
// (Without Options.PermissionGrants the handlers answer 404 once the
// options are read: servedGrants.)
func (s *server) authorizeGrants(write bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := directory.AuthorizePermissionGrants(directory.PrincipalFrom(c.Request.Context()), write); err != nil {
			s.writeError(c, err)
			return
		}
		c.Next()
	}
}

// servedGrants answers 404 when the grants API is not wired.
func (s *server) servedGrants(c *gin.Context) bool {
	if s.grants == nil {
		s.handleNoRoute(c)
		return false
	}
	return true
}

// oauth2PermissionGrantJSON is Graph's oauth2PermissionGrant.
type oauth2PermissionGrantJSON struct {
	ID          string  `json:"id"`
	ClientID    string  `json:"clientId"`
	ConsentType string  `json:"consentType"`
	PrincipalID *string `json:"principalId"`
	ResourceID  string  `json:"resourceId"`
	Scope       string  `json:"scope"`
}

func renderGrant(g directory.OAuth2PermissionGrant) oauth2PermissionGrantJSON {
	out := oauth2PermissionGrantJSON{ID: g.ID, ClientID: g.ClientID, ConsentType: g.ConsentType, ResourceID: g.ResourceID,
		Scope: strings.Join(g.Scopes, " ")}
	if g.PrincipalID != "" {
		out.PrincipalID = &g.PrincipalID
	}
	return out
}

// handleListGrants serves GET /v1.0/oauth2PermissionGrants: $filter with
// eq on clientId, principalId and consentType joined by and (the filters
// Graph supports), $top, and paging by a signed $skiptoken (keyset on id).
func (s *server) handleListGrants(c *gin.Context) {
	q, err := parseQuery(c.Request.URL.RawQuery, routeOptions(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	if !s.servedGrants(c) {
		return
	}
	f := directory.PermissionGrantFilter{Top: q.top}
	if q.filter != nil {
		if err := grantFilter(q.filter, &f); err != nil {
			s.writeError(c, err)
			return
		}
	}
	shape := logShape("oauth2PermissionGrants", q)
	p := directory.PrincipalFrom(c.Request.Context())
	if q.skipToken != "" {
		cur, err := s.skipTokens.Open(p.TenantID, shape, q.skipToken)
		if err != nil {
			s.writeError(c, err)
			return
		}
		f.After = cur.ID
	}
	// One more than the page tells whether another page follows.
	f.Top++
	list, err := s.grants.ListGrants(c.Request.Context(), f)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := struct {
		Context  string                      `json:"@odata.context"`
		NextLink string                      `json:"@odata.nextLink,omitempty"`
		Value    []oauth2PermissionGrantJSON `json:"value"`
	}{Context: s.base(c.Request) + apiPrefix + grantsContext, Value: []oauth2PermissionGrantJSON{}}
	if len(list) > q.top {
		list = list[:q.top]
		tok := s.skipTokens.Sign(p.TenantID, shape, &directory.Cursor{ID: list[len(list)-1].ID})
		out.NextLink = s.base(c.Request) + c.Request.URL.EscapedPath() + "?" + q.nextLinkQuery(tok)
	}
	for _, g := range list {
		out.Value = append(out.Value, renderGrant(g))
	}
	writeLogJSON(c, s, out)
}

// grantProperties are oAuth2PermissionGrant's properties, for $select.
var grantProperties = []string{"id", "clientId", "consentType", "principalId", "resourceId", "scope"}

// handleGetGrant serves GET /v1.0/oauth2PermissionGrants/{id}, with
// $select.
func (s *server) handleGetGrant(c *gin.Context) {
	var sel []string
	if _, err := parseOptions(c.Request.URL.RawQuery, queryRules{allowed: routeOptions(c), typeName: "oAuth2PermissionGrant",
		selectList: selectListOf(grantProperties, "oAuth2PermissionGrant", &sel)}); err != nil {
		s.writeError(c, err)
		return
	}
	if !s.servedGrants(c) {
		return
	}
	g, err := s.grants.GetGrant(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	full := marshalJSON(struct {
		Context string `json:"@odata.context"`
		oauth2PermissionGrantJSON
	}{s.base(c.Request) + apiPrefix + grantsContext + selectSuffix(sel) + "/$entity", renderGrant(*g)})
	if sel != nil {
		full = appendSelected(nil, full, sel, true)
	}
	writeJSON(c, http.StatusOK, full)
}

// grantBody is a POST or PATCH body of an oauth2PermissionGrant.
type grantBody struct {
	clientID, consentType, principalID, resourceID, scope string
}

func grantField(name string, dst func(*grantBody) *string, nullable bool) bodyField[grantBody] {
	return bodyField[grantBody]{name: name, nullable: nullable, decode: func(raw json.RawMessage, in *grantBody) error { return decodeString(raw, dst(in)) }}
}

// grantCreateTable and grantUpdateTable decode the bodies strictly (house
// rule: unknown, case-variant and duplicate keys are 400s naming them).
var (
	grantCreateTable = bodyTable[grantBody]{resource: "microsoft.graph.oAuth2PermissionGrant", odataType: "#microsoft.graph.oAuth2PermissionGrant", noun: "a permission grant",
		fields: []bodyField[grantBody]{
			grantField("clientId", func(b *grantBody) *string { return &b.clientID }, false),
			grantField("consentType", func(b *grantBody) *string { return &b.consentType }, false),
			grantField("principalId", func(b *grantBody) *string { return &b.principalID }, true),
			grantField("resourceId", func(b *grantBody) *string { return &b.resourceID }, false),
			grantField("scope", func(b *grantBody) *string { return &b.scope }, false),
		}}
	grantUpdateTable = bodyTable[grantBody]{resource: "microsoft.graph.oAuth2PermissionGrant", odataType: "#microsoft.graph.oAuth2PermissionGrant", noun: "a permission grant",
		fields: []bodyField[grantBody]{grantField("scope", func(b *grantBody) *string { return &b.scope }, false)}}
)

// handleCreateGrant serves POST /v1.0/oauth2PermissionGrants: an
// administrator's grant for one user (Principal) or every user
// (AllPrincipals).
func (s *server) handleCreateGrant(c *gin.Context) {
	body, ok := s.grantBody(c, &grantCreateTable)
	if !ok {
		return
	}
	created, err := s.grants.CreateGrant(c.Request.Context(), directory.OAuth2PermissionGrant{ClientID: body.clientID, ConsentType: body.consentType,
		PrincipalID: body.principalID, ResourceID: body.resourceID}, body.scope)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", s.base(c.Request)+grantsPath+"/"+created.ID)
	writeJSON(c, http.StatusCreated, marshalJSON(struct {
		Context string `json:"@odata.context"`
		oauth2PermissionGrantJSON
	}{s.base(c.Request) + apiPrefix + grantsContext + "/$entity", renderGrant(*created)}))
}

// handleUpdateGrant serves PATCH /v1.0/oauth2PermissionGrants/{id}: scope
// is the one property Graph lets change.
func (s *server) handleUpdateGrant(c *gin.Context) {
	body, ok := s.grantBody(c, &grantUpdateTable)
	if !ok {
		return
	}
	if err := s.grants.UpdateGrantScope(c.Request.Context(), c.Param("id"), body.scope); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// handleDeleteGrant serves DELETE /v1.0/oauth2PermissionGrants/{id}: the
// client loses the scopes at its next token request that needs them.
func (s *server) handleDeleteGrant(c *gin.Context) {
	if err := noQuery(c); err != nil {
		s.writeError(c, err)
		return
	}
	if !s.servedGrants(c) {
		return
	}
	if err := s.grants.DeleteGrant(c.Request.Context(), c.Param("id")); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *server) grantBody(c *gin.Context, t *bodyTable[grantBody]) (grantBody, bool) {
	if err := noQuery(c); err != nil {
		s.writeError(c, err)
		return grantBody{}, false
	}
	if !s.servedGrants(c) {
		return grantBody{}, false
	}
	data, err := s.readBody(c)
	if err != nil {
		s.writeError(c, err)
		return grantBody{}, false
	}
	b, err := decodeObject(data, t)
	if err != nil {
		s.writeError(c, err)
		return grantBody{}, false
	}
	return b, true
}

func errGrantFilter(msg string) error {
	return (&directory.Error{Kind: directory.KindUnsupported, Message: msg}).WithTarget("$filter")
}

// grantFilter reads $filter: eq comparisons of clientId, principalId and
// consentType with a literal, joined by and.
func grantFilter(e odata.Expr, f *directory.PermissionGrantFilter) error {
	b, ok := e.(*odata.BinaryExpr)
	if !ok {
		return errGrantFilter("Unsupported filter on oauth2PermissionGrants: use clientId, principalId or consentType eq a literal, joined by 'and'.")
	}
	if b.Op == odata.OpAnd {
		if err := grantFilter(b.X, f); err != nil {
			return err
		}
		return grantFilter(b.Y, f)
	}
	path, ok1 := b.X.(*odata.PathExpr)
	lit, ok2 := b.Y.(*odata.Literal)
	if !ok1 || !ok2 || path.Base != nil || len(path.Segments) != 1 || b.Op != odata.OpEq || (lit.Kind != odata.LitString && lit.Kind != odata.LitGUID) {
		return errGrantFilter("Unsupported filter on oauth2PermissionGrants: each comparison must be 'property eq literal'.")
	}
	var dst *string
	switch path.Segments[0] {
	case "clientId":
		dst = &f.ClientID
	case "principalId":
		dst = &f.PrincipalID
	case "consentType":
		dst = &f.ConsentType
	default:
		return errGrantFilter("Unsupported or invalid query filter clause specified for property '" + textlimit.Clip(path.Segments[0], maxEchoed) + "' of resource 'oAuth2PermissionGrant'.")
	}
	if *dst != "" {
		return errGrantFilter("Property '" + path.Segments[0] + "' may be compared only once.")
	}
	*dst = lit.Value
	return nil
}
