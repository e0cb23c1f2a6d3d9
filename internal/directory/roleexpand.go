package directory

import (
	"context"
	"slices"

	"github.com/graphdir/graphdir/pkg/odata"
)

// principalBatch is how many principals one lookup asks for: the store's
// page limit, so a batch is one statement.
const principalBatch = 999

// RoleAssignmentPrincipals returns the principals of the role assignments
// as, by object id, for $expand=principal: one query per 999 distinct
// principals, never one per assignment. graphdir's principals are users
// (role_assignments references users), so each is a live user of the
// caller's tenant. Expanding them reads users: it needs what listing users
// needs (KindForbidden otherwise, checked before anything is read), and a
// caller with User.ReadBasic.All sees the basic profile, as in a listing.
func (s *Service) RoleAssignmentPrincipals(ctx context.Context, as []*RoleAssignment) (map[string]*User, error) {
	a, err := s.access(ctx, OpListUsers)
	if err != nil {
		return nil, err
	}
	var ids []string
	seen := make(map[string]bool, len(as))
	for _, ra := range as {
		if IsGUID(ra.PrincipalID) && !seen[ra.PrincipalID] {
			seen[ra.PrincipalID] = true
			ids = append(ids, ra.PrincipalID)
		}
	}
	out := make(map[string]*User, len(ids))
	for batch := range slices.Chunk(ids, principalBatch) {
		list := make([]odata.Expr, len(batch))
		for i, id := range batch {
			list[i] = &odata.Literal{Kind: odata.LitString, Value: id}
		}
		q := ListQuery{Filter: &odata.InExpr{X: &odata.PathExpr{Segments: []string{"id"}}, List: list}, Top: len(batch)}
		page, err := s.store.ListUsers(ctx, a.P.TenantID, q)
		if err != nil {
			return nil, err
		}
		for _, u := range a.trimPage(page).Users {
			out[u.ID] = u
		}
	}
	return out, nil
}
