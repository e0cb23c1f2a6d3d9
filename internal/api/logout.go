package api

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// handleLogout serves GET and POST /{tenant}/oauth2/v2.0/logout
// (RP-Initiated Logout 1.0, browser-redirect.md rule 17). The session ends
// whatever the parameters. With a valid id_token_hint, the browser goes
// straight back to a post_logout_redirect_uri registered for the hint's
// client. MSAL sends neither id_token_hint nor client_id, so such a
// request cannot be trusted to pick where the browser goes next: a
// confirmation page offers the way back, and only to a
// post_logout_redirect_uri that exactly matches a redirect URI or
// web.logoutUrl of an application that signed in during this session.
// Anything else ends on "You have signed out".
func (s *server) handleLogout(c *gin.Context) {
	tenant := strings.ToLower(c.Param("tenant"))
	if s.browser == nil || "/"+tenant == apiPrefix {
		s.handleNoRoute(c)
		return
	}
	q, ok := s.authorizeParams(c)
	if !ok {
		return
	}
	// RP-Initiated Logout's ui_locales picks the pages' language.
	c.Set(uiLocalesKey, q.Get("ui_locales"))
	ctx := c.Request.Context()
	sess, err := s.currentSession(c, tenant)
	if err != nil {
		s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	if ck, err := c.Request.Cookie(sessionCookieName(tenant)); err == nil && ck.Value != "" && len(ck.Value) <= 128 {
		if err := s.browser.Store.EndBrowserSession(ctx, tenant, sha(ck.Value), s.browser.now()); err != nil {
			s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
			return
		}
	}
	setCookie(c, sessionCookieName(tenant), "", -1)

	target := q.Get("post_logout_redirect_uri")
	state, hasState := "", false
	if st, ok := q["state"]; ok && len(st) == 1 && len(st[0]) <= 4096 {
		state, hasState = st[0], true
	}
	// A valid id_token_hint identifies the client: the browser goes back
	// at once when the URI is one of that client's (no confirmation).
	if hint := q.Get("id_token_hint"); hint != "" && target != "" && len(q["post_logout_redirect_uri"]) == 1 && s.browser.Hints != nil {
		if cid, err := s.browser.Hints.HintClient(ctx, tenant, hint); err == nil && (q.Get("client_id") == "" || strings.EqualFold(q.Get("client_id"), cid)) {
			if app, err := s.browser.Apps.ClientApplication(ctx, tenant, cid); err == nil && logoutTarget(app, target) {
				redirectAfterLogout(c, target, state, hasState)
				return
			}
		}
	}
	var client *directory.Application
	if sess != nil && target != "" && len(q["post_logout_redirect_uri"]) == 1 {
		for _, id := range sess.Clients {
			if cid := q.Get("client_id"); cid != "" && !strings.EqualFold(cid, id) {
				continue
			}
			app, err := s.browser.Apps.ClientApplication(ctx, tenant, id)
			if err != nil {
				continue
			}
			if logoutTarget(app, target) {
				client = app
				break
			}
		}
	}
	if client == nil {
		s.renderPage(c, http.StatusOK, "message", pageData{Title: "You have signed out", Message: "You have signed out. You can close this window."}, "")
		return
	}
	csrf := randomToken()
	data := map[string]string{"uri": target, "csrf": shaString(csrf), "bind": shaString(bindToken(c))}
	if hasState {
		data["state"], data["has_state"] = state, "1"
	}
	handle, _, err := s.browser.Flows.Start(ctx, directory.SignInFlow{TenantID: tenant, ClientID: strings.ToLower(client.AppID),
		Kind: flowKindLogout, Step: "confirm", Data: data})
	if err != nil {
		s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	s.renderPage(c, http.StatusOK, "logout", pageData{Title: "You have signed out",
		Message: tr(c, "You have signed out. Select Continue to return to %s.", appName(client)),
		Action:  "/" + tenant + "/oauth2/v2.0/logout/confirm", Flow: handle, ClientID: strings.ToLower(client.AppID), CSRF: csrf}, cspSource(target))
}

// handleLogoutConfirm serves the confirmation page's button: the browser
// goes to the post-logout URI validated when the page was shown.
func (s *server) handleLogoutConfirm(c *gin.Context) {
	tenant, form, fl, ok := s.pagePost(c, s.browser != nil, flowKindLogout)
	if !ok {
		return
	}
	if err := s.browser.Flows.Finish(c.Request.Context(), tenant, form["flow"]); err != nil {
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "You have signed out. You can close this window.")
		return
	}
	redirectAfterLogout(c, fl.Data["uri"], fl.Data["state"], fl.Data["has_state"] == "1")
}

// logoutTarget reports whether uri is exactly one of app's redirect URIs
// or its web.logoutUrl.
func logoutTarget(app *directory.Application, uri string) bool {
	_, ok := app.RedirectURIKind(uri)
	return ok || (app.WebLogoutURL != nil && *app.WebLogoutURL == uri)
}

// redirectAfterLogout sends the browser to a validated post-logout URI,
// with state when the request had one.
func redirectAfterLogout(c *gin.Context, target, state string, hasState bool) {
	if hasState {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + "state=" + url.QueryEscape(state)
	}
	status := http.StatusFound
	if c.Request.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Redirect(status, target)
	c.Abort()
}
