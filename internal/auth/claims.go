package auth

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/graphdir/graphdir/internal/directory"
)

// checkClaims applies the registered-claim rules jwx does not: exact
// audience, tenant, version, subject, the signing key's issuer, and the
// refusal of ID tokens. claims are the signed bytes jwx verified, decoded by
// decodeObject; iss and tenant are what issuerFor matched, keyIssuer what
// the verifying key was published for ("" when unknown).
func (v *Verifier) checkClaims(claims map[string]json.RawMessage, ti *trusted, iss, tenant, keyIssuer string) error {
	for _, name := range idTokenClaims {
		if _, ok := claims[name]; ok {
			return fail(ReasonIDToken, errors.New(name))
		}
	}
	aud, err := singleAudience(claims["aud"])
	if err != nil {
		return fail(ReasonAudience, err)
	}
	if !ti.audiences[aud] {
		return fail(ReasonAudience, nil)
	}
	tid, ok, err := optString(claims, "tid")
	switch {
	case err != nil:
		return fail(ReasonClaimType, errors.New("tid"))
	case !ok && !ti.TenantClaimOptional:
		return fail(ReasonMissingClaim, errors.New("tid"))
	case ok && tid != tenant:
		return fail(ReasonTenant, nil)
	}
	if keyIssuer != "" && !keyIssuerMatches(keyIssuer, iss, tenant) {
		return fail(ReasonKeyIssuer, nil)
	}
	if ti.Version != "" {
		ver, _, err := optString(claims, "ver")
		if err != nil || ver != ti.Version {
			return fail(ReasonVersion, nil)
		}
	}
	sub, ok, err := optString(claims, "sub")
	if err != nil || !ok || sub == "" {
		return fail(ReasonMissingClaim, errors.New("sub"))
	}
	return nil
}

// keyIssuerMatches applies Entra's signing-key issuer rule: the key's
// issuer, with TenantPlaceholder replaced by the token's tenant, must be the
// token's iss. As in Microsoft.IdentityModel, a v1 token
// (https://sts.windows.net/{tid}/) may also be verified by a key published
// for the same tenant's v2 issuer, since v1 key sets carry no issuer.
func keyIssuerMatches(keyIssuer, iss, tenant string) bool {
	if strings.Contains(keyIssuer, TenantPlaceholder) && !directory.IsGUID(tenant) {
		return false
	}
	eff := strings.ReplaceAll(keyIssuer, TenantPlaceholder, tenant)
	if eff == iss {
		return true
	}
	return iss == EntraV1Issuer(tenant) && eff == EntraV2Issuer(tenant)
}

// EntraV1Issuer and EntraV2Issuer are the iss values of the Microsoft
// identity platform's v1.0 and v2.0 access tokens for a tenant (public
// cloud).
func EntraV1Issuer(tenant string) string { return "https://sts.windows.net/" + tenant + "/" }

// EntraV2Issuer: see EntraV1Issuer.
func EntraV2Issuer(tenant string) string {
	return "https://login.microsoftonline.com/" + tenant + "/v2.0"
}

