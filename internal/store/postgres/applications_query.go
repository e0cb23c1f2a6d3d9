package postgres

import (
	"strings"

	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/pkg/odata"
)

// The query options of GET /applications, as Graph documents them on List
// applications: $filter with eq, ne, not, in and startsWith (displayName
// only), $orderby=displayName, $search="displayName:word", $count and
// $top with keyset paging. Everything else is refused with
// Request_UnsupportedQuery naming the property or operator.
//
// Applications are few per tenant, so this translator is deliberately
// small and separate from the users one (query.go): one table of three
// properties, one statement per request, every value bound.

// appOps are the $filter operators an application property takes.
type appOps uint8

const (
	appEq appOps = 1 << iota // eq, ne, not (eq), in
	appStartsWith
)

// appProperty is one queryable property of application.
type appProperty struct {
	name   string // Graph's name
	column string // SQL expression over applications a (what the index holds)
	guid   bool   // Edm.Guid (uuid column); otherwise Edm.String, compared lower-cased
	ops    appOps
	sort   bool // $orderby may name it
}

// appDisplayKey is the sort and comparison key of displayName: case-
// insensitive like Graph, in "C" collation so that a startsWith prefix is
// a btree range of application_display_name_key_idx (00014).
const appDisplayKey = `lower(a.display_name) COLLATE "C"`

// applicationProperties is the one list of what $filter, $orderby and
// $search may name on applications.
var applicationProperties = []appProperty{
	{name: "displayName", column: appDisplayKey, ops: appEq | appStartsWith, sort: true},
	{name: "appId", column: "a.app_id", guid: true, ops: appEq},
	{name: "id", column: "a.id", guid: true, ops: appEq},
}

func appPropertyNamed(name string) *appProperty {
	for i := range applicationProperties {
		if strings.EqualFold(applicationProperties[i].name, name) {
			return &applicationProperties[i]
		}
	}
	return nil
}

// appCompiler translates one request; $1 is the tenant.
type appCompiler struct {
	compiler // bind, unsupported
}

func newAppCompiler(tenantID string) *appCompiler {
	return &appCompiler{compiler: *newCompiler(tenantID)}
}

// where returns the WHERE clause of q (filter and search, without keyset).
func (c *appCompiler) where(q directory.ListQuery) (string, error) {
	conds := []string{"a.tenant_id = $1"}
	if q.Filter != nil {
		c.option = "$filter"
		s, err := c.filter(q.Filter)
		if err != nil {
			return "", err
		}
		conds = append(conds, s)
	}
	if q.Search != nil {
		c.option = "$search"
		s, err := c.search(q.Search)
		if err != nil {
			return "", err
		}
		conds = append(conds, s)
	}
	return strings.Join(conds, " AND "), nil
}

func (c *appCompiler) invalidClause(name string) error {
	return c.unsupported("Unsupported or invalid query filter clause specified for property '%s' of resource 'Application'.", name)
}

