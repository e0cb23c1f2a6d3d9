package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/jsonstrict"
)

// The sign-in properties of an application (Graph's spa, web,
// publicClient, isFallbackPublicClient, nativeAuthenticationApisEnabled,
// requiredResourceAccess): their JSON shapes and body tables. Values are
// checked in directory (SignInInput.Apply); here only shapes are.

type redirectURIsJSON struct {
	RedirectURIs []string `json:"redirectUris"`
}

type implicitGrantJSON struct {
	EnableAccessTokenIssuance bool `json:"enableAccessTokenIssuance"`
	EnableIDTokenIssuance     bool `json:"enableIdTokenIssuance"`
}

type webJSON struct {
	HomePageURL           *string           `json:"homePageUrl"`
	ImplicitGrantSettings implicitGrantJSON `json:"implicitGrantSettings"`
	LogoutURL             *string           `json:"logoutUrl"`
	RedirectURIs          []string          `json:"redirectUris"`
	RedirectURISettings   []struct{}        `json:"redirectUriSettings"`
}

type resourceAccessJSON struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type requiredResourceAccessJSON struct {
	ResourceAccess []resourceAccessJSON `json:"resourceAccess"`
	ResourceAppID  string               `json:"resourceAppId"`
}

// signInJSON are the sign-in members of applicationJSON, in output order.
type signInJSON struct {
	IsFallbackPublicClient          *bool                        `json:"isFallbackPublicClient"`
	NativeAuthenticationApisEnabled *string                      `json:"nativeAuthenticationApisEnabled"`
	PublicClient                    redirectURIsJSON             `json:"publicClient"`
	RequiredResourceAccess          []requiredResourceAccessJSON `json:"requiredResourceAccess"`
	SPA                             redirectURIsJSON             `json:"spa"`
	Web                             webJSON                      `json:"web"`
	// PKCERequired is graphdir's graphdirPkceRequired (default true).
	PKCERequired bool `json:"graphdirPkceRequired"`
}

// signInProperties are the names of signInJSON's members, for $select.
var signInProperties = []string{"isFallbackPublicClient", "nativeAuthenticationApisEnabled", "publicClient",
	"requiredResourceAccess", "spa", "web", directory.PKCERequiredProperty}

