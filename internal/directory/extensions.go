package directory

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/graphdir/graphdir/internal/jsonstrict"
	"github.com/graphdir/graphdir/internal/textlimit"
)

// Directory extension attributes
// (https://learn.microsoft.com/graph/extensibility-overview#directory-microsoft-entra-id-extensions):
// an application of the tenant defines a property
// (POST /applications/{id}/extensionProperties) named
// extension_{appId without dashes}_{name}; users then carry values of
// it, set by POST and PATCH (null removes), read only through $select,
// filtered and sorted like declared properties. Definitions are per tenant;
// the name of a definition of another tenant is as unknown as a typo.

// The extension data types graphdir stores (Graph's Binary is not).
const (
	ExtensionString       = "String"
	ExtensionInteger      = "Integer"
	ExtensionLargeInteger = "LargeInteger"
	ExtensionBoolean      = "Boolean"
	ExtensionDateTime     = "DateTime"
)

// Limits on extension properties.
const (
	// MaxExtensionValuesPerUser is Graph's limit of extension values on one
	// object, across every definition; each element of a multi-valued
	// property counts as one value.
	MaxExtensionValuesPerUser = 100
	// MaxExtensionStringLength bounds a String value, in characters.
	MaxExtensionStringLength = 256
	// maxExtensionNameLength bounds the name part of a definition.
	maxExtensionNameLength = 120
	// extensionPrefix starts every extension property name.
	extensionPrefix = "extension_"
)

// ExtensionProperty is one definition (Graph's extensionProperty).
type ExtensionProperty struct {
	TenantID string
	ID       string
	// ApplicationID is the object id of the owning application, AppID its
	// client id, AppDisplayName its displayName.
	ApplicationID  string
	AppID          string
	AppDisplayName string
	// Name is the full property name, extension_{appId}_{name}.
	Name          string
	DataType      string
	IsMultiValued bool
	TargetObjects []string
	CreatedAt     time.Time
}

// ExtensionPropertyInput is a decoded create body.
type ExtensionPropertyInput struct {
	Name          *string
	DataType      *string
	TargetObjects []string
	IsMultiValued bool
}

// ExtensionValue is the value of one extension property on a user: Def and
// the field its DataType uses (Text for String, Texts when multi-valued,
// Num for Integer and LargeInteger, Bool, Time). All fields nil means no
// value: in a patch, remove it.
type ExtensionValue struct {
	Def   *ExtensionProperty
	Text  *string
	Texts []string
	Num   *int64
	Bool  *bool
	Time  *time.Time
}

// IsNull reports whether v holds no value.
func (v ExtensionValue) IsNull() bool {
	return v.Text == nil && len(v.Texts) == 0 && v.Num == nil && v.Bool == nil && v.Time == nil
}

// Count is the number of stored values v stands for.
func (v ExtensionValue) Count() int {
	switch {
	case v.Def != nil && v.Def.IsMultiValued:
		return len(v.Texts)
	case v.IsNull():
		return 0
	}
	return 1
}

// RawExtension is the undecoded JSON value of an extension property in a
// user body: the edge cannot type it, because definitions are per tenant;
// the Service decodes it against the caller's tenant's definition.
type RawExtension json.RawMessage

// IsExtensionName reports whether name has the form of a directory
// extension property (extension_..., any case).
func IsExtensionName(name string) bool {
	return len(name) > len(extensionPrefix) && strings.EqualFold(name[:len(extensionPrefix)], extensionPrefix)
}

// ExtensionName is the full property name of a definition called name on
// the application with client id appID.
func ExtensionName(appID, name string) string {
	return extensionPrefix + strings.ReplaceAll(strings.ToLower(appID), "-", "") + "_" + name
}

