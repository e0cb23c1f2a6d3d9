package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

// pngOf encodes a w x h PNG; noisy pixels make it incompressible (large).
func pngOf(t *testing.T, w, h int, noisy bool) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			c := color.RGBA{0x20, 0x40, 0x80, 0xff}
			if noisy {
				c = color.RGBA{uint8(r.UintN(256)), uint8(r.UintN(256)), uint8(r.UintN(256)), 0xff}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (s *stack) brandingURL(tenant string) string {
	return "/v1.0/organization/" + tenant + "/branding"
}

// putLogo PUTs image bytes with a Content-Type.
func (s *stack) putLogo(path, token, ctype string, data []byte) *response {
	s.t.Helper()
	req, err := http.NewRequest("PUT", s.srv.URL+path, bytes.NewReader(data))
	if err != nil {
		s.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return s.roundTrip(req)
}

// brandingSnapshot fingerprints the branding tables, to prove a refused
// request wrote nothing.
func (s *stack) brandingSnapshot() string {
	s.t.Helper()
	var out string
	err := s.db.store.DB().QueryRow(`SELECT coalesce(md5(string_agg(b::text, '|' ORDER BY b.tenant_id, b.locale)), '') ||
		(SELECT coalesce(md5(string_agg(v::text, '|' ORDER BY v.tenant_id)), '') FROM organizational_branding_versions v)
		FROM organizational_branding b`).Scan(&out)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func TestBranding_Lifecycle(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("OrganizationalBranding.ReadWrite.All")
	reader := s.appToken("OrganizationalBranding.Read.All")
	member := s.userToken(s.rawUser(s.tenant, "member@"+s.domain), "User.Read")
	base := s.brandingURL(s.tenant)
	ctx := context.Background()
	pages := directory.NewService(s.db.store) // another instance, as the hosted pages hold one

	if r := s.do("GET", base, reader, nil); r.Status != 404 || r.ErrorCode(t) != "Request_ResourceNotFound" {
		t.Fatalf("branding before any is set: %d %s", r.Status, r.Body)
	}
	if pb, err := pages.Branding(ctx, s.tenant, "en"); err != nil || pb.TenantID != s.tenant || pb.SignInPageText != "" || pb.BannerLogoPath != "" {
		t.Fatalf("page branding before any is set: %+v %v", pb, err)
	}

	r := s.do("PATCH", base, admin, `{"@odata.type":"#microsoft.graph.organizationalBranding","backgroundColor":"#0a1B2c","signInPageText":"Hello\nworld","usernameHintText":"you@example.com"}`)
	if r.Status != 204 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	for _, tok := range []string{reader, member, admin} {
		r = s.do("GET", base, tok, nil)
		want := `{"@odata.context":"` + s.srv.URL + `/v1.0/$metadata#organization('` + s.tenant + `')/branding/$entity","id":"0","backgroundColor":"#0a1B2c",` +
			`"bannerLogoRelativeUrl":null,"cdnList":["` + strings.TrimPrefix(s.srv.URL, "https://") + `"],"signInPageText":"Hello\nworld","squareLogoRelativeUrl":null,"usernameHintText":"you@example.com"}`
		if r.Status != 200 || string(r.Body) != want {
			t.Fatalf("GET:\n got %d %s\nwant %s", r.Status, r.Body, want)
		}
	}
	// The page instance cached nothing stale: the change shows at once.
	pb, err := pages.Branding(ctx, s.tenant, "")
	if err != nil || pb.BackgroundColor != "#0a1B2c" || pb.SignInPageText != "Hello\nworld" || pb.UsernameHintText != "you@example.com" {
		t.Fatalf("page branding: %+v %v", pb, err)
	}

	// A null clears one property; the others stay.
	if r = s.do("PATCH", base, admin, `{"usernameHintText":null}`); r.Status != 204 {
		t.Fatalf("PATCH null: %d %s", r.Status, r.Body)
	}
	if pb2, _ := pages.Branding(ctx, s.tenant, ""); pb2.UsernameHintText != "" || pb2.SignInPageText != "Hello\nworld" || pb2.Version <= pb.Version {
		t.Fatalf("after clearing: %+v (was version %d)", pb2, pb.Version)
	}

	// Logos: PUT bytes, GET them back through Graph and at the public URL.
	banner := pngOf(t, 200, 30, false)
	if r = s.putLogo(base+"/bannerLogo", admin, "image/png", banner); r.Status != 204 {
		t.Fatalf("PUT bannerLogo: %d %s", r.Status, r.Body)
	}
	square := jpegOf(t, 240, 240)
	if r = s.putLogo(base+"/squareLogo", admin, "application/octet-stream", square); r.Status != 204 {
		t.Fatalf("PUT squareLogo: %d %s", r.Status, r.Body)
	}
	r = s.do("GET", base+"/bannerLogo", reader, nil)
	if r.Status != 200 || !bytes.Equal(r.Body, banner) || r.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET bannerLogo: %d %s", r.Status, r.Header)
	}
	got := s.do("GET", base, reader, nil).JSON(t)
	rel, _ := got["bannerLogoRelativeUrl"].(string)
	if !strings.HasPrefix(rel, s.tenant+"/branding/bannerLogo?ts=") || got["squareLogoRelativeUrl"] == nil {
		t.Fatalf("relative URLs: %v", got)
	}
	pub := s.do("GET", "/"+rel, "", nil)
	if pub.Status != 200 || !bytes.Equal(pub.Body, banner) || pub.Header.Get("Content-Type") != "image/png" ||
		pub.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(pub.Header.Get("Content-Security-Policy"), "sandbox") ||
		pub.Header.Get("ETag") == "" {
		t.Fatalf("public logo: %d %v", pub.Status, pub.Header)
	}
	if r = s.do("GET", "/"+rel, "", nil, "If-None-Match", pub.Header.Get("ETag")); r.Status != http.StatusNotModified || len(r.Body) != 0 {
		t.Fatalf("revalidation: %d", r.Status)
	}
	pb, _ = pages.Branding(ctx, s.tenant, "en-US")
	if pb.BannerLogoPath == "" || pb.SquareLogoPath == "" || !strings.HasPrefix(pb.BannerLogoPath, "/"+s.tenant+"/branding/bannerLogo?v=") {
		t.Fatalf("page logo paths: %+v", pb)
	}
	if r = s.do("GET", pb.SquareLogoPath, "", nil); r.Status != 200 || !bytes.Equal(r.Body, square) || r.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("square logo at the page path: %d %v", r.Status, r.Header)
	}

	// Localizations: POST (the id is canonicalised), list, PATCH, GET.
	r = s.do("POST", base+"/localizations", admin, `{"id":"fr-fr","signInPageText":"Bonjour"}`)
	if r.Status != 201 || r.Header.Get("Location") != s.srv.URL+base+"/localizations/fr-FR" {
		t.Fatalf("POST localization: %d %s %v", r.Status, r.Body, r.Header)
	}
	if loc := r.JSON(t); loc["id"] != "fr-FR" || loc["signInPageText"] != "Bonjour" || loc["backgroundColor"] != nil {
		t.Fatalf("created localization: %s", r.Body)
	}
	// A conflict is Graph's 400 (graphdir's one mapping of conflicts).
	if r = s.do("POST", base+"/localizations", admin, `{"id":"fr-FR"}`); r.Status != 400 || !strings.Contains(string(r.Body), "already exists") {
		t.Fatalf("duplicate localization: %d %s", r.Status, r.Body)
	}
	if r = s.do("PATCH", base+"/localizations/fr-FR", admin, `{"usernameHintText":"vous@exemple.fr"}`); r.Status != 204 {
		t.Fatalf("PATCH localization: %d %s", r.Status, r.Body)
	}
	r = s.do("GET", base+"/localizations", reader, nil)
	list := r.JSON(t)["value"].([]any)
	if r.Status != 200 || len(list) != 2 || list[0].(map[string]any)["id"] != "0" || list[1].(map[string]any)["id"] != "fr-FR" {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	if r = s.do("GET", base+"/localizations/0", reader, nil); r.Status != 200 || r.JSON(t)["backgroundColor"] != "#0a1B2c" {
		t.Fatalf("localization 0 is the default: %d %s", r.Status, r.Body)
	}
	if r = s.do("GET", base, reader, nil, "Accept-Language", "fr-FR"); r.Status != 200 || r.JSON(t)["id"] != "fr-FR" {
		t.Fatalf("GET with Accept-Language: %d %s", r.Status, r.Body)
	}
	if r = s.do("GET", base, reader, nil, "Accept-Language", "de-DE"); r.Status != 200 || r.JSON(t)["id"] != "0" {
		t.Fatalf("GET with another Accept-Language: %d %s", r.Status, r.Body)
	}

	// The pages: fr-CA falls back to fr-FR, each unset property to the
	// default; de gets the default alone.
	pb, err = pages.Branding(ctx, strings.ToUpper(s.tenant), "fr-CA")
	if err != nil || pb.Locale != "fr-FR" || pb.SignInPageText != "Bonjour" || pb.UsernameHintText != "vous@exemple.fr" ||
		pb.BackgroundColor != "#0a1B2c" || !strings.HasPrefix(pb.BannerLogoPath, "/"+s.tenant+"/branding/bannerLogo?") {
		t.Fatalf("fr-CA: %+v %v", pb, err)
	}
	if pb, _ = pages.Branding(ctx, s.tenant, "de"); pb.Locale != "" || pb.SignInPageText != "Hello\nworld" {
		t.Fatalf("de: %+v", pb)
	}

	// A localization's own logo wins over the default's.
	frBanner := pngOf(t, 100, 20, false)
	if r = s.putLogo(base+"/localizations/fr-FR/bannerLogo", admin, "image/png", frBanner); r.Status != 204 {
		t.Fatalf("PUT localization logo: %d %s", r.Status, r.Body)
	}
	pb, _ = pages.Branding(ctx, s.tenant, "fr")
	if !strings.HasPrefix(pb.BannerLogoPath, "/"+s.tenant+"/branding/localizations/fr-FR/bannerLogo?v=") {
		t.Fatalf("localized logo path: %+v", pb)
	}
	if r = s.do("GET", pb.BannerLogoPath, "", nil); r.Status != 200 || !bytes.Equal(r.Body, frBanner) {
		t.Fatalf("localized public logo: %d", r.Status)
	}
	// Graph: images go first, then the localization.
	if r = s.do("DELETE", base+"/localizations/fr-FR", admin, nil); r.Status != 400 {
		t.Fatalf("DELETE with a logo: %d %s", r.Status, r.Body)
	}
	if r = s.putLogo(base+"/localizations/fr-FR/bannerLogo", admin, "", nil); r.Status != 204 {
		t.Fatalf("remove logo: %d %s", r.Status, r.Body)
	}
	if r = s.do("DELETE", base+"/localizations/fr-FR", admin, nil); r.Status != 204 {
		t.Fatalf("DELETE: %d %s", r.Status, r.Body)
	}
	if r = s.do("GET", base+"/localizations/fr-FR", reader, nil); r.Status != 404 {
		t.Fatalf("deleted localization: %d", r.Status)
	}
	if pb, _ = pages.Branding(ctx, s.tenant, "fr"); pb.Locale != "" || pb.SignInPageText != "Hello\nworld" {
		t.Fatalf("after delete: %+v", pb)
	}
	if r = s.do("GET", "/"+s.tenant+"/branding/localizations/fr-FR/bannerLogo", "", nil); r.Status != 404 {
		t.Fatalf("deleted logo: %d", r.Status)
	}

	// Every write is audited, and so is a refused one.
	if r = s.do("PATCH", base, reader, `{"signInPageText":"no"}`); r.Status != 403 {
		t.Fatalf("reader PATCH: %d", r.Status)
	}
	if n := s.flowAuditCount("Update company branding", "failure"); n != 1 {
		t.Errorf("%d refused-write audit events, want 1", n)
	}
	for act, want := range map[string]int{"Update company branding": 7, "Add company branding localization": 1, "Delete company branding localization": 1} {
		if n := s.flowAuditCount(act, "success"); n != want {
			t.Errorf("%d audit events %q, want %d", n, act, want)
		}
	}
}

// TestBranding_Hostile: bad values, bodies, images, keys and callers are
// refused with the Graph envelope, never a 5xx, and change nothing.
func TestBranding_Hostile(t *testing.T) {
	s := newStack(t)
	other := s.newTenant("other-brand.example")
	admin := s.appToken("OrganizationalBranding.ReadWrite.All")
	base := s.brandingURL(s.tenant)
	if r := s.do("PATCH", base, admin, `{"signInPageText":"x"}`); r.Status != 204 {
		t.Fatalf("seed: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", base+"/localizations", admin, `{"id":"de"}`); r.Status != 201 {
		t.Fatalf("seed localization: %d %s", r.Status, r.Body)
	}
	refuse := func(name string, r *response, status int, target string) {
		t.Helper()
		if r.Status != status {
			t.Fatalf("%s: %d, want %d: %s", name, r.Status, status, r.Body)
		}
		r.ErrorCode(t)
		if target != "" {
			if e := r.JSON(t)["error"].(map[string]any); e["target"] != target {
				t.Fatalf("%s: error does not name %s: %s", name, target, r.Body)
			}
		}
	}
	before := s.brandingSnapshot()
	long := strings.Repeat("é", directory.MaxSignInPageText+1)
	for _, c := range []struct {
		name, body string
		target     string
	}{
		{"colour word", `{"backgroundColor":"red"}`, "backgroundColor"},
		{"colour 5 digits", `{"backgroundColor":"#12345"}`, "backgroundColor"},
		{"colour not hex", `{"backgroundColor":"#GGGGGG"}`, "backgroundColor"},
		{"colour css injection", `{"backgroundColor":"#fff;background:url(//evil)"}`, "backgroundColor"},
		{"colour number", `{"backgroundColor":123}`, "backgroundColor"},
		{"text too long", `{"signInPageText":"` + long + `"}`, "signInPageText"},
		{"hint too long", `{"usernameHintText":"` + strings.Repeat("a", directory.MaxUsernameHintText+1) + `"}`, "usernameHintText"},
		{"hint newline", `{"usernameHintText":"a\nb"}`, "usernameHintText"},
		{"text control", `{"signInPageText":"a\u0007b"}`, "signInPageText"},
		{"text object", `{"signInPageText":{"a":1}}`, "signInPageText"},
		{"unknown", `{"backgroundColour":"#fff"}`, "backgroundColour"},
		{"case", `{"BackgroundColor":"#fff"}`, "BackgroundColor"},
		{"custom css", `{"customCSS":"body{}"}`, "customCSS"},
		{"stream in json", `{"bannerLogo":"aGVsbG8="}`, "bannerLogo"},
		{"unsupported", `{"customTermsOfUseUrl":"https://x"}`, "customTermsOfUseUrl"},
		{"read-only id", `{"id":"0"}`, "id"},
		{"read-only cdnList", `{"cdnList":[]}`, "cdnList"},
		{"wrong type", `{"@odata.type":"#microsoft.graph.user"}`, "@odata.type"},
		{"duplicate", `{"signInPageText":"a","signInPageText":"b"}`, "signInPageText"},
	} {
		refuse(c.name, s.do("PATCH", base, admin, c.body), 400, c.target)
		refuse(c.name+" (localization)", s.do("PATCH", base+"/localizations/de", admin, c.body), 400, c.target)
	}
	refuse("not an object", s.do("PATCH", base, admin, `[]`), 400, "")
	refuse("not json", s.do("PATCH", base, admin, `{`), 400, "")
	refuse("text/plain", s.do("PATCH", base, admin, nil, "Content-Type", "text/plain"), 415, "")
	refuse("query", s.do("PATCH", base+"?$top=1", admin, `{}`), 400, "")

	// Localization ids.
	for _, id := range []string{"0", "default", "", "fr_FR", "../x", "<script>", "x", strings.Repeat("a", 40), "en-US-x-" + strings.Repeat("a", 30)} {
		refuse("POST id "+id, s.do("POST", base+"/localizations", admin, `{"id":"`+id+`"}`), 400, "id")
	}
	refuse("POST no id", s.do("POST", base+"/localizations", admin, `{"signInPageText":"x"}`), 400, "id")
	refuse("POST id number", s.do("POST", base+"/localizations", admin, `{"id":5}`), 400, "id")
	for _, key := range []string{"fr_FR", "%3Cscript%3E", "zz-" + strings.Repeat("a", 40), "%00"} {
		refuse("GET key "+key, s.do("GET", base+"/localizations/"+key, admin, nil), 404, "")
		refuse("PATCH key "+key, s.do("PATCH", base+"/localizations/"+key, admin, `{}`), 404, "")
		refuse("PUT logo key "+key, s.putLogo(base+"/localizations/"+key+"/bannerLogo", admin, "image/png", pngOf(t, 10, 10, false)), 404, "")
	}
	refuse("PATCH missing localization", s.do("PATCH", base+"/localizations/it", admin, `{}`), 404, "")
	refuse("DELETE the default", s.do("DELETE", base+"/localizations/0", admin, nil), 400, "")
	refuse("DELETE missing", s.do("DELETE", base+"/localizations/it", admin, nil), 404, "")

	// Images: only PNG and JPEG within Graph's bounds, typed by their bytes.
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>`)
	var gifb bytes.Buffer
	if err := gif.Encode(&gifb, image.NewPaletted(image.Rect(0, 0, 10, 10), []color.Color{color.Black}), nil); err != nil {
		t.Fatal(err)
	}
	big := pngOf(t, 240, 240, true)
	if len(big) <= 10<<10 {
		t.Fatalf("noisy PNG only %d bytes", len(big))
	}
	for _, c := range []struct {
		name, ctype string
		data        []byte
		status      int
	}{
		{"svg as png", "image/png", svg, 400},
		{"svg", "image/svg+xml", svg, 415},
		{"gif", "image/png", gifb.Bytes(), 400},
		{"banner too wide", "image/png", pngOf(t, 300, 36, false), 400},
		{"banner too high", "image/png", pngOf(t, 245, 37, false), 400},
		{"too many bytes", "image/png", big, 400},
		{"truncated png", "image/png", pngOf(t, 10, 10, false)[:20], 400},
		{"png magic only", "image/png", []byte("\x89PNG\r\n\x1a\n"), 400},
		{"jpeg garbage", "image/jpeg", []byte{0xFF, 0xD8, 0xFF, 0, 1, 2}, 400},
		{"html", "text/html", []byte("<html>"), 415},
		{"huge", "image/png", bytes.Repeat([]byte{0}, 300<<10), 413},
	} {
		refuse(c.name, s.putLogo(base+"/bannerLogo", admin, c.ctype, c.data), c.status, "")
	}
	refuse("square too big", s.putLogo(base+"/squareLogo", admin, "image/png", pngOf(t, 241, 240, false)), 400, "")
	refuse("unknown stream", s.putLogo(base+"/backgroundImage", admin, "image/png", pngOf(t, 10, 10, false)), 404, "")
	refuse("gzip", s.do("PUT", base+"/bannerLogo", admin, pngOf(t, 10, 10, false), "Content-Type", "image/png", "Content-Encoding", "gzip"), 415, "")

	// Keys and tenants: another tenant's branding is not found, whatever the caller.
	for _, org := range []string{other, "not-a-guid", "%27" + other + "%27", strings.Repeat("9", 300)} {
		refuse("GET org "+org, s.do("GET", "/v1.0/organization/"+org+"/branding", admin, nil), 404, "")
		refuse("PATCH org "+org, s.do("PATCH", "/v1.0/organization/"+org+"/branding", admin, `{"signInPageText":"pwned"}`), 404, "")
	}
	// Public logo URLs: unknown tenants, locales and queries.
	refuse("public unknown tenant", s.do("GET", "/"+other+"/branding/bannerLogo", "", nil), 404, "")
	refuse("public bad tenant", s.do("GET", "/x/branding/bannerLogo", "", nil), 404, "")
	refuse("public bad locale", s.do("GET", "/"+s.tenant+"/branding/localizations/%3Cx%3E/bannerLogo", "", nil), 404, "")
	refuse("public query", s.do("GET", "/"+s.tenant+"/branding/bannerLogo?x=1", "", nil), 400, "")
	refuse("public unset", s.do("GET", "/"+s.tenant+"/branding/squareLogo", "", nil), 404, "")
	if after := s.brandingSnapshot(); after != before {
		t.Fatal("a refused request changed the branding")
	}
	if pb, err := directory.NewService(s.db.store).Branding(context.Background(), "not-a-guid", "en"); err == nil || directory.KindOf(err) != directory.KindNotFound {
		t.Fatalf("page branding of a malformed tenant: %+v %v", pb, err)
	}
}
