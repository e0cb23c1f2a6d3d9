package directory

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/text/language"

	"github.com/graphdir/graphdir/internal/textlimit"
)

// Permissions of the branding API, as Graph documents them for
// organizationalBranding.
const (
	PermOrganizationalBrandingReadAll      = "OrganizationalBranding.Read.All"
	PermOrganizationalBrandingReadWriteAll = "OrganizationalBranding.ReadWrite.All"
	PermOrganizationReadAll                = "Organization.Read.All"
	PermOrganizationReadWriteAll           = "Organization.ReadWrite.All"
)

var (
	// brandingWritePerms write branding, as application permissions or
	// delegated scopes.
	brandingWritePerms = []string{PermOrganizationalBrandingReadWriteAll, PermOrganizationReadWriteAll}
	// brandingAppReadPerms read branding with an app-only token.
	brandingAppReadPerms = []string{PermOrganizationalBrandingReadAll, PermOrganizationalBrandingReadWriteAll, PermOrganizationReadAll, PermOrganizationReadWriteAll}
	// brandingUserReadScopes read branding as a signed-in user: Graph's
	// least privileged is User.Read; any member of the tenant may read it.
	brandingUserReadScopes = append(append([]string{}, selfReadScopes...), brandingAppReadPerms...)
)

// brandingAdminRoles are the directory roles that let a signed-in user
// write branding. Graph's least privileged role, Organizational Branding
// Administrator, is not one of graphdir's built-in roles, so only a Global
// Administrator qualifies.
var brandingAdminRoles = []string{RoleGlobalAdministrator}

// The audit activities of branding writes.
var (
	ActivityUpdateBranding             = Activity{"Update company branding", "Update", "DirectoryManagement", "Organization"}
	ActivityAddBrandingLocalization    = Activity{"Add company branding localization", "Add", "DirectoryManagement", "Organization"}
	ActivityDeleteBrandingLocalization = Activity{"Delete company branding localization", "Delete", "DirectoryManagement", "Organization"}
)

// AuthorizeBranding checks that p may attempt a read (write false) or a
// write of branding at all, from the token alone. A delegated writer's
// directory role is checked next, by the Service method.
func AuthorizeBranding(p *Principal, write bool) error {
	switch {
	case p == nil:
		return Errorf(KindUnauthenticated, "Access token is empty.")
	case write && (p.IsApp() || p.IsUser()):
		if p.Has(brandingWritePerms...) {
			return nil
		}
		return errNeedsPermission("Writing the organization's branding", brandingWritePerms)
	case p.IsApp():
		if p.Has(brandingAppReadPerms...) {
			return nil
		}
		return errNeedsPermission("Reading the organization's branding", brandingAppReadPerms)
	case p.IsUser():
		if p.Has(brandingUserReadScopes...) {
			return nil
		}
		return errNeedsPermission("Reading the organization's branding", []string{PermUserRead, PermOrganizationalBrandingReadAll})
	}
	return Errorf(KindUnauthenticated, "Access token validation failure.")
}

// AuthorizeBranding is AuthorizeBranding for the HTTP edge, which calls it
// before parsing anything; a refused write is recorded as act on target.
func (s *Service) AuthorizeBranding(ctx context.Context, write bool, act Activity, target string) error {
	err := AuthorizeBranding(PrincipalFrom(ctx), write)
	if err != nil && write {
		s.RecordDenied(ctx, act, target, err)
	}
	return err
}

