package importer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/jsonstrict"
)

// Preparer turns JSON Lines of Graph user objects into ImportRows with the
// rules of directory.Service.CreateUser: strict decoding (exact property
// names, @odata.type allowed, read-only properties refused), then
// directory.Service.NewImportUser (required properties, defaults, value
// formats, verified userPrincipalName domains, identity formats and
// password complexity). It is an operator's tool, not an API caller, so it
// checks no principal. Safe for concurrent use: the import runs several
// Prepare calls at once because hashing is slow.
//
// Beyond CreateUser it accepts passwordProfile.passwordHash: an existing
// bcrypt ($2a$, $2b$, $2y$) or argon2id (PHC string) hash from another
// system, stored as it is and never re-hashed.
type Preparer struct {
	svc    *directory.Service
	tenant *directory.Tenant
}

// NewPreparer returns a Preparer for users of tenant t. Options are the
// Service's (WithPasswordHasher for tests, WithClock).
func NewPreparer(t *directory.Tenant, opts ...directory.ServiceOption) *Preparer {
	return &Preparer{svc: directory.NewService(nil, opts...), tenant: t}
}

// Prepare decodes and validates one input line. It returns the row to load,
// or a reject naming the property at fault. A plain password is hashed here
// (tens of milliseconds of CPU).
func (p *Preparer) Prepare(line int, data []byte) (directory.ImportRow, *directory.ImportReject) {
	values, pw, ok := decodeFast(data)
	if !ok {
		var err error
		if values, pw, err = decodeLine(data); err != nil {
			return directory.ImportRow{}, rejectOf(line, err)
		}
	}
	u, hashed, err := p.svc.NewImportUser(p.tenant, values, pw)
	if err != nil {
		return directory.ImportRow{}, rejectOf(line, err)
	}
	return directory.ImportRow{Line: line, User: u, Hashed: hashed}, nil
}

func rejectOf(line int, err error) *directory.ImportReject {
	var de *directory.Error
	if errors.As(err, &de) {
		return &directory.ImportReject{Line: line, Property: de.Target, Reason: de.Message}
	}
	return &directory.ImportReject{Line: line, Reason: err.Error()}
}

// nestedError is the error of a property inside passwordProfile, as the
// API words it (directory's decoding of nested objects).
func nestedError(prop string, err error) error {
	if je, ok := err.(*jsonstrict.Error); ok {
		target := prop
		if je.Key != "" {
			target = prop + "." + je.Key
		}
		return &directory.Error{Kind: directory.KindInvalid, Target: target, Message: je.Msg + " in property '" + target + "'."}
	}
	return &directory.Error{Kind: directory.KindInvalid, Target: prop, Message: err.Error()}
}

// odataTypeUser is the only @odata.type a user object may declare.
const odataTypeUser = "#microsoft.graph.user"

// decodeLine splits one line strictly and decodes each property with
// the rules the API applies to a POST /users body (internal/api
// decodeUserBody), plus passwordProfile.passwordHash.
func decodeLine(data []byte) (map[string]any, *directory.ImportPassword, error) {
	members, err := jsonstrict.Object(data)
	if err != nil {
		var je *jsonstrict.Error
		if errors.As(err, &je) {
			msg := je.Msg
			if strings.HasPrefix(msg, "The request body") {
				msg = "The line" + strings.TrimPrefix(msg, "The request body")
			}
			msg = strings.ReplaceAll(msg, "the request body", "the line")
			return nil, nil, &directory.Error{Kind: directory.KindInvalid, Target: je.Key, Message: msg}
		}
		return nil, nil, &directory.Error{Kind: directory.KindInvalid, Message: err.Error()}
	}
	values := make(map[string]any, len(members))
	var pp *directory.ImportPassword
	for _, m := range members {
		if strings.HasPrefix(m.Key, "@") {
			if m.Key == "@odata.type" {
				if !bytes.Equal(bytes.TrimSpace(m.Value), []byte(`"`+odataTypeUser+`"`)) {
					return nil, nil, &directory.Error{Kind: directory.KindInvalid, Target: m.Key,
						Message: "The '@odata.type' of a user must be '" + odataTypeUser + "'."}
				}
				continue
			}
			return nil, nil, &directory.Error{Kind: directory.KindInvalid, Target: m.Key,
				Message: "Annotation '" + m.Key + "' is not supported."}
		}
		prop, ok := directory.LookupProperty(m.Key)
		if !ok {
			if p, fold := directory.LookupPropertyFold(m.Key); fold {
				return nil, nil, &directory.Error{Kind: directory.KindInvalid, Target: m.Key,
					Message: "Property '" + m.Key + "' does not exist as a declared property or extension property; property names are case-sensitive, did you mean '" + p.Name + "'?"}
			}
			return nil, nil, &directory.Error{Kind: directory.KindInvalid, Target: m.Key,
				Message: "Property '" + m.Key + "' does not exist as a declared property or extension property."}
		}
		if prop.ReadOnly {
			return nil, nil, &directory.Error{Kind: directory.KindReadOnly, Target: m.Key,
				Message: "Property '" + m.Key + "' is read-only and cannot be set."}
		}
		if prop.Type == directory.TypePasswordProfile {
			if pp, err = decodePassword(m.Value); err != nil {
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

// decodePassword decodes passwordProfile with the import-only
// passwordHash: exactly one of password and passwordHash.
func decodePassword(raw json.RawMessage) (*directory.ImportPassword, error) {
	const prop = "passwordProfile"
	if jsonstrict.IsNull(raw) {
		return nil, &directory.Error{Kind: directory.KindInvalid, Target: prop, Message: "Property 'passwordProfile' cannot be null."}
	}
	f, err := jsonstrict.Fields(raw, "password", "passwordHash", "forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa")
	if err != nil {
		return nil, nestedError(prop, err)
	}
	var pp directory.ImportPassword
	for _, key := range []string{"password", "passwordHash"} {
		v, ok := f[key]
		if !ok || jsonstrict.IsNull(v) {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, &directory.Error{Kind: directory.KindInvalid, Target: prop + "." + key,
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
				return nil, &directory.Error{Kind: directory.KindInvalid, Target: prop + "." + key,
					Message: "Invalid value for property '" + prop + "." + key + "': expected Edm.Boolean."}
			}
			*dst = &b
		}
	}
	switch {
	case pp.Password != nil && pp.Hash != nil:
		return nil, &directory.Error{Kind: directory.KindInvalid, Target: prop,
			Message: "Give either passwordProfile.password or passwordProfile.passwordHash, not both."}
	case pp.Password == nil && pp.Hash == nil:
		return nil, &directory.Error{Kind: directory.KindInvalid, Target: prop + ".password",
			Message: "Property 'passwordProfile.password' (or, for an import, 'passwordProfile.passwordHash') is required."}
	case pp.Hash != nil:
		if reason := checkPasswordHash(*pp.Hash); reason != "" {
			return nil, &directory.Error{Kind: directory.KindInvalid, Target: prop + ".passwordHash", Message: reason}
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
