package directory

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/graphdir/graphdir/internal/jsonstrict"
)

// ImportRow is one user of a bulk load, validated and ready to insert: ID,
// TenantID and every default are set and Password holds a hash (never a
// password). Line is the 1-based line of the input it came from.
type ImportRow struct {
	Line int
	User *User
	// Hashed reports that the password was supplied in plain text and
	// hashed during the import (the slow path).
	Hashed bool
}

// ImportReject is one line a bulk load refused: the 1-based input line, the
// property at fault ("" when the line as a whole is, e.g. invalid JSON) and
// why, in words an operator can act on.
type ImportReject struct {
	Line     int    `json:"line"`
	Property string `json:"property"`
	Reason   string `json:"reason"`
}

// String formats r as "line N: property P: reason" ("line N: reason"
// without a property).
func (r ImportReject) String() string {
	if r.Property == "" {
		return "line " + strconv.Itoa(r.Line) + ": " + r.Reason
	}
	return "line " + strconv.Itoa(r.Line) + ": property " + r.Property + ": " + r.Reason
}

// ImportStore is a Store that can bulk-load users.
type ImportStore interface {
	// ImportUsers inserts the rows of batch, which are in line order, into
	// tenantID in one transaction, except those whose userPrincipalName or
	// any identity (issuer, issuerAssignedId; case-insensitively) already
	// exists in the tenant or appears on an earlier line of the batch; those
	// come back as rejects. A returned error means nothing of the batch was
	// written.
	ImportUsers(ctx context.Context, tenantID string, batch []ImportRow) (rejected []ImportReject, err error)
}

// Importer turns JSON Lines of Graph user objects into ImportRows with the
// rules of Service.CreateUser: strict decoding (exact property names,
// @odata.type allowed, read-only properties refused), required properties,
// defaults, value formats, verified userPrincipalName domains, identity
// formats and password complexity. It is an operator's tool, not an API
// caller, so it checks no principal. Safe for concurrent use: the import
// runs several Prepare calls at once because hashing is slow.
//
// Beyond CreateUser it accepts passwordProfile.passwordHash: an existing
// bcrypt ($2a$, $2b$, $2y$) or argon2id (PHC string) hash from another
// system, stored as it is and never re-hashed.
type Importer struct {
	svc    *Service
	tenant *Tenant
}

// NewImporter returns an Importer for users of tenant t. Options are the
// Service's (WithPasswordHasher for tests, WithClock).
func NewImporter(t *Tenant, opts ...ServiceOption) *Importer {
	return &Importer{svc: NewService(nil, opts...), tenant: t}
}

// importPassword is passwordProfile as an import line may carry it.
type importPassword struct {
	PasswordProfile
	Hash *string
}

// Prepare decodes and validates one input line. It returns the row to load,
// or a reject naming the property at fault. A plain password is hashed here
// (tens of milliseconds of CPU).
func (im *Importer) Prepare(line int, data []byte) (ImportRow, *ImportReject) {
	u, hashed, err := im.prepare(data)
	if err != nil {
		return ImportRow{}, rejectOf(line, err)
	}
	return ImportRow{Line: line, User: u, Hashed: hashed}, nil
}

func rejectOf(line int, err error) *ImportReject {
	var de *Error
	if errors.As(err, &de) {
		return &ImportReject{Line: line, Property: de.Target, Reason: de.Message}
	}
	return &ImportReject{Line: line, Reason: err.Error()}
}