// brandingCaller resolves the caller of a branding method and the tenant
// the path names, which must be the caller's own (any other is not
// found: a tenant's existence is not revealed to another).
func (s *Service) brandingCaller(ctx context.Context, orgID string, write bool) (*Principal, error) {
	p := PrincipalFrom(ctx)
	if err := AuthorizeBranding(p, write); err != nil {
		return nil, err
	}
	if len(orgID) >= 2 && orgID[0] == '\'' && orgID[len(orgID)-1] == '\'' {
		orgID = orgID[1 : len(orgID)-1]
	}
	if !IsGUID(orgID) || normalizeGUID(orgID) != normalizeGUID(p.TenantID) {
		return nil, errNotFoundBranding(orgID)
	}
	if write && p.IsUser() {
		a, err := s.accessOf(ctx, p)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(a.RoleIDs, func(id string) bool { return slices.Contains(brandingAdminRoles, id) }) {
			return nil, &Error{Kind: KindForbidden,
				Message: "Insufficient privileges to complete the operation. Managing branding needs the Global Administrator role (Entra: Organizational Branding Administrator)."}
		}
	}
	return p, nil
}

func (s *Service) beginBranding(ctx context.Context, p *Principal, act Activity, locale string, props ...string) *AuditEvent {
	return s.ext.audit.BeginFor(ctx, p, act, AuditTarget{ID: normalizeGUID(p.TenantID), DisplayName: "branding " + BrandingLocaleID(locale),
		ModifiedProperties: modifiedProperties(props)})
}

// GetBranding returns the branding of locale ("" the default) of the
// tenant orgID names. KindNotFound when it has none.
func (s *Service) GetBranding(ctx context.Context, orgID, locale string) (*Branding, error) {
	p, err := s.brandingCaller(ctx, orgID, false)
	if err != nil {
		return nil, err
	}
	all, _, err := s.store.ListBranding(ctx, normalizeGUID(p.TenantID))
	if err != nil {
		return nil, err
	}
	for _, b := range all {
		if b.Locale == locale {
			return b, nil
		}
	}
	return nil, errNotFoundBranding(BrandingLocaleID(locale))
}

// ListBrandingLocalizations returns the tenant's brandings, the default
// (id "0") first, as Graph lists them.
func (s *Service) ListBrandingLocalizations(ctx context.Context, orgID string) ([]*Branding, error) {
	p, err := s.brandingCaller(ctx, orgID, false)
	if err != nil {
		return nil, err
	}
	all, _, err := s.store.ListBranding(ctx, normalizeGUID(p.TenantID))
	return all, err
}

// UpdateBranding applies in to the branding of locale (create: a new
// localization, KindConflict when it exists). The default branding is
// created by its first write. KindInvalid naming the property,
// KindNotFound, KindForbidden.
func (s *Service) UpdateBranding(ctx context.Context, orgID, locale string, create bool, in BrandingInput) (_ *Branding, err error) {
	p, err := s.brandingCaller(ctx, orgID, true)
	if err != nil {
		return nil, err
	}
	act := ActivityUpdateBranding
	if create {
		act = ActivityAddBrandingLocalization
	}
	ev := s.beginBranding(ctx, p, act, locale, in.Properties()...)
	defer s.auditEnd(ctx, ev, &err)
	if err := in.validate(); err != nil {
		return nil, err
	}
	tid := normalizeGUID(p.TenantID)
	b, err := s.store.UpsertBranding(ctx, tid, locale, create, in, ev)
	if err == nil {
		s.brandingChanged(tid)
	}
	return b, err
}

// DeleteBrandingLocalization removes a localization (not the default).
func (s *Service) DeleteBrandingLocalization(ctx context.Context, orgID, locale string) (err error) {
	p, err := s.brandingCaller(ctx, orgID, true)
	if err != nil {
		return err
	}
	ev := s.beginBranding(ctx, p, ActivityDeleteBrandingLocalization, locale)
	defer s.auditEnd(ctx, ev, &err)
	if locale == "" {
		return Errorf(KindBadRequest, "The default branding (localization '0') cannot be deleted through its localization; graphdir does not delete the default branding.")
	}
	tid := normalizeGUID(p.TenantID)
	if err = s.store.DeleteBrandingLocalization(ctx, tid, locale, ev); err == nil {
		s.brandingChanged(tid)
	}
	return err
}

