package postgres

// colType is how a patch value binds to a column.
type colType uint8

const (
	colString  colType = iota + 1 // *string, nil stores NULL
	colBool                       // *bool, nil stores NULL
	colStrings                    // []string, nil stores '{}'
)

// column is one writable users column.
type column struct {
	name string
	typ  colType
}

// patchColumns is the allow-list of user properties a UserPatch may set
// through a plain column, by Graph property name. Column names reach SQL only
// from this table, never from a caller. identities and the password are
// written separately; id, createdDateTime and lastPasswordChangeDateTime are
// set by the store itself. The read-only creationType and proxyAddresses are
// here because the service maintains them.
var patchColumns = map[string]column{
	"accountEnabled":          {"account_enabled", colBool},
	"ageGroup":                {"age_group", colString},
	"businessPhones":          {"business_phones", colStrings},
	"city":                    {"city", colString},
	"companyName":             {"company_name", colString},
	"consentProvidedForMinor": {"consent_provided_for_minor", colString},
	"country":                 {"country", colString},
	"creationType":            {"creation_type", colString},
	"department":              {"department", colString},
	"displayName":             {"display_name", colString},
	"employeeId":              {"employee_id", colString},
	"employeeType":            {"employee_type", colString},
	"faxNumber":               {"fax_number", colString},
	"givenName":               {"given_name", colString},
	"jobTitle":                {"job_title", colString},
	"mail":                    {"mail", colString},
	"mailNickname":            {"mail_nickname", colString},
	"mobilePhone":             {"mobile_phone", colString},
	"officeLocation":          {"office_location", colString},
	"otherMails":              {"other_mails", colStrings},
	"passwordPolicies":        {"password_policies", colString},
	"postalCode":              {"postal_code", colString},
	"preferredLanguage":       {"preferred_language", colString},
	"proxyAddresses":          {"proxy_addresses", colStrings},
	"state":                   {"state", colString},
	"streetAddress":           {"street_address", colString},
	"surname":                 {"surname", colString},
	"usageLocation":           {"usage_location", colString},
	"userPrincipalName":       {"user_principal_name", colString},
	"userType":                {"user_type", colString},
}

// Property names the store handles outside patchColumns.
const (
	propIdentities      = "identities"
	propPasswordProfile = "passwordProfile"
)

// propertyOfColumn reverses patchColumns (plus id) so that a NOT NULL
// violation can name the Graph property.
var propertyOfColumn = func() map[string]string {
	m := map[string]string{"id": "id"}
	for prop, c := range patchColumns {
		m[c.name] = prop
	}
	return m
}()