func (im *Importer) prepare(data []byte) (*User, bool, error) {
	values, pp, ok := decodeImportFast(data)
	if !ok {
		var err error
		if values, pp, err = decodeImportLine(data); err != nil {
			return nil, false, err
		}
	}
	s, t := im.svc, im.tenant
	u := &User{ID: s.newID(), TenantID: t.ID}
	for name, v := range values {
		prop, _ := LookupProperty(name)
		prop.set(u, v)
	}
	// A passwordHash counts as a password.
	withPassword := pp != nil && (pp.Password != nil || pp.Hash != nil)
	if err := s.applyCreateRules(u, t, values, withPassword); err != nil {
		return nil, false, err
	}
	if err := distinctIdentities(u.Identities); err != nil {
		return nil, false, err
	}
	if pp == nil {
		return u, false, nil
	}
	if pp.Hash != nil {
		u.Password = PasswordState{Hash: *pp.Hash}
		if pp.ForceChangePasswordNextSignIn != nil {
			u.Password.ForceChangePasswordNextSignIn = *pp.ForceChangePasswordNextSignIn
		}
		if pp.ForceChangePasswordNextSignInWithMfa != nil {
			u.Password.ForceChangePasswordNextSignInWithMfa = *pp.ForceChangePasswordNextSignInWithMfa
		}
		return u, false, nil
	}
	st, err := s.passwordState(&pp.PasswordProfile, u.PasswordPolicies)
	if err != nil {
		return nil, false, err
	}
	u.Password = *st
	return u, true, nil
}

// distinctIdentities refuses a user that lists one (issuer,
// issuerAssignedId) twice, ignoring case, as the store's unique index would.
func distinctIdentities(ids []Identity) error {
	for i := 1; i < len(ids); i++ {
		for j := 0; j < i; j++ {
			if strings.EqualFold(ids[i].Issuer, ids[j].Issuer) && strings.EqualFold(ids[i].IssuerAssignedID, ids[j].IssuerAssignedID) {
				return &Error{Kind: KindInvalid, Target: "identities",
					Message: "The identity (issuer '" + ids[i].Issuer + "', issuerAssignedId '" + ids[i].IssuerAssignedID + "') is listed twice."}
			}
		}
	}
	return nil
}

// odataTypeUser is the only @odata.type a user object may declare.
const odataTypeUser = "#microsoft.graph.user"

// decodeImportLine splits one line strictly and decodes each property with
// the rules the API applies to a POST /users body (internal/api
// decodeUserBody), plus passwordProfile.passwordHash.
func decodeImportLine(data []byte) (map[string]any, *importPassword, error) {
	members, err := jsonstrict.Object(data)
	if err != nil {
		var je *jsonstrict.Error
		if errors.As(err, &je) {
			msg := je.Msg
			if strings.HasPrefix(msg, "The request body") {
				msg = "The line" + strings.TrimPrefix(msg, "The request body")
			}
			msg = strings.ReplaceAll(msg, "the request body", "the line")
			return nil, nil, &Error{Kind: KindInvalid, Target: je.Key, Message: msg}
		}
		return nil, nil, &Error{Kind: KindInvalid, Message: err.Error()}
	}
	values := make(map[string]any, len(members))
	var pp *importPassword
	for _, m := range members {
		if strings.HasPrefix(m.Key, "@") {
			if m.Key == "@odata.type" {
				if !bytes.Equal(bytes.TrimSpace(m.Value), []byte(`"`+odataTypeUser+`"`)) {
					return nil, nil, &Error{Kind: KindInvalid, Target: m.Key,
						Message: "The '@odata.type' of a user must be '" + odataTypeUser + "'."}
				}
				continue
			}
			return nil, nil, &Error{Kind: KindInvalid, Target: m.Key,
				Message: "Annotation '" + m.Key + "' is not supported."}
		}
		prop, ok := LookupProperty(m.Key)
		if !ok {
			if p, fold := LookupPropertyFold(m.Key); fold {
				return nil, nil, &Error{Kind: KindInvalid, Target: m.Key,
					Message: "Property '" + m.Key + "' does not exist as a declared property or extension property; property names are case-sensitive, did you mean '" + p.Name + "'?"}
			}
			return nil, nil, &Error{Kind: KindInvalid, Target: m.Key,
				Message: "Property '" + m.Key + "' does not exist as a declared property or extension property."}
		}
		if prop.ReadOnly {
			return nil, nil, &Error{Kind: KindReadOnly, Target: m.Key,
				Message: "Property '" + m.Key + "' is read-only and cannot be set."}
		}
		if prop.Type == TypePasswordProfile {
			if pp, err = decodeImportPassword(m.Value); err != nil {
				return nil, nil, err
			}
			values[prop.Name] = &pp.PasswordProfile
			continue
		}
		v, err := prop.Decode(m.Value)
		if err != nil {
			return nil, nil, err
		}
		values[prop.Name] = v
	}
	return values, pp, nil
}

