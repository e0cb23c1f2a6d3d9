package issuer

import (
	"context"
	"encoding/json"

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
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
}

// Discovery returns the tenant's OpenID configuration. It needs no key and
// reads nothing, so it answers for any GUID tenant; a non-GUID tenant is
// KindNotFound.
//
// There is no authorization endpoint: tokens come only from the token
// endpoint (client credentials). response_types_supported is required by the
// spec, so it names "token", the response type of that endpoint.
func (i *Issuer) Discovery(_ context.Context, tenantID string) ([]byte, error) {
	if !directory.IsGUID(tenantID) {
		return nil, errUnknownTenant()
	}
	d := discovery{
		Issuer:                            i.IssuerURL(tenantID),
		TokenEndpoint:                     i.TokenURL(tenantID),
		JWKSURI:                           i.JWKSURL(tenantID),
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "client_secret_basic"},
		ResponseTypesSupported:            []string{"token"},
		GrantTypesSupported:               []string{"client_credentials"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{Algorithm},
		ScopesSupported:                   []string{i.audience + "/.default"},
		ClaimsSupported: []string{
			"iss", "aud", "sub", "oid", "tid", "azp", "appid", "client_id", "idtyp",
			"scp", "roles", "iat", "nbf", "exp", "jti", "ver",
		},
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, directory.Internal(err, "issuer: encode discovery")
	}
	return b, nil
}
