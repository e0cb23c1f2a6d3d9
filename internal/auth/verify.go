package auth

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/graphdir/graphdir/internal/directory"
)

// Verifier checks bearer access tokens against the trusted issuers. It is
// safe for concurrent use and holds no per-request state.
type Verifier struct {
	issuers     []*trusted
	skew        time.Duration
	maxLifetime time.Duration
	now         func() time.Time
	cache       *tokenCache // cache.go
}

// NewVerifier validates cfg and returns a Verifier; a bad configuration is an
// error at startup rather than a token refused at run time.
func NewVerifier(cfg Config) (*Verifier, error) {
	issuers, err := cfg.prepare()
	if err != nil {
		return nil, err
	}
	v := &Verifier{issuers: issuers, skew: cfg.Skew, maxLifetime: cfg.MaxLifetime, now: cfg.Now,
		cache: newTokenCache(tokenCacheSize)}
	if v.skew == 0 {
		v.skew = DefaultSkew
	}
	if v.maxLifetime == 0 {
		v.maxLifetime = DefaultMaxLifetime
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// forbiddenHeaders are JOSE header parameters we never honour. jku/x5u point
// at attacker-chosen keys (and SSRF), jwk/x5c embed them, crit and b64 change
// what is signed, cty announces nesting, zip/enc belong to JWE.
var forbiddenHeaders = []string{"jku", "x5u", "jwk", "x5c", "crit", "b64", "cty", "zip", "enc"}

// idTokenClaims only ever appear in ID tokens (RFC 8725 §3.12).
var idTokenClaims = []string{"nonce", "at_hash", "c_hash"}

// Verify checks the values of the request's Authorization header (all of
// them, so a second header can be refused) and returns the caller.
//
// Errors are *directory.Error: KindUnauthenticated for a missing or bad
// token (message MsgEmptyToken or MsgInvalidToken, nothing more specific),
// KindBadRequest for two Authorization headers, KindForbidden for a valid
// token that carries no permission, KindUnavailable when a key source fails.
// ReasonOf tells the cause, for logs.
func (v *Verifier) Verify(ctx context.Context, authorization []string) (*directory.Principal, error) {
	raw, err := bearerToken(authorization)
	if err != nil {
		return nil, err
	}
	cacheKey := sha256.Sum256([]byte(raw))
	if p, ok := v.cached(ctx, cacheKey); ok {
		return p, nil
	}
	segs := strings.Split(raw, ".")
	switch {
	case len(segs) == 5:
		return nil, fail(ReasonEncrypted, nil)
	case len(segs) != 3 || segs[0] == "" || segs[1] == "" || segs[2] == "":
		return nil, fail(ReasonNotCompact, nil)
	}
	hdr, err := decodeSegment(segs[0])
	if err != nil {
		return nil, fail(ReasonEncoding, fmt.Errorf("header: %w", err))
	}
	kid, typ, err := checkHeader(hdr)
	if err != nil {
		return nil, err
	}
	claims, err := decodeSegment(segs[1])
	if err != nil {
		return nil, fail(ReasonEncoding, fmt.Errorf("payload: %w", err))
	}
	if _, err := decodeSignature(segs[2]); err != nil {
		return nil, fail(ReasonEncoding, fmt.Errorf("signature: %w", err))
	}
	// jwx would also read a date written as a string (even RFC 3339); a
	// NumericDate is a JSON number (RFC 7519 §2), so we refuse anything else.
	for _, name := range []string{"exp", "nbf", "iat"} {
		if raw, ok := claims[name]; ok && !isJSONNumber(raw) {
			return nil, fail(ReasonClaimType, errors.New(name))
		}
	}

	// iss is read before the signature is checked only to choose whose keys
	// may verify it; it is compared exactly below and, being signed, cannot
	// be changed without failing the signature.
	iss, ok, err := optString(claims, "iss")
	if err != nil || !ok {
		return nil, fail(ReasonMissingClaim, errors.New("iss"))
	}
	ti, tenant := v.issuerFor(iss)
	if ti == nil {
		return nil, fail(ReasonUnknownIssuer, nil)
	}
	if !ti.types[normalizeType(typ)] {
		return nil, fail(ReasonType, nil)
	}
	// The tenant is a GUID before it is used to find keys, so no
	// attacker-chosen text reaches a key store.
	if !directory.IsGUID(tenant) || tenant != strings.ToLower(tenant) {
		return nil, fail(ReasonUnknownIssuer, errors.New("tenant in iss is not a lower-case GUID"))
	}
	jk, pub, keyIssuer, err := v.key(ctx, ti, tenant, kid)
	if err != nil {
		return nil, err
	}

	tok, err := jwt.Parse([]byte(raw),
		jwt.WithKeyProvider(pinnedKey{kid: kid, key: pub}),
		jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(v.now)),
		jwt.WithAcceptableSkew(v.skew),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithValidator(jwt.ValidatorFunc(expPositive)),
		jwt.WithValidator(v.lifetime()),
	)
	if err != nil {
		return nil, parseFailure(err)
	}

	if err := v.checkClaims(claims, ti, iss, tenant, keyIssuer); err != nil {
		return nil, err
	}
	p, err := classify(claims, ti.dataTenant(tenant))
	if err != nil {
		return nil, err
	}
	p.Issuer, p.IssuedAt = ti.Name, tok.IssuedAt()
	v.cache.put(cacheKey, cachedToken{p: p, exp: tok.Expiration(), until: v.now().Add(tokenCacheTTL),
		ti: ti, tenant: tenant, kid: kid, jwk: jk, pub: pub, keyIssuer: keyIssuer})
	return p, nil
}

// bearerToken extracts the token from the Authorization header values
// (RFC 6750 §2.1): one header, scheme Bearer in any case, one space, a
// b64token. Anything but Bearer counts as no credentials, as RFC 6750 §3.1
// asks for a request using an unsupported method.
func bearerToken(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", fail(ReasonMissing, nil)
	case 1:
	default:
		return "", fail(ReasonMultipleHeaders, nil)
	}
	h := values[0]
	if strings.TrimSpace(h) == "" {
		return "", fail(ReasonMissing, nil)
	}
	scheme, token, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fail(ReasonUnsupportedScheme, nil)
	}
	if token == "" {
		return "", fail(ReasonMissing, nil)
	}
	if len(token) > MaxTokenLength {
		return "", fail(ReasonTooLong, nil)
	}
	if !isB64Token(token) {
		return "", fail(ReasonMalformedHeader, nil)
	}
	return token, nil
}

