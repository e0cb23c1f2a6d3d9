package directory

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/graphdir/graphdir/internal/jsonstrict"
)

// PropertyType is the Graph (EDM) type of a user property.
type PropertyType uint8

// The property types graphdir stores.
const (
	TypeString PropertyType = iota + 1
	TypeBool
	TypeDateTime
	TypeStringCollection
	TypeIdentities
	TypePasswordProfile
	// TypeExtension is a directory extension property (extensions.go).
	TypeExtension
	// TypeSignInActivity is Graph's signInActivity complex type
	// (signinactivity.go).
	TypeSignInActivity
)

func (t PropertyType) String() string {
	switch t {
	case TypeString:
		return "Edm.String"
	case TypeBool:
		return "Edm.Boolean"
	case TypeDateTime:
		return "Edm.DateTimeOffset"
	case TypeStringCollection:
		return "Collection(Edm.String)"
	case TypeIdentities:
		return "Collection(microsoft.graph.objectIdentity)"
	case TypePasswordProfile:
		return "microsoft.graph.passwordProfile"
	case TypeExtension:
		return "extension"
	case TypeSignInActivity:
		return "microsoft.graph.signInActivity"
	}
	return "unknown"
}

// Property describes one user property: its type, where it appears, who may
// write it, and how its values are validated. userProperties (below) is
// authoritative for what the API accepts and returns: names, types,
// permissions and validation. How a property is stored and queried (its
// users column, the SQL it reads and writes, its $filter operators, $orderby
// and index) is decided by one row of the store's table,
// userProperties in internal/store/postgres/properties.go, from which every
// statement is derived; a test there checks the two tables agree.
//
// Adding a stored property takes three files: a row here (a property
// without a field of User keeps its value in User.Props), a row in the
// store's table, and a schema migration (schema/000NN_*.sql) adding the
// column and, for a queryable property, its index.
type Property struct {
	Name string
	Type PropertyType
	// Default properties are returned when the request has no $select.
	Default bool
	// Basic properties are readable with User.ReadBasic.All.
	Basic bool
	// ReadOnly properties are computed by the server; writing one is a 400.
	ReadOnly bool
	// WriteOnly properties (passwordProfile) are never returned or selectable.
	WriteOnly bool
	// SelfService properties are the ones an external-tenant customer may
	// change on their own profile with User.ReadWrite.
	SelfService bool
	// Sensitive properties need more than a general write permission.
	Sensitive bool
	// Validate is a validator/v10 tag applied to each value (each element
	// of a collection).
	Validate string
	// MaxItems bounds a collection's length (0: no collection).
	MaxItems int

	str  func(*User) **string
	coll func(*User) *[]string
	b    func(*User) **bool
	dt   func(*User) **time.Time
	ext  *ExtensionProperty // TypeExtension: the resolved definition
}

// Value returns p's value on u in the form the JSON writer expects:
// *string, *bool, *time.Time (nil for null), []string or []Identity (never nil).
func (p *Property) Value(u *User) any {
	switch {
	case p.str != nil:
		return *p.str(u)
	case p.coll != nil:
		v := *p.coll(u)
		if v == nil {
			v = []string{}
		}
		return v
	case p.b != nil:
		return *p.b(u)
	case p.dt != nil:
		return *p.dt(u)
	case p.Name == "id":
		return &u.ID
	case p.Type == TypeIdentities:
		return u.AllIdentities()
	case p.Type == TypeExtension:
		return u.extensionValue(p.ext)
	case p.Type == TypeSignInActivity:
		return u.SignInActivity()
	}
	return p.propsValue(u)
}

// propsValue is Value for a stored property without a field of User: its
// value is in u.Props, typed as Value promises (a nil of the right type
// when absent).
func (p *Property) propsValue(u *User) any {
	v := u.Props[p.Name]
	switch p.Type {
	case TypeString:
		s, _ := v.(*string)
		return s
	case TypeBool:
		b, _ := v.(*bool)
		return b
	case TypeDateTime:
		t, _ := v.(*time.Time)
		return t
	case TypeStringCollection:
		c, _ := v.([]string)
		if c == nil {
			c = []string{}
		}
		return c
	}
	return nil
}

// set stores a decoded value (as returned by Decode) on u.
func (p *Property) set(u *User, v any) {
	switch {
	case p.str != nil:
		*p.str(u), _ = v.(*string)
	case p.coll != nil:
		*p.coll(u), _ = v.([]string)
	case p.b != nil:
		*p.b(u), _ = v.(*bool)
	case p.dt != nil:
		*p.dt(u), _ = v.(*time.Time)
	case p.Type == TypeIdentities:
		u.Identities, _ = v.([]Identity)
	case p.Name == "id":
		// The key is never set from a value.
	case p.Type == TypeString, p.Type == TypeBool, p.Type == TypeDateTime, p.Type == TypeStringCollection:
		// A property without a field of User (propsValue).
		if u.Props == nil {
			u.Props = make(map[string]any)
		}
		u.Props[p.Name] = v
	}
}

