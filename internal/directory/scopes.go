package directory

import (
	"fmt"
	"slices"
	"strings"

	"github.com/graphdir/graphdir/internal/textlimit"
)

// GraphResourceAppID is Microsoft Graph's appId, the resourceAppId of the
// delegated scopes in an application's requiredResourceAccess. graphdir
// serves the Graph API, so it is graphdir's own resource as well: an app
// registration ported from External ID keeps its requiredResourceAccess
// unchanged.
const GraphResourceAppID = "00000003-0000-0000-c000-000000000000"

// Resource URIs a delegated scope may be qualified with.
const (
	// GraphdirResourceURI is graphdir's default application ID URI (the
	// access tokens' aud, GRAPHDIR_AUDIENCE).
	GraphdirResourceURI = "api://graphdir"
	// GraphResourceURI is Microsoft Graph's, accepted so that apps ported
	// from External ID need no change.
	GraphResourceURI = "https://graph.microsoft.com"
)

// ScopeDefault is the scope suffix meaning "every delegated scope the
// application has consent for" (e.g. api://graphdir/.default).
const ScopeDefault = ".default"

// delegatedScope is one delegated permission an application may be
// granted: Graph's name and Graph's permission id (the id of the
// oauth2PermissionScope on Microsoft Graph's service principal).
type delegatedScope struct {
	name string
	id   string
	// oidc marks OpenID Connect's own scopes: they name no resource, so
	// they are never qualified with one.
	oidc bool
	// adminOnly marks scopes a user cannot consent to for themself: only
	// tenant-wide consent (requiredResourceAccess, or an AllPrincipals
	// grant) gives them to an application. Graph's "admin consent
	// required" column of its permissions reference.
	adminOnly bool
	// describe is the consent page's plain-words text ("Read your
	// profile"), a page string translated by the pages' catalogues.
	describe string
}

// delegatedScopes are the delegated scopes graphdir knows, in canonical
// order (the order ConsentedScopes and NormalizeDelegatedScopes return).
// The ids are Microsoft Graph's, so a requiredResourceAccess written for
// Entra works unchanged.
var delegatedScopes = []delegatedScope{
	{name: "openid", id: "37f7f235-527c-4136-accd-4a02d197296e", oidc: true, describe: "Sign you in"},
	{name: "profile", id: "14dad69e-099b-42c9-810b-d002981feec1", oidc: true, describe: "See your basic profile (your name)"},
	{name: "email", id: "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0", oidc: true, describe: "See your email address"},
	{name: "offline_access", id: "7427e0e9-2fba-42fe-b0c0-848c9e6a8182", oidc: true, describe: "Keep access to what you allow, also when you are not using the application"},
	{name: "User.Read", id: "e1fe6dd8-ba31-4d61-89e7-88639da4683d", describe: "Read your profile"},
	{name: "User.ReadWrite", id: "b4e74841-8e56-480b-be8b-910348b18b4c", describe: "Read and update your profile"},
	{name: "User.ReadBasic.All", id: "b340eb25-3456-403f-be2f-af7a0d370277", describe: "Read the basic profiles of all users"},
	{name: "User.Read.All", id: "a154be20-db9c-4678-8ab7-66f6cc099a59", adminOnly: true, describe: "Read the full profiles of all users"},
	{name: "User.ReadWrite.All", id: "204e0828-b5ca-4ad8-b9f3-f32a958e7cc4", adminOnly: true, describe: "Read and change the profiles of all users"},
	{name: "Directory.Read.All", id: "06da0dbc-49e2-44d2-8312-53f166ab848a", adminOnly: true, describe: "Read the whole directory"},
	{name: "Directory.ReadWrite.All", id: "c5366453-9fb0-48a5-a156-24f0c49a4b84", adminOnly: true, describe: "Read and change the whole directory"},
}

// ScopeNeedsAdmin reports whether only tenant-wide (administrator)
// consent may grant the scope (canonical name): a user's consent page
// refuses it. Unknown names need an administrator too.
func ScopeNeedsAdmin(name string) bool {
	i := scopeIndex(name)
	return i < 0 || delegatedScopes[i].adminOnly
}

// ScopeDescription is the scope's plain-words text for the consent page
// (English; the pages translate it), or the name itself when unknown.
func ScopeDescription(name string) string {
	if i := scopeIndex(name); i >= 0 {
		return delegatedScopes[i].describe
	}
	return name
}

// ScopeDescriptions are every scope's consent-page texts, for the pages'
// catalogue check.
func ScopeDescriptions() []string {
	out := make([]string, len(delegatedScopes))
	for i, s := range delegatedScopes {
		out[i] = s.describe
	}
	return out
}

// DelegatedScopeNames are the delegated scopes graphdir knows, in
// canonical order.
func DelegatedScopeNames() []string {
	out := make([]string, len(delegatedScopes))
	for i, s := range delegatedScopes {
		out[i] = s.name
	}
	return out
}