// ExtensionStore persists extension definitions and reads values; values
// are written with the user (User.Extensions, UserPatch.Extensions).
type ExtensionStore interface {
	// CreateExtensionProperty inserts p. KindConflict when the tenant has
	// a property of that name (ignoring case); KindNotFound when the
	// application does not exist.
	CreateExtensionProperty(ctx context.Context, p *ExtensionProperty) error
	// ListExtensionProperties returns the definitions of one application
	// (all of the tenant for applicationID ""), oldest first.
	ListExtensionProperties(ctx context.Context, tenantID, applicationID string) ([]*ExtensionProperty, error)
	// ExtensionPropertiesOf returns the definitions of the applications
	// applicationIDs (object ids) in one statement, oldest first
	// ($expand=extensionProperties on a page of applications).
	ExtensionPropertiesOf(ctx context.Context, tenantID string, applicationIDs []string) ([]*ExtensionProperty, error)
	// GetExtensionProperty returns one definition of an application. KindNotFound.
	GetExtensionProperty(ctx context.Context, tenantID, applicationID, id string) (*ExtensionProperty, error)
	// DeleteExtensionProperty removes a definition and every value of it. KindNotFound.
	DeleteExtensionProperty(ctx context.Context, tenantID, applicationID, id string) error
	// ExtensionPropertiesByName returns the tenant's definitions whose
	// names equal one of names ignoring case; unknown names are left out.
	ExtensionPropertiesByName(ctx context.Context, tenantID string, names []string) ([]*ExtensionProperty, error)
	// ExtensionValues returns the values of the given definitions on the
	// given users, by user id.
	ExtensionValues(ctx context.Context, tenantID string, userIDs []string, defs []*ExtensionProperty) (map[string][]ExtensionValue, error)
}

// ----- properties (for $select and the JSON writer)

// ExtensionSelectProperty is the placeholder the edge puts in a $select
// list for an extension name before the tenant's definitions resolve it
// (ResolveExtensions); Resolved reports whether it has been.
func ExtensionSelectProperty(name string) *Property {
	return &Property{Name: name, Type: TypeExtension}
}

// ExtensionPropertyOf is the Property of a resolved definition.
func ExtensionPropertyOf(d *ExtensionProperty) *Property {
	return &Property{Name: d.Name, Type: TypeExtension, ext: d}
}

// Extension returns the definition of a resolved extension Property, nil
// for a placeholder or a declared property.
func (p *Property) Extension() *ExtensionProperty { return p.ext }

// extensionValue is what Property.Value returns for an extension: *string,
// []string, *int64, *bool or *time.Time, a nil *string when unset.
func (u *User) extensionValue(d *ExtensionProperty) any {
	if d == nil {
		return (*string)(nil)
	}
	for _, v := range u.Extensions {
		if v.Def == nil || v.Def.ID != d.ID || v.IsNull() {
			continue
		}
		switch {
		case d.IsMultiValued:
			return v.Texts
		case v.Text != nil:
			return v.Text
		case v.Num != nil:
			return v.Num
		case v.Bool != nil:
			return v.Bool
		case v.Time != nil:
			return v.Time
		}
	}
	return (*string)(nil)
}

// ----- decoding values

func errUnknownExtension(name string) *Error {
	return &Error{Kind: KindInvalid, Target: textlimit.Clip(name, maxEchoed),
		Message: "Property '" + textlimit.Clip(name, maxEchoed) + "' does not exist as a declared property or extension property."}
}

