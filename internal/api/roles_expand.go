package api

import (
	"context"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// $expand on role assignments: principal (a directoryObject; graphdir's
// principals are users, written with @odata.type #microsoft.graph.user and
// the properties GET /users/{id} returns) and roleDefinition (the built-in
// unifiedRoleDefinition, as GET .../roleDefinitions/{id} writes it).

// roleExpansion is what one request expands on its role assignments.
type roleExpansion struct {
	names      []string                   // the navigation properties, as parsed
	principals map[string]*directory.User // by object id, after load
}

func (x *roleExpansion) has(name string) bool { return slices.Contains(x.names, name) }

// authorizeExpansion refuses, before any assignment is read, an expansion
// the caller may not read: principals are users, so expanding them needs
// what listing users needs.
func (s *server) authorizeExpansion(c *gin.Context, x *roleExpansion) error {
	if !x.has("principal") {
		return nil
	}
	return s.dir.AuthorizeOperation(c.Request.Context(), directory.OpListUsers)
}

// load reads the principals of list in one batch (role definitions are
// built in and need no query).
func (x *roleExpansion) load(ctx context.Context, roles Roles, list []*directory.RoleAssignment) error {
	if !x.has("principal") || len(list) == 0 {
		return nil
	}
	var err error
	x.principals, err = roles.RoleAssignmentPrincipals(ctx, list)
	return err
}

// appendItem is the writer of one assignment: its (selected) properties,
// then each expanded navigation property, in the order $expand named them.
// A principal that is gone by now is null, as Graph writes a missing
// single-valued navigation target.
func (x *roleExpansion) appendItem(sel []string) func([]byte, *directory.RoleAssignment, bool) []byte {
	base := selected(sel, appendRoleAssignment)
	if len(x.names) == 0 {
		return base
	}
	return func(b []byte, a *directory.RoleAssignment, first bool) []byte {
		return closeWith(base(b, a, first), func(b []byte) []byte {
			for _, n := range x.names {
				var v []byte
				switch n {
				case "principal":
					if u := x.principals[a.PrincipalID]; u != nil {
						v = appendUserItem(nil, u, defaultProperties, true)
					}
				case "roleDefinition":
					if d, ok := directory.LookupRole(a.RoleDefinitionID); ok {
						v = appendRoleDefinition(nil, d, true)
					}
				}
				if v == nil {
					v = []byte("null")
				}
				b = appendMember(b, n, v)
			}
			return b
		})
	}
}
