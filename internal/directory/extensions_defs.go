package directory

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/graphdir/graphdir/internal/textlimit"
)

// Extension property definitions: Graph's
// /applications/{id}/extensionProperties, with the permissions of
// applications (reads: Application.Read.All and the like; writes:
// Application.ReadWrite.All).

// ActivityAddExtensionProperty and ActivityDeleteExtensionProperty are the
// audit activities of definition writes.
var (
	ActivityAddExtensionProperty    = Activity{"Add extension property", "Add", "ApplicationManagement", "Application"}
	ActivityDeleteExtensionProperty = Activity{"Delete extension property", "Delete", "ApplicationManagement", "Application"}
)

// ErrNotFoundExtensionProperty is the not-found error of a definition.
func ErrNotFoundExtensionProperty(id string) *Error {
	return Errorf(KindNotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", textlimit.Clip(id, maxEchoed))
}

func validExtensionShortName(name string) bool {
	if name == "" || len(name) > maxExtensionNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

var extensionDataTypes = []string{ExtensionString, ExtensionInteger, ExtensionLargeInteger, ExtensionBoolean, ExtensionDateTime}

// CreateExtensionProperty defines an extension property on the application
// addressed by appKey (object id or appId='...'). KindInvalid, KindConflict,
// KindNotFound, KindForbidden.
func (s *Applications) CreateExtensionProperty(ctx context.Context, appKey string, in ExtensionPropertyInput) (_ *ExtensionProperty, err error) {
	p := PrincipalFrom(ctx)
	ev := s.begin(ctx, p, ActivityAddExtensionProperty, appKey, "extensionProperties")
	defer func() { err = s.audit.End(ctx, ev, err) }()
	if err := AuthorizeApplications(p, true); err != nil {
		return nil, err
	}
	es := s.store
	if in.Name == nil {
		return nil, Errorf(KindInvalid, "Property 'name' is required.").WithTarget("name")
	}
	if !validExtensionShortName(*in.Name) {
		return nil, Errorf(KindInvalid, "Invalid value specified for property 'name' of resource 'ExtensionProperty': use 1 to %d letters, digits and underscores.", maxExtensionNameLength).WithTarget("name")
	}
	if in.DataType == nil {
		return nil, Errorf(KindInvalid, "Property 'dataType' is required.").WithTarget("dataType")
	}
	i := slices.IndexFunc(extensionDataTypes, func(t string) bool { return strings.EqualFold(t, *in.DataType) })
	if i < 0 {
		return nil, Errorf(KindInvalid, "Invalid value specified for property 'dataType': graphdir supports %s.", strings.Join(extensionDataTypes, ", ")).WithTarget("dataType")
	}
	dataType := extensionDataTypes[i]
	if in.IsMultiValued && dataType != ExtensionString {
		return nil, Errorf(KindInvalid, "Only String extension properties can be multi-valued.").WithTarget("isMultiValued")
	}
	if len(in.TargetObjects) == 0 {
		return nil, Errorf(KindInvalid, "Property 'targetObjects' is required; graphdir supports [\"User\"].").WithTarget("targetObjects")
	}
	for _, t := range in.TargetObjects {
		if !strings.EqualFold(t, "User") {
			return nil, Errorf(KindInvalid, "Invalid value specified for property 'targetObjects': graphdir supports only 'User'.").WithTarget("targetObjects")
		}
	}
	a, err := s.get(ctx, p.TenantID, appKey)
	if err != nil {
		return nil, err
	}
	resolved(ev, a)
	d := &ExtensionProperty{
		TenantID: p.TenantID, ID: s.newID(), ApplicationID: a.ID, AppID: a.AppID, AppDisplayName: a.DisplayName,
		Name: ExtensionName(a.AppID, *in.Name), DataType: dataType, IsMultiValued: in.IsMultiValued,
		TargetObjects: []string{"User"}, CreatedAt: s.now().UTC().Truncate(time.Microsecond),
	}
	if err := es.CreateExtensionProperty(ctx, d); err != nil {
		if KindOf(err) == KindConflict {
			return nil, Errorf(KindConflict, "An extension property named '%s' already exists.", d.Name).WithTarget("name")
		}
		if KindOf(err) == KindNotFound {
			return nil, ErrNotFoundApplication(textlimit.Clip(appKey, maxEchoed))
		}
		return nil, err
	}
	return d, nil
}

// extensionsToRead checks that the caller may read applications and
// returns the application appKey addresses, whose definitions are to be
// read from the returned store.
func (s *Applications) extensionsToRead(ctx context.Context, appKey string) (ExtensionStore, *Application, error) {
	p, err := s.caller(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	es := s.store
	a, err := s.get(ctx, p.TenantID, appKey)
	if err != nil {
		return nil, nil, err
	}
	return es, a, nil
}

// ListExtensionProperties returns the definitions of one application.
func (s *Applications) ListExtensionProperties(ctx context.Context, appKey string) ([]*ExtensionProperty, error) {
	es, a, err := s.extensionsToRead(ctx, appKey)
	if err != nil {
		return nil, err
	}
	return es.ListExtensionProperties(ctx, a.TenantID, a.ID)
}

// GetExtensionProperty returns one definition of an application.
func (s *Applications) GetExtensionProperty(ctx context.Context, appKey, id string) (*ExtensionProperty, error) {
	es, a, err := s.extensionsToRead(ctx, appKey)
	if err != nil {
		return nil, err
	}
	if !IsGUID(id) {
		return nil, ErrNotFoundExtensionProperty(id)
	}
	d, err := es.GetExtensionProperty(ctx, a.TenantID, a.ID, strings.ToLower(id))
	if KindOf(err) == KindNotFound {
		return nil, ErrNotFoundExtensionProperty(id)
	}
	return d, err
}

// DeleteExtensionProperty removes a definition; every value of it goes
// with it, on every user.
func (s *Applications) DeleteExtensionProperty(ctx context.Context, appKey, id string) (err error) {
	p := PrincipalFrom(ctx)
	ev := s.begin(ctx, p, ActivityDeleteExtensionProperty, appKey, "extensionProperties")
	defer func() { err = s.audit.End(ctx, ev, err) }()
	if err := AuthorizeApplications(p, true); err != nil {
		return err
	}
	es := s.store
	a, err := s.get(ctx, p.TenantID, appKey)
	if err != nil {
		return err
	}
	resolved(ev, a)
	if !IsGUID(id) {
		return ErrNotFoundExtensionProperty(id)
	}
	err = es.DeleteExtensionProperty(ctx, p.TenantID, a.ID, strings.ToLower(id))
	if KindOf(err) == KindNotFound {
		return ErrNotFoundExtensionProperty(id)
	}
	return err
}

// ExtensionPropertiesOf returns the definitions of the applications apps
// (just read by the caller), by application object id, in one query:
// $expand=extensionProperties on a page of applications. Every
// application of apps has an entry, empty when it defines none.
func (s *Applications) ExtensionPropertiesOf(ctx context.Context, apps []*Application) (map[string][]*ExtensionProperty, error) {
	p, err := s.caller(ctx, false)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]*ExtensionProperty, len(apps))
	ids := make([]string, 0, len(apps))
	for _, a := range apps {
		if _, ok := out[a.ID]; !ok {
			out[a.ID] = []*ExtensionProperty{}
			ids = append(ids, a.ID)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	defs, err := s.store.ExtensionPropertiesOf(ctx, p.TenantID, ids)
	if err != nil {
		return nil, err
	}
	for _, d := range defs {
		if list, ok := out[d.ApplicationID]; ok {
			out[d.ApplicationID] = append(list, d)
		}
	}
	return out, nil
}