// Decode turns a JSON value into the Go value a UserPatch holds for p:
// *string, *bool, []string, []Identity or *PasswordProfile. Nested objects
// are decoded strictly (exact keys, no duplicates).
func (p *Property) Decode(raw json.RawMessage) (any, error) {
	wrong := func() error {
		return &Error{Kind: KindInvalid, Target: p.Name,
			Message: "Invalid value for property '" + p.Name + "': expected " + p.Type.String() + "."}
	}
	null := jsonstrict.IsNull(raw)
	switch p.Type {
	case TypeString:
		if null {
			return (*string)(nil), nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, wrong()
		}
		return &s, nil
	case TypeBool:
		if null {
			return (*bool)(nil), nil
		}
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, wrong()
		}
		return &b, nil
	case TypeStringCollection:
		if null {
			return []string{}, nil
		}
		var ss []*string
		if err := json.Unmarshal(raw, &ss); err != nil {
			return nil, wrong()
		}
		out := make([]string, len(ss))
		for i, s := range ss {
			if s == nil {
				return nil, &Error{Kind: KindInvalid, Target: p.Name, Message: "Property '" + p.Name + "' cannot contain null values."}
			}
			out[i] = *s
		}
		return out, nil
	case TypeIdentities:
		if null {
			return []Identity{}, nil
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, wrong()
		}
		out := make([]Identity, len(items))
		for i, it := range items {
			f, err := jsonstrict.Fields(it, "signInType", "issuer", "issuerAssignedId")
			if err != nil {
				return nil, nestedError(p.Name, err)
			}
			for key, dst := range map[string]*string{"signInType": &out[i].SignInType, "issuer": &out[i].Issuer, "issuerAssignedId": &out[i].IssuerAssignedID} {
				v, ok := f[key]
				if !ok || jsonstrict.IsNull(v) {
					continue
				}
				if err := json.Unmarshal(v, dst); err != nil {
					return nil, &Error{Kind: KindInvalid, Target: p.Name + "." + key, Message: "Invalid value for property '" + p.Name + "." + key + "': expected Edm.String."}
				}
			}
		}
		return out, nil
	case TypePasswordProfile:
		if null {
			return nil, &Error{Kind: KindInvalid, Target: p.Name, Message: "Property 'passwordProfile' cannot be null."}
		}
		f, err := jsonstrict.Fields(raw, "password", "forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa")
		if err != nil {
			return nil, nestedError(p.Name, err)
		}
		var pp PasswordProfile
		if v, ok := f["password"]; ok && !jsonstrict.IsNull(v) {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, &Error{Kind: KindInvalid, Target: "passwordProfile.password", Message: "Invalid value for property 'passwordProfile.password': expected Edm.String."}
			}
			pp.Password = &s
		}
		for key, dst := range map[string]**bool{"forceChangePasswordNextSignIn": &pp.ForceChangePasswordNextSignIn, "forceChangePasswordNextSignInWithMfa": &pp.ForceChangePasswordNextSignInWithMfa} {
			if v, ok := f[key]; ok && !jsonstrict.IsNull(v) {
				var b bool
				if err := json.Unmarshal(v, &b); err != nil {
					return nil, &Error{Kind: KindInvalid, Target: "passwordProfile." + key, Message: "Invalid value for property 'passwordProfile." + key + "': expected Edm.Boolean."}
				}
				*dst = &b
			}
		}
		return &pp, nil
	}
	return nil, wrong()
}

func nestedError(prop string, err error) error {
	if je, ok := err.(*jsonstrict.Error); ok {
		target := prop
		if je.Key != "" {
			target = prop + "." + je.Key
		}
		return &Error{Kind: KindInvalid, Target: target, Message: je.Msg + " in property '" + target + "'."}
	}
	return &Error{Kind: KindInvalid, Target: prop, Message: err.Error()}
}

func strP(name string, f func(*User) **string, validate string) *Property {
	return &Property{Name: name, Type: TypeString, str: f, Validate: validate}
}

func collP(name string, f func(*User) *[]string, validate string, maxItems int) *Property {
	return &Property{Name: name, Type: TypeStringCollection, coll: f, Validate: validate, MaxItems: maxItems}
}

func (p *Property) def() *Property       { p.Default = true; return p }
func (p *Property) basic() *Property     { p.Basic = true; return p }
func (p *Property) ro() *Property        { p.ReadOnly = true; return p }
func (p *Property) self() *Property      { p.SelfService = true; return p }
func (p *Property) sensitive() *Property { p.Sensitive = true; return p }

