package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/jsonstrict"
	"github.com/graphdir/graphdir/internal/textlimit"
)

// User flows at the edge: Graph's /identity/authenticationEventsFlows, the
// externalUsersSelfServiceSignUpEventsFlow type only (userflows_json.go has
// the bodies, userflows_filter.go the $filter subset).

// UserFlows serves the authenticationEventsFlows routes; *directory.Service
// implements it.
type UserFlows interface {
	// AuthorizeUserFlows checks, before anything is parsed, that the caller
	// may read (or write) user flows; refused writes are audited as act.
	AuthorizeUserFlows(ctx context.Context, write bool, act directory.Activity, target string) error
	CreateUserFlow(ctx context.Context, in directory.UserFlowInput) (*directory.UserFlowDefinition, error)
	ListUserFlows(ctx context.Context) ([]*directory.UserFlowDefinition, error)
	GetUserFlow(ctx context.Context, id string) (*directory.UserFlowDefinition, error)
	UpdateUserFlow(ctx context.Context, id string, in directory.UserFlowInput) error
	DeleteUserFlow(ctx context.Context, id string) error
	UserFlowApplications(ctx context.Context, id string) ([]string, error)
	AddUserFlowApplication(ctx context.Context, id, appID string) error
	RemoveUserFlowApplication(ctx context.Context, id, appID string) error
}

// Paths of the flow routes. The type cast segment has Graph's two
// spellings, the full namespace and the "graph." alias the SDKs send.
const (
	flowsPath      = apiPrefix + "/identity/authenticationEventsFlows"
	flowCast       = "microsoft.graph.externalUsersSelfServiceSignUpEventsFlow"
	flowCastAlias  = "graph.externalUsersSelfServiceSignUpEventsFlow"
	flowItem       = flowsPath + "/:id"
	flowAppsSuffix = "/conditions/applications/includeApplications"
	odataTypeFlow  = "#microsoft.graph.externalUsersSelfServiceSignUpEventsFlow"
)

// flowPaths returns the spellings of an item path: /{id}, and
// /{id}/{cast} in both forms, each followed by suffix.
func flowPaths(suffix string) []string {
	return []string{flowItem + suffix, flowItem + "/" + flowCast + suffix, flowItem + "/" + flowCastAlias + suffix}
}

// authorizeUserFlows is the access check of the flow routes.
func (s *server) authorizeUserFlows(write bool, act directory.Activity) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.dir.AuthorizeUserFlows(c.Request.Context(), write, act, c.Param("id")); err != nil {
			s.writeError(c, err)
			return
		}
		c.Next()
		if write {
			s.recordRefusal(c, act)
		}
	}
}

// flowProperties are the top-level properties of a flow, in output order;
// $select picks among them.
var flowProperties = []string{"id", "displayName", "description", "priority", "conditions",
	"onInteractiveAuthFlowStart", "onAuthenticationMethodLoadStart", "onAttributeCollection",
	"onAttributeCollectionStart", "onAttributeCollectionSubmit", "onUserCreateStart", graphdirMfaProperty}

// flowQuery parses the query options of a flow read: $select of flow
// properties, and the $filter subset (list only). sel is nil without
// $select.
func (s *server) flowQuery(c *gin.Context) (*queryOptions, []string, bool) {
	var sel []string
	q, err := parseOptions(c.Request.URL.RawQuery, queryRules{
		allowed:    routeOptions(c),
		typeName:   "externalUsersSelfServiceSignUpEventsFlow",
		selectList: selectListOf(flowProperties, "authenticationEventsFlow", &sel),
	})
	if err != nil {
		s.writeError(c, err)
		return nil, nil, false
	}
	if sel != nil && !slices.Contains(sel, "id") {
		// Graph always returns the key and the type of a derived entity.
		sel = append([]string{"id"}, sel...)
	}
	return q, sel, true
}

func (s *server) flowsContext(c *gin.Context, sel []string) string {
	return s.base(c.Request) + apiPrefix + "/$metadata#identity/authenticationEventsFlows" + selectSuffix(sel)
}

