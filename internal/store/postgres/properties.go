package postgres

import (
	"strings"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
)

// userProperties is the store's one table of user properties. Everything
// the store does with a property is derived from its row, once, at init
// (userprops.go): the SELECT list and the scan target of each column, the
// INSERT and COPY columns and their arguments, the columns a PATCH may SET,
// the column -> property maps of errors and delta, and the query engine's
// allow-list ($filter operators, $orderby, $search, the index that serves
// each, users column or user_attrs side table). Property and column names
// reach SQL only from this table. Every shape the allow-list admits is
// backed by an index of schema/00002_query_indexes.sql as trimmed by
// schema/00009_index_diet.sql, or of user_attrs (00010) (the Index field
// names it). directory.UserProperties is the API's side of the same
// properties (types, permissions, validation); TestPropertyTablesAgree
// checks that the two tables name the same properties with the same types.
//
// Adding a stored property: one row below, one row in
// internal/directory/properties.go, and a migration adding the column
// (and the index its Index names; for a filter-only string, the user_attrs
// triggers' column list and a prop number). TestAddPropertyByTableRow
// proves that the row and the column are all the store needs.
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
// | signInActivity/lastSignInDateTime | yes | yes       | -          | -           | yes     | -        | -        |
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
	kindDateTime                          // timestamptz (createdDateTime NOT NULL)
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

// writeMode is how CreateUser, the import and UpdateUser set a column.
type writeMode uint8

const (
	// writeValue: bound as a parameter by INSERT and COPY, and settable
	// by a UserPatch (PATCH ... SET column = $n).
	writeValue writeMode = iota
	// writeCreateOnly: INSERT binds COALESCE($n, now()), COPY binds the
	// load's time; no UserPatch sets it (createdDateTime).
	writeCreateOnly
	// writeNone: not a column of INSERT or COPY by this row: the key
	// (id, first by hand), the identities (their own table) and
	// lastPasswordChangeDateTime (set with the password state).
	writeNone
)

// userProperty is one row of userProperties.
type userProperty struct {
	Name   string // Graph name, canonical spelling
	Column string // column of users; "" for identities
	Kind   propKind
	Write  writeMode
	Ops    opSet
	// Sortable: $orderby is allowed (and the index keeps users without a
	// value, which sort first).
	Sortable bool
	Search   searchMode
	// ArrayIndex: a collection has a GIN index on graphdir_lower_array(col)
	// (element eq/in); all collections have one on graphdir_elements_text(col).
	ArrayIndex bool
	// Index names the index that serves the property (documentation and
	// the EXPLAIN test's expectations). "" means not queryable: the
	// property is stored and read but the allow-list leaves it out.
	Index string
	// Attr is the property's prop number in user_attrs (00010), 0 for the
	// properties indexed on users itself. Numbers are stored in rows:
	// never renumber.
	Attr int16

	// The field of directory.User the column scans into and INSERT binds
	// from, by kind: str (kindString, kindStringNotNull), b (kindBool), dt
	// (kindDateTime), coll (kindCollection). None: the value lives in
	// User.Props under Name (a property without a field of its own).
	str  func(*directory.User) **string
	b    func(*directory.User) **bool
	dt   func(*directory.User) **time.Time
	coll func(*directory.User) *[]string
}

// partial reports whether p is a filter-only nullable string: indexed
// only where it has a value (user_attrs, 00010), so its comparison key
// needs no COALESCE. Sortable strings need the users without a value in
// the index too (nulls sort first) and keep 00002's shape.
func (p *userProperty) partial() bool { return p.Kind == kindString && !p.Sortable }

// queryable reports whether the allow-list admits p in $filter, $orderby
// (when Sortable) and $search (when Search).
func (p *userProperty) queryable() bool { return p.Index != "" }

const (
	strOps  = allowEq | allowRange | allowStartsWith
	strEnds = strOps | allowEndsWith
)

