package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// Branding at the edge: Graph's /organization/{id}/branding
// (organizationalBranding) and its localizations, the subset README
// "Branding" lists, and the public logo URLs the hosted pages use.

// Branding serves the branding routes; *directory.Service implements it.
type Branding interface {
	// AuthorizeBranding checks, before anything is parsed, that the caller
	// may read (or write) branding; refused writes are audited as act.
	AuthorizeBranding(ctx context.Context, write bool, act directory.Activity, target string) error
	GetBranding(ctx context.Context, orgID, locale string) (*directory.Branding, error)
	ListBrandingLocalizations(ctx context.Context, orgID string) ([]*directory.Branding, error)
	UpdateBranding(ctx context.Context, orgID, locale string, create bool, in directory.BrandingInput) (*directory.Branding, error)
	DeleteBrandingLocalization(ctx context.Context, orgID, locale string) error
	PutBrandingLogo(ctx context.Context, orgID, locale, name string, data []byte) error
	GetBrandingLogo(ctx context.Context, orgID, locale, name string) (*directory.BrandingImageData, error)
	ServeBrandingLogo(ctx context.Context, tenantID, localeID, name string) (*directory.BrandingImageData, error)
}

// Paths of the branding routes.
const (
	brandingPath      = apiPrefix + "/organization/:id/branding"
	localizationsPath = brandingPath + "/localizations"
	localizationPath  = localizationsPath + "/:locale"
	odataTypeBranding = "#microsoft.graph.organizationalBranding"
	odataTypeBrandLoc = "#microsoft.graph.organizationalBrandingLocalization"
)

// logoPaths returns path/bannerLogo and path/squareLogo.
func logoPaths(path string) []string {
	return []string{path + "/" + directory.LogoBanner, path + "/" + directory.LogoSquare}
}

// logoName is the stream a logo route serves: the path's last segment.
func logoName(c *gin.Context) string {
	p := c.FullPath()
	return p[strings.LastIndexByte(p, '/')+1:]
}

// authorizeBranding is the access check of the branding routes.
func (s *server) authorizeBranding(write bool, act directory.Activity) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.dir.AuthorizeBranding(c.Request.Context(), write, act, c.Param("id")); err != nil {
			s.writeError(c, err)
			return
		}
		c.Next()
		if write {
			s.recordRefusal(c, act)
		}
	}
}

// brandingLocale reads the :locale path key ("0" is the default).
func brandingLocale(c *gin.Context) (string, error) {
	return directory.ParseBrandingLocale(c.Param("locale"))
}

// ----- bodies

// brandingTable decodes the string properties of a branding or
// localization body. Graph's other properties are refused by name, never
// dropped: custom CSS is off in graphdir, and the streams are written with
// PUT on their own URLs, as Graph requires.
func brandingTable(odataType, noun string, withID bool) *bodyTable[brandingBody] {
	str := func(set func(*brandingBody, *directory.Nullable[string])) func(json.RawMessage, *brandingBody) error {
		return func(raw json.RawMessage, into *brandingBody) error {
			n := &directory.Nullable[string]{}
			if string(raw) != "null" {
				var v string
				if err := json.Unmarshal(raw, &v); err != nil {
					return err
				}
				n.Value = &v
			}
			set(into, n)
			return nil
		}
	}
	fields := []bodyField[brandingBody]{
		{name: "backgroundColor", decodeNull: true, decode: str(func(b *brandingBody, v *directory.Nullable[string]) { b.in.BackgroundColor = v })},
		{name: "signInPageText", decodeNull: true, decode: str(func(b *brandingBody, v *directory.Nullable[string]) { b.in.SignInPageText = v })},
		{name: "usernameHintText", decodeNull: true, decode: str(func(b *brandingBody, v *directory.Nullable[string]) { b.in.UsernameHintText = v })},
		{name: "customCSS", refuse: "Property 'customCSS' is not supported: custom CSS is off in graphdir (README \"Branding\")."},
		{name: "bannerLogo", refuse: "Property 'bannerLogo' is a stream: PUT the image to .../branding/bannerLogo."},
		{name: "squareLogo", refuse: "Property 'squareLogo' is a stream: PUT the image to .../branding/squareLogo."},
	}
	if withID {
		fields = append(fields, bodyField[brandingBody]{name: "id", decode: func(raw json.RawMessage, into *brandingBody) error {
			return json.Unmarshal(raw, &into.id)
		}})
	} else {
		fields = append(fields, readOnlyFields[brandingBody]("id")...)
	}
	fields = append(fields, readOnlyFields[brandingBody]("cdnList", "bannerLogoRelativeUrl", "squareLogoRelativeUrl",
		"backgroundImageRelativeUrl", "customCSSRelativeUrl", "faviconRelativeUrl", "headerLogoRelativeUrl", "squareLogoDarkRelativeUrl")...)
	fields = append(fields, unsupportedFields[brandingBody]("backgroundImage", "favicon", "headerLogo", "squareLogoDark",
		"headerBackgroundColor", "customAccountResetCredentialsUrl", "customCannotAccessYourAccountText", "customCannotAccessYourAccountUrl",
		"customForgotMyPasswordText", "customPrivacyAndCookiesText", "customPrivacyAndCookiesUrl", "customResetItNowText",
		"customTermsOfUseText", "customTermsOfUseUrl", "loginPageLayoutConfiguration", "loginPageTextVisibilitySettings",
		"contentCustomization", "localizations")...)
	return &bodyTable[brandingBody]{resource: strings.TrimPrefix(odataType, "#"), odataType: odataType, noun: noun, fields: fields}
}

