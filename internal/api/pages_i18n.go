package api

import (
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"
	"golang.org/x/text/language"

	"github.com/graphdir/graphdir/internal/directory"
)

// The hosted pages' languages. English is the source: a page string is
// its own English text and the key of every other catalogue, so a string
// missing from a catalogue shows in English rather than not at all
// (TestPageCatalogues keeps the catalogues complete).
var (
	pageLanguages = []language.Tag{language.English, language.French}
	pageMatcher   = language.NewMatcher(pageLanguages)
	catalogues    = map[string]map[string]string{"fr": catalogueFR}
)

// PageLocales are the hosted pages' languages as BCP 47 tags (English
// first), from the catalogue list itself: discovery publishes them as
// ui_locales_supported.
func PageLocales() []string {
	out := make([]string, len(pageLanguages))
	for i, t := range pageLanguages {
		out[i] = t.String()
	}
	return out
}

// uiLocalesKey holds the request's ui_locales in the Gin context, set once
// the authorization request (or its flow) is known.
const uiLocalesKey = "gd.ui_locales"

// pageLang picks the page language: ui_locales first (space-separated,
// most preferred first), then Accept-Language; English when none matches.
func pageLang(c *gin.Context) string {
	var prefs []string
	if v, ok := c.Get(uiLocalesKey); ok {
		prefs = append(prefs, strings.Fields(v.(string))...)
	}
	if al := c.GetHeader("Accept-Language"); al != "" && len(al) <= 512 {
		prefs = append(prefs, al)
	}
	if len(prefs) == 0 {
		return "en"
	}
	_, i := language.MatchStrings(pageMatcher, prefs...)
	base, _ := pageLanguages[i].Base()
	return base.String()
}

// translate is s in lang (s itself in English or when missing).
func translate(lang, s string) string {
	if t, ok := catalogues[lang][s]; ok {
		return t
	}
	return s
}

// T translates a template's text into the page's language.
func (d pageData) T(s string) string { return translate(d.Lang, s) }

// tr translates a message with arguments for the request's page.
func tr(c *gin.Context, msg string, args ...any) string {
	return fmt.Sprintf(translate(pageLang(c), msg), args...)
}

// localize translates the page's Go-side texts (titles, messages,
// errors); the texts built with tr are already translated and pass
// unchanged.
func (d *pageData) localize() {
	for _, p := range []*string{&d.Title, &d.Error, &d.Message, &d.Intro, &d.Heading, &d.Button, &d.PasswordError} {
		*p = translate(d.Lang, *p)
	}
	for i := range d.Attributes {
		d.Attributes[i].Error = translate(d.Lang, d.Attributes[i].Error)
	}
}

// pageBranding is the tenant's branding for the page (zero when the
// tenant has none or it cannot be read: a page never fails for its look).
func (s *server) pageBranding(c *gin.Context, lang string) directory.PageBranding {
	if s.browser == nil || s.browser.Branding == nil {
		return directory.PageBranding{}
	}
	b, err := s.browser.Branding.Branding(c.Request.Context(), strings.ToLower(c.Param("tenant")), lang)
	if err != nil {
		return directory.PageBranding{}
	}
	return b
}