func toSignInJSON(s directory.SignInSettings) signInJSON {
	out := signInJSON{
		IsFallbackPublicClient: s.IsFallbackPublicClient,
		PublicClient:           redirectURIsJSON{RedirectURIs: nonNilStrings(s.PublicClientRedirectURIs)},
		SPA:                    redirectURIsJSON{RedirectURIs: nonNilStrings(s.SPARedirectURIs)},
		Web: webJSON{LogoutURL: s.WebLogoutURL, RedirectURIs: nonNilStrings(s.WebRedirectURIs),
			RedirectURISettings: []struct{}{}},
		RequiredResourceAccess: []requiredResourceAccessJSON{},
		PKCERequired:           !s.PKCEOptional,
	}
	if s.NativeAuthenticationAPIs != "" {
		v := s.NativeAuthenticationAPIs
		out.NativeAuthenticationApisEnabled = &v
	}
	for _, r := range (directory.Application{SignInSettings: s}).RequiredResourceAccess() {
		e := requiredResourceAccessJSON{ResourceAppID: r.ResourceAppID, ResourceAccess: []resourceAccessJSON{}}
		for _, ra := range r.ResourceAccess {
			e.ResourceAccess = append(e.ResourceAccess, resourceAccessJSON{ID: ra.ID, Type: ra.Type})
		}
		out.RequiredResourceAccess = append(out.RequiredResourceAccess, e)
	}
	return out
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// maxURIList bounds a redirectUris array before it is decoded further; the
// rules (MaxRedirectURIs) are directory's, this only keeps a hostile body
// from becoming a huge slice.
const maxURIList = 4 * directory.MaxRedirectURIs

// nested reports an error of a nested object's member under its full
// property path (web.redirectUris), so the caller sees which one.
func nested(prefix string, err error) error {
	var de *directory.Error
	if errors.As(err, &de) && de.Target != "" {
		inner := de.Target
		de.Target = prefix + "." + inner
		de.Message = strings.ReplaceAll(de.Message, "'"+inner+"'", "'"+de.Target+"'")
	}
	return err
}

// decodeNested decodes raw, which must be a JSON object, by t, naming
// the properties of its errors under prefix. A value that is not an
// object is an invalid value of the enclosing property (errInvalidValue).
func decodeNested[T any](prefix string, raw json.RawMessage, t *bodyTable[T]) (T, error) {
	if b := bytes.TrimLeft(raw, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		var zero T
		return zero, errInvalidValue
	}
	v, err := decodeObject(raw, t)
	return v, nested(prefix, err)
}

func decodeURIList(raw json.RawMessage, into *[]string) error {
	var v []string
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	if len(v) > maxURIList {
		return errInvalidValue
	}
	*into = nonNilStrings(v)
	return nil
}

// spaTable and publicClientTable are the body tables of spa and
// publicClient: one property, redirectUris (null: none).
var (
	spaTable          = redirectURIsTable("microsoft.graph.spaApplication")
	publicClientTable = redirectURIsTable("microsoft.graph.publicClientApplication")
)

func redirectURIsTable(resource string) *bodyTable[[]string] {
	return &bodyTable[[]string]{resource: resource, fields: []bodyField[[]string]{
		{name: "redirectUris", nullable: true, decode: decodeURIList},
	}}
}

// webTable is the body table of web. graphdir models redirectUris and
// logoutUrl; the other members are accepted only with the values graphdir
// has (no home page, no implicit grant, no per-URI settings), so a body
// read from GET can be sent back.
var webTable = bodyTable[directory.WebInput]{
	resource: "microsoft.graph.webApplication",
	fields: []bodyField[directory.WebInput]{
		{name: "redirectUris", nullable: true, decode: func(raw json.RawMessage, in *directory.WebInput) error {
			return decodeURIList(raw, &in.RedirectURIs)
		}},
		{name: "logoutUrl", nullable: true, decode: func(raw json.RawMessage, in *directory.WebInput) error {
			return json.Unmarshal(raw, &in.LogoutURL)
		}},
		{name: "homePageUrl", nullable: true, invalid: "Property 'homePageUrl' is not supported by graphdir; only null is accepted.",
			decode: func(json.RawMessage, *directory.WebInput) error { return errInvalidValue }},
		{name: "implicitGrantSettings", nullable: true,
			invalid: "Invalid value specified for property 'implicitGrantSettings': the implicit grant is not supported by graphdir (use the authorization code flow with PKCE), so both settings may only be false.",
			decode: func(raw json.RawMessage, _ *directory.WebInput) error {
				v, err := decodeObject(raw, &implicitGrantTable)
				if err != nil || v.EnableAccessTokenIssuance || v.EnableIDTokenIssuance {
					return errInvalidValue
				}
				return nil
			}},
		{name: "redirectUriSettings", nullable: true, invalid: "Property 'redirectUriSettings' is not supported by graphdir; use redirectUris.",
			decode: func(raw json.RawMessage, _ *directory.WebInput) error {
				var v []json.RawMessage
				if err := json.Unmarshal(raw, &v); err != nil || len(v) > 0 {
					return errInvalidValue
				}
				return nil
			}},
	},
}

var implicitGrantTable = bodyTable[implicitGrantJSON]{
	resource: "microsoft.graph.implicitGrantSettings",
	fields: []bodyField[implicitGrantJSON]{
		{name: "enableAccessTokenIssuance", nullable: true, decode: func(raw json.RawMessage, v *implicitGrantJSON) error {
			return json.Unmarshal(raw, &v.EnableAccessTokenIssuance)
		}},
		{name: "enableIdTokenIssuance", nullable: true, decode: func(raw json.RawMessage, v *implicitGrantJSON) error {
			return json.Unmarshal(raw, &v.EnableIDTokenIssuance)
		}},
	},
}

// requiredResourceAccessTable and resourceAccessTable read Graph's
// requiredResourceAccess entries strictly; directory checks the values.
var requiredResourceAccessTable = bodyTable[directory.RequiredResourceAccess]{
	resource: "microsoft.graph.requiredResourceAccess",
	fields: []bodyField[directory.RequiredResourceAccess]{
		{name: "resourceAppId", decode: func(raw json.RawMessage, v *directory.RequiredResourceAccess) error {
			return json.Unmarshal(raw, &v.ResourceAppID)
		}},
		{name: "resourceAccess", decode: func(raw json.RawMessage, v *directory.RequiredResourceAccess) error {
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return err
			}
			if len(items) > 100 {
				return errInvalidValue
			}
			v.ResourceAccess = []directory.ResourceAccess{}
			for _, item := range items {
				ra, err := decodeNested("resourceAccess", item, &resourceAccessTable)
				if err != nil {
					return err
				}
				v.ResourceAccess = append(v.ResourceAccess, ra)
			}
			return nil
		}},
	},
}

