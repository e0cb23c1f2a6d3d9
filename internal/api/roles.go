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

// Roles is what the role-management routes need of the directory. Every method reads the caller from the
// context and checks permissions (and, for delegated callers, roles) first.
type Roles interface {
	ListRoleDefinitions(ctx context.Context) ([]*directory.RoleDefinition, error)
	GetRoleDefinition(ctx context.Context, id string) (*directory.RoleDefinition, error)
	ListRoleAssignments(ctx context.Context, f directory.RoleAssignmentFilter) ([]*directory.RoleAssignment, error)
	GetRoleAssignment(ctx context.Context, id string) (*directory.RoleAssignment, error)
	CreateRoleAssignment(ctx context.Context, principalID, roleDefinitionID, directoryScopeID string) (*directory.RoleAssignment, error)
	DeleteRoleAssignment(ctx context.Context, id string) error
	// RoleAssignmentPrincipals returns the principals of assignments by
	// object id, in one query per 999 ($expand=principal, roleexpand.go).
	RoleAssignmentPrincipals(ctx context.Context, as []*directory.RoleAssignment) (map[string]*directory.User, error)
}

const (
	roleAssignmentsContext = "/$metadata#roleManagement/directory/roleAssignments"
	roleDefinitionsContext = "/$metadata#roleManagement/directory/roleDefinitions"
	odataTypeRoleAssign    = "#microsoft.graph.unifiedRoleAssignment"
)

// rolesRequest starts every role-management handler: the query options
// the route does not take are refused.
func (s *server) rolesRequest(c *gin.Context) (Roles, *queryOptions, bool) {
	q, err := parseQuery(c.Request.URL.RawQuery, routeOptions(c))
	if err != nil {
		s.writeError(c, err)
		return nil, nil, false
	}
	return s.dir, q, true
}

// writeCollection writes items as a Graph collection whose @odata.context
// is contextURL; appendItem is called with first set, so each item opens
// its own object.
func writeCollection[T any](c *gin.Context, contextURL string, items []T, appendItem func([]byte, T, bool) []byte) {
	b := append([]byte(`{"@odata.context":`), appendString(nil, contextURL)...)
	b = append(b, `,"value":[`...)
	for i, item := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendItem(b, item, true)
	}
	writeJSON(c, http.StatusOK, append(b, "]}"...))
}

// roleDefinitionProperties and roleAssignmentProperties are the
// properties each type's JSON carries, in output order; $select picks among
// them (case-insensitively, as Graph does).
var (
	roleDefinitionProperties = []string{"id", "description", "displayName", "isBuiltIn", "isEnabled",
		"resourceScopes", "templateId", "version", "rolePermissions"}
	roleAssignmentProperties = []string{"id", "principalId", "roleDefinitionId", "directoryScopeId", "appScopeId", "condition"}
)

// roleQuery reads the query string of a role-management read: the route's
// row says which options it takes (parseOptions), $select names
// properties of typeName (selectOf) and $expand its navigation properties
// (parseExpand). sel is nil without $select.
func (s *server) roleQuery(c *gin.Context, typeName string, properties []string) (Roles, *queryOptions, []string, bool) {
	var sel []string
	q, err := parseOptions(c.Request.URL.RawQuery, queryRules{
		allowed:    routeOptions(c),
		typeName:   typeName,
		selectList: selectListOf(properties, typeName, &sel),
	})
	if err != nil {
		s.writeError(c, err)
		return nil, nil, nil, false
	}
	return s.dir, q, sel, true
}

// selected wraps appendItem so that each item keeps only the members sel
// names, and id (Graph always returns the key); all of them when sel is nil.
func selected[T any](sel []string, appendItem func([]byte, T, bool) []byte) func([]byte, T, bool) []byte {
	if sel == nil {
		return appendItem
	}
	return func(b []byte, item T, first bool) []byte {
		return appendSelected(b, appendItem(nil, item, true), sel, first)
	}
}

func (s *server) handleListRoleDefinitions(c *gin.Context) {
	roles, q, sel, ok := s.roleQuery(c, "unifiedRoleDefinition", roleDefinitionProperties)
	if !ok {
		return
	}
	defs, err := roles.ListRoleDefinitions(c.Request.Context())
	if err != nil {
		s.writeError(c, err)
		return
	}
	if defs, err = directory.FilterRoleDefinitions(defs, q.filter); err != nil {
		s.writeError(c, err)
		return
	}
	writeCollection(c, s.base(c.Request)+apiPrefix+roleDefinitionsContext+selectSuffix(sel), defs, selected(sel, appendRoleDefinition))
}