// decodeImportPassword decodes passwordProfile with the import-only
// passwordHash: exactly one of password and passwordHash.
func decodeImportPassword(raw json.RawMessage) (*importPassword, error) {
	const prop = "passwordProfile"
	if jsonstrict.IsNull(raw) {
		return nil, &Error{Kind: KindInvalid, Target: prop, Message: "Property 'passwordProfile' cannot be null."}
	}
	f, err := jsonstrict.Fields(raw, "password", "passwordHash", "forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa")
	if err != nil {
		return nil, nestedError(prop, err)
	}
	var pp importPassword
	for _, key := range []string{"password", "passwordHash"} {
		v, ok := f[key]
		if !ok || jsonstrict.IsNull(v) {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, &Error{Kind: KindInvalid, Target: prop + "." + key,
				Message: "Invalid value for property '" + prop + "." + key + "': expected Edm.String."}
		}
		if key == "password" {
			pp.Password = &s
		} else {
			pp.Hash = &s
		}
	}
	for key, dst := range map[string]**bool{"forceChangePasswordNextSignIn": &pp.ForceChangePasswordNextSignIn, "forceChangePasswordNextSignInWithMfa": &pp.ForceChangePasswordNextSignInWithMfa} {
		if v, ok := f[key]; ok && !jsonstrict.IsNull(v) {
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return nil, &Error{Kind: KindInvalid, Target: prop + "." + key,
					Message: "Invalid value for property '" + prop + "." + key + "': expected Edm.Boolean."}
			}
			*dst = &b
		}
	}
	switch {
	case pp.Password != nil && pp.Hash != nil:
		return nil, &Error{Kind: KindInvalid, Target: prop,
			Message: "Give either passwordProfile.password or passwordProfile.passwordHash, not both."}
	case pp.Password == nil && pp.Hash == nil:
		return nil, &Error{Kind: KindInvalid, Target: prop + ".password",
			Message: "Property 'passwordProfile.password' (or, for an import, 'passwordProfile.passwordHash') is required."}
	case pp.Hash != nil:
		if reason := checkPasswordHash(*pp.Hash); reason != "" {
			return nil, &Error{Kind: KindInvalid, Target: prop + ".passwordHash", Message: reason}
		}
	}
	return &pp, nil
}

// Bounds on imported argon2id parameters: a hash is verified at every
// sign-in, so one that asks for gigabytes of memory or thousands of passes
// would turn sign-ins into a denial of service.
const (
	maxArgonMemoryKiB = 1 << 20 // 1 GiB
	maxArgonTime      = 64
)

