package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

// browserApp registers an application with the given redirect URIs and
// tenant-wide consent to every sign-in scope; web apps get a secret.
func (s *stack) browserApp(name string, in directory.SignInInput) (*directory.Application, string) {
	s.t.Helper()
	apps, err := newApplications(context.Background(), s.db)
	if err != nil {
		s.t.Fatal(err)
	}
	var access []directory.ResourceAccess
	for _, sc := range directory.DelegatedScopeNames() {
		id, _ := directory.DelegatedScopeID(sc)
		access = append(access, directory.ResourceAccess{ID: id, Type: "Scope"})
	}
	rra := []directory.RequiredResourceAccess{{ResourceAppID: directory.GraphResourceAppID, ResourceAccess: access}}
	in.RequiredResourceAccess = &rra
	a, sec, err := apps.OperatorRegisterApplication(context.Background(), s.tenant, name, nil, in, 0)
	if err != nil {
		s.t.Fatalf("register %s: %v", name, err)
	}
	if sec == nil {
		return a, ""
	}
	return a, sec.SecretText
}

// browser is a scripted user agent: a cookie jar over the stack's TLS
// client, redirects not followed (the test reads each one).
type browser struct {
	t *testing.T
	s *stack
	c *http.Client
}

func (s *stack) newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: s.client.Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: s.t, s: s, c: c}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// get fetches an absolute URL or a path on graphdir.
func (b *browser) get(u string, headers ...string) page {
	b.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.s.srv.URL + u
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// post submits a form to a path on graphdir.
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.s.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

var (
	formActionRe = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	hiddenRe     = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// form reads a page's form: its action and hidden fields.
func (p page) form(t *testing.T) (string, url.Values) {
	t.Helper()
	m := formActionRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no form on the page (%d): %s", p.status, p.body)
	}
	v := url.Values{}
	for _, h := range hiddenRe.FindAllStringSubmatch(p.body, -1) {
		v.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	return html.UnescapeString(m[1]), v
}

// signIn submits the sign-in page p with username and password.
func (b *browser) signIn(p page, username, pw string, headers ...string) page {
	b.t.Helper()
	action, form := p.form(b.t)
	form.Set("username", username)
	form.Set("password", pw)
	return b.post(action, form, headers...)
}

// location parses a redirect's Location; params come from the query or
// the fragment, whichever holds them.
func location(t *testing.T, p page) (*url.URL, url.Values) {
	t.Helper()
	if p.status != http.StatusFound && p.status != http.StatusSeeOther {
		t.Fatalf("want a redirect, got %d: %s", p.status, p.body)
	}
	u, err := url.Parse(p.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Fragment != "" {
		q, _ := url.ParseQuery(u.EscapedFragment())
		return u, q
	}
	return u, u.Query()
}

// pkce returns a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = strings.Repeat("v", 20) + randomString()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomString() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// authorizeURL is the tenant's authorization endpoint with params.
func (s *stack) authorizeURL(params url.Values) string {
	return s.srv.URL + "/" + s.tenant + "/oauth2/v2.0/authorize?" + params.Encode()
}