// DecodeExtension decodes a JSON value against its definition. JSON null
// (and [] for a multi-valued property) is the null value, which removes.
func DecodeExtension(d *ExtensionProperty, raw json.RawMessage) (ExtensionValue, error) {
	v := ExtensionValue{Def: d}
	want := map[string]string{ExtensionString: "Edm.String", ExtensionInteger: "Edm.Int32",
		ExtensionLargeInteger: "Edm.Int64", ExtensionBoolean: "Edm.Boolean", ExtensionDateTime: "Edm.DateTimeOffset"}[d.DataType]
	if d.IsMultiValued {
		want = "Collection(Edm.String)"
	}
	wrong := func(detail string) error {
		return &Error{Kind: KindInvalid, Target: d.Name,
			Message: "Invalid value for property '" + d.Name + "': expected " + want + detail + "."}
	}
	if jsonstrict.IsNull(raw) {
		return v, nil
	}
	checkString := func(s string) error {
		if utf8.RuneCountInString(s) > MaxExtensionStringLength {
			return wrong(" of at most " + strconv.Itoa(MaxExtensionStringLength) + " characters")
		}
		if !utf8Clean(s) {
			return wrong(" without control characters")
		}
		return nil
	}
	switch {
	case d.IsMultiValued:
		var ss []*string
		if err := json.Unmarshal(raw, &ss); err != nil {
			return v, wrong("")
		}
		if len(ss) > MaxExtensionValuesPerUser {
			return v, &Error{Kind: KindInvalid, Target: d.Name,
				Message: "Property '" + d.Name + "' accepts at most " + strconv.Itoa(MaxExtensionValuesPerUser) + " values."}
		}
		for _, s := range ss {
			if s == nil {
				return v, &Error{Kind: KindInvalid, Target: d.Name, Message: "Property '" + d.Name + "' cannot contain null values."}
			}
			if err := checkString(*s); err != nil {
				return v, err
			}
			v.Texts = append(v.Texts, *s)
		}
	case d.DataType == ExtensionString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return v, wrong("")
		}
		if err := checkString(s); err != nil {
			return v, err
		}
		v.Text = &s
	case d.DataType == ExtensionInteger || d.DataType == ExtensionLargeInteger:
		bits := 32
		if d.DataType == ExtensionLargeInteger {
			bits = 64
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, bits)
		if err != nil {
			return v, wrong(" (an integer of " + strconv.Itoa(bits) + " bits)")
		}
		v.Num = &n
	case d.DataType == ExtensionBoolean:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return v, wrong("")
		}
		v.Bool = &b
	case d.DataType == ExtensionDateTime:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return v, wrong(" (ISO 8601 with a time zone, e.g. 2024-01-01T00:00:00Z)")
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return v, wrong(" (ISO 8601 with a time zone, e.g. 2024-01-01T00:00:00Z)")
		}
		t = t.UTC().Truncate(time.Microsecond)
		v.Time = &t
	default:
		return v, Internal(errors.New("unknown data type "+d.DataType), "directory: decode extension "+d.Name)
	}
	return v, nil
}

// ----- the Service side: values on users

// splitExtensions takes the extension properties out of a decoded user
// body: the rest goes on through the declared-property rules, the
// extensions are decoded against the tenant's definitions. An unknown
// extension name is a 400 naming it.
func (s *Service) splitExtensions(ctx context.Context, tenantID string, values map[string]any) (map[string]any, []ExtensionValue, error) {
	var names []string
	for name := range values {
		if IsExtensionName(name) {
			if _, declared := LookupProperty(name); !declared {
				names = append(names, name)
			}
		}
	}
	if len(names) == 0 {
		return values, nil, nil
	}
	slices.Sort(names)
	defs, err := s.lookupExtensions(ctx, tenantID, names)
	if err != nil {
		return nil, nil, err
	}
	rest := make(map[string]any, len(values)-len(names))
	for name, v := range values {
		if !slices.Contains(names, name) {
			rest[name] = v
		}
	}
	out := make([]ExtensionValue, 0, len(names))
	seen := map[string]string{}
	total := 0
	for _, name := range names {
		d := defs[strings.ToLower(name)]
		if d == nil {
			return nil, nil, errUnknownExtension(name)
		}
		if prev, dup := seen[d.ID]; dup {
			return nil, nil, &Error{Kind: KindInvalid, Target: textlimit.Clip(name, maxEchoed),
				Message: "Properties '" + textlimit.Clip(prev, maxEchoed) + "' and '" + textlimit.Clip(name, maxEchoed) + "' name the same extension property."}
		}
		seen[d.ID] = name
		var raw json.RawMessage
		switch x := values[name].(type) {
		case RawExtension:
			raw = json.RawMessage(x)
		case json.RawMessage:
			raw = x
		case nil:
			raw = json.RawMessage("null")
		default:
			b, err := json.Marshal(x)
			if err != nil {
				return nil, nil, errUnknownExtension(name)
			}
			raw = b
		}
		v, err := DecodeExtension(d, raw)
		if err != nil {
			return nil, nil, err
		}
		total += v.Count()
		out = append(out, v)
	}
	if total > MaxExtensionValuesPerUser {
		return nil, nil, ErrTooManyExtensionValues()
	}
	return rest, out, nil
}

