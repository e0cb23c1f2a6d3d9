package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/graphdir/graphdir/internal/directory"
)

func init() {
	// Process-global in jwx: refuse the JWS JSON serialization everywhere
	// (CVE-2024-21664 lived there, and no access token uses it).
	jwt.Settings(jwt.WithCompactOnly(true))
}

// Defaults for Config.
const (
	// DefaultSkew is the clock skew tolerated on exp, nbf and iat.
	DefaultSkew = 2 * time.Minute
	// DefaultMaxLifetime bounds exp - iat. Entra's CAE tokens live up to
	// 28 h, so anything longer was not minted by a sane issuer.
	DefaultMaxLifetime = 28 * time.Hour
	// MaxTokenLength caps the bearer token before any parsing, so a huge
	// header costs nothing.
	MaxTokenLength = 16 << 10
	// MaxKeyIDLength caps kid: it is attacker-chosen and used as a lookup key.
	MaxKeyIDLength = 128
	// TenantPlaceholder marks the tenant segment of a multi-tenant issuer.
	TenantPlaceholder = "{tenantid}"
)

// KeySource supplies an issuer's verification keys.
type KeySource interface {
	// Key returns the public key named kid that signs the tenant's tokens.
	// It returns an error of directory.KindNotFound when the tenant or kid is
	// unknown (the token is refused with 401); any other error means the
	// source could not answer (503), never a verdict on the token.
	Key(ctx context.Context, tenantID, kid string) (jwk.Key, error)
}

// TrustedIssuer describes one issuer whose access tokens the API accepts.
// The built-in issuer is one (see Builtin); external, Entra-style issuers
// are others with their own JWKS-backed KeySource, audiences and typ.
type TrustedIssuer struct {
	// Name identifies the issuer in logs.
	Name string
	// Issuer is the exact iss value, or for a multi-tenant issuer a template
	// with one TenantPlaceholder segment, e.g.
	// "https://login.microsoftonline.com/{tenantid}/v2.0". The segment must
	// be a lower-case GUID and the token's tid must equal it.
	Issuer string
	// TenantID is the tenant of a single-tenant Issuer (no placeholder);
	// its tokens must carry this tid.
	TenantID string
	// Audiences lists the aud values that name this API; a token must carry
	// exactly one audience and it must be one of these.
	Audiences []string
	// AcceptedTypes lists the JWS typ values accepted, compared
	// case-insensitively with an optional "application/" prefix. Empty means
	// {"at+jwt"} (RFC 9068). Entra-style issuers need {"JWT"}; then the
	// ID-token refusals in classify are what keep ID tokens out.
	AcceptedTypes []string
	// Version, when set, is the required ver claim ("2.0" for v2 issuers).
	Version string
	// Keys supplies the verification keys.
	Keys KeySource
	// DataTenantID, when set, is the graphdir tenant the issuer's tokens act
	// in: it becomes Principal.TenantID, while the token's tid is still
	// checked against TenantID (or the tenant in a templated iss). It lets an
	// external issuer (an Entra tenant, a Keycloak realm) map to one graphdir
	// tenant. Empty means the tid itself is the data tenant, as for the
	// built-in issuer. Only a single-tenant Issuer may set it, so no two
	// issuer tenants can ever land in one data tenant by accident.
	DataTenantID string
	// TenantClaimOptional lets tokens of a single-tenant issuer omit tid
	// (Keycloak and most non-Entra issuers never send it); the tenant then
	// comes from configuration alone. A tid that is present must still equal
	// TenantID.
	TenantClaimOptional bool
}

// KeyIssuerParam is the JWK member in which Entra publishes the issuer a
// signing key belongs to (a fixed iss, or a template with
// TenantPlaceholder). When a key carries it, the verifier refuses a token
// whose iss is not that issuer (security.md 1.5, "Signing key issuer").
const KeyIssuerParam = "issuer"

// Builtin returns the TrustedIssuer for graphdir's own issuer published at
// publicURL: iss {publicURL}/{tenantid}/v2.0, typ at+jwt, ver 2.0.
func Builtin(publicURL string, audiences []string, keys KeySource) TrustedIssuer {
	return TrustedIssuer{
		Name:          directory.BuiltinIssuer,
		Issuer:        strings.TrimRight(publicURL, "/") + "/" + TenantPlaceholder + "/v2.0",
		Audiences:     audiences,
		AcceptedTypes: []string{"at+jwt"},
		Version:       "2.0",
		Keys:          keys,
	}
}