func (s *server) handleGetRoleDefinition(c *gin.Context) {
	roles, _, sel, ok := s.roleQuery(c, "unifiedRoleDefinition", roleDefinitionProperties)
	if !ok {
		return
	}
	d, err := roles.GetRoleDefinition(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	b := append([]byte(`{"@odata.context":`), appendString(nil, s.base(c.Request)+apiPrefix+roleDefinitionsContext+selectSuffix(sel)+"/$entity")...)
	writeJSON(c, http.StatusOK, selected(sel, appendRoleDefinition)(b, d, false))
}

func appendRoleDefinition(b []byte, d *directory.RoleDefinition, first bool) []byte {
	if first {
		b = append(b, '{')
	} else {
		b = append(b, ',')
	}
	b = append(b, `"id":`...)
	b = appendString(b, d.ID)
	b = append(b, `,"description":`...)
	b = appendString(b, d.Description)
	b = append(b, `,"displayName":`...)
	b = appendString(b, d.DisplayName)
	b = append(b, `,"isBuiltIn":true,"isEnabled":true,"resourceScopes":["/"],"templateId":`...)
	b = appendString(b, d.ID)
	b = append(b, `,"version":"1","rolePermissions":[{"allowedResourceActions":`...)
	b = appendValue(b, d.ResourceActions)
	return append(b, `,"condition":null}]}`...)
}

func (s *server) handleListRoleAssignments(c *gin.Context) {
	roles, q, sel, ok := s.roleQuery(c, "unifiedRoleAssignment", roleAssignmentProperties)
	if !ok {
		return
	}
	var f directory.RoleAssignmentFilter
	if err := roleAssignmentFilter(q.filter, &f); err != nil {
		s.writeError(c, err)
		return
	}
	x := &roleExpansion{names: q.expand}
	if err := s.authorizeExpansion(c, x); err != nil {
		s.writeError(c, err)
		return
	}
	list, err := roles.ListRoleAssignments(c.Request.Context(), f)
	if err == nil {
		err = x.load(c.Request.Context(), roles, list)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeCollection(c, s.base(c.Request)+apiPrefix+roleAssignmentsContext+expandSuffix(sel, q.expand), list, x.appendItem(sel))
}

// roleAssignmentFilter reads the $filter forms Graph documents for role
// assignments: principalId eq '…', roleDefinitionId eq '…', joined by and.
// Anything else is refused naming what is supported.
func roleAssignmentFilter(e odata.Expr, f *directory.RoleAssignmentFilter) error {
	unsupported := func() error {
		return directory.Errorf(directory.KindUnsupported,
			"Unsupported filter on roleAssignments: only principalId eq '{id}' and roleDefinitionId eq '{id}', joined by 'and', are supported.")
	}
	switch x := e.(type) {
	case nil:
		return nil
	case *odata.BinaryExpr:
		if x.Op == odata.OpAnd {
			if err := roleAssignmentFilter(x.X, f); err != nil {
				return err
			}
			return roleAssignmentFilter(x.Y, f)
		}
		if x.Op != odata.OpEq {
			return unsupported()
		}
		path, ok := x.X.(*odata.PathExpr)
		lit, ok2 := x.Y.(*odata.Literal)
		if !ok || !ok2 || path.Base != nil || len(path.Segments) != 1 || (lit.Kind != odata.LitString && lit.Kind != odata.LitGUID) {
			return unsupported()
		}
		var dst *string
		switch strings.ToLower(path.Segments[0]) {
		case "principalid":
			dst = &f.PrincipalID
		case "roledefinitionid":
			dst = &f.RoleDefinitionID
		default:
			return (&directory.Error{Kind: directory.KindUnsupported,
				Message: "Unsupported filter on roleAssignments: property '" + textlimit.Clip(path.Segments[0], maxEchoed) + "' cannot be filtered; use principalId or roleDefinitionId."}).WithTarget(textlimit.Clip(path.Segments[0], maxEchoed))
		}
		if *dst != "" && !strings.EqualFold(*dst, lit.Value) {
			// x eq 'a' and x eq 'b' matches nothing.
			*dst = "-"
			return nil
		}
		*dst = lit.Value
		return nil
	}
	return unsupported()
}

func (s *server) handleGetRoleAssignment(c *gin.Context) {
	roles, q, sel, ok := s.roleQuery(c, "unifiedRoleAssignment", roleAssignmentProperties)
	if !ok {
		return
	}
	x := &roleExpansion{names: q.expand}
	if err := s.authorizeExpansion(c, x); err != nil {
		s.writeError(c, err)
		return
	}
	a, err := roles.GetRoleAssignment(c.Request.Context(), c.Param("id"))
	if err == nil {
		err = x.load(c.Request.Context(), roles, []*directory.RoleAssignment{a})
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	b := append([]byte(`{"@odata.context":`), appendString(nil, s.base(c.Request)+apiPrefix+roleAssignmentsContext+expandSuffix(sel, q.expand)+"/$entity")...)
	writeJSON(c, http.StatusOK, x.appendItem(sel)(b, a, false))
}

func (s *server) writeRoleAssignment(c *gin.Context, status int, a *directory.RoleAssignment) {
	b := append([]byte(`{"@odata.context":`), appendString(nil, s.base(c.Request)+apiPrefix+roleAssignmentsContext+"/$entity")...)
	writeJSON(c, status, appendRoleAssignment(b, a, false))
}

func appendRoleAssignment(b []byte, a *directory.RoleAssignment, first bool) []byte {
	if first {
		b = append(b, '{')
	} else {
		b = append(b, ',')
	}
	b = append(b, `"id":`...)
	b = appendString(b, a.ID)
	b = append(b, `,"principalId":`...)
	b = appendString(b, a.PrincipalID)
	b = append(b, `,"roleDefinitionId":`...)
	b = appendString(b, a.RoleDefinitionID)
	b = append(b, `,"directoryScopeId":`...)
	b = appendString(b, a.DirectoryScopeID)
	return append(b, `,"appScopeId":null,"condition":null}`...)
}

func (s *server) handleCreateRoleAssignment(c *gin.Context) {
	roles, _, ok := s.rolesRequest(c)
	if !ok {
		return
	}
	data, err := s.readBody(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	in, err := decodeObject(data, &roleAssignmentTable)
	if err != nil {
		s.writeError(c, err)
		return
	}
	scope := "/"
	if in.directoryScopeID != nil {
		scope = *in.directoryScopeID
	}
	a, err := roles.CreateRoleAssignment(c.Request.Context(), in.principalID, in.roleDefinitionID, scope)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", s.base(c.Request)+rolePrefix+"/roleAssignments/"+a.ID)
	s.writeRoleAssignment(c, http.StatusCreated, a)
}

// roleAssignmentBody is a POST body of roleAssignments; a missing
// directoryScopeId is nil (tenant-wide, "/").
type roleAssignmentBody struct {
	principalID, roleDefinitionID string
	directoryScopeID              *string
}

// roleAssignmentTable is the property table of a role assignment POST
// body: exactly-spelled string keys principalId, roleDefinitionId and
// directoryScopeId, and an optional @odata.type naming
// unifiedRoleAssignment. The domain checks the values.
var roleAssignmentTable = bodyTable[roleAssignmentBody]{
	resource:  "unifiedRoleAssignment",
	odataType: odataTypeRoleAssign,
	noun:      "a role assignment",
	unknown: func(key string) string {
		return "Property '" + key + "' does not exist as a declared property of unifiedRoleAssignment or cannot be set; the writable properties are principalId, roleDefinitionId and directoryScopeId."
	},
	fields: []bodyField[roleAssignmentBody]{
		roleAssignmentString("principalId", func(in *roleAssignmentBody) *string { return &in.principalID }),
		roleAssignmentString("roleDefinitionId", func(in *roleAssignmentBody) *string { return &in.roleDefinitionID }),
		roleAssignmentString("directoryScopeId", func(in *roleAssignmentBody) *string {
			in.directoryScopeID = new(string)
			return in.directoryScopeID
		}),
	},
}

// roleAssignmentString is a row of roleAssignmentTable: a string stored
// where field points.
func roleAssignmentString(name string, field func(*roleAssignmentBody) *string) bodyField[roleAssignmentBody] {
	return bodyField[roleAssignmentBody]{name: name, invalid: "Invalid value for property '" + name + "': expected Edm.String.",
		decode: func(raw json.RawMessage, in *roleAssignmentBody) error { return json.Unmarshal(raw, field(in)) }}
}

func (s *server) handleDeleteRoleAssignment(c *gin.Context) {
	roles, _, ok := s.rolesRequest(c)
	if !ok {
		return
	}
	if err := roles.DeleteRoleAssignment(c.Request.Context(), c.Param("id")); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
