package postgres

import "strings"

// The query engine's allow-list of user properties. Property and column
// names reach SQL only from this table; every shape it allows is backed by
// an index of schema/00002_query_indexes.sql as trimmed by
// schema/00009_index_diet.sql, or of user_attrs (00010) (the Index field
// names it).
//
// | Property                   | eq ne in | gt ge lt le | startsWith | endsWith    | eq null | $orderby | $search  |
// |----------------------------|----------|-------------|------------|-------------|---------|----------|----------|
// | id                         | yes      | -           | -          | -           | yes     | yes      | -        |
// | displayName                | yes      | yes         | yes        | -           | yes     | yes      | tokens   |
// | givenName, surname, city   | yes      | yes         | yes        | -           | yes     | yes      | prefix   |
// | mail, userPrincipalName    | yes      | yes         | yes        | yes (1)     | yes     | yes      | prefix   |
// | every other string (2)     | yes      | yes         | yes        | -           | yes (3) | -        | prefix   |
// | accountEnabled             | yes      | -           | -          | -           | yes     | yes      | -        |
// | createdDateTime            | yes      | yes         | -          | -           | yes     | yes      | -        |
// | otherMails, proxyAddresses | any/all(m: m eq|ne|in|startsWith|endsWith|contains ...), any(), /$count  |
// | businessPhones             | as otherMails (eq served by the trigram index)                           |
// | identities                 | any/all(i: i/issuer|issuerAssignedId|signInType eq|ne|in|startsWith ...), any(), /$count |
//
// contains is refused on every scalar property, as in Graph (which has no
// contains on users at all); it stays inside the collection lambdas, where
// the trigram index that endsWith needs serves it too.
//
// (1) A prefix range over reverse(lower(col)) COLLATE "C" (btree), where
// Graph allows endsWith (mail, userPrincipalName; otherMails and
// proxyAddresses through the lambda).
//
// (2) Filter-only (Sortable false): jobTitle, country, state,
// department, companyName, employeeId, employeeType, mobilePhone,
// faxNumber, officeLocation, streetAddress, postalCode, usageLocation,
// preferredLanguage, mailNickname, userType, creationType, ageGroup,
// consentProvidedForMinor. users has no index on them: triggers copy
// their lower-cased values to user_attrs (schema/00010_user_attrs.sql),
// one row per user and property with a value, under the one index
// (tenant_id, prop, value, user_id). So a PATCH of them is a HOT update
// of users, and users without the property cost nothing. eq, in,
// startsWith, ranges and $search imply a value and read user_attrs
// (attrs_query.go); their negations stay filters on the users column.
//
// (3) Not index-backed: "col eq null" on a filter-only property selects
// the users without it, which user_attrs leaves out. It is answered
// from the tenant's primary-key range with a filter on the users column,
// like ne, not and all() everywhere (they select most rows by nature).
//
// Not queryable: passwordProfile (never), passwordPolicies,
// lastPasswordChangeDateTime (Graph refuses them too).

// propKind is how a property is stored and compared.
type propKind uint8

const (
	kindString        propKind = iota + 1 // nullable text column
	kindStringNotNull                     // NOT NULL text column (userPrincipalName)
	kindBool                              // nullable boolean
	kindDateTime                          // NOT NULL timestamptz (createdDateTime)
	kindID                                // the uuid primary key
	kindCollection                        // text[] NOT NULL DEFAULT '{}'
	kindIdentities                        // rows of user_identities
)

// opSet lists the operators a property allows.
type opSet uint8

const (
	allowEq         opSet = 1 << iota // eq, ne, in, eq null
	allowRange                        // gt, ge, lt, le
	allowStartsWith                   // startsWith
	allowEndsWith                     // endsWith
	allowContains                     // contains (collection elements only)
)

// searchMode tells how $search matches a property.
type searchMode uint8

const (
	searchNone   searchMode = iota
	searchPrefix            // startsWith semantics
	searchTokens            // tokenised prefix match (displayName)
)

// queryProperty is one row of the allow-list.
type queryProperty struct {
	Name     string // Graph name, canonical spelling
	Column   string // column of users; "" for identities
	Kind     propKind
	Ops      opSet
	Sortable bool
	Search   searchMode
	// ArrayIndex: a collection has a GIN index on graphdir_lower_array(col)
	// (element eq/in); all collections have one on graphdir_elements_text(col).
	ArrayIndex bool
	// Index names the index that serves the property (documentation and
	// the EXPLAIN test's expectations).
	Index string
	// Attr is the property's prop number in user_attrs (00010), 0 for the
	// properties indexed on users itself. Numbers are stored in rows:
	// never renumber.
	Attr int16
}