// str is a sortable string property, indexed on users by 00002's
// users_<col>_key_idx. f is its field of directory.User (nil: User.Props).
func str(name, col string, f func(*directory.User) **string) userProperty {
	return userProperty{Name: name, Column: col, Kind: kindString, Ops: strOps, Sortable: true, Search: searchPrefix, Index: "users_" + col + "_key_idx", str: f}
}

// filterStr is a filter-only string property whose values user_attrs
// holds under prop number attr (schema/00010_user_attrs.sql).
func filterStr(name, col string, attr int16, f func(*directory.User) **string) userProperty {
	return userProperty{Name: name, Column: col, Kind: kindString, Ops: strOps, Search: searchPrefix, Attr: attr, Index: "user_attrs_key", str: f}
}

// userProperties: see the comment at the top of this file. The order is
// the column order of the statements derived from it.
var userProperties = []userProperty{
	{Name: "id", Column: "id", Kind: kindID, Write: writeNone, Ops: allowEq, Sortable: true, Index: "users_pkey"},
	{Name: "accountEnabled", Column: "account_enabled", Kind: kindBool, Ops: allowEq, Sortable: true, Index: "users_account_enabled_key_idx",
		b: func(u *directory.User) **bool { return &u.AccountEnabled }},
	filterStr("ageGroup", "age_group", 18, func(u *directory.User) **string { return &u.AgeGroup }),
	{Name: "businessPhones", Column: "business_phones", Kind: kindCollection, Index: "users_business_phones_trgm_idx",
		coll: func(u *directory.User) *[]string { return &u.BusinessPhones }},
	str("city", "city", func(u *directory.User) **string { return &u.City }),
	filterStr("companyName", "company_name", 5, func(u *directory.User) **string { return &u.CompanyName }),
	filterStr("consentProvidedForMinor", "consent_provided_for_minor", 19, func(u *directory.User) **string { return &u.ConsentProvidedForMinor }),
	filterStr("country", "country", 2, func(u *directory.User) **string { return &u.Country }),
	{Name: "createdDateTime", Column: "created_at", Kind: kindDateTime, Write: writeCreateOnly, Ops: allowEq | allowRange, Sortable: true, Index: "users_created_at_idx",
		dt: func(u *directory.User) **time.Time { return &u.CreatedDateTime }},
	filterStr("creationType", "creation_type", 17, func(u *directory.User) **string { return &u.CreationType }),
	filterStr("department", "department", 4, func(u *directory.User) **string { return &u.Department }),
	{Name: "displayName", Column: "display_name", Kind: kindString, Ops: strOps, Sortable: true, Search: searchTokens, Index: "users_display_name_key_idx",
		str: func(u *directory.User) **string { return &u.DisplayName }},
	filterStr("employeeId", "employee_id", 6, func(u *directory.User) **string { return &u.EmployeeID }),
	filterStr("employeeType", "employee_type", 7, func(u *directory.User) **string { return &u.EmployeeType }),
	filterStr("faxNumber", "fax_number", 9, func(u *directory.User) **string { return &u.FaxNumber }),
	str("givenName", "given_name", func(u *directory.User) **string { return &u.GivenName }),
	filterStr("jobTitle", "job_title", 1, func(u *directory.User) **string { return &u.JobTitle }),
	{Name: "mail", Column: "mail", Kind: kindString, Ops: strEnds, Sortable: true, Search: searchPrefix, Index: "users_mail_key_idx",
		str: func(u *directory.User) **string { return &u.Mail }},
	filterStr("mailNickname", "mail_nickname", 15, func(u *directory.User) **string { return &u.MailNickname }),
	filterStr("mobilePhone", "mobile_phone", 8, func(u *directory.User) **string { return &u.MobilePhone }),
	filterStr("officeLocation", "office_location", 10, func(u *directory.User) **string { return &u.OfficeLocation }),
	{Name: "otherMails", Column: "other_mails", Kind: kindCollection, ArrayIndex: true, Index: "users_other_mails_idx",
		coll: func(u *directory.User) *[]string { return &u.OtherMails }},
	// Not queryable: Graph refuses passwordPolicies in $filter too.
	{Name: "passwordPolicies", Column: "password_policies", Kind: kindString,
		str: func(u *directory.User) **string { return &u.PasswordPolicies }},
	filterStr("postalCode", "postal_code", 12, func(u *directory.User) **string { return &u.PostalCode }),
	filterStr("preferredLanguage", "preferred_language", 14, func(u *directory.User) **string { return &u.PreferredLanguage }),
	{Name: "proxyAddresses", Column: "proxy_addresses", Kind: kindCollection, ArrayIndex: true, Index: "users_proxy_addresses_idx",
		coll: func(u *directory.User) *[]string { return &u.ProxyAddresses }},
	filterStr("state", "state", 3, func(u *directory.User) **string { return &u.State }),
	filterStr("streetAddress", "street_address", 11, func(u *directory.User) **string { return &u.StreetAddress }),
	str("surname", "surname", func(u *directory.User) **string { return &u.Surname }),
	filterStr("usageLocation", "usage_location", 13, func(u *directory.User) **string { return &u.UsageLocation }),
	{Name: "userPrincipalName", Column: "user_principal_name", Kind: kindStringNotNull, Ops: strEnds, Sortable: true, Search: searchPrefix, Index: "users_user_principal_name_key_idx",
		str: func(u *directory.User) **string { return &u.UserPrincipalName }},
	filterStr("userType", "user_type", 16, func(u *directory.User) **string { return &u.UserType }),
	// Read-only, not queryable (as in Graph); written with the password
	// state (passwordColumns).
	{Name: "lastPasswordChangeDateTime", Column: "last_password_change_at", Kind: kindDateTime, Write: writeNone,
		dt: func(u *directory.User) **time.Time { return &u.LastPasswordChangeDateTime }},
	// Read-only, not queryable; set by revokeSignInSessions and the 00017
	// trigger (password change, disable, delete).
	{Name: "signInSessionsValidFromDateTime", Column: "sign_in_sessions_valid_from", Kind: kindDateTime, Write: writeNone,
		dt: func(u *directory.User) **time.Time { return &u.SignInSessionsValidFromDateTime }},
	{Name: "identities", Kind: kindIdentities, Write: writeNone, Index: "user_identities_issuer_key"},
	// signInActivity's parts (directory/signinactivity.go), one column
	// each, named by their $filter path; written only by RecordSignIn
	// (signins.go). lastSignInDateTime takes eq, ne, eq null and the
	// ranges, as Graph (eq and the ranges through
	// schema/00019's users_last_sign_in_idx); the others are read only.
	{Name: directory.SignInActivityLast, Column: "last_sign_in_at", Kind: kindDateTime, Write: writeNone, Ops: allowEq | allowRange, Index: "users_last_sign_in_idx"},
	{Name: directory.SignInActivityLastNonInteractive, Column: "last_non_interactive_sign_in_at", Kind: kindDateTime, Write: writeNone},
	{Name: directory.SignInActivityLastSuccessful, Column: "last_successful_sign_in_at", Kind: kindDateTime, Write: writeNone},
}

// lookupQueryProperty finds a property of the allow-list by name, ignoring
// case as Graph does.
func lookupQueryProperty(name string) (*userProperty, bool) {
	p, ok := queryPropertyByFold[strings.ToLower(name)]
	return p, ok
}

// Property names the store handles outside the plain columns.
const (
	propIdentities      = "identities"
	propPasswordProfile = "passwordProfile"
)

// identityFields maps the objectIdentity fields (ignoring case) to columns
// of user_identities i.
var identityFields = map[string]struct{ name, column string }{
	"issuer":           {"issuer", "issuer"},
	"issuerassignedid": {"issuerAssignedId", "issuer_assigned_id"},
	"signintype":       {"signInType", "sign_in_type"},
}
