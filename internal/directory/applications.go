package directory

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/textlimit"
)

// Application permission names used by the applications API (beside the
// user permissions in policy.go).
const (
	PermApplicationReadAll            = "Application.Read.All"
	PermApplicationReadWriteAll       = "Application.ReadWrite.All"
	PermAppRoleAssignmentReadWriteAll = "AppRoleAssignment.ReadWrite.All"
)

// GrantablePermissions are the application permissions an application may
// be granted (graphdirPermissions, `graphdir app create --permissions`), in
// Graph's spelling. Names are matched case-insensitively and stored in this
// spelling. Extend it when graphdir learns a new permission.
var GrantablePermissions = []string{
	"User.Read.All",
	"User.ReadBasic.All",
	"User.ReadWrite.All",
	"User.Create",
	"User.ReadUpdate.All",
	"User.DeleteRestore.All",
	"User.EnableDisableAccount.All",
	"User-PasswordProfile.ReadWrite.All",
	"User.ManageIdentities.All",
	"Directory.Read.All",
	"Directory.ReadWrite.All",
	PermApplicationReadAll,
	PermApplicationReadWriteAll,
	PermAppRoleAssignmentReadWriteAll,
	"RoleManagement.Read.Directory",
	"RoleManagement.ReadWrite.Directory",
	"AuditLog.Read.All",
	PermEventListenerReadAll,
	PermEventListenerReadWriteAll,
	PermOrganizationalBrandingReadAll,
	PermOrganizationalBrandingReadWriteAll,
	PermOrganizationReadAll,
	PermOrganizationReadWriteAll,
	PermDelegatedPermissionGrantReadAll,
	PermDelegatedPermissionGrantReadWriteAll,
}

// BootstrapPermissions are granted to the administrator application that
// `graphdir serve` creates on a fresh database when asked to.
var BootstrapPermissions = []string{
	"User.ReadWrite.All",
	"Directory.ReadWrite.All",
	PermApplicationReadWriteAll,
	PermAppRoleAssignmentReadWriteAll,
	"RoleManagement.ReadWrite.Directory",
	PermEventListenerReadWriteAll,
}

// Limits on applications and their secrets.
const (
	// DefaultSecretLifetime is Graph's default passwordCredential lifetime.
	DefaultSecretLifetime = 2 * 365 * 24 * time.Hour
	// MaxSecretLifetime caps endDateTime - startDateTime. Graph allows more
	// unless an app-management policy says otherwise; graphdir always
	// applies Microsoft's recommended two-year maximum (plus a day, so that
	// "two years from now" in any calendar is accepted).
	MaxSecretLifetime = DefaultSecretLifetime + 24*time.Hour
	// MaxSecretsPerApplication bounds the password credentials of one app.
	MaxSecretsPerApplication = 10
	// maxAppDisplayName is Graph's limit on application.displayName.
	maxAppDisplayName = 256
	// maxSecretDisplayName bounds a passwordCredential's displayName.
	maxSecretDisplayName = 256
	// secretBytes is the entropy of a generated secret: 30 bytes are 240
	// bits and 40 base64url characters, the length of Entra's secrets.
	secretBytes = 30
	// secretHintLen is how many leading characters of a secret Graph shows.
	secretHintLen = 3
	// secretHashPrefix marks the hash scheme stored in secret_hash.
	secretHashPrefix = "hmac-sha256$"
)

// Application is a registered application of a tenant: a backend job
// using client credentials, an app users sign in to (SignInSettings), or
// both. ID is Graph's object id, AppID the client id tokens carry in azp.
type Application struct {
	TenantID    string
	ID          string
	AppID       string
	DisplayName string
	CreatedAt   time.Time
	// Permissions are the granted application permissions (the roles
	// claim of the app's tokens), sorted.
	Permissions []string
	// PasswordCredentials are the app's client secrets, oldest first.
	PasswordCredentials []PasswordCredential
	// SignInSettings are what users sign in to the app with
	// (appsignin.go).
	SignInSettings
}

// PasswordCredential is one client secret as stored: never the secret,
// only its keyed hash.
type PasswordCredential struct {
	KeyID         string
	DisplayName   *string
	Hint          string
	StartDateTime time.Time
	EndDateTime   time.Time
	// SecretHash is the keyed hash of the secret; it never leaves graphdir.
	SecretHash string
}

// NewSecret is a credential just created, with the secret that is shown
// exactly once and never stored.
type NewSecret struct {
	PasswordCredential
	SecretText string
}

// ApplicationPatch is what a PATCH changes; nil fields stay as they are.
type ApplicationPatch struct {
	DisplayName *string
	Permissions *[]string
	// SignIn (nil: unchanged) rewrites the sign-in settings. The store
	// calls it with the row's current settings, read under the row lock,
	// so that concurrent patches of different properties both land and
	// the rules across properties (at most MaxRedirectURIs, no URI twice)
	// hold for what is stored.
	SignIn func(*SignInSettings) error
	// Audit (nil: none) is stored in the update's transaction.
	Audit *AuditEvent
}