// Config configures a Verifier.
type Config struct {
	// Issuers are tried in order; the first whose Issuer matches iss is the
	// only one whose keys may verify the token.
	Issuers []TrustedIssuer
	// Skew is the tolerated clock skew; zero means DefaultSkew.
	Skew time.Duration
	// MaxLifetime bounds exp - iat; zero means DefaultMaxLifetime.
	MaxLifetime time.Duration
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// trusted is a TrustedIssuer prepared for matching.
type trusted struct {
	TrustedIssuer
	prefix, suffix string // around the placeholder; templated only
	templated      bool
	types          map[string]bool
	audiences      map[string]bool
}

// match reports whether iss belongs to the issuer and which tenant it names.
func (t *trusted) match(iss string) (tenant string, ok bool) {
	if !t.templated {
		return t.TenantID, iss == t.Issuer
	}
	if len(iss) != len(t.prefix)+36+len(t.suffix) || !strings.HasPrefix(iss, t.prefix) || !strings.HasSuffix(iss, t.suffix) {
		return "", false
	}
	tenant = iss[len(t.prefix) : len(t.prefix)+36]
	return tenant, true
}

func isLowerGUID(s string) bool {
	return directory.IsGUID(s) && s == strings.ToLower(s)
}

// dataTenant is the graphdir tenant a token of this issuer acts in, given
// the issuer tenant its iss and tid named.
func (t *trusted) dataTenant(tenant string) string {
	if t.DataTenantID != "" {
		return t.DataTenantID
	}
	return tenant
}

func normalizeType(typ string) string {
	typ = strings.ToLower(typ)
	return strings.TrimPrefix(typ, "application/")
}

func (c Config) prepare() ([]*trusted, error) {
	if len(c.Issuers) == 0 {
		return nil, errors.New("auth: no trusted issuers configured")
	}
	if c.Skew < 0 || c.MaxLifetime < 0 {
		return nil, errors.New("auth: negative skew or lifetime")
	}
	var out []*trusted
	for n, ti := range c.Issuers {
		t := &trusted{TrustedIssuer: ti, types: map[string]bool{}, audiences: map[string]bool{}}
		if ti.Keys == nil {
			return nil, fmt.Errorf("auth: issuer %d (%s) has no key source", n, ti.Name)
		}
		switch strings.Count(ti.Issuer, TenantPlaceholder) {
		case 0:
			if ti.Issuer == "" || !isLowerGUID(ti.TenantID) {
				return nil, fmt.Errorf("auth: issuer %d (%s) needs an issuer and a lower-case GUID tenant", n, ti.Name)
			}
			if ti.DataTenantID != "" && !isLowerGUID(ti.DataTenantID) {
				return nil, fmt.Errorf("auth: issuer %d (%s) maps to a data tenant that is not a lower-case GUID", n, ti.Name)
			}
		case 1:
			if ti.TenantID != "" {
				return nil, fmt.Errorf("auth: templated issuer %d (%s) must not fix a tenant", n, ti.Name)
			}
			if ti.DataTenantID != "" || ti.TenantClaimOptional {
				// Mapping every tenant of a multi-tenant issuer into one data
				// tenant would merge strangers' directories.
				return nil, fmt.Errorf("auth: templated issuer %d (%s) cannot map to a data tenant or omit tid", n, ti.Name)
			}
			t.templated = true
			t.prefix, t.suffix, _ = strings.Cut(ti.Issuer, TenantPlaceholder)
		default:
			return nil, fmt.Errorf("auth: issuer %d (%s) has more than one tenant placeholder", n, ti.Name)
		}
		if len(ti.Audiences) == 0 {
			return nil, fmt.Errorf("auth: issuer %d (%s) has no audiences", n, ti.Name)
		}
		for _, a := range ti.Audiences {
			if a == "" {
				return nil, fmt.Errorf("auth: issuer %d (%s) has an empty audience", n, ti.Name)
			}
			t.audiences[a] = true
		}
		types := ti.AcceptedTypes
		if len(types) == 0 {
			types = []string{"at+jwt"}
		}
		for _, typ := range types {
			t.types[normalizeType(typ)] = true
		}
		out = append(out, t)
	}
	return out, nil
}
