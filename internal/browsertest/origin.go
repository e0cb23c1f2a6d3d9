package browsertest

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Origin is a loopback web server for the pages a scenario opens (the SPA
// of an OAuth flow, a test form). Besides what the test adds it serves the
// pinned MSAL.js builds, as classic scripts exposing globals:
//
//	/_browsertest/msal-browser.js          window.msal (PublicClientApplication, ...)
//	/_browsertest/msal-custom-auth.js      window.msalCustomAuth (CustomAuthPublicClientApplication, ...)
//	/_browsertest/msal-redirect-bridge.js  window.msalRedirectBridge (popup / silent iframe bridge page)
type Origin struct {
	// URL is the origin, without a trailing slash: http://127.0.0.1:<port>
	// (a secure context, which MSAL needs for crypto.subtle) or, from
	// NewTLSOrigin, https://127.0.0.1:<port>.
	URL    string
	Server *httptest.Server
	mux    *http.ServeMux
}

// NewOrigin starts an http origin on 127.0.0.1, closed when t ends.
func NewOrigin(t testing.TB) *Origin { return newOrigin(t, false) }

// NewTLSOrigin starts an https origin on 127.0.0.1 with httptest's
// certificate (the browser contexts ignore certificate errors), closed
// when t ends. Use it when the page must be same-site with an https
// graphdir, for cookies in MSAL's silent iframe.
func NewTLSOrigin(t testing.TB) *Origin { return newOrigin(t, true) }

func newOrigin(t testing.TB, tls bool) *Origin {
	t.Helper()
	dir, err := msalDir()
	if err != nil {
		t.Fatal(err)
	}
	o := &Origin{mux: http.NewServeMux()}
	for name, file := range map[string]string{
		"msal-browser.js":         "lib/msal-browser.js",
		"msal-custom-auth.js":     "lib/custom-auth-path/msal-custom-auth.js",
		"msal-redirect-bridge.js": "lib/redirect-bridge/msal-redirect-bridge.js",
	} {
		path := filepath.Join(dir, filepath.FromSlash(file))
		o.mux.HandleFunc("GET /_browsertest/"+name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			http.ServeFile(w, r, path)
		})
	}
	// Chromium asks for it on every page; a 404 would litter the console log.
	o.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	o.Server = httptest.NewUnstartedServer(o.mux)
	if tls {
		// Chromium tries the certificate before ignoring its errors: quiet
		// http.Server's log of that first handshake.
		o.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
		o.Server.StartTLS()
	} else {
		o.Server.Start()
	}
	t.Cleanup(o.Server.Close)
	o.URL = o.Server.URL
	return o
}

// Page serves html at path (GET, text/html) and returns its full URL.
func (o *Origin) Page(path, html string) string {
	o.mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(html))
	})
	return o.URL + path
}

// Handle adds any handler (a ServeMux pattern, e.g. "POST /api/x").
func (o *Origin) Handle(pattern string, h http.Handler) { o.mux.Handle(pattern, h) }

// Localhost rewrites a 127.0.0.1 URL to localhost, for tests that need
// two origins to be same-site (cookies are per host name, not per IP).
func Localhost(u string) string { return strings.Replace(u, "://127.0.0.1:", "://localhost:", 1) }

var msalOnce struct {
	once sync.Once
	dir  string
	err  error
}

// msalDir is the installed @azure/msal-browser, installing the node
// modules if an Origin is made before the browser starts.
func msalDir() (string, error) {
	msalOnce.once.Do(func() {
		dir, err := projectDir()
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			err = ensureNodeModules(ctx, dir, func(string, ...any) {})
		}
		msalOnce.dir, msalOnce.err = filepath.Join(dir, "node_modules", "@azure", "msal-browser"), err
		if err == nil {
			_, msalOnce.err = os.Stat(msalOnce.dir)
		}
	})
	return msalOnce.dir, msalOnce.err
}