// isB64Token matches RFC 6750's b64token: 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// decodeSegment decodes an unpadded base64url segment holding one JSON
// object. Strict decoding refuses padding and non-canonical trailing bits.
func decodeSegment(seg string) (map[string]json.RawMessage, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return nil, err
	}
	return decodeObject(b)
}

func decodeSignature(seg string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(seg)
}

// decodeObject reads exactly one JSON object and refuses invalid UTF-8
// (RFC 8725 §3.7, which encoding/json would silently replace), duplicate
// keys and trailing data: each would let us and jwx read different claims
// from the same signed bytes.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	m := make(map[string]json.RawMessage)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, ok := t.(string)
		if !ok {
			return nil, errors.New("bad key")
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("duplicate member %q", k)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		m[k] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return m, nil
}

// checkHeader applies the header rules that need no key and no issuer:
// alg pinned to RS256, a short printable kid, no key-carrying or
// semantics-changing parameters. It returns kid and typ.
func checkHeader(h map[string]json.RawMessage) (kid, typ string, err error) {
	for _, name := range forbiddenHeaders {
		if _, ok := h[name]; ok {
			return "", "", fail(ReasonForbiddenHeader, errors.New(name))
		}
	}
	alg, ok, err := optString(h, "alg")
	if err != nil || !ok || alg != string(jwa.RS256) {
		return "", "", fail(ReasonAlgorithm, nil)
	}
	kid, ok, err = optString(h, "kid")
	if err != nil || !ok || kid == "" || len(kid) > MaxKeyIDLength || !isPrintableASCII(kid) {
		return "", "", fail(ReasonKeyID, nil)
	}
	typ, ok, err = optString(h, "typ")
	if err != nil || !ok {
		return "", "", fail(ReasonType, nil)
	}
	return kid, typ, nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (v *Verifier) issuerFor(iss string) (*trusted, string) {
	for _, t := range v.issuers {
		if tenant, ok := t.match(iss); ok {
			return t, tenant
		}
	}
	return nil, ""
}

// key fetches kid from the issuer's source and checks it is a key we would
// sign with ourselves: RSA of at least 2048 bits, meant for signatures and,
// if it names an algorithm, RS256. It also returns the issuer the key is
// published for (KeyIssuerParam), or "" when the source does not say, and
// the source's jwk.Key itself.
func (v *Verifier) key(ctx context.Context, ti *trusted, tenant, kid string) (jwk.Key, *rsa.PublicKey, string, error) {
	k, err := ti.Keys.Key(ctx, tenant, kid)
	if err != nil {
		if directory.KindOf(err) == directory.KindNotFound {
			return nil, nil, "", fail(ReasonUnknownKey, nil)
		}
		return nil, nil, "", fail(ReasonKeysUnavailable, fmt.Errorf("issuer %s: %w", ti.Name, err))
	}
	pub, keyIssuer, err := verifyingKey(k)
	return k, pub, keyIssuer, err
}

// verifyingKey checks that k is a key we would sign with ourselves (see
// key) and returns its RSA public key and key issuer.
func verifyingKey(k jwk.Key) (*rsa.PublicKey, string, error) {
	if k == nil || k.KeyType() != jwa.RSA {
		return nil, "", fail(ReasonUnusableKey, errors.New("not an RSA key"))
	}
	if alg := k.Algorithm(); alg != nil && alg.String() != "" && alg.String() != string(jwa.RS256) {
		return nil, "", fail(ReasonUnusableKey, fmt.Errorf("key is for %s", alg))
	}
	if u := k.KeyUsage(); u != "" && u != string(jwk.ForSignature) {
		return nil, "", fail(ReasonUnusableKey, fmt.Errorf("key use %q", u))
	}
	var keyIssuer string
	if raw, ok := k.Get(KeyIssuerParam); ok {
		s, isString := raw.(string)
		if !isString || s == "" {
			return nil, "", fail(ReasonUnusableKey, errors.New("key issuer is not a string"))
		}
		keyIssuer = s
	}
	rawKey, err := jwk.PublicRawKeyOf(k)
	if err != nil {
		return nil, "", fail(ReasonUnusableKey, err)
	}
	pub, ok := rawKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < 2048 {
		return nil, "", fail(ReasonUnusableKey, errors.New("RSA key too short"))
	}
	return pub, keyIssuer, nil
}

// pinnedKey is the only key provider jwt.Parse sees: it offers exactly the
// key already chosen, with RS256 chosen by us. It re-checks the header as
// jwx parsed it, so a difference between jwx's parser and ours cannot
// smuggle a different alg or kid past checkHeader.
type pinnedKey struct {
	kid string
	key *rsa.PublicKey
}

func (p pinnedKey) FetchKeys(_ context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	h := sig.ProtectedHeaders()
	if h.Algorithm() != jwa.RS256 {
		return &Failure{Reason: ReasonAlgorithm}
	}
	if h.KeyID() != p.kid {
		return &Failure{Reason: ReasonKeyID}
	}
	if h.JWKSetURL() != "" || h.X509URL() != "" || h.JWK() != nil || h.X509CertChain() != nil || len(h.Critical()) > 0 {
		return &Failure{Reason: ReasonForbiddenHeader}
	}
	sink.Key(jwa.RS256, p.key)
	return nil
}

// expPositive refuses exp <= 0, which jwx's own check treats as absent.
func expPositive(_ context.Context, t jwt.Token) jwt.ValidationError {
	if t.Expiration().Unix() <= 0 {
		return jwt.NewValidationError(&Failure{Reason: ReasonExpired, Err: errors.New("exp <= 0")})
	}
	return nil
}

// lifetime bounds exp - iat (plus skew, as jwx's WithMaxDelta would) with
// a validator of our own, so the refusal carries ReasonLifetime instead of
// an anonymous jwx validation error.
func (v *Verifier) lifetime() jwt.Validator {
	return jwt.ValidatorFunc(func(_ context.Context, t jwt.Token) jwt.ValidationError {
		if t.Expiration().Sub(t.IssuedAt()) > v.maxLifetime+v.skew {
			return jwt.NewValidationError(&Failure{Reason: ReasonLifetime})
		}
		return nil
	})
}

// parseFailure maps a jwt.Parse error to a refusal with a reason.
func parseFailure(err error) *directory.Error {
	var f *Failure
	switch {
	case errors.As(err, &f):
		return fail(f.Reason, err)
	case errors.Is(err, jwt.ErrTokenExpired()):
		return fail(ReasonExpired, err)
	case errors.Is(err, jwt.ErrTokenNotYetValid()):
		return fail(ReasonNotYetValid, err)
	case errors.Is(err, jwt.ErrInvalidIssuedAt()):
		return fail(ReasonIssuedAt, err)
	case errors.Is(err, jwt.ErrRequiredClaim()):
		return fail(ReasonMissingClaim, err)
	case jws.IsVerificationError(err):
		return fail(ReasonSignature, err)
	case jwt.IsValidationError(err):
		return fail(ReasonClaims, err)
	}
	// The signature held but jwx could not read a claim (e.g. a negative
	// NumericDate).
	return fail(ReasonClaimType, err)
}