var resourceAccessTable = bodyTable[directory.ResourceAccess]{
	resource: "microsoft.graph.resourceAccess",
	fields: []bodyField[directory.ResourceAccess]{
		{name: "id", decode: func(raw json.RawMessage, v *directory.ResourceAccess) error { return json.Unmarshal(raw, &v.ID) }},
		{name: "type", decode: func(raw json.RawMessage, v *directory.ResourceAccess) error { return json.Unmarshal(raw, &v.Type) }},
	},
}

// signInFields are the rows of applicationTable for the sign-in
// properties. A null complex property is its empty value (PATCH replaces
// the whole value, as Graph does).
func signInFields() []bodyField[directory.ApplicationInput] {
	uriObject := func(prop string, table *bodyTable[[]string], set func(*directory.ApplicationInput, *[]string)) bodyField[directory.ApplicationInput] {
		return bodyField[directory.ApplicationInput]{name: prop, decodeNull: true,
			decode: func(raw json.RawMessage, in *directory.ApplicationInput) error {
				uris := []string{}
				if !jsonstrict.IsNull(raw) {
					v, err := decodeNested(prop, raw, table)
					if err != nil {
						return err
					}
					uris = nonNilStrings(v)
				}
				set(in, &uris)
				return nil
			}}
	}
	return []bodyField[directory.ApplicationInput]{
		uriObject("spa", spaTable, func(in *directory.ApplicationInput, v *[]string) { in.SignIn.SPA = v }),
		uriObject("publicClient", publicClientTable, func(in *directory.ApplicationInput, v *[]string) { in.SignIn.PublicClient = v }),
		{name: "web", decodeNull: true, decode: func(raw json.RawMessage, in *directory.ApplicationInput) error {
			w := directory.WebInput{RedirectURIs: []string{}}
			if !jsonstrict.IsNull(raw) {
				v, err := decodeNested("web", raw, &webTable)
				if err != nil {
					return err
				}
				w = v
			}
			in.SignIn.Web = &w
			return nil
		}},
		{name: "isFallbackPublicClient", decodeNull: true, decode: func(raw json.RawMessage, in *directory.ApplicationInput) error {
			var v *bool
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			in.SignIn.IsFallbackPublicClient = &directory.Nullable[bool]{Value: v}
			return nil
		}},
		{name: "nativeAuthenticationApisEnabled", decodeNull: true,
			invalid: "Invalid value specified for property 'nativeAuthenticationApisEnabled': it is 'none' or 'all'.",
			decode: func(raw json.RawMessage, in *directory.ApplicationInput) error {
				var v *string
				if err := json.Unmarshal(raw, &v); err != nil {
					return err
				}
				in.SignIn.NativeAuthenticationAPIs = &directory.Nullable[string]{Value: v}
				return nil
			}},
		// graphdir's own (Graph has no such property): false lets a
		// confidential web app sign in without PKCE; never null.
		{name: directory.PKCERequiredProperty, decode: func(raw json.RawMessage, in *directory.ApplicationInput) error {
			var v bool
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			in.SignIn.PKCERequired = &v
			return nil
		}},
		{name: "requiredResourceAccess", decodeNull: true, decode: func(raw json.RawMessage, in *directory.ApplicationInput) error {
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return err
			}
			if len(items) > 50 {
				return errInvalidValue
			}
			rra := []directory.RequiredResourceAccess{}
			for _, item := range items {
				r, err := decodeNested("requiredResourceAccess", item, &requiredResourceAccessTable)
				if err != nil {
					return err
				}
				for _, missing := range []struct {
					name string
					is   bool
				}{{"resourceAppId", r.ResourceAppID == ""}, {"resourceAccess", r.ResourceAccess == nil}} {
					if missing.is {
						return (&directory.Error{Kind: directory.KindInvalid,
							Message: "Property 'requiredResourceAccess." + missing.name + "' is required."}).WithTarget("requiredResourceAccess." + missing.name)
					}
				}
				rra = append(rra, r)
			}
			in.SignIn.RequiredResourceAccess = &rra
			return nil
		}},
	}
}