// checkPasswordHash returns why h is not a hash password.Verify can check
// safely, or "" when it is: a bcrypt hash ($2a$, $2b$ or $2y$, cost 4-31,
// 60 characters) or an argon2id PHC string (version 19, sane parameters,
// base64 salt of at least 8 bytes and key of at least 16).
func checkPasswordHash(h string) string {
	const bad = "The password hash is neither a bcrypt ($2a$, $2b$, $2y$) nor an argon2id ($argon2id$v=19$m=...,t=...,p=...$salt$hash) hash."
	switch {
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"):
		if len(h) != 60 || h[6] != '$' {
			return "The bcrypt hash is malformed: expected 60 characters, '$2b$NN$' followed by 53 characters of salt and hash."
		}
		if _, err := bcrypt.Cost([]byte(h)); err != nil {
			return "The bcrypt hash is malformed: its cost must be 04 to 31."
		}
		for i := 7; i < len(h); i++ {
			c := h[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '/') {
				return "The bcrypt hash is malformed: invalid character in its salt or hash."
			}
		}
		return ""
	case strings.HasPrefix(h, "$argon2id$"):
		parts := strings.Split(h, "$")
		if len(parts) != 6 || parts[2] != "v="+strconv.Itoa(argon2.Version) {
			return "The argon2id hash is malformed: expected $argon2id$v=19$m=...,t=...,p=...$salt$hash."
		}
		var m, t, p uint64
		for _, kv := range strings.Split(parts[3], ",") {
			k, v, ok := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 32)
			if !ok || err != nil {
				return "The argon2id hash is malformed: its parameters must be m=<KiB>,t=<passes>,p=<lanes>."
			}
			switch k {
			case "m":
				m = n
			case "t":
				t = n
			case "p":
				p = n
			default:
				return "The argon2id hash is malformed: its parameters must be m=<KiB>,t=<passes>,p=<lanes>."
			}
		}
		if parts[3] != "m="+strconv.FormatUint(m, 10)+",t="+strconv.FormatUint(t, 10)+",p="+strconv.FormatUint(p, 10) {
			return "The argon2id hash is malformed: its parameters must be m=<KiB>,t=<passes>,p=<lanes>."
		}
		if p < 1 || p > 255 || t < 1 || t > maxArgonTime || m < 8*p || m > maxArgonMemoryKiB {
			return "The argon2id hash's parameters are out of range (1 <= t <= 64, 1 <= p <= 255, 8*p <= m <= 1048576 KiB)."
		}
		b64 := base64.RawStdEncoding.Strict()
		salt, err1 := b64.DecodeString(parts[4])
		key, err2 := b64.DecodeString(parts[5])
		if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
			return "The argon2id hash is malformed: salt (at least 8 bytes) and hash (at least 16 bytes) must be unpadded base64."
		}
		return ""
	}
	return bad
}

// decodeImportFast decodes the common shape of an import line without
// encoding/json's token stream, which costs several times more than all
// the other work of a line together. It accepts only lines whose every
// value has exactly the expected JSON type, keys without escapes, no
// numbers, no unknown or read-only properties; for anything else it
// returns ok false and the line goes through decodeImportLine, which then
// also produces every error. So the fast path changes no verdict: on what it
// accepts, both decoders produce the same values.
func decodeImportFast(data []byte) (values map[string]any, pp *importPassword, ok bool) {
	if !utf8.Valid(data) {
		return nil, nil, false
	}
	d := fastDecoder{b: data}
	values = make(map[string]any, 24)
	var keys [48]string
	seen := keys[:0]
	ok = d.object(func(key string) bool {
		for _, k := range seen {
			if k == key {
				return false
			}
		}
		seen = append(seen, key)
		if key == "@odata.type" {
			s, isStr := d.str()
			return isStr && s != nil && *s == odataTypeUser
		}
		prop, found := LookupProperty(key)
		if !found || prop.ReadOnly {
			return false
		}
		switch prop.Type {
		case TypeString:
			s, isStr := d.str()
			if !isStr {
				return false
			}
			values[prop.Name] = s
		case TypeBool:
			b, isBool := d.boolean()
			if !isBool {
				return false
			}
			values[prop.Name] = b
		case TypeStringCollection:
			if d.null() {
				values[prop.Name] = []string{}
				return true
			}
			out := []string{}
			if !d.array(func() bool {
				s, isStr := d.str()
				if !isStr || s == nil {
					return false
				}
				out = append(out, *s)
				return true
			}) {
				return false
			}
			values[prop.Name] = out
		case TypeIdentities:
			if d.null() {
				values[prop.Name] = []Identity{}
				return true
			}
			out := []Identity{}
			if !d.array(func() bool {
				var id Identity
				var got [3]bool
				if !d.object(func(k string) bool {
					var dst *string
					var i int
					switch k {
					case "signInType":
						dst, i = &id.SignInType, 0
					case "issuer":
						dst, i = &id.Issuer, 1
					case "issuerAssignedId":
						dst, i = &id.IssuerAssignedID, 2
					default:
						return false
					}
					if got[i] {
						return false
					}
					got[i] = true
					s, isStr := d.str()
					if !isStr {
						return false
					}
					if s != nil {
						*dst = *s
					}
					return true
				}) {
					return false
				}
				out = append(out, id)
				return true
			}) {
				return false
			}
			values[prop.Name] = out
		case TypePasswordProfile:
			var p importPassword
			var got [4]bool
			if !d.object(func(k string) bool {
				i := -1
				switch k {
				case "password":
					i = 0
				case "passwordHash":
					i = 1
				case "forceChangePasswordNextSignIn":
					i = 2
				case "forceChangePasswordNextSignInWithMfa":
					i = 3
				}
				if i < 0 || got[i] {
					return false
				}
				got[i] = true
				var isType bool
				switch i {
				case 0:
					p.Password, isType = d.str()
				case 1:
					p.Hash, isType = d.str()
				case 2:
					p.ForceChangePasswordNextSignIn, isType = d.boolean()
				case 3:
					p.ForceChangePasswordNextSignInWithMfa, isType = d.boolean()
				}
				return isType
			}) {
				return false
			}
			if (p.Password == nil) == (p.Hash == nil) || p.Hash != nil && checkPasswordHash(*p.Hash) != "" {
				return false
			}
			pp = &p
			values[prop.Name] = &p.PasswordProfile
		default:
			return false
		}
		return true
	})
	if !ok {
		return nil, nil, false
	}
	d.ws()
	if d.i != len(d.b) {
		return nil, nil, false
	}
	return values, pp, true
}