// brandingBody is a decoded branding body.
type brandingBody struct {
	id string // a new localization's id (POST only)
	in directory.BrandingInput
}

var (
	brandingBodyTable     = brandingTable(odataTypeBranding, "a branding", false)
	localizationBodyTable = brandingTable(odataTypeBrandLoc, "a branding localization", false)
	newLocalizationTable  = brandingTable(odataTypeBrandLoc, "a branding localization", true)
)

// ----- JSON

// brandingJSON is Graph's organizationalBranding(Localization) subset, in
// Graph's member order. The logo URLs are graphdir's public logo paths
// relative to the public URL, and cdnList is the public host: Graph's
// https://{cdnList[0]}/{relativeUrl} is the logo.
type brandingJSON struct {
	Context               string   `json:"@odata.context,omitempty"`
	ID                    string   `json:"id"`
	BackgroundColor       *string  `json:"backgroundColor"`
	BannerLogoRelativeURL *string  `json:"bannerLogoRelativeUrl"`
	CDNList               []string `json:"cdnList"`
	SignInPageText        *string  `json:"signInPageText"`
	SquareLogoRelativeURL *string  `json:"squareLogoRelativeUrl"`
	UsernameHintText      *string  `json:"usernameHintText"`
}

func (s *server) brandingObject(r *http.Request, b *directory.Branding, context string) brandingJSON {
	out := brandingJSON{Context: context, ID: directory.BrandingLocaleID(b.Locale), BackgroundColor: b.BackgroundColor,
		SignInPageText: b.SignInPageText, UsernameHintText: b.UsernameHintText, CDNList: []string{}}
	if u, err := url.Parse(s.base(r)); err == nil && u.Host != "" {
		out.CDNList = []string{u.Host}
	}
	rel := func(name string) *string {
		v := strings.TrimPrefix(directory.BrandingLogoPath(b.TenantID, b.Locale, name), "/") + "?ts=" + strconv.FormatInt(b.UpdatedAt.UnixMicro(), 10)
		return &v
	}
	if b.BannerLogo != nil {
		out.BannerLogoRelativeURL = rel(directory.LogoBanner)
	}
	if b.SquareLogo != nil {
		out.SquareLogoRelativeURL = rel(directory.LogoSquare)
	}
	return out
}

// brandingProperties are the members of brandingJSON, in order; $select
// picks among them.
var brandingProperties = []string{"id", "backgroundColor", "bannerLogoRelativeUrl", "cdnList", "signInPageText", "squareLogoRelativeUrl", "usernameHintText"}

// brandingQuery parses the query options of a branding read: $select of
// brandingProperties (Graph: "supports only the $select OData query
// parameter"). sel is nil without $select.
func (s *server) brandingQuery(c *gin.Context, typeName string) ([]string, bool) {
	var sel []string
	_, err := parseOptions(c.Request.URL.RawQuery, queryRules{
		allowed:    routeOptions(c),
		typeName:   typeName,
		selectList: selectListOf(brandingProperties, typeName, &sel),
	})
	if err != nil {
		s.writeError(c, err)
		return nil, false
	}
	if sel != nil && !slices.Contains(sel, "id") {
		sel = append([]string{"id"}, sel...) // Graph always returns the key
	}
	return sel, true
}

// selected returns b as a JSON object of the properties sel names (all
// when sel is nil), in brandingProperties' order.
func (b brandingJSON) selected(sel []string) json.RawMessage {
	full, _ := json.Marshal(b) // strings and string slices: cannot fail
	if sel == nil {
		return full
	}
	var members map[string]json.RawMessage
	_ = json.Unmarshal(full, &members)
	out := []byte{'{'}
	if b.Context != "" {
		out = append(append(out, `"@odata.context":`...), members["@odata.context"]...)
	}
	for _, p := range brandingProperties {
		if !slices.Contains(sel, p) {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(append(appendString(out, p), ':'), members[p]...)
	}
	return append(out, '}')
}

func (s *server) writeBranding(c *gin.Context, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, status, body)
}