// PutBrandingLogo replaces a logo (name LogoBanner or LogoSquare) of
// locale's branding with data, checked against Graph's limits; empty data
// removes it.
func (s *Service) PutBrandingLogo(ctx context.Context, orgID, locale, name string, data []byte) (err error) {
	p, err := s.brandingCaller(ctx, orgID, true)
	if err != nil {
		return err
	}
	ev := s.beginBranding(ctx, p, ActivityUpdateBranding, locale, name)
	defer s.auditEnd(ctx, ev, &err)
	if !IsBrandingLogo(name) {
		return errNotFoundBranding(name)
	}
	var img *BrandingImageData
	if len(data) > 0 {
		ctype, err := checkLogo(name, data)
		if err != nil {
			return err
		}
		img = &BrandingImageData{ContentType: ctype, Data: data}
	}
	tid := normalizeGUID(p.TenantID)
	if err = s.store.PutBrandingLogo(ctx, tid, locale, name, img, ev); err == nil {
		s.brandingChanged(tid)
	}
	return err
}

// GetBrandingLogo returns a logo of locale's branding, for the Graph
// stream GET. KindNotFound when not set.
func (s *Service) GetBrandingLogo(ctx context.Context, orgID, locale, name string) (*BrandingImageData, error) {
	p, err := s.brandingCaller(ctx, orgID, false)
	if err != nil {
		return nil, err
	}
	if !IsBrandingLogo(name) {
		return nil, errNotFoundBranding(name)
	}
	return s.store.BrandingLogo(ctx, normalizeGUID(p.TenantID), locale, name)
}

// ----- for the hosted pages (no caller: the pages are public)

// PageBranding is the branding a hosted page renders, for one tenant and
// locale: a localization's values, each unset one taken from the default
// branding. Empty strings mean "not set": the page uses its own look.
type PageBranding struct {
	TenantID string
	// Locale is the localization applied ("" for the default alone).
	Locale string
	// BackgroundColor is "#RGB" or "#RRGGBB" (validated on write, safe in
	// a style attribute or a nonce'd style element), or "".
	BackgroundColor  string
	SignInPageText   string
	UsernameHintText string
	// BannerLogoPath and SquareLogoPath are the logos' public paths below
	// the public URL (ServeBrandingLogo answers them), each with the
	// branding version as a query so that a change busts caches; "" when
	// not set.
	BannerLogoPath string
	SquareLogoPath string
	// Version is the tenant's branding version the values were read at.
	Version int64
}

// BrandingLogoPath is the public path of a logo: /{tenant}/branding/{name}
// for the default branding, /{tenant}/branding/localizations/{locale}/{name}
// for a localization.
func BrandingLogoPath(tenantID, locale, name string) string {
	if locale == "" {
		return "/" + tenantID + "/branding/" + name
	}
	return "/" + tenantID + "/branding/localizations/" + locale + "/" + name
}

// brandingCache holds each tenant's brandings as last read, with the
// version they were read at. Branding reads the version (one primary-key
// lookup) per call and reloads when it moved, so a change shows at once
// on every instance; the rows themselves are read once per change.
type brandingCache struct {
	mu sync.Mutex
	m  map[string]brandingEntry
}

type brandingEntry struct {
	version int64
	all     []*Branding
}

// maxBrandingCacheTenants bounds the cache; it is emptied when full.
const maxBrandingCacheTenants = 10000

func (s *Service) brandings() *brandingCache { return &s.ext.branding }

// brandingChanged drops the instance's cached branding of tenantID after
// its own write (the version check would catch it too; this saves the
// reload race).
func (s *Service) brandingChanged(tenantID string) {
	c := s.brandings()
	c.mu.Lock()
	delete(c.m, tenantID)
	c.mu.Unlock()
}