func (c *appCompiler) filter(e odata.Expr) (string, error) {
	switch e := e.(type) {
	case *odata.BinaryExpr:
		switch e.Op {
		case odata.OpAnd, odata.OpOr:
			x, err := c.filter(e.X)
			if err != nil {
				return "", err
			}
			y, err := c.filter(e.Y)
			if err != nil {
				return "", err
			}
			return "(" + x + " " + strings.ToUpper(e.Op.String()) + " " + y + ")", nil
		case odata.OpEq, odata.OpNe:
			p, err := c.property(e.X, appEq)
			if err != nil {
				return "", err
			}
			lit, ok := e.Y.(*odata.Literal)
			if !ok {
				return "", c.invalidClause(p.name)
			}
			v, ok, err := c.value(p, lit)
			if err != nil {
				return "", err
			}
			switch {
			case !ok && e.Op == odata.OpEq: // no application has that value
				return "FALSE", nil
			case !ok:
				return "TRUE", nil
			case e.Op == odata.OpEq:
				return p.column + " = " + v, nil
			default:
				return p.column + " <> " + v, nil
			}
		default:
			if path, ok := e.X.(*odata.PathExpr); ok && len(path.Segments) == 1 {
				return "", c.invalidClause(path.Segments[0])
			}
			return "", c.unsupported("The operator '%s' is not supported on applications.", e.Op)
		}
	case *odata.UnaryExpr:
		if e.Op != odata.OpNot {
			return "", c.unsupported("The operator '%s' is not supported on applications.", e.Op)
		}
		x, err := c.filter(e.X)
		if err != nil {
			return "", err
		}
		return "NOT " + x, nil
	case *odata.InExpr:
		p, err := c.property(e.X, appEq)
		if err != nil {
			return "", err
		}
		var vals []string
		for _, item := range e.List {
			lit, ok := item.(*odata.Literal)
			if !ok || (lit.Kind != odata.LitString && lit.Kind != odata.LitGUID) {
				return "", c.invalidClause(p.name)
			}
			switch {
			case !p.guid:
				vals = append(vals, strings.ToLower(lit.Value))
			case directory.IsGUID(lit.Value):
				vals = append(vals, strings.ToLower(lit.Value))
			} // a non-GUID cannot match a Guid property
		}
		cast := "::text[]"
		if p.guid {
			cast = "::uuid[]"
		}
		return "(" + p.column + " = ANY(" + c.bind(pq.Array(vals)) + cast + "))", nil
	case *odata.CallExpr:
		if e.Canonical != "startswith" || e.Recv != nil || len(e.Args) != 2 {
			return "", c.unsupported("The function '%s' is not supported on applications.", e.Name)
		}
		p, err := c.property(e.Args[0], appStartsWith)
		if err != nil {
			return "", err
		}
		lit, ok := e.Args[1].(*odata.Literal)
		if !ok || lit.Kind != odata.LitString {
			return "", c.invalidClause(p.name)
		}
		return "(" + p.column + " LIKE " + c.bind(likeEscape(strings.ToLower(lit.Value))+"%") + ")", nil
	case *odata.PathExpr:
		if len(e.Segments) == 1 {
			return "", c.invalidClause(e.Segments[0])
		}
	}
	return "", c.unsupported("Unsupported or invalid query filter clause specified on applications.")
}

// property resolves the property a comparison names and checks it takes op.
func (c *appCompiler) property(e odata.Expr, op appOps) (*appProperty, error) {
	path, ok := e.(*odata.PathExpr)
	if !ok || path.Base != nil || len(path.Segments) != 1 {
		return nil, c.unsupported("Unsupported or invalid query filter clause specified on applications.")
	}
	p := appPropertyNamed(path.Segments[0])
	if p == nil || p.ops&op == 0 {
		return nil, c.invalidClause(path.Segments[0])
	}
	return p, nil
}

// value binds a literal for p; ok is false when the literal is well typed
// but no application can have it (a string that is no GUID for an id).
func (c *appCompiler) value(p *appProperty, l *odata.Literal) (string, bool, error) {
	switch {
	case p.guid && (l.Kind == odata.LitGUID || l.Kind == odata.LitString):
		if !directory.IsGUID(l.Value) {
			return "", false, nil
		}
		return c.bind(strings.ToLower(l.Value)) + "::uuid", true, nil
	case !p.guid && l.Kind == odata.LitString:
		return c.bind(strings.ToLower(l.Value)), true, nil
	}
	return "", false, c.invalidClause(p.name)
}