func (s *server) brandingContext(c *gin.Context, suffix string) string {
	return s.base(c.Request) + apiPrefix + "/$metadata#organization('" + url.PathEscape(c.Param("id")) + "')/branding" + suffix
}

// ----- handlers

// handleGetBranding serves GET .../branding: the default branding, or the
// localization Accept-Language names exactly (Graph: "0" or "default" is
// the default; graphdir answers the default for any other value).
func (s *server) handleGetBranding(c *gin.Context) {
	sel, ok := s.brandingQuery(c, "organizationalBranding")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	var b *directory.Branding
	var err error
	if l, perr := directory.ParseBrandingLocale(strings.TrimSpace(c.GetHeader("Accept-Language"))); perr == nil && l != "" {
		b, err = s.dir.GetBranding(ctx, c.Param("id"), l)
		if directory.KindOf(err) == directory.KindNotFound {
			b, err = nil, nil
		}
	}
	if b == nil && err == nil {
		b, err = s.dir.GetBranding(ctx, c.Param("id"), "")
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeBranding(c, http.StatusOK, s.brandingObject(c.Request, b, s.brandingContext(c, selectSuffix(sel)+"/$entity")).selected(sel))
}

// handleUpdateBranding serves PATCH .../branding and PATCH
// .../localizations/{locale}: 204.
func (s *server) handleUpdateBranding(c *gin.Context) {
	if err := noQuery(c); err != nil {
		s.writeError(c, err)
		return
	}
	locale, table := "", brandingBodyTable
	if c.Param("locale") != "" {
		l, err := brandingLocale(c)
		if err != nil {
			s.writeError(c, err)
			return
		}
		locale, table = l, localizationBodyTable
	}
	data, err := s.readBody(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	body, err := decodeObject(data, table)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if _, err := s.dir.UpdateBranding(c.Request.Context(), c.Param("id"), locale, false, body.in); err != nil {
		s.writeError(c, err)
		return
	}
	noContent(c)
}

// handleListLocalizations serves GET .../branding/localizations: the
// default branding (id "0") and every localization.
func (s *server) handleListLocalizations(c *gin.Context) {
	sel, ok := s.brandingQuery(c, "organizationalBrandingLocalization")
	if !ok {
		return
	}
	all, err := s.dir.ListBrandingLocalizations(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	items := make([]json.RawMessage, 0, len(all))
	for _, b := range all {
		items = append(items, s.brandingObject(c.Request, b, "").selected(sel))
	}
	s.writeBranding(c, http.StatusOK, struct {
		Context string            `json:"@odata.context"`
		Value   []json.RawMessage `json:"value"`
	}{s.brandingContext(c, "/localizations"+selectSuffix(sel)), items})
}

// handleCreateLocalization serves POST .../branding/localizations: 201
// with the new localization (and the default branding, created with it
// when missing, as Graph does).
func (s *server) handleCreateLocalization(c *gin.Context) {
	if err := noQuery(c); err != nil {
		s.writeError(c, err)
		return
	}
	data, err := s.readBody(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	body, err := decodeObject(data, newLocalizationTable)
	if err != nil {
		s.writeError(c, err)
		return
	}
	locale, err := directory.ParseBrandingLocale(body.id)
	if err != nil || locale == "" {
		s.writeError(c, (&directory.Error{Kind: directory.KindInvalid,
			Message: "Property 'id' is required and must be a language tag such as 'fr-FR' (the default branding is '0' and exists already)."}).WithTarget("id"))
		return
	}
	b, err := s.dir.UpdateBranding(c.Request.Context(), c.Param("id"), locale, true, body.in)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", s.base(c.Request)+apiPrefix+"/organization/"+url.PathEscape(b.TenantID)+"/branding/localizations/"+url.PathEscape(locale))
	s.writeBranding(c, http.StatusCreated, s.brandingObject(c.Request, b, s.brandingContext(c, "/localizations/$entity")))
}

// handleGetLocalization serves GET .../branding/localizations/{locale}.
func (s *server) handleGetLocalization(c *gin.Context) {
	sel, ok := s.brandingQuery(c, "organizationalBrandingLocalization")
	if !ok {
		return
	}
	locale, err := brandingLocale(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	b, err := s.dir.GetBranding(c.Request.Context(), c.Param("id"), locale)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeBranding(c, http.StatusOK, s.brandingObject(c.Request, b, s.brandingContext(c, "/localizations"+selectSuffix(sel)+"/$entity")).selected(sel))
}

// handleDeleteLocalization serves DELETE .../branding/localizations/{locale}: 204.
func (s *server) handleDeleteLocalization(c *gin.Context) {
	if err := noQuery(c); err != nil {
		s.writeError(c, err)
		return
	}
	locale, err := brandingLocale(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.dir.DeleteBrandingLocalization(c.Request.Context(), c.Param("id"), locale); err != nil {
		s.writeError(c, err)
		return
	}
	noContent(c)
}

// maxLogoUpload bounds what a logo PUT reads: well above Graph's 10 KB
// (so an oversized image gets the 400 naming the limit) and far below the
// JSON body limit.
const maxLogoUpload = 256 << 10

// handlePutLogo serves PUT .../bannerLogo and .../squareLogo (default or
// localization): the image bytes, PNG or JPEG; an empty body removes the
// logo. 204.
func (s *server) handlePutLogo(c *gin.Context) {
	if err := noQuery(c); err != nil {
		s.writeError(c, err)
		return
	}
	locale, err := brandingLocale(c)
	if c.Param("locale") == "" {
		locale, err = "", nil
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	data, err := readLogo(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.dir.PutBrandingLogo(c.Request.Context(), c.Param("id"), locale, logoName(c), data); err != nil {
		s.writeError(c, err)
		return
	}
	noContent(c)
}

// readLogo reads a logo upload: Content-Type image/png, image/jpeg or
// application/octet-stream (what Graph's SDKs send for a stream), no
// Content-Encoding. The declared type only gates the request; the stored
// type is read from the bytes.
func readLogo(c *gin.Context) ([]byte, error) {
	r := c.Request
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case r.ContentLength == 0 && r.Header.Get("Content-Type") == "":
		// An empty body removes the logo whatever its (absent) type.
	case err != nil || (mt != "image/png" && mt != "image/jpeg" && mt != "image/jpg" && mt != "application/octet-stream"):
		return nil, errUnsupportedMediaType("A logo must be sent as image/png or image/jpeg (or application/octet-stream).")
	}
	if enc := r.Header.Values("Content-Encoding"); len(enc) > 1 || len(enc) == 1 && !strings.EqualFold(strings.TrimSpace(enc[0]), "identity") {
		return nil, errUnsupportedMediaType("A logo must be sent without Content-Encoding.")
	}
	if r.ContentLength > maxLogoUpload {
		return nil, errEntityTooLarge(maxLogoUpload)
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.Writer, r.Body, maxLogoUpload))
	if isMaxBytes(err) {
		return nil, errEntityTooLarge(maxLogoUpload)
	}
	if err != nil {
		return nil, directory.Errorf(directory.KindBadRequest, "The request body could not be read.")
	}
	return data, nil
}

// handleGetLogo serves GET .../bannerLogo and .../squareLogo through Graph
// (authenticated): the image bytes.
func (s *server) handleGetLogo(c *gin.Context) {
	if err := noQuery(c); err != nil {
		s.writeError(c, err)
		return
	}
	locale, err := brandingLocale(c)
	if c.Param("locale") == "" {
		locale, err = "", nil
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	img, err := s.dir.GetBrandingLogo(c.Request.Context(), c.Param("id"), locale, logoName(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeLogo(c, img, "no-store")
}

// writeLogo writes a stored logo. Its type was read from its bytes when it
// was stored (PNG or JPEG only); nosniff and a sandboxing CSP make sure a
// browser never treats it as anything else.
func writeLogo(c *gin.Context, img *directory.BrandingImageData, cache string) {
	sum := sha256.Sum256(img.Data)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	h := c.Writer.Header()
	h.Set("Content-Type", img.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", cache)
	h.Set("ETag", etag)
	if inm := c.GetHeader("If-None-Match"); inm != "" && inm == etag {
		c.Status(http.StatusNotModified)
		c.Writer.WriteHeaderNow()
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(img.Data)))
	c.Status(http.StatusOK)
	if c.Request.Method != http.MethodHead {
		_, _ = c.Writer.Write(img.Data)
	}
}

// handlePublicLogo serves the logos' public URLs,
// /{tenant}/branding/{logo} and /{tenant}/branding/localizations/{locale}/{logo}:
// no token, as the sign-in pages that show them are public. Cached by
// browsers for five minutes; the pages link them with the branding version
// in the query, so a change shows at once there.
func (s *server) handlePublicLogo(c *gin.Context) {
	if c.Request.URL.RawQuery != "" && !onlyVersionQuery(c.Request.URL.Query()) {
		s.writeError(c, directory.Errorf(directory.KindBadRequest, "A logo URL takes no query but 'v' or 'ts'."))
		return
	}
	img, err := s.dir.ServeBrandingLogo(c.Request.Context(), c.Param("tenant"), c.Param("locale"), logoName(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Cross-Origin-Resource-Policy", "cross-origin")
	writeLogo(c, img, "public, max-age=300")
}

// onlyVersionQuery reports whether q holds nothing but one cache-busting
// v or ts.
func onlyVersionQuery(q url.Values) bool {
	for k, v := range q {
		if (k != "v" && k != "ts") || len(v) != 1 || len(v[0]) > 32 {
			return false
		}
	}
	return true
}