// partial reports whether p is a filter-only nullable string: indexed
// only where it has a value (user_attrs, 00010), so its comparison key
// needs no COALESCE. Sortable strings need the users without a value in
// the index too (nulls sort first) and keep 00002's shape.
func (p *queryProperty) partial() bool { return p.Kind == kindString && !p.Sortable }

const (
	strOps  = allowEq | allowRange | allowStartsWith
	strEnds = strOps | allowEndsWith
)

// str is a sortable string property.
func str(name, col string) queryProperty {
	return queryProperty{Name: name, Column: col, Kind: kindString, Ops: strOps, Sortable: true, Search: searchPrefix, Index: "users_" + col + "_key_idx"}
}

// filterStr is a filter-only string property whose values user_attrs
// holds under prop number attr (schema/00010_user_attrs.sql).
func filterStr(name, col string, attr int16) queryProperty {
	return queryProperty{Name: name, Column: col, Kind: kindString, Ops: strOps, Search: searchPrefix, Attr: attr, Index: "user_attrs_key"}
}

var queryProperties = []queryProperty{
	{Name: "id", Column: "id", Kind: kindID, Ops: allowEq, Sortable: true, Index: "users_pkey"},
	{Name: "displayName", Column: "display_name", Kind: kindString, Ops: strOps, Sortable: true, Search: searchTokens, Index: "users_display_name_key_idx"},
	{Name: "mail", Column: "mail", Kind: kindString, Ops: strEnds, Sortable: true, Search: searchPrefix, Index: "users_mail_key_idx"},
	{Name: "userPrincipalName", Column: "user_principal_name", Kind: kindStringNotNull, Ops: strEnds, Sortable: true, Search: searchPrefix, Index: "users_user_principal_name_key_idx"},
	str("givenName", "given_name"),
	str("surname", "surname"),
	filterStr("jobTitle", "job_title", 1),
	str("city", "city"),
	filterStr("country", "country", 2),
	filterStr("state", "state", 3),
	filterStr("department", "department", 4),
	filterStr("companyName", "company_name", 5),
	filterStr("employeeId", "employee_id", 6),
	filterStr("employeeType", "employee_type", 7),
	filterStr("mobilePhone", "mobile_phone", 8),
	filterStr("faxNumber", "fax_number", 9),
	filterStr("officeLocation", "office_location", 10),
	filterStr("streetAddress", "street_address", 11),
	filterStr("postalCode", "postal_code", 12),
	filterStr("usageLocation", "usage_location", 13),
	filterStr("preferredLanguage", "preferred_language", 14),
	filterStr("mailNickname", "mail_nickname", 15),
	filterStr("userType", "user_type", 16),
	filterStr("creationType", "creation_type", 17),
	filterStr("ageGroup", "age_group", 18),
	filterStr("consentProvidedForMinor", "consent_provided_for_minor", 19),
	{Name: "accountEnabled", Column: "account_enabled", Kind: kindBool, Ops: allowEq, Sortable: true, Index: "users_account_enabled_key_idx"},
	{Name: "createdDateTime", Column: "created_at", Kind: kindDateTime, Ops: allowEq | allowRange, Sortable: true, Index: "users_created_at_idx"},
	{Name: "otherMails", Column: "other_mails", Kind: kindCollection, ArrayIndex: true, Index: "users_other_mails_idx"},
	{Name: "proxyAddresses", Column: "proxy_addresses", Kind: kindCollection, ArrayIndex: true, Index: "users_proxy_addresses_idx"},
	{Name: "businessPhones", Column: "business_phones", Kind: kindCollection, Index: "users_business_phones_trgm_idx"},
	{Name: "identities", Kind: kindIdentities, Index: "user_identities_issuer_key"},
}

var queryPropertyByFold = func() map[string]*queryProperty {
	m := make(map[string]*queryProperty, len(queryProperties))
	for i := range queryProperties {
		m[strings.ToLower(queryProperties[i].Name)] = &queryProperties[i]
	}
	return m
}()

// lookupQueryProperty finds a property by name, ignoring case as Graph does.
func lookupQueryProperty(name string) (*queryProperty, bool) {
	p, ok := queryPropertyByFold[strings.ToLower(name)]
	return p, ok
}

// identityFields maps the objectIdentity fields (ignoring case) to columns
// of user_identities i.
var identityFields = map[string]struct{ name, column string }{
	"issuer":           {"issuer", "issuer"},
	"issuerassignedid": {"issuerAssignedId", "issuer_assigned_id"},
	"signintype":       {"signInType", "sign_in_type"},
}