// handleListUserFlows serves GET .../authenticationEventsFlows (and its
// type-cast spelling): every flow of the tenant (Graph does not page them
// either; a tenant has few), with $select, $filter and $count.
func (s *server) handleListUserFlows(c *gin.Context) {
	q, sel, ok := s.flowQuery(c)
	if !ok {
		return
	}
	match, err := compileFlowFilter(q.filter)
	if err != nil {
		s.writeError(c, err)
		return
	}
	flows, err := s.dir.ListUserFlows(c.Request.Context())
	if err != nil {
		s.writeError(c, err)
		return
	}
	var kept []*directory.UserFlowDefinition
	for _, f := range flows {
		if match(f) {
			kept = append(kept, f)
		}
	}
	page, next, err := memPage(s, c, q, kept, func(f *directory.UserFlowDefinition) string { return f.ID }, flowSortKeys)
	if err != nil {
		s.writeError(c, err)
		return
	}
	b := append([]byte(`{"@odata.context":`), appendString(nil, s.flowsContext(c, sel))...)
	if q.count {
		b = append(b, `,"@odata.count":`...)
		b = append(b, []byte(itoa(len(kept)))...)
	}
	if next != "" {
		b = append(b, `,"@odata.nextLink":`...)
		b = appendString(b, s.base(c.Request)+c.Request.URL.Path+"?"+q.nextLinkQuery(next))
	}
	b = append(b, `,"value":[`...)
	for i, f := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s.flowBody(f, sel)...)
	}
	writeJSON(c, http.StatusOK, append(b, "]}"...))
}

// flowSortKeys are what $orderby sorts flows by.
var flowSortKeys = []memSortKey[*directory.UserFlowDefinition]{
	{"displayName", func(f *directory.UserFlowDefinition) string { return strings.ToLower(f.DisplayName) }},
	{"id", func(f *directory.UserFlowDefinition) string { return f.ID }},
	{"priority", func(f *directory.UserFlowDefinition) string { return fmt.Sprintf("%010d", f.Priority) }},
}

// flowBody is one flow's JSON, projected on sel (nil: all).
func (s *server) flowBody(f *directory.UserFlowDefinition, sel []string) []byte {
	full := marshalJSON(toFlowJSON(f))
	if sel == nil {
		return full
	}
	// @odata.type stays: it tells a client which derived type it got.
	return appendSelected(nil, full, append([]string{"@odata.type"}, sel...), true)
}

