package directory

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/password"
)

// Service holds the business rules of the users API: who may read or write
// which user and property, defaults, generated userPrincipalNames, and
// validation that needs no database. Every method reads the caller from the
// context (WithPrincipal) and checks permissions before touching the Store.
type Service struct {
	store    Store
	validate *validator.Validate
	now      func() time.Time
	newID    func() string
	hash     func(string) (string, error)

	tenants sync.Map // tenant id -> cachedTenant; tenants change rarely

	ext serviceExt // step-up, audit trail, password attempts (audit_service.go)
}

// ServiceOption configures a Service.
type ServiceOption func(*Service)

// WithClock replaces time.Now (tests use a fixed clock).
func WithClock(now func() time.Time) ServiceOption { return func(s *Service) { s.now = now } }

// WithPasswordHasher replaces the argon2id hasher (tests use cheaper parameters).
func WithPasswordHasher(h func(string) (string, error)) ServiceOption {
	return func(s *Service) { s.hash = h }
}

// NewService returns a Service over store.
func NewService(store Store, opts ...ServiceOption) *Service {
	s := &Service{
		store:    store,
		validate: validator.New(validator.WithRequiredStructEnabled()),
		now:      time.Now,
		newID:    uuid.NewString,
		hash:     password.Hash,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Every public method of the Service resolves its request once, at the
// top: the caller (PrincipalFrom), the target key (ParseUserKey), the
// audit event of a write, and the access decision (accessFor); the
// helpers below it take those as parameters and never look them up again.

// tenantCacheTTL bounds how long an instance uses a tenant as it read it:
// a tenant changed through another instance or the CLI (its domains, its
// settings) is seen here within this time.
const tenantCacheTTL = time.Minute

type cachedTenant struct {
	t    *Tenant
	read time.Time
}

func (s *Service) tenant(ctx context.Context, id string) (*Tenant, error) {
	now := s.now()
	if c, ok := s.tenants.Load(id); ok && now.Sub(c.(cachedTenant).read) < tenantCacheTTL {
		return c.(cachedTenant).t, nil
	}
	t, err := s.store.Tenant(ctx, id)
	if err != nil {
		return nil, err
	}
	s.tenants.Store(id, cachedTenant{t, now})
	return t, nil
}

// GetUser returns the user addressed by key (object id or userPrincipalName).
// A signed-in customer may only address themselves; any other key is
// KindForbidden whether or not that user exists.
func (s *Service) GetUser(ctx context.Context, key string) (*User, error) {
	a, err := s.access(ctx, OpReadUser)
	if err != nil {
		return nil, err
	}
	return s.readUser(ctx, a, ParseUserKey(key))
}

// GetMe returns the signed-in user. KindBadRequest for app-only callers.
func (s *Service) GetMe(ctx context.Context) (*User, error) {
	p := PrincipalFrom(ctx)
	if err := Authorize(p, OpReadSelf); err != nil {
		return nil, err
	}
	return s.self(ctx, p, selfKey(p))
}

// self loads the caller's own user and checks that k addresses it.
func (s *Service) self(ctx context.Context, p *Principal, k UserKey) (*User, error) {
	own := selfKey(p)
	if own.ID == "" {
		return nil, ErrInsufficientPrivileges()
	}
	me, err := s.store.GetUser(ctx, p.TenantID, own)
	if KindOf(err) == KindNotFound {
		// The token names a user who no longer exists.
		return nil, ErrNotFoundUser(p.UserID)
	}
	if err != nil {
		return nil, err
	}
	if !addresses(k, me) {
		return nil, &Error{Kind: KindForbidden, Message: "Insufficient privileges to complete the operation. " +
			"Without a directory role that reads the directory (and a scope such as " + PermUserReadAll +
			"), a signed-in user may address only their own profile."}
	}
	return me, nil
}

func addresses(k UserKey, u *User) bool {
	if k.ID != "" {
		return k.ID == u.ID
	}
	return u.UserPrincipalName != nil && strings.EqualFold(k.UPN, *u.UserPrincipalName)
}

// ListUsers returns one page of the caller's tenant. Customers may not
// list. The query's trees pass through unchanged: the store resolves every
// property through its allow-list and refuses what it cannot answer
// (KindUnsupported naming the property or operator). Rules that depend on
// which properties a query touches (User.ReadBasic.All) hook in at
// checkQuery, over ReferencedProperties.
func (s *Service) ListUsers(ctx context.Context, q ListQuery) (*Page, error) {
	a, err := s.access(ctx, OpListUsers)
	if err != nil {
		return nil, err
	}
	p := a.P
	if q.Top < 1 || q.Top > 999 {
		return nil, Errorf(KindUnsupported, "Invalid page size specified: '%d'. Must be between 1 and 999 inclusive.", q.Top)
	}
	if q.Skip < 0 {
		return nil, (&Error{Kind: KindBadRequest, Message: "Invalid $skip value: must be a non-negative integer."}).WithTarget("$skip")
	}
	if err := a.checkListQuery(q); err != nil {
		return nil, err
	}
	if q, err = s.withQueryExtensions(ctx, p.TenantID, q); err != nil {
		return nil, err
	}
	page, err := s.store.ListUsers(ctx, p.TenantID, q)
	return a.trimPage(page), err
}

// CountUsers counts the users of the caller's tenant that q's Filter and
// Search match (its paging fields are ignored). It needs what listing
// needs: a count reveals as much as a listing of ids would.
func (s *Service) CountUsers(ctx context.Context, q ListQuery) (int64, error) {
	a, err := s.access(ctx, OpListUsers)
	if err != nil {
		return 0, err
	}
	q = ListQuery{Filter: q.Filter, Search: q.Search}
	if err := a.checkListQuery(q); err != nil {
		return 0, err
	}
	if q, err = s.withQueryExtensions(ctx, a.P.TenantID, q); err != nil {
		return 0, err
	}
	return s.store.CountUsers(ctx, a.P.TenantID, q)
}

// DeleteUser moves the user addressed by key to deleted items (deleted.go).
func (s *Service) DeleteUser(ctx context.Context, key string) (err error) {
	p, k := PrincipalFrom(ctx), ParseUserKey(key)
	ev := s.auditUser(ctx, p, ActivityDeleteUser, k, nil)
	defer s.auditEnd(ctx, ev, &err)
	a, err := s.accessFor(ctx, p, OpDeleteUser)
	if err != nil {
		return err
	}
	plan, err := a.CheckDelete()
	if err != nil {
		return err
	}
	// A soft delete (deleted.go), conditional on If-Match when the request has one.
	return s.store.SoftDeleteUser(ctx, p.TenantID, k, plan.Guard, ifMatch(ctx), ev)
}

// CreateUser creates a user from decoded property values (as Property.Decode
// returns them, keyed by exact property name). Both of Graph's shapes work: a
// workforce user (accountEnabled, displayName, mailNickname,
// userPrincipalName, passwordProfile) and a customer with identities, whose
// userPrincipalName is generated as {id}@{tenant default domain}.
func (s *Service) CreateUser(ctx context.Context, values map[string]any) (_ *User, err error) {
	p := PrincipalFrom(ctx)
	ev := s.auditUserWrite(ctx, p, ActivityAddUser, UserKey{}, values)
	defer s.auditEnd(ctx, ev, &err)
	if _, err := s.accessFor(ctx, p, OpCreateUser); err != nil {
		return nil, err
	}
	values, exts, t, err := s.writeInput(ctx, p.TenantID, values)
	if err != nil {
		return nil, err
	}
	u := &User{ID: s.newID(), TenantID: p.TenantID, Extensions: exts}
	now := s.now().UTC().Truncate(time.Microsecond)
	u.CreatedDateTime = &now

	var pp *PasswordProfile
	for name, v := range values {
		prop, _ := LookupProperty(name)
		if prop.Type == TypePasswordProfile {
			pp = v.(*PasswordProfile)
			continue
		}
		prop.set(u, v)
	}
	if err := s.applyCreateRules(u, t, values, pp != nil && pp.Password != nil); err != nil {
		return nil, err
	}
	if pp != nil {
		st, err := s.passwordState(pp, u.PasswordPolicies)
		if err != nil {
			return nil, err
		}
		u.Password = *st
		u.LastPasswordChangeDateTime = &now
	}
	auditNewUser(ev, u)
	if err := s.store.CreateUser(ctx, u, ev); err != nil {
		return nil, err
	}
	return u, nil
}

// applyCreateRules completes a new user whose given values are set on u:
// it normalizes the identities, requires what CreateUser requires
// (withPassword: a password was given), fills in the defaults and checks
// the result against the tenant. The importer calls it too, so that an
// imported user is one CreateUser would have accepted.
func (s *Service) applyCreateRules(u *User, t *Tenant, values map[string]any, withPassword bool) error {
	if err := s.normalizeIdentities(u, t); err != nil {
		return err
	}
	local := hasLocalIdentity(u.Identities)

	// Required properties: Graph's workforce set unless the user signs in
	// with identities, where only what the sign-in needs is required.
	var missing string
	if len(u.Identities) == 0 {
		for _, name := range []string{"accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile"} {
			if _, ok := values[name]; !ok {
				missing = name
				break
			}
		}
	} else if _, ok := values["displayName"]; !ok && !onlyFederated(u.Identities) {
		missing = "displayName"
	}
	if missing == "" && local && !withPassword {
		missing = "passwordProfile"
	}
	if missing != "" {
		return &Error{Kind: KindInvalid, Target: missing,
			Message: "Property '" + missing + "' is required when creating the user."}
	}

	if u.AccountEnabled == nil {
		enabled := true
		u.AccountEnabled = &enabled
	}
	if u.UserPrincipalName == nil {
		upn := u.ID + "@" + t.DefaultDomain
		u.UserPrincipalName = &upn
	}
	if u.MailNickname == nil {
		nick := mailNicknameFrom(*u.UserPrincipalName)
		u.MailNickname = &nick
	}
	if u.UserType == nil {
		member := "Member"
		u.UserType = &member
	}
	if local {
		ct := "LocalAccount"
		u.CreationType = &ct
	}
	if err := s.checkValues(values, t); err != nil {
		return err
	}
	return s.checkUser(u, t)
}

// UpdateUser applies a PATCH to the user addressed by key and returns it.
func (s *Service) UpdateUser(ctx context.Context, key string, values map[string]any) (_ *User, err error) {
	p, k := PrincipalFrom(ctx), ParseUserKey(key)
	ev := s.auditUserWrite(ctx, p, ActivityUpdateUser, k, values)
	defer s.auditEnd(ctx, ev, &err)
	a, err := s.accessFor(ctx, p, OpUpdateUser)
	if err != nil {
		return nil, err
	}
	if a.selfService(k, values) {
		// Another user's key is a 403 before any property or step-up
		// rule: no claims challenge for a write MFA would not allow.
		// self reads only the caller's own user, so the answer is the
		// same whether or not the other user exists.
		me, err := s.self(ctx, p, k)
		if err != nil {
			return nil, err
		}
		return s.updateSelf(ctx, p, me, values, ev)
	}
	// Permissions and roles per property, before any data is read; the
	// target's roles are checked by the store in the write itself.
	plan, err := a.CheckUpdate(writtenProperties(values))
	if err != nil {
		return nil, err
	}
	return s.update(ctx, p, k, values, plan.Guard, ev)
}

// UpdateMe applies a PATCH to the signed-in user's own profile.
func (s *Service) UpdateMe(ctx context.Context, values map[string]any) (_ *User, err error) {
	p := PrincipalFrom(ctx)
	ev := s.auditUserWrite(ctx, p, ActivityUpdateUser, selfKey(p), values)
	defer s.auditEnd(ctx, ev, &err)
	if err := Authorize(p, OpUpdateSelf); err != nil {
		return nil, err
	}
	return s.updateSelf(ctx, p, nil, values, ev)
}

// updateSelf applies a self-service PATCH of p's own user: me when the
// caller has already read it (UpdateUser addressed it by key), nil when it
// is read here (after the property rules, as /me answers them first).
func (s *Service) updateSelf(ctx context.Context, p *Principal, me *User, values map[string]any, ev *AuditEvent) (*User, error) {
	if err := checkWritable(values); err != nil {
		return nil, err
	}
	// Property rules come before any lookup: what a customer may change is
	// the same whoever they address: the base self-service properties, plus
	// the step-up ones (stepup.go), which need an MFA token once the key is
	// known to be their own.
	if err := s.checkSelfService(p, values); err != nil {
		return nil, err
	}
	if me == nil {
		var err error
		if me, err = s.self(ctx, p, selfKey(p)); err != nil {
			return nil, err
		}
	}
	if err := s.checkStepUp(p, values, ev); err != nil {
		return nil, err
	}
	return s.update(ctx, p, UserKey{ID: me.ID}, values, nil, ev)
}

// writeInput is what a create and an update check first: the extension
// values split from the declared properties, no read-only property among
// them, and the caller's tenant (for its domains).
func (s *Service) writeInput(ctx context.Context, tenantID string, values map[string]any) (map[string]any, []ExtensionValue, *Tenant, error) {
	values, exts, err := s.splitExtensions(ctx, tenantID, values)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := checkWritable(values); err != nil {
		return nil, nil, nil, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, nil, nil, err
	}
	return values, exts, t, nil
}

// update writes a PATCH the caller may make to the user k addresses; guard
// (nil for none) is checked by the store in the same statement.
func (s *Service) update(ctx context.Context, p *Principal, k UserKey, values map[string]any, guard *TargetGuard, ev *AuditEvent) (*User, error) {
	values, exts, t, err := s.writeInput(ctx, p.TenantID, values)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"displayName", "accountEnabled", "userPrincipalName", "mail", "mailNickname"} {
		if v, ok := values[name]; ok && isNil(v) {
			return nil, &Error{Kind: KindInvalid, Target: name, Message: "Property '" + name + "' cannot be cleared."}
		}
	}
	patch := UserPatch{Values: make(map[string]any, len(values)), IfVersion: ifMatch(ctx), Guard: guard, Extensions: exts, Audit: ev}
	var probe User
	for name, v := range values {
		prop, _ := LookupProperty(name)
		switch prop.Type {
		case TypePasswordProfile:
			continue
		case TypeIdentities:
			probe.Identities = v.([]Identity)
			if upn, ok := values["userPrincipalName"].(*string); ok {
				probe.UserPrincipalName = upn
			}
			if err := s.normalizeIdentities(&probe, t); err != nil {
				return nil, err
			}
			if probe.UserPrincipalName != nil {
				patch.Values["userPrincipalName"] = probe.UserPrincipalName
			}
			patch.Values[name] = probe.Identities
			continue
		}
		patch.Values[name] = v
	}
	if err := s.checkValues(values, t); err != nil {
		return nil, err
	}
	if upn, ok := patch.Values["userPrincipalName"].(*string); ok {
		if err := checkUPN(*upn, t); err != nil {
			return nil, err
		}
	}
	if ids, ok := patch.Values["identities"].([]Identity); ok {
		if err := s.checkIdentities(ids); err != nil {
			return nil, err
		}
	}
	if v, ok := values["passwordProfile"]; ok {
		pp := v.(*PasswordProfile)
		var policies *string
		if pol, ok := values["passwordPolicies"].(*string); ok {
			policies = pol
		} else {
			cur, err := s.store.GetUser(ctx, p.TenantID, k)
			if err != nil {
				return nil, err
			}
			policies = cur.PasswordPolicies
		}
		st, err := s.passwordState(pp, policies)
		if err != nil {
			return nil, err
		}
		patch.Password = st
		patch.PasswordChangedAt = s.now().UTC()
	}
	return s.store.UpdateUser(ctx, p.TenantID, k, patch)
}

// passwordState hashes a passwordProfile's password after the complexity
// check its user's passwordPolicies call for.
func (s *Service) passwordState(pp *PasswordProfile, policies *string) (*PasswordState, error) {
	if pp.Password == nil {
		return nil, &Error{Kind: KindInvalid, Target: "passwordProfile.password",
			Message: "Property 'passwordProfile.password' is required."}
	}
	weakAllowed := policies != nil && hasPolicy(*policies, "DisableStrongPassword")
	ok := password.Complex(*pp.Password)
	if weakAllowed {
		ok = password.Acceptable(*pp.Password)
	}
	if !ok {
		return nil, &Error{Kind: KindInvalid, Target: "passwordProfile.password",
			Message: "The specified password does not comply with password complexity requirements. Please provide a different password."}
	}
	h, err := s.hash(*pp.Password)
	if err != nil {
		return nil, Internal(err, "hash password")
	}
	st := &PasswordState{Hash: h}
	if pp.ForceChangePasswordNextSignIn != nil {
		st.ForceChangePasswordNextSignIn = *pp.ForceChangePasswordNextSignIn
	}
	if pp.ForceChangePasswordNextSignInWithMfa != nil {
		st.ForceChangePasswordNextSignInWithMfa = *pp.ForceChangePasswordNextSignInWithMfa
	}
	return st, nil
}

func hasPolicy(policies, want string) bool {
	for _, p := range strings.Split(policies, ",") {
		if strings.EqualFold(strings.TrimSpace(p), want) {
			return true
		}
	}
	return false
}

// checkWritable refuses unknown and read-only properties. The edge already
// refused names outside the table; this keeps the Service safe on its own.
func checkWritable(values map[string]any) error {
	for name := range values {
		prop, ok := LookupProperty(name)
		if !ok && IsExtensionName(name) {
			continue // decoded against the tenant's definitions (extensions.go)
		}
		if !ok {
			return &Error{Kind: KindInvalid, Target: name,
				Message: "Property '" + name + "' does not exist as a declared property or extension property."}
		}
		if prop.ReadOnly {
			return &Error{Kind: KindReadOnly, Target: name, Message: "Property '" + name + "' is read-only and cannot be set."}
		}
	}
	return nil
}

func isNil(v any) bool {
	switch x := v.(type) {
	case *string:
		return x == nil
	case *bool:
		return x == nil
	}
	return v == nil
}

func invalidValue(name string) *Error {
	return &Error{Kind: KindInvalid, Target: name,
		Message: "Invalid value specified for property '" + name + "' of resource 'User'."}
}

// checkValues validates each supplied value against its property's rule.
func (s *Service) checkValues(values map[string]any, t *Tenant) error {
	for name, v := range values {
		prop, _ := LookupProperty(name)
		switch x := v.(type) {
		case *string:
			if x == nil || prop.Validate == "" {
				continue
			}
			if !utf8Clean(*x) || s.validate.Var(*x, prop.Validate) != nil {
				return invalidValue(name)
			}
		case []string:
			if prop.MaxItems > 0 && len(x) > prop.MaxItems {
				return &Error{Kind: KindInvalid, Target: name,
					Message: "Property '" + name + "' accepts at most " + strconv.Itoa(prop.MaxItems) + " values."}
			}
			for _, e := range x {
				if !utf8Clean(e) || (prop.Validate != "" && s.validate.Var(e, prop.Validate) != nil) {
					return invalidValue(name)
				}
			}
		}
		if name == "passwordPolicies" {
			if x, _ := v.(*string); x != nil {
				for _, p := range strings.Split(*x, ",") {
					if p = strings.TrimSpace(p); p != "DisablePasswordExpiration" && p != "DisableStrongPassword" {
						return invalidValue(name)
					}
				}
			}
		}
	}
	return nil
}

func (s *Service) checkUser(u *User, t *Tenant) error {
	if u.DisplayName != nil && strings.TrimSpace(*u.DisplayName) == "" {
		return invalidValue("displayName")
	}
	if err := checkUPN(*u.UserPrincipalName, t); err != nil {
		return err
	}
	return s.checkIdentities(u.Identities)
}

// checkUPN applies Graph's userPrincipalName rules: alias@domain, the alias
// from A-Z a-z 0-9 ' . - _ ! # ^ ~ (at most 64), a verified domain.
func checkUPN(upn string, t *Tenant) error {
	at := strings.LastIndexByte(upn, '@')
	if at <= 0 || at == len(upn)-1 || len(upn) > 113 || at > 64 {
		return invalidValue("userPrincipalName")
	}
	alias, domain := upn[:at], upn[at+1:]
	if alias[0] == '.' || alias[len(alias)-1] == '.' || strings.Contains(alias, "..") {
		return invalidValue("userPrincipalName")
	}
	for i := 0; i < len(alias); i++ {
		c := alias[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("'.-_!#^~", c) >= 0) {
			return invalidValue("userPrincipalName")
		}
	}
	if !t.HasDomain(domain) {
		return &Error{Kind: KindInvalid, Target: "userPrincipalName",
			Message: "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization."}
	}
	return nil
}

// normalizeIdentities takes a userPrincipalName-type identity out of the list:
// it is not stored but derived from userPrincipalName on every read, so the
// two can never disagree; supplying one sets userPrincipalName.
func (s *Service) normalizeIdentities(u *User, t *Tenant) error {
	kept := u.Identities[:0:0]
	for _, id := range u.Identities {
		if strings.EqualFold(id.SignInType, "userPrincipalName") {
			if id.IssuerAssignedID == "" {
				return invalidValue("identities")
			}
			upn := id.IssuerAssignedID
			if u.UserPrincipalName != nil && !strings.EqualFold(*u.UserPrincipalName, upn) {
				return &Error{Kind: KindInvalid, Target: "identities",
					Message: "The userPrincipalName identity must match the userPrincipalName property."}
			}
			u.UserPrincipalName = &upn
			continue
		}
		kept = append(kept, id)
	}
	u.Identities = kept
	return nil
}

// checkIdentities applies objectIdentity's rules: every field present,
// issuer at most 512 and issuerAssignedId at most 64 characters, email
// addresses for emailAddress* sign-in types and Graph's userName alphabet.
func (s *Service) checkIdentities(ids []Identity) error {
	for _, id := range ids {
		if id.SignInType == "" || id.Issuer == "" || id.IssuerAssignedID == "" {
			return &Error{Kind: KindInvalid, Target: "identities",
				Message: "Each identity needs signInType, issuer and issuerAssignedId."}
		}
		if len(id.Issuer) > 512 || len([]rune(id.IssuerAssignedID)) > 64 || len(id.SignInType) > 64 ||
			!utf8Clean(id.Issuer+id.IssuerAssignedID+id.SignInType) {
			return invalidValue("identities")
		}
		switch {
		case strings.HasPrefix(strings.ToLower(id.SignInType), "emailaddress"):
			if s.validate.Var(id.IssuerAssignedID, "email") != nil {
				return &Error{Kind: KindInvalid, Target: "identities",
					Message: "The issuerAssignedId of an emailAddress identity must be a valid email address."}
			}
		case strings.EqualFold(id.SignInType, "userName"):
			if !validUserName(id.IssuerAssignedID) {
				return &Error{Kind: KindInvalid, Target: "identities",
					Message: "The issuerAssignedId of a userName identity must start with a letter or digit and contain only letters, digits, '-' and '_'."}
			}
		}
	}
	return nil
}

func validUserName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || (c != '-' && c != '_')) {
			return false
		}
	}
	return s != ""
}

func hasLocalIdentity(ids []Identity) bool {
	for _, id := range ids {
		t := strings.ToLower(id.SignInType)
		if strings.HasPrefix(t, "emailaddress") || t == "username" {
			return true
		}
	}
	return false
}

func onlyFederated(ids []Identity) bool {
	for _, id := range ids {
		if !strings.EqualFold(id.SignInType, "federated") {
			return false
		}
	}
	return len(ids) > 0
}

// mailNicknameFrom derives a mail nickname from a UPN's alias, as Graph does
// for customers created without one.
func mailNicknameFrom(upn string) string {
	alias := upn
	if at := strings.LastIndexByte(upn, '@'); at > 0 {
		alias = upn[:at]
	}
	var b strings.Builder
	for i := 0; i < len(alias) && b.Len() < 64; i++ {
		c := alias[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "user"
	}
	return b.String()
}

func utf8Clean(s string) bool {
	for _, r := range s {
		if r == 0xFFFD || r < 0x20 && r != '\t' {
			return false
		}
	}
	return true
}