// IsOIDCScope reports whether name (canonical) is one of OpenID Connect's
// scopes (openid, profile, email, offline_access).
func IsOIDCScope(name string) bool {
	i := scopeIndex(name)
	return i >= 0 && delegatedScopes[i].oidc
}

func scopeIndex(name string) int {
	return slices.IndexFunc(delegatedScopes, func(s delegatedScope) bool { return strings.EqualFold(s.name, name) })
}

func scopeIndexByID(id string) int {
	return slices.IndexFunc(delegatedScopes, func(s delegatedScope) bool { return strings.EqualFold(s.id, id) })
}

// DelegatedScopeID returns Graph's permission id of a known scope.
func DelegatedScopeID(name string) (string, bool) {
	if i := scopeIndex(name); i >= 0 {
		return delegatedScopes[i].id, true
	}
	return "", false
}

// ScopeError refuses one requested scope; the OAuth endpoints answer it
// with invalid_scope. Scope is the scope as requested (clipped).
type ScopeError struct {
	Scope  string
	Reason string
}

func (e *ScopeError) Error() string {
	return fmt.Sprintf("The provided value for scope '%s' is not valid: %s", e.Scope, e.Reason)
}

// sortScopes puts canonical scope names into canonical order, once each.
func sortScopes(names []string) []string {
	out := make([]string, 0, len(names))
	for _, s := range delegatedScopes {
		if slices.Contains(names, s.name) {
			out = append(out, s.name)
		}
	}
	return out
}

// NormalizeDelegatedScopes reads the scopes of a sign-in request and
// returns their canonical names, once each, in canonical order. A scope
// is accepted bare (User.Read), qualified with graphdir's resource URI
// (api://graphdir/User.Read), with Microsoft Graph's
// (https://graph.microsoft.com/User.Read) or with any of resourceURIs
// (a configured GRAPHDIR_AUDIENCE); names and resource URIs compare
// case-insensitively. OpenID Connect's scopes are never qualified.
//
// A resource's ".default" (api://graphdir/.default) asks for every
// delegated scope the application has consent for: it is returned as
// ScopeDefault, which Application.GrantedScopes expands. As in Entra it
// cannot be combined with named scopes of the resource.
//
// An unknown or malformed scope is a *ScopeError naming it.
func NormalizeDelegatedScopes(requested []string, resourceURIs ...string) ([]string, error) {
	resources := append([]string{GraphdirResourceURI, GraphResourceURI}, resourceURIs...)
	var names []string
	wantDefault, named := false, ""
	for _, raw := range requested {
		if raw == "" {
			continue
		}
		fail := func(reason string) error {
			return &ScopeError{Scope: textlimit.Clip(raw, maxEchoed), Reason: reason}
		}
		name, qualified := raw, false
		if i := strings.LastIndexByte(raw, '/'); i >= 0 {
			resource := raw[:i]
			if !slices.ContainsFunc(resources, func(r string) bool { return strings.EqualFold(strings.TrimSuffix(r, "/"), resource) }) {
				return nil, fail("the resource is not graphdir; use " + GraphdirResourceURI + " or " + GraphResourceURI + ".")
			}
			name, qualified = raw[i+1:], true
		}
		if qualified && name == ScopeDefault {
			wantDefault = true
			continue
		}
		if name == ScopeDefault {
			return nil, fail("'.default' must be qualified with a resource, e.g. " + GraphdirResourceURI + "/.default.")
		}
		i := scopeIndex(name)
		switch {
		case i < 0:
			return nil, fail("graphdir's delegated scopes are " + strings.Join(DelegatedScopeNames(), ", ") + ".")
		case qualified && delegatedScopes[i].oidc:
			return nil, fail("OpenID Connect scopes name no resource; request '" + delegatedScopes[i].name + "' unqualified.")
		}
		if !delegatedScopes[i].oidc && named == "" {
			named = raw
		}
		names = append(names, delegatedScopes[i].name)
	}
	if wantDefault && named != "" {
		return nil, &ScopeError{Scope: textlimit.Clip(named, maxEchoed), Reason: "'.default' cannot be combined with other scopes of the same resource."}
	}
	out := sortScopes(names)
	if wantDefault {
		out = append(out, ScopeDefault)
	}
	return out, nil
}

// ConsentedScopes are the delegated scopes the application has tenant-wide
// consent for (its requiredResourceAccess), in canonical order.
func (a Application) ConsentedScopes() []string {
	return slices.Clone(a.DelegatedScopes)
}

// RequestedScopes normalises the scopes of a sign-in request
// (NormalizeDelegatedScopes) and expands ".default" into the scopes the
// application holds tenant-wide consent for, as GrantedScopes does, but
// keeps scopes without tenant-wide consent: the browser sign-in asks the
// user for them (Unconsented lists them). resourceURIs are as for
// NormalizeDelegatedScopes.
func (a Application) RequestedScopes(requested []string, resourceURIs ...string) ([]string, error) {
	names, err := NormalizeDelegatedScopes(requested, resourceURIs...)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if n != ScopeDefault {
			out = append(out, n)
			continue
		}
		for _, c := range a.DelegatedScopes {
			if !IsOIDCScope(c) {
				out = append(out, c)
			}
		}
	}
	return sortScopes(out), nil
}