// singleAudience returns the one audience of the token. A token naming
// several audiences is refused even if ours is among them: it is usable at
// every one of those services, so any of them could replay it here.
func singleAudience(raw json.RawMessage) (string, error) {
	if raw == nil || isNull(raw) {
		return "", errors.New("no aud")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil || len(list) != 1 {
		return "", errors.New("aud is not exactly one string")
	}
	return list[0], nil
}

// classify decides app-only versus delegated exactly as security.md §1.5's
// "robust classification" and builds the Principal.
func classify(claims map[string]json.RawMessage, tenant string) (*directory.Principal, error) {
	idtyp, hasIdtyp, err1 := optString(claims, "idtyp")
	scp, hasScp, err2 := optString(claims, "scp")
	roles, hasRoles, err3 := optStrings(claims, "roles")
	amr, _, err4 := optStrings(claims, "amr")
	oid, hasOid, err5 := optString(claims, "oid")
	acrs, _, err6 := optStrings(claims, "acrs")
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return nil, fail(ReasonClaimType, err)
	}
	sub, _, _ := optString(claims, "sub") // type checked in checkClaims

	kind := directory.PrincipalKind(0)
	switch {
	case hasIdtyp && idtyp == "app":
		if hasScp {
			return nil, fail(ReasonInconsistentKind, errors.New("idtyp app with scp"))
		}
		kind = directory.PrincipalApp
	case hasIdtyp && idtyp == "user":
		if !hasScp {
			return nil, fail(ReasonNoPermissions, errors.New("idtyp user without scp"))
		}
		kind = directory.PrincipalUser
	case hasIdtyp:
		return nil, fail(ReasonInconsistentKind, errors.New("unknown idtyp"))
	case hasScp:
		kind = directory.PrincipalUser
	case hasRoles:
		// Without idtyp, only the Entra app-token shape counts as an app:
		// oid == sub (both the service principal) and no user-only claims.
		_, upn := claims["upn"]
		_, pun := claims["preferred_username"]
		if !hasOid || oid != sub || upn || pun {
			return nil, fail(ReasonInconsistentKind, errors.New("legacy roles token is not app-shaped"))
		}
		kind = directory.PrincipalApp
	default:
		return nil, fail(ReasonNoPermissions, nil)
	}

	appID, err := clientID(claims)
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		if !isScopeToken(r) {
			return nil, fail(ReasonClaimType, errors.New("roles"))
		}
	}
	p := &directory.Principal{Kind: kind, TenantID: tenant, AppID: appID, AMR: amr, ACRS: acrs}
	if kind == directory.PrincipalApp {
		p.Permissions = roles
	} else {
		if !hasOid || !directory.IsGUID(oid) {
			return nil, fail(ReasonMissingClaim, errors.New("oid"))
		}
		p.UserID = strings.ToLower(oid)
		p.Roles = roles // the user's own roles, never application permissions
		if scp != "" {
			// RFC 6749 §3.3: scope-tokens separated by single spaces,
			// matched whole; a malformed list is refused, not repaired.
			for _, s := range strings.Split(scp, " ") {
				if !isScopeToken(s) {
					return nil, fail(ReasonClaimType, errors.New("scp"))
				}
				p.Permissions = append(p.Permissions, s)
			}
		}
	}
	if len(p.Permissions) == 0 {
		return nil, fail(ReasonNoPermissions, nil)
	}
	return p, nil
}

// clientID returns the calling application from azp (v2), appid (v1) or
// client_id (RFC 9068); when several are present they must agree.
func clientID(claims map[string]json.RawMessage) (string, error) {
	var id string
	for _, name := range []string{"azp", "appid", "client_id"} {
		v, ok, err := optString(claims, name)
		if err != nil {
			return "", fail(ReasonClaimType, errors.New(name))
		}
		if !ok {
			continue
		}
		if v == "" || (id != "" && v != id) {
			return "", fail(ReasonInconsistentKind, errors.New("client id claims disagree"))
		}
		id = v
	}
	if id == "" {
		return "", fail(ReasonMissingClaim, errors.New("azp"))
	}
	return id, nil
}

// optString returns the string member name; present but not a JSON string
// (null included) is an error.
func optString(m map[string]json.RawMessage, name string) (string, bool, error) {
	raw, ok := m[name]
	if !ok {
		return "", false, nil
	}
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil {
		return "", true, errors.New(name + " is not a string")
	}
	return s, true, nil
}

// optStrings returns the array-of-strings member name; anything else that is
// present (a string, null, an array holding non-strings) is an error.
func optStrings(m map[string]json.RawMessage, name string) ([]string, bool, error) {
	raw, ok := m[name]
	if !ok {
		return nil, false, nil
	}
	var raws []json.RawMessage
	if isNull(raw) || json.Unmarshal(raw, &raws) != nil {
		return nil, true, errors.New(name + " is not an array")
	}
	out := make([]string, 0, len(raws))
	for _, r := range raws {
		var s string
		if isNull(r) || json.Unmarshal(r, &s) != nil {
			return nil, true, errors.New(name + " holds a non-string")
		}
		out = append(out, s)
	}
	return out, true, nil
}

func isNull(raw json.RawMessage) bool { return strings.TrimSpace(string(raw)) == "null" }

// isJSONNumber reports whether raw, which decodeObject already found to be
// valid JSON, is a number: the only JSON values that start with - or a digit.
func isJSONNumber(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9')
}
