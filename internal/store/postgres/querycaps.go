package postgres

import "github.com/graphdir/graphdir/internal/directory"

const (
	// elementOps are what a lambda body may do with an element of a string
	// collection (compiler.lambdaOperand).
	elementOps = allowEq | allowStartsWith | allowEndsWith | allowContains
	// identityFieldOps are what it may do with identities/issuer and the
	// other objectIdentity fields.
	identityFieldOps = allowEq | allowStartsWith
)

// QueryCapabilities describes the query allow-lists (the queryable rows of
// userProperties, plus deletedDateTime in the deleted-items listing, and
// applicationProperties) as
// directory facts, for $metadata's Capabilities annotations. It reads the
// same table, predicate and operator sets the SQL compiler consults, so
// the published facts follow the engine.
func QueryCapabilities() directory.QueryCapabilities {
	var live []directory.QueryCapability
	for i := range userProperties {
		if p := &userProperties[i]; p.queryable() {
			live = append(live, p.capability())
		}
	}
	var apps []directory.QueryCapability
	for _, p := range applicationProperties {
		c := directory.QueryCapability{Property: p.name, Sortable: p.sort, Searchable: p.name == "displayName", Operators: []string{"eq", "ne", "in"}}
		if p.ops&appStartsWith != 0 {
			c.Operators = append(c.Operators, "startsWith")
		}
		apps = append(apps, c)
	}
	return directory.QueryCapabilities{
		Users:        live,
		DeletedUsers: append(append([]directory.QueryCapability(nil), live...), deletedDateTimeProperty.capability()),
		Applications: apps,
	}
}

func (p *userProperty) capability() directory.QueryCapability {
	c := directory.QueryCapability{Property: p.Name, Sortable: p.Sortable, Searchable: p.Search != searchNone}
	ops := p.Ops
	switch p.Kind {
	case kindCollection:
		c.Collection, ops = true, elementOps
	case kindIdentities:
		c.Collection, ops = true, identityFieldOps
	}
	if c.Collection {
		c.Operators = []string{"any", "all"}
	}
	if ops&allowEq != 0 {
		c.Operators = append(c.Operators, "eq", "ne", "in")
	}
	if ops&allowRange != 0 {
		c.Operators = append(c.Operators, "gt", "ge", "lt", "le")
	}
	if ops&allowStartsWith != 0 {
		c.Operators = append(c.Operators, "startsWith")
	}
	if ops&allowEndsWith != 0 {
		c.Operators = append(c.Operators, "endsWith")
	}
	if ops&allowContains != 0 {
		c.Operators = append(c.Operators, "contains")
	}
	return c
}