// ApplicationInput is a decoded create or update body.
type ApplicationInput struct {
	DisplayName *string
	Permissions *[]string
	SignIn      SignInInput
}

// PasswordCredentialInput is the passwordCredential of an addPassword body.
type PasswordCredentialInput struct {
	DisplayName   *string
	StartDateTime *time.Time
	EndDateTime   *time.Time
}

// ApplicationStore persists applications. Every method is scoped to one
// tenant; implementations translate their errors into *Error kinds.
type ApplicationStore interface {
	// CreateApplication inserts a with its permissions and credentials.
	// KindConflict when the id or appId is taken.
	// audit (nil: none) is stored in the same transaction.
	CreateApplication(ctx context.Context, a *Application, audit *AuditEvent) error
	// CreateApplicationOnce is CreateApplication guarded by a marker: it
	// creates a and records marker in one transaction unless marker was
	// recorded before (by this or any other instance), and reports whether
	// it created a.
	CreateApplicationOnce(ctx context.Context, a *Application, marker string) (bool, error)
	// GetApplication returns the application with the given object id, or
	// with the given appId when byAppID is set, with its permissions and
	// credentials (hashes included). KindNotFound when there is none.
	GetApplication(ctx context.Context, tenantID, id string, byAppID bool) (*Application, error)
	// ListApplications returns up to q.Top applications that q.Filter and
	// q.Search match, after q.After, in q.OrderBy order (ties and no order:
	// by object id), and the cursor of the next page (nil on the last).
	// What it cannot answer is KindUnsupported naming the property or
	// operator (Request_UnsupportedQuery).
	ListApplications(ctx context.Context, tenantID string, q ListQuery) ([]*Application, *Cursor, error)
	// CountApplications counts the applications q.Filter and q.Search
	// match.
	CountApplications(ctx context.Context, tenantID string, q ListQuery) (int64, error)
	// UpdateApplication applies patch. KindNotFound.
	UpdateApplication(ctx context.Context, tenantID, id string, patch ApplicationPatch) error
	// DeleteApplication removes an application with its secrets and
	// permissions. KindNotFound. audit (nil: none) is stored in the same
	// transaction.
	DeleteApplication(ctx context.Context, tenantID, id string, audit *AuditEvent) error
	// AddPasswordCredential stores c for the application unless it already
	// has max credentials (KindInvalid). KindNotFound.
	// audit (nil: none) is stored in the same transaction.
	AddPasswordCredential(ctx context.Context, tenantID, id string, c PasswordCredential, max int, audit *AuditEvent) error
	// RemovePasswordCredential deletes one credential. KindNotFound when
	// the application or the key does not exist. audit (nil: none) is
	// stored in the same transaction.
	RemovePasswordCredential(ctx context.Context, tenantID, id, keyID string, audit *AuditEvent) error
	// SPAOriginRegistered reports whether any application of the tenant
	// has a spa redirect URI of the origin (SignInSettings, OriginOf).
	SPAOriginRegistered(ctx context.Context, tenantID, origin string) (bool, error)
	// SPAOriginRegisteredAnyTenant reports whether an application of any
	// tenant has a spa redirect URI of the origin: a CORS preflight carries
	// no token, so its tenant is unknown.
	SPAOriginRegisteredAnyTenant(ctx context.Context, origin string) (bool, error)

	// Extension property definitions belong to applications.
	ExtensionStore
}

// Applications holds the rules of registered applications and client
// authentication. API methods read the caller from the context; Operator
// methods are for the command line, which has database access anyway.
//
// Client secrets are generated here (240 random bits) and stored as
// HMAC-SHA256 under a server key, not with argon2id: a slow hash protects
// low-entropy, human-chosen passwords from offline guessing, but a 240-bit
// random secret cannot be guessed at any hash speed, so a slow hash would
// only make the token endpoint a CPU and memory amplifier for anyone who
// sends requests. The server key means a copy of the secrets table alone
// does not even allow checking a candidate. Comparison is constant-time.
type Applications struct {
	store     ApplicationStore
	audit     *Auditor
	secretKey []byte
	now       func() time.Time
	newID     func() string
	random    func([]byte) (int, error)
}

// ApplicationsOption configures Applications.
type ApplicationsOption func(*Applications)

// WithApplicationsClock replaces time.Now.
func WithApplicationsClock(now func() time.Time) ApplicationsOption {
	return func(a *Applications) { a.now = now }
}

// WithApplicationsAuditor records every write and every refused write in
// the audit trail (category ApplicationManagement).
func WithApplicationsAuditor(a *Auditor) ApplicationsOption {
	return func(s *Applications) { s.audit = a }
}

// ActivityUpdateApplication is Entra's audit activity for a changed
// application (name or granted permissions).
var ActivityUpdateApplication = Activity{"Update application", "Update", "ApplicationManagement", "Application"}