// Branding returns what the hosted pages of tenantID render for locale (a
// BCP 47 tag, e.g. from ui_locales or Accept-Language; "" for the
// default): the localization of that exact tag, else of its base language
// ("fr" for "fr-CA", or the first "fr-…" localization), else the default
// branding alone. A tenant without branding gets the zero PageBranding
// (with TenantID and Version), not an error; KindNotFound for a malformed
// tenant id. It is cached per instance and revalidated against the
// tenant's branding version on every call, so a change shows at once.
func (s *Service) Branding(ctx context.Context, tenantID, locale string) (PageBranding, error) {
	if !IsGUID(tenantID) {
		return PageBranding{}, errNotFoundBranding(tenantID)
	}
	tid := normalizeGUID(tenantID)
	all, version, err := s.cachedBranding(ctx, tid)
	if err != nil {
		return PageBranding{}, err
	}
	out := PageBranding{TenantID: tid, Version: version}
	var def, loc *Branding
	for _, b := range all {
		if b.Locale == "" {
			def = b
		}
	}
	loc = matchLocalization(all, locale)
	apply := func(b *Branding) {
		if b == nil {
			return
		}
		set := func(dst *string, v *string) {
			if *dst == "" && v != nil {
				*dst = *v
			}
		}
		set(&out.BackgroundColor, b.BackgroundColor)
		set(&out.SignInPageText, b.SignInPageText)
		set(&out.UsernameHintText, b.UsernameHintText)
		q := "?v=" + strconv.FormatInt(version, 10)
		if out.BannerLogoPath == "" && b.BannerLogo != nil {
			out.BannerLogoPath = BrandingLogoPath(tid, b.Locale, LogoBanner) + q
		}
		if out.SquareLogoPath == "" && b.SquareLogo != nil {
			out.SquareLogoPath = BrandingLogoPath(tid, b.Locale, LogoSquare) + q
		}
	}
	if loc != nil {
		out.Locale = loc.Locale
		apply(loc)
	}
	apply(def)
	return out, nil
}

// matchLocalization picks the localization for locale: exact tag, then
// same base language, else nil.
func matchLocalization(all []*Branding, locale string) *Branding {
	if locale == "" || len(locale) > 35 {
		return nil
	}
	tag, err := language.Parse(locale)
	if err != nil {
		return nil
	}
	want := tag.String()
	base, _ := tag.Base()
	var sameBase *Branding
	for _, b := range all {
		if b.Locale == "" {
			continue
		}
		if strings.EqualFold(b.Locale, want) {
			return b
		}
		if t, err := language.Parse(b.Locale); err == nil && sameBase == nil {
			if bb, _ := t.Base(); bb == base {
				sameBase = b
			}
		}
	}
	return sameBase
}

// cachedBranding returns the tenant's brandings at the current version.
func (s *Service) cachedBranding(ctx context.Context, tid string) ([]*Branding, int64, error) {
	version, err := s.store.BrandingVersion(ctx, tid)
	if err != nil {
		return nil, 0, err
	}
	c := s.brandings()
	c.mu.Lock()
	e, ok := c.m[tid]
	c.mu.Unlock()
	if ok && e.version == version {
		return e.all, version, nil
	}
	all, read, err := s.store.ListBranding(ctx, tid)
	if err != nil {
		return nil, 0, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxBrandingCacheTenants {
		c.m = map[string]brandingEntry{}
	}
	if cur, ok := c.m[tid]; !ok || cur.version <= read {
		c.m[tid] = brandingEntry{version: read, all: all}
	}
	c.mu.Unlock()
	return all, read, nil
}

// ServeBrandingLogo returns a logo for its public path (the pages' <img>):
// no caller, any existing tenant. KindNotFound when the tenant, branding or
// logo does not exist, or for a malformed key.
func (s *Service) ServeBrandingLogo(ctx context.Context, tenantID, localeID, name string) (*BrandingImageData, error) {
	if !IsGUID(tenantID) || !IsBrandingLogo(name) {
		return nil, errNotFoundBranding(textlimit.Clip(name, maxEchoed))
	}
	locale := ""
	if localeID != "" {
		l, err := ParseBrandingLocale(localeID)
		if err != nil || l == "" {
			return nil, errNotFoundBranding(localeID)
		}
		locale = l
	}
	return s.store.BrandingLogo(ctx, normalizeGUID(tenantID), locale, name)
}