// fastDecoder reads the subset of JSON decodeImportFast accepts. Every
// method returns false on anything outside it.
type fastDecoder struct {
	b []byte
	i int
}

func (d *fastDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// object reads {"key": value, ...}, calling member with d positioned at
// each value.
func (d *fastDecoder) object(member func(key string) bool) bool {
	d.ws()
	return d.list('{', '}', func() bool {
		key, ok := d.plainString()
		if !ok {
			return false
		}
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return false
		}
		d.i++
		d.ws()
		return member(key)
	})
}

// array reads [elem, ...], calling elem with d positioned at each element.
func (d *fastDecoder) array(elem func() bool) bool {
	return d.list('[', ']', elem)
}

// list reads what objects and arrays share: open, then items separated by
// commas, then end; item is called with d positioned at each.
func (d *fastDecoder) list(open, end byte, item func() bool) bool {
	if d.i >= len(d.b) || d.b[d.i] != open {
		return false
	}
	d.i++
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == end {
		d.i++
		return true
	}
	for {
		d.ws()
		if !item() {
			return false
		}
		d.ws()
		if d.i >= len(d.b) {
			return false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case end:
			d.i++
			return true
		default:
			return false
		}
	}
}

// plainString reads a string without escapes.
func (d *fastDecoder) plainString() (string, bool) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return "", false
	}
	for j := d.i + 1; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			s := string(d.b[d.i+1 : j])
			d.i = j + 1
			return s, true
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

// str reads a string or null (nil). Strings with escapes are unquoted by
// encoding/json, as the slow path would.
func (d *fastDecoder) str() (*string, bool) {
	if d.null() {
		return nil, true
	}
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false
	}
	escaped := false
	for j := d.i + 1; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			var s string
			if escaped {
				if json.Unmarshal(d.b[d.i:j+1], &s) != nil {
					return nil, false
				}
			} else {
				s = string(d.b[d.i+1 : j])
			}
			d.i = j + 1
			return &s, true
		case c == '\\':
			escaped = true
			j++ // the escaped character; \uXXXX's digits are plain
		case c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// boolean reads true, false or null (nil).
func (d *fastDecoder) boolean() (*bool, bool) {
	switch {
	case d.null():
		return nil, true
	case bytes.HasPrefix(d.b[d.i:], []byte("true")):
		d.i += 4
		t := true
		return &t, true
	case bytes.HasPrefix(d.b[d.i:], []byte("false")):
		d.i += 5
		f := false
		return &f, true
	}
	return nil, false
}

// null reads null if it is next.
func (d *fastDecoder) null() bool {
	if bytes.HasPrefix(d.b[d.i:], []byte("null")) {
		d.i += 4
		return true
	}
	return false
}
