package issuer

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/graphdir/graphdir/internal/directory"
)

// JWKS returns the tenant's public signing keys as a JSON Web Key Set.
// Serving it never creates a key, because anyone can ask for any tenant: a
// GUID tenant without keys gets an empty set (as consistent with Discovery,
// which answers for every GUID), a non-GUID tenant is KindNotFound.
func (i *Issuer) JWKS(ctx context.Context, tenantID string) ([]byte, error) {
	set, err := i.PublicKeys(ctx, tenantID)
	switch {
	case err == nil:
	case directory.IsGUID(tenantID) && directory.KindOf(err) == directory.KindNotFound:
		set = jwk.NewSet()
	default:
		return nil, err
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, directory.Internal(err, "issuer: encode jwks")
	}
	return b, nil
}

// discovery is the OpenID Provider Metadata document (OpenID Connect
// Discovery 1.0 §3); field order is the wire order.
type discovery struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	UserinfoEndpoint                           string   `json:"userinfo_endpoint"`
	EndSessionEndpoint                         string   `json:"end_session_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ClaimsSupported                            []string `json:"claims_supported"`
	PromptValuesSupported                      []string `json:"prompt_values_supported"`
	UILocalesSupported                         []string `json:"ui_locales_supported,omitempty"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	ClaimsParameterSupported                   bool     `json:"claims_parameter_supported"`
	RequestParameterSupported                  bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported               bool     `json:"request_uri_parameter_supported"`
}

// Discovery returns the tenant's OpenID configuration. It needs no key and
// reads nothing, so it answers for any GUID tenant; a non-GUID tenant is
// KindNotFound.
//
// It lists exactly what the endpoints do (browser-redirect.md rule 3): the
// code flow with PKCE S256 in three response modes, RFC 9207's iss in the
// authorization response, and explicit falses where the specification's
// defaults would promise more (request_uri_parameter_supported defaults to
// true). userinfo is on the public URL, not per tenant, as Entra publishes
// graph.microsoft.com/oidc/userinfo; the token says the tenant.
func (i *Issuer) Discovery(_ context.Context, tenantID string) ([]byte, error) {
	if !directory.IsGUID(tenantID) {
		return nil, errUnknownTenant()
	}
	base := i.publicURL + "/" + strings.ToLower(tenantID) + "/oauth2/v2.0"
	d := discovery{
		Issuer:                                 i.IssuerURL(tenantID),
		AuthorizationEndpoint:                  base + "/authorize",
		TokenEndpoint:                          i.TokenURL(tenantID),
		JWKSURI:                                i.JWKSURL(tenantID),
		UserinfoEndpoint:                       i.publicURL + "/oidc/userinfo",
		EndSessionEndpoint:                     base + "/logout",
		RevocationEndpoint:                     base + "/revoke",
		TokenEndpointAuthMethodsSupported:      []string{"client_secret_post", "client_secret_basic", "none"},
		RevocationEndpointAuthMethodsSupported: []string{"client_secret_post", "client_secret_basic", "none"},
		ResponseTypesSupported:                 []string{"code"},
		ResponseModesSupported:                 []string{"query", "fragment", "form_post"},
		GrantTypesSupported:                    []string{"authorization_code", "refresh_token", "client_credentials"},
		SubjectTypesSupported:                  []string{"public"},
		IDTokenSigningAlgValuesSupported:       []string{Algorithm},
		CodeChallengeMethodsSupported:          []string{"S256"},
		ScopesSupported:                        []string{"openid", "profile", "email", "offline_access", i.audience + "/.default"},
		ClaimsSupported: []string{
			"iss", "aud", "sub", "oid", "tid", "azp", "appid", "client_id", "idtyp",
			"scp", "roles", "iat", "nbf", "exp", "jti", "ver",
			"nonce", "auth_time", "sid", "amr", "acrs", "name", "preferred_username", "email", "login_hint",
		},
		PromptValuesSupported:                      []string{"none", "login", "select_account", "create", "consent"},
		UILocalesSupported:                         i.uiLocales,
		AuthorizationResponseIssParameterSupported: true,
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, directory.Internal(err, "issuer: encode discovery")
	}
	return b, nil
}
