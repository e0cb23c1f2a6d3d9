package oauth_test

import (
	"context"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/oauth"
)

// confidentialApp registers a web app (a confidential client) with one
// secret and consent to every sign-in scope.
func (f *fixture) confidentialApp() (*directory.Application, string) {
	f.t.Helper()
	var access []directory.ResourceAccess
	for _, sc := range directory.DelegatedScopeNames() {
		id, _ := directory.DelegatedScopeID(sc)
		access = append(access, directory.ResourceAccess{ID: id, Type: "Scope"})
	}
	rra := []directory.RequiredResourceAccess{{ResourceAppID: directory.GraphResourceAppID, ResourceAccess: access}}
	web := &directory.WebInput{RedirectURIs: []string{"https://web.contoso.com/signin"}}
	a, sec, err := f.apps.OperatorRegisterApplication(context.Background(), f.tenant, "web", nil,
		directory.SignInInput{Web: web, RequiredResourceAccess: &rra}, 0)
	if err != nil || sec == nil {
		f.t.Fatalf("register web app: %v", err)
	}
	if a.IsPublicClient() {
		f.t.Fatal("a web app with a secret is a public client")
	}
	return a, sec.SecretText
}

func (f *fixture) signInTo(clientID string) string {
	f.t.Helper()
	resp, err := f.srv.IssueUserTokens(context.Background(), oauth.UserGrant{TenantID: f.tenant, UserID: f.user, ClientID: clientID,
		Scopes: []string{"openid", "offline_access", "User.Read"}, AMR: []string{"pwd"}, AuthTime: f.clock.now()})
	if err != nil || resp.RefreshToken == "" {
		f.t.Fatalf("sign-in to %s: %v", clientID, err)
	}
	return resp.RefreshToken
}

func (f *fixture) refreshAs(clientID, secret, rt string) (*oauth.TokenResponse, error) {
	return f.srv.Refresh(context.Background(), oauth.Request{TenantID: f.tenant, GrantType: oauth.GrantRefreshToken,
		ClientID: clientID, ClientSecret: secret, RefreshToken: rt, RemoteIP: "192.0.2.9"})
}

// A confidential client must authenticate to refresh; without its secret
// or with a wrong one it is invalid_client, and the token is not spent.
func TestRefreshConfidentialClientMustAuthenticate(t *testing.T) {
	f := newFixture(t)
	web, secret := f.confidentialApp()
	rt := f.signInTo(web.AppID)

	_, err := f.refreshAs(web.AppID, "", rt)
	wantGrantError(t, err, oauth.CodeInvalidClient, 7000218)
	_, err = f.refreshAs(web.AppID, secret+"x", rt)
	wantGrantError(t, err, oauth.CodeInvalidClient, 7000215)

	r, err := f.refreshAs(web.AppID, secret, rt)
	if err != nil {
		t.Fatalf("refresh with the secret after refused attempts: %v", err)
	}
	// The successor is held to the same rule.
	_, err = f.refreshAs(web.AppID, "", r.RefreshToken)
	wantGrantError(t, err, oauth.CodeInvalidClient, 7000218)
	if _, err := f.refreshAs(web.AppID, secret, r.RefreshToken); err != nil {
		t.Fatalf("refresh of the successor with the secret: %v", err)
	}
}

// A public client refreshes with its client id alone; a secret it sends
// cannot be right (public clients have none) and is invalid_client.
func TestRefreshPublicClient(t *testing.T) {
	f := newFixture(t)
	if !f.app.IsPublicClient() {
		t.Fatal("the fixture's spa is not a public client")
	}
	rt := f.signIn().RefreshToken
	_, err := f.refreshAs(f.app.AppID, "anything", rt)
	wantGrantError(t, err, oauth.CodeInvalidClient, 7000215)
	f.mustRefresh(rt)
}

// A refresh token is redeemed only by the client it was issued to, public
// or confidential; another client's attempt neither spends the token nor
// revokes its family.
func TestRefreshOnlyByItsClient(t *testing.T) {
	f := newFixture(t)
	web, secret := f.confidentialApp()
	spaRT := f.signIn().RefreshToken
	webRT := f.signInTo(web.AppID)

	_, err := f.refreshAs(web.AppID, secret, spaRT)
	wantGrantError(t, err, oauth.CodeInvalidGrant, 70000)
	_, err = f.refreshAs(f.app.AppID, "", webRT)
	wantGrantError(t, err, oauth.CodeInvalidGrant, 70000)

	f.mustRefresh(spaRT)
	if _, err := f.refreshAs(web.AppID, secret, webRT); err != nil {
		t.Fatalf("the web app's own token after another client presented it: %v", err)
	}
}
