package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/graphdir/graphdir/internal/directory"
)

// defaultSignInScopes are consented when a sign-in app is created without
// --scopes: what a sign-in needs (an ID token with the profile and email,
// a refresh token) and the user's own profile.
const defaultSignInScopes = "openid,profile,email,offline_access,User.Read"

// uriList is a repeatable flag.
type uriList []string

func (l *uriList) String() string     { return strings.Join(*l, " ") }
func (l *uriList) Set(v string) error { *l = append(*l, v); return nil }

// signInFlags are the flags of `app create` that make an application users
// sign in to (directory.SignInInput).
type signInFlags struct {
	fs                      *flag.FlagSet
	spa, web, public        uriList
	logoutURL, scopes       *string
	nativeAuth, fallbackPub *bool
	noPKCE                  *bool
}

func newSignInFlags(fs *flag.FlagSet) *signInFlags {
	f := &signInFlags{fs: fs}
	fs.Var(&f.spa, "spa", "a single-page app redirect URI (spa.redirectUris; repeat for more)")
	fs.Var(&f.web, "web", "a web app redirect URI (web.redirectUris; repeat for more)")
	fs.Var(&f.public, "public", "a mobile or desktop redirect URI, custom schemes allowed (publicClient.redirectUris; repeat for more)")
	f.logoutURL = fs.String("logout-url", "", "front-channel logout URL (web.logoutUrl)")
	f.nativeAuth = fs.Bool("native-auth", false, "enable the native authentication APIs (nativeAuthenticationApisEnabled=all; also a public client)")
	f.fallbackPub = fs.Bool("fallback-public-client", false, "treat the app as a public client (isFallbackPublicClient)")
	f.noPKCE = fs.Bool("no-pkce", false, "let the web app sign in without PKCE (graphdirPkceRequired=false; legacy confidential web apps only)")
	f.scopes = fs.String("scopes", defaultSignInScopes, "delegated scopes consented tenant-wide, space- or comma-separated (requiredResourceAccess)")
	return f
}

// any reports whether a sign-in flag was given.
func (f *signInFlags) any() bool {
	return f != nil && (len(f.spa)+len(f.web)+len(f.public) > 0 || *f.logoutURL != "" || *f.nativeAuth || *f.fallbackPub || *f.noPKCE || f.set("scopes"))
}

func (f *signInFlags) set(name string) bool {
	found := false
	f.fs.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	return found
}

// defaultName names a sign-in app without --name after the host of its
// first redirect URI, and reports whether it did.
func (f *signInFlags) defaultName(name *string) bool {
	if f == nil {
		return false
	}
	for _, u := range append(append(append([]string{}, f.spa...), f.web...), f.public...) {
		if p, err := url.Parse(u); err == nil && p.Host != "" {
			*name = p.Host
			return true
		}
	}
	return false
}

// input is the SignInInput of the flags; nothing when none was given, so
// that `app create --name` keeps making the client-credentials app it
// always made.
func (f *signInFlags) input() (directory.SignInInput, error) {
	var in directory.SignInInput
	if !f.any() {
		return in, nil
	}
	if len(f.spa) > 0 {
		in.SPA = (*[]string)(&f.spa)
	}
	if len(f.web) > 0 || *f.logoutURL != "" {
		w := directory.WebInput{RedirectURIs: append([]string{}, f.web...)}
		if *f.logoutURL != "" {
			w.LogoutURL = f.logoutURL
		}
		in.Web = &w
	}
	if len(f.public) > 0 {
		in.PublicClient = (*[]string)(&f.public)
	}
	if *f.nativeAuth {
		all, yes := directory.NativeAuthAll, true
		in.NativeAuthenticationAPIs = &directory.Nullable[string]{Value: &all}
		in.IsFallbackPublicClient = &directory.Nullable[bool]{Value: &yes}
	}
	if *f.noPKCE {
		if len(f.web) == 0 {
			return in, errors.New("--no-pkce applies to web apps (--web) only: public clients always use PKCE")
		}
		off := false
		in.PKCERequired = &off
	}
	if *f.fallbackPub {
		yes := true
		in.IsFallbackPublicClient = &directory.Nullable[bool]{Value: &yes}
	}
	scopes, err := directory.CanonicalScopes(splitList(*f.scopes))
	if err != nil {
		return in, err
	}
	access := directory.RequiredResourceAccess{ResourceAppID: directory.GraphResourceAppID}
	for _, s := range scopes {
		id, _ := directory.DelegatedScopeID(s)
		access.ResourceAccess = append(access.ResourceAccess, directory.ResourceAccess{ID: id, Type: "Scope"})
	}
	rra := []directory.RequiredResourceAccess{access}
	in.RequiredResourceAccess = &rra
	return in, nil
}

// printSignIn prints what users sign in to a with, when it has any.
func printSignIn(w io.Writer, a *directory.Application) {
	for _, l := range []struct {
		label string
		uris  []string
	}{{"spa", a.SPARedirectURIs}, {"web", a.WebRedirectURIs}, {"public client", a.PublicClientRedirectURIs}} {
		for _, u := range l.uris {
			fmt.Fprintf(w, "  redirect URI:   %s (%s)\n", u, l.label)
		}
	}
	if a.WebLogoutURL != nil {
		fmt.Fprintf(w, "  logout URL:     %s\n", *a.WebLogoutURL)
	}
	if a.NativeAuthEnabled() {
		fmt.Fprintln(w, "  native auth:    enabled")
	}
	if !a.PKCERequiredFor(directory.RedirectWeb) {
		fmt.Fprintln(w, "  PKCE:           optional for web redirect URIs (graphdirPkceRequired=false)")
	}
	if s := a.ConsentedScopes(); len(s) > 0 {
		fmt.Fprintf(w, "  scopes:         %s (consented for the tenant)\n", strings.Join(s, " "))
	}
}