// handleGetUserFlow serves GET .../authenticationEventsFlows/{id}.
func (s *server) handleGetUserFlow(c *gin.Context) {
	_, sel, ok := s.flowQuery(c)
	if !ok {
		return
	}
	f, err := s.dir.GetUserFlow(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	b := append([]byte(`{"@odata.context":`), appendString(nil, s.flowsContext(c, sel)+"/$entity")...)
	body := s.flowBody(f, sel)
	if len(body) > 2 {
		b = append(b, ',')
		b = append(b, body[1:]...)
	} else {
		b = append(b, '}')
	}
	writeJSON(c, http.StatusOK, b)
}

// handleCreateUserFlow serves POST .../authenticationEventsFlows: 201.
func (s *server) handleCreateUserFlow(c *gin.Context) {
	if err := noQuery(c); err != nil {
		s.writeError(c, err)
		return
	}
	in, err := s.flowBodyInput(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	f, err := s.dir.CreateUserFlow(c.Request.Context(), in)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", s.base(c.Request)+flowsPath+"/"+f.ID)
	b := append([]byte(`{"@odata.context":`), appendString(nil, s.flowsContext(c, nil)+"/$entity")...)
	b = append(b, ',')
	writeJSON(c, http.StatusCreated, append(b, s.flowBody(f, nil)[1:]...))
}

// handleUpdateUserFlow serves PATCH .../authenticationEventsFlows/{id}: 204.
func (s *server) handleUpdateUserFlow(c *gin.Context) {
	if err := noQuery(c); err != nil {
		s.writeError(c, err)
		return
	}
	in, err := s.flowBodyInput(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.dir.UpdateUserFlow(c.Request.Context(), c.Param("id"), in); err != nil {
		s.writeError(c, err)
		return
	}
	noContent(c)
}

// handleDeleteUserFlow serves DELETE .../authenticationEventsFlows/{id}: 204.
func (s *server) handleDeleteUserFlow(c *gin.Context) {
	if err := noQuery(c); err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.dir.DeleteUserFlow(c.Request.Context(), c.Param("id")); err != nil {
		s.writeError(c, err)
		return
	}
	noContent(c)
}

// ----- conditions/applications/includeApplications

func (s *server) flowAppsContext(c *gin.Context) string {
	return s.base(c.Request) + apiPrefix + "/$metadata#identity/authenticationEventsFlows('" + c.Param("id") + "')" + flowAppsSuffix
}

// handleListUserFlowApplications serves GET .../includeApplications with
// $select (appId), $filter (appId eq/ne, and/or/not), $orderby (appId),
// $count, $skip, $top and paging, and $expand (nothing to expand).
func (s *server) handleListUserFlowApplications(c *gin.Context) {
	var sel []string
	q, err := parseOptions(c.Request.URL.RawQuery, queryRules{
		allowed:  routeOptions(c),
		typeName: "authenticationConditionApplication",
		selectList: func(v string) (err error) {
			sel, err = selectOf(v, func(name string) (string, bool) { return "appId", strings.EqualFold(name, "appId") }, func(name string) error {
				return (&directory.Error{Kind: directory.KindInvalid,
					Message: "Could not find a property named '" + textlimit.Clip(name, maxEchoed) + "' on type 'microsoft.graph.authenticationConditionApplication'."}).WithTarget("$select")
			})
			return err
		},
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	match, err := compileAppFilter(q.filter)
	if err != nil {
		s.writeError(c, err)
		return
	}
	apps, err := s.dir.UserFlowApplications(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	var kept []string
	for _, a := range apps {
		if match(a) {
			kept = append(kept, a)
		}
	}
	self := func(a string) string { return a }
	page, next, err := memPage(s, c, q, kept, self, []memSortKey[string]{{"appId", self}})
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := struct {
		Context  string        `json:"@odata.context"`
		Count    *int          `json:"@odata.count,omitempty"`
		NextLink string        `json:"@odata.nextLink,omitempty"`
		Value    []flowAppJSON `json:"value"`
	}{Context: s.flowAppsContext(c) + selectSuffix(sel), Value: toFlowApps(page)}
	if q.count {
		n := len(kept)
		out.Count = &n
	}
	if next != "" {
		out.NextLink = s.base(c.Request) + c.Request.URL.Path + "?" + q.nextLinkQuery(next)
	}
	writeJSON(c, http.StatusOK, marshalJSON(out))
}

// handleAddUserFlowApplication serves POST .../includeApplications: 201
// with the link (Graph's authenticationConditionApplication).
func (s *server) handleAddUserFlowApplication(c *gin.Context) {
	if err := noQuery(c); err != nil {
		s.writeError(c, err)
		return
	}
	data, err := s.readBody(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	app, err := decodeObject(data, &flowAppTable)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.dir.AddUserFlowApplication(c.Request.Context(), c.Param("id"), app.AppID); err != nil {
		s.writeError(c, err)
		return
	}
	out := struct {
		Context string `json:"@odata.context"`
		AppID   string `json:"appId"`
	}{s.flowAppsContext(c) + "/$entity", strings.ToLower(app.AppID)}
	writeJSON(c, http.StatusCreated, marshalJSON(out))
}

// handleRemoveUserFlowApplication serves DELETE .../includeApplications/{appId}: 204.
func (s *server) handleRemoveUserFlowApplication(c *gin.Context) {
	if err := noQuery(c); err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.dir.RemoveUserFlowApplication(c.Request.Context(), c.Param("id"), c.Param("appId")); err != nil {
		s.writeError(c, err)
		return
	}
	noContent(c)
}

// flowBodyInput reads a create or update body: '@odata.type' is required,
// as Graph requires it, and must name the one type graphdir serves.
func (s *server) flowBodyInput(c *gin.Context) (directory.UserFlowInput, error) {
	data, err := s.readBody(c)
	if err != nil {
		return directory.UserFlowInput{}, err
	}
	members, err := strictMembers(data)
	if err != nil {
		return directory.UserFlowInput{}, err
	}
	typed := slices.ContainsFunc(members, func(m jsonstrict.Member) bool { return m.Key == "@odata.type" })
	if !typed {
		return directory.UserFlowInput{}, (&directory.Error{Kind: directory.KindInvalid,
			Message: "Property '@odata.type' is required: the type of the user flow, '" + odataTypeFlow + "'."}).WithTarget("@odata.type")
	}
	for _, m := range members {
		if m.Key == "@odata.type" {
			var got string
			if json.Unmarshal(m.Value, &got) != nil || !strings.EqualFold(got, odataTypeFlow) {
				return directory.UserFlowInput{}, odataTypeError(odataTypeFlow, "a user flow")
			}
		}
	}
	members = slices.DeleteFunc(members, func(m jsonstrict.Member) bool { return m.Key == "@odata.type" })
	return decodeMembers(members, &flowTable)
}
