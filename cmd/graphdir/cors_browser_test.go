package main

import (
	"testing"

	"github.com/graphdir/graphdir/internal/browsertest"
)

// TestBrowserCORS: a page on a registered spa origin reads /v1.0/me from
// graphdir with fetch in real Chromium (preflight, grant, exposed headers,
// a readable error); a page on another origin is refused by the browser.
func TestBrowserCORS(t *testing.T) {
	s := newBrowserStack(t, nil)
	b := browsertest.Shared(t)
	spa := browsertest.NewOrigin(t)
	evil := browsertest.NewOrigin(t)
	s.registerSPA(s.tenant, spa.URL+"/auth/callback")
	uid := s.rawUser(s.tenant, "browser@"+s.domain)
	token := s.userToken(uid, "User.Read")
	html := `<!doctype html><html lang="en"><head><title>spa</title></head><body></body></html>`
	fetchMe := `async (a) => {
		const out = {};
		try {
			const r = await fetch(a.url, {headers: {"Authorization": "Bearer " + a.token, "ConsistencyLevel": "eventual", "client-request-id": "spa-1"}});
			out.status = r.status;
			out.id = (await r.json()).id;
			out.requestId = r.headers.get("request-id");
			out.clientRequestId = r.headers.get("client-request-id");
			out.etag = r.headers.get("ETag");
		} catch (e) { out.error = String(e); }
		try {
			const r = await fetch(a.url);
			out.errorStatus = r.status;
			out.errorCode = (await r.json()).error.code;
		} catch (e) { out.error2 = String(e); }
		return out;
	}`
	type result struct {
		Status          int    `json:"status"`
		ID              string `json:"id"`
		RequestID       string `json:"requestId"`
		ClientRequestID string `json:"clientRequestId"`
		ETag            string `json:"etag"`
		Error           string `json:"error"`
		ErrorStatus     int    `json:"errorStatus"`
		ErrorCode       string `json:"errorCode"`
		Error2          string `json:"error2"`
	}
	arg := map[string]any{"url": s.srv.URL + "/v1.0/me", "token": token}

	sc := browsertest.Eval(fetchMe, arg)
	sc.URL = spa.Page("/", html)
	var got result
	b.Run(t, sc).Decode(t, &got)
	if got.Error != "" || got.Status != 200 || got.ID != uid || got.RequestID == "" || got.ClientRequestID != "spa-1" || got.ETag == "" {
		t.Errorf("from the spa origin: %+v", got)
	}
	if got.Error2 != "" || got.ErrorStatus != 401 || got.ErrorCode != "InvalidAuthenticationToken" {
		t.Errorf("the spa cannot read graphdir's 401: %+v", got)
	}

	sc = browsertest.Eval(fetchMe, arg)
	sc.URL = evil.Page("/", html)
	got = result{}
	b.Run(t, sc).Decode(t, &got)
	if got.Error == "" || got.Status != 0 || got.Error2 == "" {
		t.Errorf("from an unregistered origin the browser must refuse: %+v", got)
	}
}