// Unconsented returns the scopes of names (canonical) the application has
// no tenant-wide consent for, in order.
func (a Application) Unconsented(names []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(a.DelegatedScopes, n) {
			out = append(out, n)
		}
	}
	return out
}

// GrantedScopes normalises the scopes of a sign-in request
// (NormalizeDelegatedScopes) and checks them against the application's
// consent: ".default" becomes every consented scope of the resource (not
// the OpenID Connect scopes, which a client names itself: they switch on
// the ID token and the refresh token), and a scope without consent is a
// *ScopeError naming it. resourceURIs are as for NormalizeDelegatedScopes.
func (a Application) GrantedScopes(requested []string, resourceURIs ...string) ([]string, error) {
	out, err := a.RequestedScopes(requested, resourceURIs...)
	if err != nil {
		return nil, err
	}
	if missing := a.Unconsented(out); len(missing) > 0 {
		return nil, &ScopeError{Scope: missing[0], Reason: "the application has no consent for it; add it to the application's requiredResourceAccess."}
	}
	return out, nil
}

// ResourceAccess is one entry of an application's requiredResourceAccess
// (Graph's resourceAccess): a permission id and its type, "Scope" for a
// delegated permission.
type ResourceAccess struct {
	ID   string
	Type string
}

// RequiredResourceAccess is Graph's requiredResourceAccess entry: the
// permissions an application has for one resource.
type RequiredResourceAccess struct {
	ResourceAppID  string
	ResourceAccess []ResourceAccess
}

// scopesFromResourceAccess reads a requiredResourceAccess into canonical
// scope names. graphdir records delegated consent only; application
// permissions (type Role) are granted with graphdirPermissions, so that
// there is one place for them.
func scopesFromResourceAccess(rra []RequiredResourceAccess) ([]string, error) {
	const prop = "requiredResourceAccess"
	invalid := func(format string, args ...any) error {
		return Errorf(KindInvalid, "Invalid value specified for property '"+prop+"' of resource 'Application': "+format, args...).WithTarget(prop)
	}
	var names []string
	seenResource := false
	for _, r := range rra {
		if !strings.EqualFold(r.ResourceAppID, GraphResourceAppID) {
			return nil, invalid("resourceAppId '%s' is not a resource graphdir serves; delegated scopes belong to %s (Microsoft Graph, which graphdir implements).",
				textlimit.Clip(r.ResourceAppID, maxEchoed), GraphResourceAppID)
		}
		if seenResource {
			return nil, invalid("resourceAppId '%s' appears more than once.", GraphResourceAppID)
		}
		seenResource = true
		for _, ra := range r.ResourceAccess {
			switch ra.Type {
			case "Scope":
			case "Role":
				return nil, invalid("application permissions (type 'Role') are granted with the property 'graphdirPermissions'.")
			default:
				return nil, invalid("type '%s' is not 'Scope'.", textlimit.Clip(ra.Type, maxEchoed))
			}
			i := scopeIndexByID(ra.ID)
			if i < 0 {
				return nil, invalid("permission id '%s' is not one of graphdir's delegated scopes (%s).",
					textlimit.Clip(ra.ID, maxEchoed), strings.Join(DelegatedScopeNames(), ", "))
			}
			if slices.Contains(names, delegatedScopes[i].name) {
				return nil, invalid("permission id '%s' appears more than once.", delegatedScopes[i].id)
			}
			names = append(names, delegatedScopes[i].name)
		}
	}
	return sortScopes(names), nil
}

// RequiredResourceAccess renders the application's consented delegated
// scopes in Graph's shape: one Microsoft Graph entry, or none.
func (a Application) RequiredResourceAccess() []RequiredResourceAccess {
	if len(a.DelegatedScopes) == 0 {
		return []RequiredResourceAccess{}
	}
	r := RequiredResourceAccess{ResourceAppID: GraphResourceAppID}
	for _, n := range a.DelegatedScopes {
		id, _ := DelegatedScopeID(n)
		r.ResourceAccess = append(r.ResourceAccess, ResourceAccess{ID: id, Type: "Scope"})
	}
	return []RequiredResourceAccess{r}
}

// CanonicalScopes checks scope names (bare or qualified, as
// NormalizeDelegatedScopes reads them; no ".default") for the command
// line's --scopes and returns them in canonical order.
func CanonicalScopes(names []string) ([]string, error) {
	out, err := NormalizeDelegatedScopes(names)
	if err != nil {
		return nil, Errorf(KindInvalid, "%s", err.Error()).WithTarget("requiredResourceAccess")
	}
	if slices.Contains(out, ScopeDefault) {
		return nil, Errorf(KindInvalid, "Consent names scopes; '.default' is not one.").WithTarget("requiredResourceAccess")
	}
	return out, nil
}
