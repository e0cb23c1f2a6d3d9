package postgres

import "strings"

// The query engine's allow-list of user properties. Property and column
// names reach SQL only from this table; every shape it allows is backed by
// an index of schema/00002_query_indexes.sql (the Index field names it).
//
// | Property                   | eq ne in | gt ge lt le | startsWith | endsWith contains | eq null | $orderby | $search  |
// |----------------------------|----------|-------------|------------|-------------------|---------|----------|----------|
// | id                         | yes      | -           | -          | -                 | yes     | yes      | -        |
// | displayName                | yes      | yes         | yes        | yes (trigram)     | yes     | yes      | tokens   |
// | mail, userPrincipalName    | yes      | yes         | yes        | yes (trigram)     | yes     | yes      | prefix   |
// | every other string (1)     | yes      | yes         | yes        | -                 | yes     | yes      | prefix   |
// | accountEnabled             | yes      | -           | -          | -                 | yes     | yes      | -        |
// | createdDateTime            | yes      | yes         | -          | -                 | yes     | yes      | -        |
// | otherMails, proxyAddresses | any/all(m: m eq|ne|in|startsWith|endsWith|contains ...), any(), /$count        |
// | businessPhones             | as otherMails (eq served by the trigram index)                                 |
// | identities                 | any/all(i: i/issuer|issuerAssignedId|signInType eq|ne|in|startsWith ...), any(), /$count |
//
// (1) givenName, surname, jobTitle, city, country, state, department,
// companyName, employeeId, employeeType, mobilePhone, faxNumber,
// officeLocation, streetAddress, postalCode, usageLocation,
// preferredLanguage, mailNickname, userType, creationType, ageGroup,
// consentProvidedForMinor.
//
// Not queryable: passwordProfile (never), passwordPolicies,
// lastPasswordChangeDateTime (Graph refuses them too).
//
// ne, not and all() cannot use an index by nature (they select most rows);
// the planner answers them from the primary key or the sort index.

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
	allowTrigram                      // endsWith, contains
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
}

const (
	strOps  = allowEq | allowRange | allowStartsWith
	strTrgm = strOps | allowTrigram
)

func str(name, col string) queryProperty {
	return queryProperty{Name: name, Column: col, Kind: kindString, Ops: strOps, Sortable: true, Search: searchPrefix, Index: "users_" + col + "_key_idx"}
}

var queryProperties = []queryProperty{
	{Name: "id", Column: "id", Kind: kindID, Ops: allowEq, Sortable: true, Index: "users_pkey"},
	{Name: "displayName", Column: "display_name", Kind: kindString, Ops: strTrgm, Sortable: true, Search: searchTokens, Index: "users_display_name_key_idx"},
	{Name: "mail", Column: "mail", Kind: kindString, Ops: strTrgm, Sortable: true, Search: searchPrefix, Index: "users_mail_key_idx"},
	{Name: "userPrincipalName", Column: "user_principal_name", Kind: kindStringNotNull, Ops: strTrgm, Sortable: true, Search: searchPrefix, Index: "users_user_principal_name_key_idx"},
	str("givenName", "given_name"),
	str("surname", "surname"),
	str("jobTitle", "job_title"),
	str("city", "city"),
	str("country", "country"),
	str("state", "state"),
	str("department", "department"),
	str("companyName", "company_name"),
	str("employeeId", "employee_id"),
	str("employeeType", "employee_type"),
	str("mobilePhone", "mobile_phone"),
	str("faxNumber", "fax_number"),
	str("officeLocation", "office_location"),
	str("streetAddress", "street_address"),
	str("postalCode", "postal_code"),
	str("usageLocation", "usage_location"),
	str("preferredLanguage", "preferred_language"),
	str("mailNickname", "mail_nickname"),
	str("userType", "user_type"),
	str("creationType", "creation_type"),
	str("ageGroup", "age_group"),
	str("consentProvidedForMinor", "consent_provided_for_minor"),
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
