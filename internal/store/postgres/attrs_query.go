package postgres

import "strconv"

// Filter-only string properties (properties.go, note 2) are indexed in
// user_attrs a, one row (tenant_id, prop, value, user_id) per user and
// property with a value, value being lower(col) COLLATE "C" as the
// translator compares it (schema/00010_user_attrs.sql keeps it in step
// with users by triggers).
//
// Only the positive, index-backed forms of a predicate read it: eq, in,
// gt/ge/lt/le and startsWith with want true (they imply a value), and
// $search prefix clauses with want true. Their negations (ne, not, want false) and "eq
// null" select users without a match, most of the tenant by nature: they
// stay filters on the users column, exactly as before, since the column
// and user_attrs hold the same values. Written like an extension value set
// (extensions_query.go): EXISTS at the top level of a listing (a semi-join
// driven by the user_attrs range, which can stop at the LIMIT), and
// u.id = ANY(ARRAY(SELECT ...)) under an OR and in counts, where a
// correlated EXISTS would become a per-row filter or a hash over the whole
// tenant: the array is computed once from the user_attrs range and probes
// users_pkey.

// attrSet is SQL that is TRUE for the users whose property attr has a
// value satisfying pred (over a.value).
func (c *compiler) attrSet(attr int16, pred string) string {
	// The prop number is a literal from the allow-list, not a parameter:
	// the planner matches it against the (prop, value) statistics even in
	// a generic plan.
	return c.userSet("user_attrs", "a", "a.prop = "+strconv.Itoa(int(attr))+" AND "+pred)
}

// userSet is SQL that is TRUE for the users having a row of table (a side
// table keyed by tenant_id and user_id, aliased alias) where cond holds,
// in the form the paragraph above explains: EXISTS at the top level of a
// listing, an array of ids computed once under an OR and in counts.
func (c *compiler) userSet(table, alias, cond string) string {
	if c.disjunct > 0 || c.extArray {
		return "u.id = ANY(ARRAY(SELECT " + alias + ".user_id FROM " + table + " " + alias +
			" WHERE " + alias + ".tenant_id = $1 AND " + cond + "))"
	}
	return "EXISTS (SELECT 1 FROM " + table + " " + alias + " WHERE " + alias + ".tenant_id = u.tenant_id AND " +
		alias + ".user_id = u.id AND " + cond + ")"
}