// search translates Graph's "displayName:word" terms (AND, OR): a word of
// displayName (after the start or a space) begins with the term, without
// regard to case.
func (c *appCompiler) search(e odata.SearchExpr) (string, error) {
	switch e := e.(type) {
	case *odata.SearchBinary:
		x, err := c.search(e.X)
		if err != nil {
			return "", err
		}
		y, err := c.search(e.Y)
		if err != nil {
			return "", err
		}
		return "(" + x + " " + e.Op.String() + " " + y + ")", nil
	case *odata.SearchTerm:
		if e.Property == "" {
			return "", c.unsupported("Syntax of $search on applications is \"property:value\", e.g. \"displayName:contoso\".")
		}
		if !strings.EqualFold(e.Property, "displayName") {
			return "", c.unsupported("Property '%s' is not searchable on applications; only displayName is.", e.Property)
		}
		w := likeEscape(strings.ToLower(e.Text))
		// The first word is a prefix (the key index's range); a later one
		// is found by the trigram index, which holds lower(display_name)
		// without the "C" collation (00014).
		return "(" + appDisplayKey + " LIKE " + c.bind(w+"%") + " OR lower(a.display_name) LIKE " + c.bind("% "+w+"%") + ")", nil
	}
	return "", c.unsupported("NOT is not supported in $search on applications.")
}

// order returns the sort of q: the displayName key and its direction, or
// "" when the listing is in id order.
func (c *appCompiler) order(q directory.ListQuery) (key string, desc bool, err error) {
	c.option = "$orderby"
	if len(q.OrderBy) == 0 {
		return "", false, nil
	}
	if len(q.OrderBy) > 1 {
		return "", false, c.unsupported("Sorting by more than one property is not supported on applications.")
	}
	it := q.OrderBy[0]
	path, ok := it.Expr.(*odata.PathExpr)
	if !ok || path.Base != nil || len(path.Segments) != 1 {
		return "", false, c.unsupported("Sorting on applications takes a property name.")
	}
	p := appPropertyNamed(path.Segments[0])
	if p == nil || !p.sort {
		return "", false, c.unsupported("Sorting by property '%s' is not supported on applications.", path.Segments[0])
	}
	return p.column, it.Desc, nil
}

// buildApplicationList is the one statement ListApplications sends for q:
// q.Top+1 rows (the extra one tells that a next page exists), each with
// its sort key when ordered is set.
func buildApplicationList(tenantID string, q directory.ListQuery) (stmt string, args []any, ordered bool, err error) {
	c := newAppCompiler(tenantID)
	where, err := c.where(q)
	if err != nil {
		return "", nil, false, err
	}
	key, desc, err := c.order(q)
	if err != nil {
		return "", nil, false, err
	}
	cmp, dir := " > ", ""
	if desc {
		cmp, dir = " < ", " DESC"
	}
	sortKey, orderBy := "NULL::text", "a.id"
	if key != "" {
		sortKey, orderBy = key, key+dir+", a.id"+dir
	}
	if a := q.After; a != nil {
		if !directory.IsGUID(a.ID) || (key == "") != (len(a.Keys) == 0) || len(a.Keys) > 1 || (len(a.Keys) == 1 && a.Keys[0] == nil) {
			return "", nil, false, directory.Errorf(directory.KindInvalid, "The $skiptoken is invalid.").WithTarget("$skiptoken")
		}
		if key == "" {
			where += " AND a.id > " + c.bind(a.ID) + "::uuid"
		} else {
			where += " AND (" + key + ", a.id)" + cmp + "(" + c.bind(*a.Keys[0]) + ", " + c.bind(a.ID) + "::uuid)"
		}
	}
	stmt = `SELECT a.tenant_id, a.id, a.app_id, a.display_name, a.created_at, ` + sortKey + ` AS sort_key,
	ARRAY(SELECT r.permission FROM application_roles r
		WHERE r.tenant_id = a.tenant_id AND r.application_id = a.id ORDER BY r.permission) AS permissions,
	` + applicationSignInColumns + `
FROM applications a WHERE ` + where + ` ORDER BY ` + orderBy + ` LIMIT ` + c.bind(q.Top+1)
	return stmt, c.args, key != "", nil
}

// buildApplicationCount is the statement CountApplications sends for q.
func buildApplicationCount(tenantID string, q directory.ListQuery) (string, []any, error) {
	c := newAppCompiler(tenantID)
	where, err := c.where(q)
	if err != nil {
		return "", nil, err
	}
	return `SELECT count(*) FROM applications a WHERE ` + where, c.args, nil
}
