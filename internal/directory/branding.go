package directory

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/graphdir/graphdir/internal/textlimit"
)

// Branding of the hosted sign-in pages: Graph's organizationalBranding and
// organizationalBrandingLocalization, a documented subset (README
// "Branding"): backgroundColor, signInPageText, usernameHintText, and the
// bannerLogo and squareLogo streams. Custom CSS, background images and the
// other properties are refused, so nothing a tenant sets can run script or
// restyle the pages beyond a colour and two images.

// Branding is one stored branding: the default (Locale "") or one
// localization. The logos are described, not carried: their bytes are read
// on their own (BrandingLogo).
type Branding struct {
	TenantID         string
	Locale           string // "" for the default branding (Graph's id "0")
	BackgroundColor  *string
	SignInPageText   *string
	UsernameHintText *string
	BannerLogo       *BrandingImage
	SquareLogo       *BrandingImage
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// BrandingImage describes a stored logo.
type BrandingImage struct {
	ContentType string // image/png or image/jpeg
	Size        int
}

// BrandingImageData is a stored logo with its bytes.
type BrandingImageData struct {
	ContentType string
	Data        []byte
}

// BrandingInput is a write of the string properties: nil leaves a property
// as it is, a Nullable with a nil Value clears it.
type BrandingInput struct {
	BackgroundColor  *Nullable[string]
	SignInPageText   *Nullable[string]
	UsernameHintText *Nullable[string]
}

// Properties names the properties in, for the audit trail.
func (in BrandingInput) Properties() []string {
	var out []string
	if in.BackgroundColor != nil {
		out = append(out, "backgroundColor")
	}
	if in.SignInPageText != nil {
		out = append(out, "signInPageText")
	}
	if in.UsernameHintText != nil {
		out = append(out, "usernameHintText")
	}
	return out
}

// The branding streams graphdir keeps.
const (
	LogoBanner = "bannerLogo"
	LogoSquare = "squareLogo"
)

// logoLimits are Graph's bounds on the logos: PNG or JPEG, banner at most
// 245x36 pixels, square at most 240x240; both at most 10 KB (Graph
// documents 10 KB for the square logo; the Entra portal applies 10 KB to
// the banner too).
var logoLimits = map[string]struct{ w, h, bytes int }{
	LogoBanner: {245, 36, 10 << 10},
	LogoSquare: {240, 240, 10 << 10},
}

// IsBrandingLogo reports whether name is a logo stream graphdir keeps.
func IsBrandingLogo(name string) bool {
	_, ok := logoLimits[name]
	return ok
}

// Graph's text bounds (organizationalBrandingProperties).
const (
	MaxSignInPageText   = 1024
	MaxUsernameHintText = 64
)

// backgroundColorRE is Graph's hex form ("#FFFFFF"); the three-digit
// short form is accepted too, as CSS reads it the same way.
var backgroundColorRE = regexp.MustCompile(`^#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$`)

// validate checks in's values: colour format, text lengths in characters,
// no control characters (a sign-in page text may hold line breaks).
func (in BrandingInput) validate() error {
	if v := in.BackgroundColor; v != nil && v.Value != nil && !backgroundColorRE.MatchString(*v.Value) {
		return Errorf(KindInvalid, "Property 'backgroundColor' must be a colour in hex format, e.g. #FFFFFF.").WithTarget("backgroundColor")
	}
	if err := brandingText("signInPageText", in.SignInPageText, MaxSignInPageText, true); err != nil {
		return err
	}
	return brandingText("usernameHintText", in.UsernameHintText, MaxUsernameHintText, false)
}

func brandingText(name string, v *Nullable[string], max int, lines bool) error {
	if v == nil || v.Value == nil {
		return nil
	}
	s := *v.Value
	if !utf8.ValidString(s) {
		return Errorf(KindInvalid, "Property '%s' is not valid UTF-8.", name).WithTarget(name)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return Errorf(KindInvalid, "Property '%s' is %d characters long; the limit is %d.", name, n, max).WithTarget(name)
	}
	for _, r := range s {
		if (r == '\n' || r == '\r') && lines {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return Errorf(KindInvalid, "Property '%s' contains a control character.", name).WithTarget(name)
		}
	}
	return nil
}

// ParseBrandingLocale reads a localization id: "0" or "default" (any
// case) is the default branding, returned as ""; anything else must be a
// well-formed language tag, returned in canonical form ("fr-FR").
// KindNotFound otherwise (for a path key) — callers creating a
// localization turn it into KindInvalid.
func ParseBrandingLocale(id string) (string, error) {
	if id == "0" || strings.EqualFold(id, "default") {
		return "", nil
	}
	if id == "" || len(id) > 35 {
		return "", errNotFoundBranding(id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return "", errNotFoundBranding(id)
		}
	}
	tag, err := language.Parse(id)
	if err != nil {
		return "", errNotFoundBranding(id)
	}
	return tag.String(), nil
}

// BrandingLocaleID is Graph's id of a localization: "0" for the default.
func BrandingLocaleID(locale string) string {
	if locale == "" {
		return "0"
	}
	return locale
}

func errNotFoundBranding(id string) *Error {
	return Errorf(KindNotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", textlimit.Clip(id, maxEchoed))
}

// checkLogo checks a logo upload against Graph's limits and returns its
// type, read from its bytes (never from the request's Content-Type): PNG
// or JPEG whose header decodes, within the stream's pixel and byte bounds.
// SVG, GIF and everything else are refused: an SVG is a document that can
// carry script.
func checkLogo(name string, data []byte) (string, error) {
	lim := logoLimits[name]
	if len(data) > lim.bytes {
		return "", Errorf(KindInvalid, "The %s is %d bytes; the limit is %d bytes.", name, len(data), lim.bytes).WithTarget(name)
	}
	var ctype string
	var cfg image.Config
	var err error
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		ctype = "image/png"
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		ctype = "image/jpeg"
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	default:
		return "", Errorf(KindInvalid, "The %s must be a PNG or JPEG image.", name).WithTarget(name)
	}
	if err != nil {
		return "", Errorf(KindInvalid, "The %s is not a readable %s image.", name, strings.TrimPrefix(ctype, "image/")).WithTarget(name)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > lim.w || cfg.Height > lim.h {
		return "", Errorf(KindInvalid, "The %s is %dx%d pixels; it must be at most %dx%d.", name, cfg.Width, cfg.Height, lim.w, lim.h).WithTarget(name)
	}
	return ctype, nil
}

// BrandingStore keeps brandings; every write bumps the tenant's branding
// version in its transaction.
type BrandingStore interface {
	// BrandingVersion returns the tenant's branding version: 0 before
	// any branding write.
	BrandingVersion(ctx context.Context, tenantID string) (int64, error)
	// ListBranding returns the tenant's default branding and
	// localizations, default first, then by locale, with the version they
	// were read at (one snapshot).
	ListBranding(ctx context.Context, tenantID string) ([]*Branding, int64, error)
	// UpsertBranding applies in to the branding of locale. A missing
	// default branding is created; a missing localization is created only
	// when create is set (KindNotFound otherwise), and an existing one with
	// create set is KindConflict. audit (nil: none) is stored in the same
	// transaction.
	UpsertBranding(ctx context.Context, tenantID, locale string, create bool, in BrandingInput, audit *AuditEvent) (*Branding, error)
	// DeleteBrandingLocalization removes a localization (locale != "").
	// KindNotFound; KindInvalid while it holds a logo (as Graph: images
	// first).
	DeleteBrandingLocalization(ctx context.Context, tenantID, locale string, audit *AuditEvent) error
	// PutBrandingLogo replaces (data nil: removes) a logo of locale's
	// branding. The default branding is created when missing; a missing
	// localization is KindNotFound.
	PutBrandingLogo(ctx context.Context, tenantID, locale, name string, img *BrandingImageData, audit *AuditEvent) error
	// BrandingLogo returns a logo's bytes. KindNotFound when the branding
	// or the logo does not exist.
	BrandingLogo(ctx context.Context, tenantID, locale, name string) (*BrandingImageData, error)
}
