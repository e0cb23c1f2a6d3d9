package api

import (
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/textlimit"
	"github.com/graphdir/graphdir/pkg/odata"
)

// Sorting and paging of the small collections the store returns whole
// (a tenant's user flows, a flow's applications): $orderby on one
// property, $skip, $top with @odata.nextLink, continued by the signed
// $skiptoken like every other listing (keyset: a page never repeats an
// item, nor skips one that exists before and after).

// memSortKey is one sortable property of a collection: its name and the
// key of an item, a string that sorts in the property's order.
type memSortKey[T any] struct {
	name string
	key  func(T) string
}

// memPage sorts items by q's $orderby (default: the first key), ties by
// id, continues after q's $skiptoken, skips $skip and cuts at $top. It
// returns the page and the next $skiptoken ("" on the last page).
func memPage[T any](s *server, c *gin.Context, q *queryOptions, items []T, id func(T) string, keys []memSortKey[T]) ([]T, string, error) {
	key, desc := keys[0].key, false
	switch {
	case len(q.orderBy) > 1:
		return nil, "", (&directory.Error{Kind: directory.KindUnsupported, Message: "Sorting by more than one property is not supported here."}).WithTarget("$orderby")
	case len(q.orderBy) == 1:
		p, ok := q.orderBy[0].Expr.(*odata.PathExpr)
		i := -1
		if ok && p.Base == nil && len(p.Segments) == 1 {
			i = slices.IndexFunc(keys, func(k memSortKey[T]) bool { return strings.EqualFold(k.name, p.Segments[0]) })
		}
		if i < 0 {
			names := make([]string, len(keys))
			for j, k := range keys {
				names[j] = k.name
			}
			return nil, "", (&directory.Error{Kind: directory.KindUnsupported,
				Message: "Sorting is supported by " + strings.Join(names, ", ") + " only."}).WithTarget("$orderby")
		}
		key, desc = keys[i].key, q.orderBy[0].Desc
	}
	cmp := func(ka, ia, kb, ib string) int {
		if c := strings.Compare(ka, kb); c != 0 {
			if desc {
				return -c
			}
			return c
		}
		return strings.Compare(ia, ib)
	}
	sorted := slices.Clone(items)
	slices.SortStableFunc(sorted, func(a, b T) int { return cmp(key(a), id(a), key(b), id(b)) })

	p := directory.PrincipalFrom(c.Request.Context())
	tenant := ""
	if p != nil {
		tenant = p.TenantID
	}
	shape := q.shapeHash()
	if q.skipToken != "" {
		cur, err := s.skipTokens.Open(tenant, shape, q.skipToken)
		if err != nil {
			return nil, "", err
		}
		if len(cur.Keys) != 1 || cur.Keys[0] == nil {
			return nil, "", errBadSkipToken()
		}
		ck := *cur.Keys[0]
		i := slices.IndexFunc(sorted, func(t T) bool { return cmp(key(t), id(t), ck, cur.ID) > 0 })
		if i < 0 {
			i = len(sorted)
		}
		sorted = sorted[i:]
	} else if q.skip > 0 {
		sorted = sorted[min(q.skip, len(sorted)):]
	}
	if len(sorted) <= q.top {
		return sorted, "", nil
	}
	page := sorted[:q.top]
	last := page[len(page)-1]
	k := key(last)
	return page, s.skipTokens.Sign(tenant, shape, &directory.Cursor{Keys: []*string{&k}, ID: textlimit.Clip(id(last), 64)}), nil
}