// NewApplications returns the applications service over store. secretKey
// keys the client-secret hash; every instance must use the same key, and
// changing it invalidates every secret.
func NewApplications(store ApplicationStore, secretKey []byte, opts ...ApplicationsOption) *Applications {
	if len(secretKey) < 16 {
		panic("directory.NewApplications: the secret key must be at least 16 bytes")
	}
	a := &Applications{
		store:     store,
		secretKey: append([]byte(nil), secretKey...),
		now:       time.Now,
		newID:     uuid.NewString,
		random:    rand.Read,
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// AuthorizeApplications checks that p may attempt a read (write false) or
// a write of applications at all; object rules follow in the methods.
//
// Application permissions: reads need Application.Read.All,
// Application.ReadWrite.All, Directory.Read.All or Directory.ReadWrite.All;
// writes need Application.ReadWrite.All. Delegated callers are refused until
// directory roles (Application Administrator, Global Administrator) exist to
// intersect their scopes with.
func AuthorizeApplications(p *Principal, write bool) error {
	read := []string{PermApplicationReadAll, PermApplicationReadWriteAll, PermDirectoryReadAll, PermDirectoryReadWriteAll}
	need := read
	if write {
		need = []string{PermApplicationReadWriteAll}
	}
	switch {
	case p == nil:
		return Errorf(KindUnauthenticated, "Access token is empty.")
	case p.IsApp():
		if p.Has(need...) {
			return nil
		}
		return ErrInsufficientPrivileges(need...)
	case p.IsUser():
		// TODO(roles): allow delegated callers whose own directory role
		// (Global Administrator, Application Administrator) permits it.
		e := ErrInsufficientPrivileges(need...)
		e.Message = "Insufficient privileges to complete the operation. Applications are managed with application permissions only."
		return e
	}
	return Errorf(KindUnauthenticated, "Access token validation failure.")
}

// Authorize is AuthorizeApplications for the HTTP edge, which calls it
// before parsing anything; a refused write is recorded in the audit trail
// as act on target (the path's key).
func (s *Applications) Authorize(ctx context.Context, write bool, act Activity, target string) error {
	err := AuthorizeApplications(PrincipalFrom(ctx), write)
	if err != nil && write && IsDenial(err) {
		s.audit.Record(ctx, act, AuditTarget{ID: textlimit.Clip(target, maxEchoed)}, err)
	}
	return err
}

// begin starts the audit event of a write on the application addressed
// by key (resolved to its object id once known).
func (s *Applications) begin(ctx context.Context, p *Principal, act Activity, key string, props ...string) *AuditEvent {
	return s.audit.BeginFor(ctx, p, act, AuditTarget{ID: textlimit.Clip(key, maxEchoed), ModifiedProperties: modifiedProperties(props)})
}

// resolved names the application in ev once it has been read.
func resolved(ev *AuditEvent, a *Application) {
	if ev != nil && len(ev.Targets) > 0 && a != nil {
		ev.Targets[0].ID, ev.Targets[0].DisplayName = a.ID, a.DisplayName
	}
}

func (s *Applications) caller(ctx context.Context, write bool) (*Principal, error) {
	p := PrincipalFrom(ctx)
	if err := AuthorizeApplications(p, write); err != nil {
		return nil, err
	}
	return p, nil
}

// Every write method of Applications resolves its caller once
// (PrincipalFrom), begins its audit event for it, and passes both down.

// ErrNotFoundApplication is the Graph-worded not-found error for an application.
func ErrNotFoundApplication(key string) *Error {
	return Errorf(KindNotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", key)
}

// parseAppKey reads an application key from the path: an object id, or
// appId='{client id}' (Graph's alternate key).
func parseAppKey(key string) (id string, byAppID bool, err error) {
	if rest, ok := strings.CutPrefix(key, "appId="); ok {
		if len(rest) >= 2 && rest[0] == '\'' && rest[len(rest)-1] == '\'' {
			rest = rest[1 : len(rest)-1]
		}
		if !IsGUID(rest) {
			return "", false, ErrNotFoundApplication(textlimit.Clip(key, maxEchoed))
		}
		return strings.ToLower(rest), true, nil
	}
	if !IsGUID(key) {
		return "", false, Errorf(KindInvalid, "Invalid object identifier '%s'.", textlimit.Clip(key, maxEchoed))
	}
	return strings.ToLower(key), false, nil
}

// maxEchoed bounds how much of a caller's key or name an error message or
// an audit target repeats.
const maxEchoed = 64

func (s *Applications) get(ctx context.Context, tenantID, key string) (*Application, error) {
	id, byAppID, err := parseAppKey(key)
	if err != nil {
		return nil, err
	}
	a, err := s.store.GetApplication(ctx, tenantID, id, byAppID)
	if KindOf(err) == KindNotFound {
		return nil, ErrNotFoundApplication(textlimit.Clip(key, maxEchoed))
	}
	return a, err
}

// CanonicalPermissions checks permission names against GrantablePermissions
// (case-insensitively) and returns them in Graph's spelling, sorted, without
// duplicates.
func CanonicalPermissions(perms []string) ([]string, error) {
	out := make([]string, 0, len(perms))
	for _, p := range perms {
		i := slices.IndexFunc(GrantablePermissions, func(g string) bool { return strings.EqualFold(g, p) })
		if i < 0 {
			return nil, Errorf(KindInvalid, "'%s' is not an application permission graphdir can grant.", textlimit.Clip(p, maxEchoed)).WithTarget("graphdirPermissions")
		}
		out = append(out, GrantablePermissions[i])
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func checkAppDisplayName(name string) error {
	if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > maxAppDisplayName || !utf8.ValidString(name) ||
		strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return Errorf(KindInvalid, "Invalid value specified for property 'displayName' of resource 'Application'.").WithTarget("displayName")
	}
	return nil
}

// checkGrant refuses permissions p may not hand out: granting needs
// AppRoleAssignment.ReadWrite.All (Graph's permission for app-role
// assignments), and no caller may grant a permission it does not hold
// itself, so managing applications can never raise a caller's privileges.
func checkGrant(p *Principal, perms []string) error {
	if len(perms) == 0 {
		return nil
	}
	if !p.Has(PermAppRoleAssignmentReadWriteAll) {
		e := ErrInsufficientPrivileges(PermAppRoleAssignmentReadWriteAll)
		e.Message = "Insufficient privileges to grant application permissions."
		return e
	}
	return checkDominates(p, perms, "Insufficient privileges to grant a permission the caller does not hold.")
}

// checkDominates refuses when perms holds a permission p lacks.
func checkDominates(p *Principal, perms []string, msg string) error {
	var missing []string
	for _, want := range perms {
		if !p.Has(want) {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		e := ErrInsufficientPrivileges(missing...)
		e.Message = msg
		return e
	}
	return nil
}

// writeTarget reads the application a write addresses by key, names it
// on ev for the audit log, and checks that the caller may change it.
func (s *Applications) writeTarget(ctx context.Context, p *Principal, ev *AuditEvent, key string) (*Application, error) {
	if err := AuthorizeApplications(p, true); err != nil {
		return nil, err
	}
	a, err := s.get(ctx, p.TenantID, key)
	if err != nil {
		return nil, err
	}
	resolved(ev, a)
	if err := checkTarget(p, a); err != nil {
		return nil, err
	}
	return a, nil
}

// checkTarget refuses writes to an application holding permissions the
// caller lacks: otherwise Application.ReadWrite.All alone would let a caller
// add a secret to a more privileged app and sign in as it (the classic
// Entra escalation path), or delete the administrator's app.
func checkTarget(p *Principal, a *Application) error {
	return checkDominates(p, a.Permissions, "Insufficient privileges to change an application that holds permissions the caller does not hold.")
}

// CreateApplication registers an application in the caller's tenant.
// KindInvalid, KindForbidden.
func (s *Applications) CreateApplication(ctx context.Context, in ApplicationInput) (_ *Application, err error) {
	props := []string{"displayName"}
	if in.Permissions != nil {
		props = append(props, "graphdirPermissions")
	}
	props = append(props, in.SignIn.Properties()...)
	p := PrincipalFrom(ctx)
	ev := s.begin(ctx, p, ActivityAddApplication, "", props...)
	defer func() { err = s.audit.End(ctx, ev, err) }()
	if err := AuthorizeApplications(p, true); err != nil {
		return nil, err
	}
	if in.DisplayName == nil {
		return nil, Errorf(KindInvalid, "Property 'displayName' is required.").WithTarget("displayName")
	}
	a, err := s.newApplication(p.TenantID, *in.DisplayName, in.Permissions)
	if err != nil {
		return nil, err
	}
	if err := in.SignIn.Apply(&a.SignInSettings); err != nil {
		return nil, err
	}
	resolved(ev, a)
	if err := checkGrant(p, a.Permissions); err != nil {
		return nil, err
	}
	if err := s.store.CreateApplication(ctx, a, ev); err != nil {
		return nil, err
	}
	return a, nil
}

func (s *Applications) newApplication(tenantID, name string, perms *[]string) (*Application, error) {
	if err := checkAppDisplayName(name); err != nil {
		return nil, err
	}
	a := &Application{
		TenantID: tenantID, ID: s.newID(), AppID: s.newID(), DisplayName: name,
		CreatedAt: s.now().UTC().Truncate(time.Microsecond), Permissions: []string{},
		PasswordCredentials: []PasswordCredential{},
		SignInSettings: SignInSettings{SPARedirectURIs: []string{}, WebRedirectURIs: []string{},
			PublicClientRedirectURIs: []string{}, DelegatedScopes: []string{}},
	}
	if perms != nil {
		var err error
		if a.Permissions, err = CanonicalPermissions(*perms); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// GetApplication returns one application of the caller's tenant by object
// id or appId='...'. KindNotFound, KindForbidden.
func (s *Applications) GetApplication(ctx context.Context, key string) (*Application, error) {
	p, err := s.caller(ctx, false)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, p.TenantID, key)
}

// ApplicationPage is one page of a listing of applications. Next is nil on
// the last page; Count is set when the query asked for it.
type ApplicationPage struct {
	Applications []*Application
	Next         *Cursor
	Count        *int64
}

// ListApplications returns one page of the caller's tenant's applications
// as q describes ($filter, $search, $orderby, $top, $count; the store
// refuses what it cannot answer), and the cursor of the next page.
func (s *Applications) ListApplications(ctx context.Context, q ListQuery) (*ApplicationPage, error) {
	p, err := s.caller(ctx, false)
	if err != nil {
		return nil, err
	}
	return s.list(ctx, p.TenantID, q)
}

// CountApplications counts the caller's tenant's applications q.Filter
// and q.Search match (GET /applications/$count).
func (s *Applications) CountApplications(ctx context.Context, q ListQuery) (int64, error) {
	p, err := s.caller(ctx, false)
	if err != nil {
		return 0, err
	}
	return s.store.CountApplications(ctx, p.TenantID, q)
}

func (s *Applications) list(ctx context.Context, tenantID string, q ListQuery) (*ApplicationPage, error) {
	if q.Top < 1 || q.Top > 999 {
		return nil, Errorf(KindInvalid, "Invalid page size specified: '%d'. Must be between 1 and 999 inclusive.", q.Top).WithTarget("$top")
	}
	if q.Skip != 0 {
		return nil, Errorf(KindInvalid, "Query option '$skip' is not supported on applications.").WithTarget("$skip")
	}
	if q.After != nil && !IsGUID(q.After.ID) {
		return nil, Errorf(KindInvalid, "The $skiptoken is invalid.").WithTarget("$skiptoken")
	}
	apps, next, err := s.store.ListApplications(ctx, tenantID, q)
	if err != nil {
		return nil, err
	}
	page := &ApplicationPage{Applications: apps, Next: next}
	if q.Count {
		n, err := s.store.CountApplications(ctx, tenantID, q)
		if err != nil {
			return nil, err
		}
		page.Count = &n
	}
	return page, nil
}

// UpdateApplication changes displayName, graphdirPermissions and the
// sign-in settings the input names. KindNotFound, KindInvalid, KindForbidden.
func (s *Applications) UpdateApplication(ctx context.Context, key string, in ApplicationInput) (err error) {
	var props []string
	if in.DisplayName != nil {
		props = append(props, "displayName")
	}
	if in.Permissions != nil {
		props = append(props, "graphdirPermissions")
	}
	props = append(props, in.SignIn.Properties()...)
	p := PrincipalFrom(ctx)
	ev := s.begin(ctx, p, ActivityUpdateApplication, key, props...)
	defer func() { err = s.audit.End(ctx, ev, err) }()
	a, err := s.writeTarget(ctx, p, ev, key)
	if err != nil {
		return err
	}
	patch, err := s.patch(in)
	if err != nil {
		return err
	}
	if patch.Permissions != nil && !slices.Equal(*patch.Permissions, a.Permissions) {
		// Taking permissions away needs the same right as granting them;
		// the old ones are the caller's own already (checkTarget).
		if !p.Has(PermAppRoleAssignmentReadWriteAll) {
			e := ErrInsufficientPrivileges(PermAppRoleAssignmentReadWriteAll)
			e.Message = "Insufficient privileges to grant application permissions."
			return e
		}
		if err := checkGrant(p, *patch.Permissions); err != nil {
			return err
		}
	}
	patch.Audit = ev
	return s.store.UpdateApplication(ctx, p.TenantID, a.ID, patch)
}

func (s *Applications) patch(in ApplicationInput) (ApplicationPatch, error) {
	var patch ApplicationPatch
	if in.DisplayName != nil {
		if err := checkAppDisplayName(*in.DisplayName); err != nil {
			return patch, err
		}
		patch.DisplayName = in.DisplayName
	}
	if in.Permissions != nil {
		perms, err := CanonicalPermissions(*in.Permissions)
		if err != nil {
			return patch, err
		}
		patch.Permissions = &perms
	}
	if !in.SignIn.empty() {
		// Validate the body's values now, so that a bad one is refused
		// before the store is asked; the store applies them again to the
		// locked row.
		if err := in.SignIn.Apply(&SignInSettings{}); err != nil {
			return patch, err
		}
		patch.SignIn = in.SignIn.Apply
	}
	return patch, nil
}

// DeleteApplication removes an application and its secrets; tokens already
// issued to it stay valid until they expire. KindNotFound, KindForbidden.
func (s *Applications) DeleteApplication(ctx context.Context, key string) (err error) {
	p := PrincipalFrom(ctx)
	ev := s.begin(ctx, p, ActivityDeleteApplication, key)
	defer func() { err = s.audit.End(ctx, ev, err) }()
	a, err := s.writeTarget(ctx, p, ev, key)
	if err != nil {
		return err
	}
	return s.store.DeleteApplication(ctx, p.TenantID, a.ID, ev)
}

// AddPassword creates a client secret (Graph's addPassword). The returned
// SecretText is the only time the secret exists outside the caller.
// KindNotFound, KindInvalid, KindForbidden.
func (s *Applications) AddPassword(ctx context.Context, key string, in PasswordCredentialInput) (_ *NewSecret, err error) {
	p := PrincipalFrom(ctx)
	ev := s.begin(ctx, p, ActivityUpdateApplicationSecrets, key, "passwordCredentials")
	defer func() { err = s.audit.End(ctx, ev, err) }()
	a, err := s.writeTarget(ctx, p, ev, key)
	if err != nil {
		return nil, err
	}
	return s.addSecret(ctx, a, in, ev)
}

func (s *Applications) addSecret(ctx context.Context, a *Application, in PasswordCredentialInput, ev *AuditEvent) (*NewSecret, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	start := now
	if in.StartDateTime != nil {
		start = in.StartDateTime.UTC().Truncate(time.Microsecond)
	}
	end := start.Add(DefaultSecretLifetime)
	if in.EndDateTime != nil {
		end = in.EndDateTime.UTC().Truncate(time.Microsecond)
	}
	switch {
	case in.StartDateTime != nil && start.After(now.Add(MaxSecretLifetime)):
		return nil, Errorf(KindInvalid, "The startDateTime is too far in the future.").WithTarget("startDateTime")
	case !end.After(start) || !end.After(now):
		return nil, Errorf(KindInvalid, "The endDateTime must be later than the startDateTime and the current time.").WithTarget("endDateTime")
	case end.Sub(start) > MaxSecretLifetime:
		return nil, Errorf(KindInvalid, "A password credential may be valid for at most two years.").WithTarget("endDateTime")
	}
	if in.DisplayName != nil {
		n := *in.DisplayName
		if utf8.RuneCountInString(n) > maxSecretDisplayName || !utf8.ValidString(n) ||
			strings.ContainsFunc(n, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return nil, Errorf(KindInvalid, "Invalid value specified for property 'displayName' of resource 'PasswordCredential'.").WithTarget("displayName")
		}
	}
	raw := make([]byte, secretBytes)
	if _, err := s.random(raw); err != nil {
		return nil, Internal(err, "directory: generate secret")
	}
	secret := base64.RawURLEncoding.EncodeToString(raw)
	c := PasswordCredential{
		KeyID: s.newID(), DisplayName: in.DisplayName, Hint: secret[:secretHintLen],
		StartDateTime: start, EndDateTime: end, SecretHash: s.hashSecret(secret),
	}
	if err := s.store.AddPasswordCredential(ctx, a.TenantID, a.ID, c, MaxSecretsPerApplication, ev); err != nil {
		return nil, err
	}
	return &NewSecret{PasswordCredential: c, SecretText: secret}, nil
}

// RemovePassword deletes a client secret (Graph's removePassword).
// KindNotFound, KindInvalid, KindForbidden.
func (s *Applications) RemovePassword(ctx context.Context, key, keyID string) (err error) {
	p := PrincipalFrom(ctx)
	ev := s.begin(ctx, p, ActivityUpdateApplicationSecrets, key, "passwordCredentials")
	defer func() { err = s.audit.End(ctx, ev, err) }()
	a, err := s.writeTarget(ctx, p, ev, key)
	if err != nil {
		return err
	}
	return s.removeSecret(ctx, a, keyID, ev)
}

func (s *Applications) removeSecret(ctx context.Context, a *Application, keyID string, ev *AuditEvent) error {
	if !IsGUID(keyID) {
		return Errorf(KindInvalid, "The keyId must be a GUID.").WithTarget("keyId")
	}
	err := s.store.RemovePasswordCredential(ctx, a.TenantID, a.ID, strings.ToLower(keyID), ev)
	if KindOf(err) == KindNotFound {
		return Errorf(KindNotFound, "No password credential with keyId '%s' exists on the application.", strings.ToLower(keyID))
	}
	return err
}

// hashSecret is the stored form of a secret: HMAC-SHA256 under the server
// key, domain-separated from every other use of that key.
func (s *Applications) hashSecret(secret string) string {
	return secretHashPrefix + base64.RawStdEncoding.EncodeToString(s.secretMAC(secret))
}

func (s *Applications) secretMAC(secret string) []byte {
	m := hmac.New(sha256.New, s.secretKey)
	m.Write([]byte("graphdir/client-secret\x00"))
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Client authentication failure reasons, for logs only: every failure looks
// the same to the client.
var (
	ErrClientUnknown       = errors.New("unknown_client")
	ErrClientSecretInvalid = errors.New("invalid_secret")
	ErrClientSecretExpired = errors.New("expired_secret")
)

// AuthenticateClient checks a client id and secret of a tenant and returns
// the application. Every failure (unknown tenant or client, wrong, expired,
// not yet valid or removed secret) is the same KindUnauthenticated error;
// errors.Is tells the reasons apart for logs (ErrClientUnknown,
// ErrClientSecretInvalid, ErrClientSecretExpired). The secret is compared
// in constant time against every credential of the app, and an unknown
// client costs the same hashing as a known one.
func (s *Applications) AuthenticateClient(ctx context.Context, tenantID, clientID, secret string) (*Application, error) {
	fail := func(reason error) error {
		return &Error{Kind: KindUnauthenticated, Message: "The client could not be authenticated.", Err: reason}
	}
	mac := s.secretMAC(secret)
	var a *Application
	if IsGUID(tenantID) && IsGUID(clientID) {
		var err error
		a, err = s.store.GetApplication(ctx, strings.ToLower(tenantID), strings.ToLower(clientID), true)
		if err != nil && KindOf(err) != KindNotFound {
			return nil, err
		}
	}
	if a == nil {
		var dummy [sha256.Size]byte
		subtle.ConstantTimeCompare(mac, dummy[:])
		return nil, fail(ErrClientUnknown)
	}
	var match *PasswordCredential
	for i := range a.PasswordCredentials {
		c := &a.PasswordCredentials[i]
		want, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(c.SecretHash, secretHashPrefix))
		if err != nil || !strings.HasPrefix(c.SecretHash, secretHashPrefix) {
			continue
		}
		if subtle.ConstantTimeCompare(mac, want) == 1 {
			match = c
		}
	}
	if match == nil {
		return nil, fail(ErrClientSecretInvalid)
	}
	now := s.now()
	if now.Before(match.StartDateTime) || !now.Before(match.EndDateTime) {
		return nil, fail(ErrClientSecretExpired)
	}
	return a, nil
}

// OperatorCreateApplication registers an application for the command line
// (no caller: the operator has the database) with one new secret.
func (s *Applications) OperatorCreateApplication(ctx context.Context, tenantID, name string, perms []string, secretLifetime time.Duration) (*Application, *NewSecret, error) {
	return s.OperatorRegisterApplication(ctx, tenantID, name, perms, SignInInput{}, secretLifetime)
}

// OperatorRegisterApplication registers an application with sign-in
// settings for the command line. A confidential client gets one new
// secret; a public client (IsPublicClient) gets none, since it has no use
// for one, and the returned secret is nil.
func (s *Applications) OperatorRegisterApplication(ctx context.Context, tenantID, name string, perms []string, signIn SignInInput, secretLifetime time.Duration) (*Application, *NewSecret, error) {
	a, err := s.newApplication(tenantID, name, &perms)
	if err != nil {
		return nil, nil, err
	}
	if err := signIn.Apply(&a.SignInSettings); err != nil {
		return nil, nil, err
	}
	if err := s.store.CreateApplication(ctx, a, nil); err != nil {
		return nil, nil, err
	}
	if a.IsPublicClient() {
		return a, nil, nil
	}
	sec, err := s.addSecret(ctx, a, s.lifetime(secretLifetime), nil)
	if err != nil {
		return nil, nil, err
	}
	return a, sec, nil
}

func (s *Applications) lifetime(d time.Duration) PasswordCredentialInput {
	if d <= 0 {
		return PasswordCredentialInput{}
	}
	end := s.now().Add(d)
	return PasswordCredentialInput{EndDateTime: &end}
}

// EnsureBootstrapApplication creates the tenant's bootstrap administrator
// application (BootstrapPermissions) with one secret the first time it is
// called for the tenant, by any instance; later calls, concurrent ones
// included, return (nil, nil, nil). Deleting the app does not bring it back.
func (s *Applications) EnsureBootstrapApplication(ctx context.Context, tenantID, name string) (*Application, *NewSecret, error) {
	perms := slices.Clone(BootstrapPermissions)
	a, err := s.newApplication(tenantID, name, &perms)
	if err != nil {
		return nil, nil, err
	}
	// The secret is generated before the transaction so that the app is
	// never visible without it; it is stored with the app.
	raw := make([]byte, secretBytes)
	if _, err := s.random(raw); err != nil {
		return nil, nil, Internal(err, "directory: generate secret")
	}
	secret := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now().UTC().Truncate(time.Microsecond)
	c := PasswordCredential{KeyID: s.newID(), DisplayName: ptr("bootstrap"), Hint: secret[:secretHintLen],
		StartDateTime: now, EndDateTime: now.Add(DefaultSecretLifetime), SecretHash: s.hashSecret(secret)}
	a.PasswordCredentials = []PasswordCredential{c}
	created, err := s.store.CreateApplicationOnce(ctx, a, "bootstrap-application/"+strings.ToLower(tenantID))
	if err != nil || !created {
		return nil, nil, err
	}
	return a, &NewSecret{PasswordCredential: c, SecretText: secret}, nil
}

func ptr[T any](v T) *T { return &v }

// OperatorListApplications lists every application of a tenant.
func (s *Applications) OperatorListApplications(ctx context.Context, tenantID string) ([]*Application, error) {
	var all []*Application
	q := ListQuery{Top: 999}
	for {
		page, err := s.list(ctx, tenantID, q)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Applications...)
		if page.Next == nil {
			return all, nil
		}
		q.After = page.Next
	}
}

// OperatorGetApplication returns an application by object id or client id.
func (s *Applications) OperatorGetApplication(ctx context.Context, tenantID, key string) (*Application, error) {
	if !IsGUID(key) {
		return nil, ErrNotFoundApplication(textlimit.Clip(key, maxEchoed))
	}
	a, err := s.store.GetApplication(ctx, tenantID, strings.ToLower(key), false)
	if KindOf(err) == KindNotFound {
		a, err = s.store.GetApplication(ctx, tenantID, strings.ToLower(key), true)
	}
	if KindOf(err) == KindNotFound {
		return nil, ErrNotFoundApplication(key)
	}
	return a, err
}

// OperatorAddSecret adds a secret to an application (object or client id).
func (s *Applications) OperatorAddSecret(ctx context.Context, tenantID, key, name string, lifetime time.Duration) (*NewSecret, error) {
	a, err := s.OperatorGetApplication(ctx, tenantID, key)
	if err != nil {
		return nil, err
	}
	in := s.lifetime(lifetime)
	if name != "" {
		in.DisplayName = &name
	}
	return s.addSecret(ctx, a, in, nil)
}

// OperatorRemoveSecret removes a secret from an application.
func (s *Applications) OperatorRemoveSecret(ctx context.Context, tenantID, key, keyID string) error {
	a, err := s.OperatorGetApplication(ctx, tenantID, key)
	if err != nil {
		return err
	}
	return s.removeSecret(ctx, a, keyID, nil)
}

// OperatorSetPermissions replaces an application's granted permissions.
func (s *Applications) OperatorSetPermissions(ctx context.Context, tenantID, key string, perms []string) error {
	a, err := s.OperatorGetApplication(ctx, tenantID, key)
	if err != nil {
		return err
	}
	canon, err := CanonicalPermissions(perms)
	if err != nil {
		return err
	}
	return s.store.UpdateApplication(ctx, tenantID, a.ID, ApplicationPatch{Permissions: &canon})
}

// OperatorDeleteApplication deletes an application.
func (s *Applications) OperatorDeleteApplication(ctx context.Context, tenantID, key string) error {
	a, err := s.OperatorGetApplication(ctx, tenantID, key)
	if err != nil {
		return err
	}
	return s.store.DeleteApplication(ctx, tenantID, a.ID, nil)
}

// ClientApplication returns the application a sign-in request names by
// its client id, for the sign-in endpoints (no caller: the request is
// not authenticated yet). Every failure to find it (a malformed tenant or
// client id included) is KindNotFound, so that callers answer all alike.
func (s *Applications) ClientApplication(ctx context.Context, tenantID, clientID string) (*Application, error) {
	if !IsGUID(tenantID) || !IsGUID(clientID) {
		return nil, ErrNotFoundApplication(textlimit.Clip(clientID, maxEchoed))
	}
	a, err := s.store.GetApplication(ctx, strings.ToLower(tenantID), strings.ToLower(clientID), true)
	if KindOf(err) == KindNotFound {
		return nil, ErrNotFoundApplication(clientID)
	}
	return a, err
}

// SPAOriginRegistered reports whether origin (as a browser sends it in
// Origin) is the origin of a spa redirect URI of any application of the
// tenant: the answer to a CORS preflight, which names no client.
func (s *Applications) SPAOriginRegistered(ctx context.Context, tenantID, origin string) (bool, error) {
	if !IsGUID(tenantID) || origin == "" || len(origin) > MaxRedirectURILength {
		return false, nil
	}
	return s.store.SPAOriginRegistered(ctx, strings.ToLower(tenantID), origin)
}

// SPAOriginRegisteredAnyTenant reports whether origin is the origin of a
// spa redirect URI of an application of any tenant: the answer to a CORS
// preflight, which carries no token and so names no tenant.
func (s *Applications) SPAOriginRegisteredAnyTenant(ctx context.Context, origin string) (bool, error) {
	if origin == "" || len(origin) > MaxRedirectURILength {
		return false, nil
	}
	return s.store.SPAOriginRegisteredAnyTenant(ctx, origin)
}