// ErrTooManyExtensionValues is the 400 for more than 100 extension values
// on one user.
func ErrTooManyExtensionValues() *Error {
	return &Error{Kind: KindInvalid, Message: "A user can have at most " + strconv.Itoa(MaxExtensionValuesPerUser) +
		" extension property values; remove some before adding others."}
}

// lookupExtensions returns the tenant's definitions of names, keyed by
// lower-cased name.
func (s *Service) lookupExtensions(ctx context.Context, tenantID string, names []string) (map[string]*ExtensionProperty, error) {
	out := map[string]*ExtensionProperty{}
	if len(names) == 0 {
		return out, nil
	}
	defs, err := s.store.ExtensionPropertiesByName(ctx, tenantID, names)
	if err != nil {
		return nil, err
	}
	for _, d := range defs {
		out[strings.ToLower(d.Name)] = d
	}
	return out, nil
}

// withQueryExtensions resolves the extension properties q's $filter and
// $orderby name into q.Extensions; unknown names are left for the store,
// which refuses them like any unknown property.
func (s *Service) withQueryExtensions(ctx context.Context, tenantID string, q ListQuery) (ListQuery, error) {
	var names []string
	for _, name := range ReferencedProperties(q) {
		if IsExtensionName(name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return q, nil
	}
	defs, err := s.lookupExtensions(ctx, tenantID, names)
	if err != nil {
		return q, err
	}
	q.Extensions = defs
	return q, nil
}

// ResolveExtensions returns the caller's tenant's definitions of names (in
// order, canonical, without repeats), for $select. An unknown name is the
// 400 Graph gives for an unknown $select property.
func (s *Service) ResolveExtensions(ctx context.Context, names []string) ([]*ExtensionProperty, error) {
	p := PrincipalFrom(ctx)
	if p == nil {
		return nil, Errorf(KindUnauthenticated, "Access token is empty.")
	}
	defs, err := s.lookupExtensions(ctx, p.TenantID, names)
	if err != nil {
		return nil, err
	}
	var out []*ExtensionProperty
	for _, name := range names {
		d := defs[strings.ToLower(name)]
		if d == nil {
			return nil, &Error{Kind: KindUnsupported, Target: textlimit.Clip(name, maxEchoed),
				Message: "Property '" + textlimit.Clip(name, maxEchoed) + "' does not exist as a declared property or extension property."}
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// LoadExtensionValues fills the values of defs on users that the caller has
// just read (one query for all of them). With only User.ReadBasic.All,
// values of other users stay unset: they are not part of the basic profile.
func (s *Service) LoadExtensionValues(ctx context.Context, users []*User, defs []*ExtensionProperty) error {
	if len(users) == 0 || len(defs) == 0 {
		return nil
	}
	a, err := s.Access(ctx)
	if err != nil {
		return err
	}
	basic := a.ReadLevel() == ReadBasic
	ids := make([]string, 0, len(users))
	for _, u := range users {
		if u != nil && (!basic || a.isSelf(u.ID)) {
			ids = append(ids, u.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	vals, err := s.store.ExtensionValues(ctx, a.P.TenantID, ids, defs)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u != nil {
			if v, ok := vals[u.ID]; ok {
				u.Extensions = v
			}
		}
	}
	return nil
}