// userProperties lists every user property graphdir knows, in the order
// Graph documents the default set first.
var userProperties = []*Property{
	{Name: "id", Type: TypeString, Default: true, Basic: true, ReadOnly: true},
	collP("businessPhones", func(u *User) *[]string { return &u.BusinessPhones }, "max=64", 1).def().sensitive(),
	strP("displayName", func(u *User) **string { return &u.DisplayName }, "min=1,max=256").def().basic().self(),
	strP("givenName", func(u *User) **string { return &u.GivenName }, "max=64").def().basic().self(),
	strP("jobTitle", func(u *User) **string { return &u.JobTitle }, "max=128").def().self(),
	strP("mail", func(u *User) **string { return &u.Mail }, "max=256,email").def().basic(),
	strP("mobilePhone", func(u *User) **string { return &u.MobilePhone }, "max=64").def().sensitive(),
	strP("officeLocation", func(u *User) **string { return &u.OfficeLocation }, "max=128").def(),
	strP("preferredLanguage", func(u *User) **string { return &u.PreferredLanguage }, "max=64,bcp47_language_tag").def().self(),
	strP("surname", func(u *User) **string { return &u.Surname }, "max=64").def().basic().self(),
	strP("userPrincipalName", func(u *User) **string { return &u.UserPrincipalName }, "max=113").def().basic().sensitive(),

	{Name: "accountEnabled", Type: TypeBool, Sensitive: true, b: func(u *User) **bool { return &u.AccountEnabled }},
	strP("ageGroup", func(u *User) **string { return &u.AgeGroup }, "oneof=Minor NotAdult Adult"),
	strP("city", func(u *User) **string { return &u.City }, "max=128").self(),
	strP("companyName", func(u *User) **string { return &u.CompanyName }, "max=64"),
	strP("consentProvidedForMinor", func(u *User) **string { return &u.ConsentProvidedForMinor }, "oneof=Granted Denied NotRequired"),
	strP("country", func(u *User) **string { return &u.Country }, "max=128").self(),
	{Name: "createdDateTime", Type: TypeDateTime, ReadOnly: true, dt: func(u *User) **time.Time { return &u.CreatedDateTime }},
	strP("creationType", func(u *User) **string { return &u.CreationType }, "").ro(),
	{Name: "deletedDateTime", Type: TypeDateTime, ReadOnly: true, dt: func(u *User) **time.Time { return &u.DeletedDateTime }},
	strP("department", func(u *User) **string { return &u.Department }, "max=64"),
	strP("employeeId", func(u *User) **string { return &u.EmployeeID }, "max=16"),
	strP("employeeType", func(u *User) **string { return &u.EmployeeType }, "max=64"),
	strP("faxNumber", func(u *User) **string { return &u.FaxNumber }, "max=64"),
	{Name: "identities", Type: TypeIdentities, MaxItems: 20},
	{Name: "lastPasswordChangeDateTime", Type: TypeDateTime, ReadOnly: true, dt: func(u *User) **time.Time { return &u.LastPasswordChangeDateTime }},
	{Name: "signInSessionsValidFromDateTime", Type: TypeDateTime, ReadOnly: true, dt: func(u *User) **time.Time { return &u.SignInSessionsValidFromDateTime }},
	strP("mailNickname", func(u *User) **string { return &u.MailNickname }, "min=1,max=64"),
	collP("otherMails", func(u *User) *[]string { return &u.OtherMails }, "max=250,email", 250).sensitive(),
	strP("passwordPolicies", func(u *User) **string { return &u.PasswordPolicies }, "max=256"),
	{Name: "passwordProfile", Type: TypePasswordProfile, WriteOnly: true, Sensitive: true},
	strP("postalCode", func(u *User) **string { return &u.PostalCode }, "max=40").self(),
	collP("proxyAddresses", func(u *User) *[]string { return &u.ProxyAddresses }, "", 0).ro(),
	strP("state", func(u *User) **string { return &u.State }, "max=128").self(),
	strP("streetAddress", func(u *User) **string { return &u.StreetAddress }, "max=1024").self(),
	strP("usageLocation", func(u *User) **string { return &u.UsageLocation }, "len=2,alpha"),
	strP("userType", func(u *User) **string { return &u.UserType }, "oneof=Member Guest"),
	// Returned only when selected, to callers that may read the audit log
	// (signinactivity.go).
	{Name: "signInActivity", Type: TypeSignInActivity, ReadOnly: true},
}

var propertyByName, propertyByFold = func() (map[string]*Property, map[string]*Property) {
	exact := make(map[string]*Property, len(userProperties))
	fold := make(map[string]*Property, len(userProperties))
	for _, p := range userProperties {
		exact[p.Name] = p
		fold[strings.ToLower(p.Name)] = p
	}
	return exact, fold
}()

// UserProperties returns the table of user properties. Callers must not modify it.
func UserProperties() []*Property { return userProperties }

// LookupProperty returns the property spelled exactly name.
func LookupProperty(name string) (*Property, bool) {
	p, ok := propertyByName[name]
	return p, ok
}

// LookupPropertyFold returns the property whose name equals name ignoring
// case, as Graph accepts in $select and $filter.
func LookupPropertyFold(name string) (*Property, bool) {
	p, ok := propertyByFold[strings.ToLower(name)]
	return p, ok
}

// DefaultProperties returns the properties returned without $select.
func DefaultProperties() []*Property {
	var out []*Property
	for _, p := range userProperties {
		if p.Default {
			out = append(out, p)
		}
	}
	return out
}
