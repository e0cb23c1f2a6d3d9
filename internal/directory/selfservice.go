package directory

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/graphdir/graphdir/pkg/odata"

	"github.com/graphdir/graphdir/internal/password"
)

// The self-service side of the directory: what the customer flows
// (native authentication, hosted pages) do to accounts without a caller
// holding Graph permissions. Each write is audited with the application
// the customer used as the initiator, as External ID's self-service
// sign-up and password reset are.

// ActivityResetPasswordSelfService is Entra's audit activity of a
// self-service password reset.
var ActivityResetPasswordSelfService = Activity{"Reset password (self-service)", "Update", "UserManagement", "User"}

// SelfServiceSignUp is one customer account a sign-up flow creates.
type SelfServiceSignUp struct {
	TenantID string
	// AppID is the application the customer signed up through (the
	// audit event's initiator).
	AppID string
	// Email is the verified sign-in email: the emailAddress identity and mail.
	Email string
	// PasswordHash is the argon2id hash of the password the customer
	// chose (the flow keeps only the hash); "" for an account that signs
	// in with email codes only.
	PasswordHash string
	// Values are the user properties the flow collected, as
	// SignUpValues returned them.
	Values map[string]any
}

// PasswordProblem says why a new password is refused, in the terms
// native authentication reports (password_too_short, ...).
type PasswordProblem string

// The password problems.
const (
	PasswordTooShort PasswordProblem = "too_short"
	PasswordTooLong  PasswordProblem = "too_long"
	PasswordTooWeak  PasswordProblem = "too_weak"
	PasswordInvalid  PasswordProblem = "is_invalid"
)

// CheckNewPassword applies the password policy POST /users applies
// (complexity, 8 to 256 characters) to a password a customer chose; ""
// when it is acceptable.
func CheckNewPassword(pw string) PasswordProblem {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw) || strings.ContainsFunc(pw, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return PasswordInvalid
	case n < 8:
		return PasswordTooShort
	case n > password.MaxLength:
		return PasswordTooLong
	case !password.Complex(pw):
		return PasswordTooWeak
	}
	return ""
}

// SignUpAttributesError lists the attributes of a sign-up that are
// refused (by the flow's rules or by POST /users' validation).
type SignUpAttributesError struct {
	Invalid []string
	Message string
}

func (e *SignUpAttributesError) Error() string { return e.Message }

// maxAttributeValue bounds one collected value before any validation.
const maxAttributeValue = 1024

// SignUpValues turns the attributes a customer submitted (attribute name
// -> value, as native authentication's attributes JSON carries them) into
// user property values, checked against the flow (known attribute,
// options, regular expression) and against the validation POST /users
// applies. Attributes the flow does not collect are refused. Missing
// required attributes are not an error here: MissingSignUpAttributes
// tells them.
func (s *Service) SignUpValues(ctx context.Context, tenantID string, flow UserFlow, attrs map[string]string) (map[string]any, error) {
	values := map[string]any{}
	var invalid []string
	for name, v := range attrs {
		i := slices.IndexFunc(flow.Attributes, func(a FlowAttribute) bool { return strings.EqualFold(a.Name, name) })
		if i < 0 || len(v) > maxAttributeValue || !utf8.ValidString(v) {
			invalid = append(invalid, name)
			continue
		}
		a := flow.Attributes[i]
		if !attributeValueAllowed(a, v) {
			invalid = append(invalid, a.Name)
			continue
		}
		raw, ok := attributeJSON(a, v)
		if !ok {
			invalid = append(invalid, a.Name)
			continue
		}
		if a.Extension != nil {
			values[a.UserProperty] = json.RawMessage(raw)
			continue
		}
		prop, ok := LookupProperty(a.UserProperty)
		if !ok {
			invalid = append(invalid, a.Name)
			continue
		}
		dv, err := prop.Decode(raw)
		if err != nil {
			invalid = append(invalid, a.Name)
			continue
		}
		values[prop.Name] = dv
	}
	if len(invalid) == 0 {
		// POST /users' own checks, on a user built as SignUpCustomer
		// builds it, so a value it would refuse is refused here.
		_, err := s.newCustomer(ctx, SelfServiceSignUp{TenantID: tenantID, Email: "check@example.com", Values: values})
		if de, ok := err.(*Error); ok && de.Kind == KindInvalid {
			name := de.Target
			for _, a := range flow.Attributes {
				if strings.EqualFold(a.UserProperty, de.Target) {
					name = a.Name
				}
			}
			invalid = append(invalid, name)
		} else if err != nil {
			return nil, err
		}
	}
	if len(invalid) > 0 {
		slices.Sort(invalid)
		return nil, &SignUpAttributesError{Invalid: slices.Compact(invalid), Message: "One or more attributes are invalid."}
	}
	return values, nil
}

// MissingSignUpAttributes lists the flow's required attributes that
// collected (attribute name -> value) lacks or has empty.
func MissingSignUpAttributes(flow UserFlow, collected map[string]string) []FlowAttribute {
	var out []FlowAttribute
	for _, a := range flow.Attributes {
		if !a.Required {
			continue
		}
		found := false
		for k, v := range collected {
			if strings.EqualFold(k, a.Name) && strings.TrimSpace(v) != "" {
				found = true
			}
		}
		if !found {
			out = append(out, a)
		}
	}
	return out
}

// attributeValueAllowed applies the flow's own rules to one value.
func attributeValueAllowed(a FlowAttribute, v string) bool {
	if a.ValidationRegEx != "" && v != "" {
		re, err := regexp.Compile("^(?:" + a.ValidationRegEx + ")$")
		if err != nil || !re.MatchString(v) {
			return false
		}
	}
	if len(a.Options) > 0 && v != "" {
		parts := []string{v}
		if a.InputType == "checkboxMultiSelect" {
			parts = strings.Split(v, ",")
		}
		for _, p := range parts {
			if !slices.ContainsFunc(a.Options, func(o FlowOptionConfig) bool { return o.Value == strings.TrimSpace(p) }) {
				return false
			}
		}
	}
	return true
}

// attributeJSON is the JSON form of a collected (always textual) value
// for the attribute's data type.
func attributeJSON(a FlowAttribute, v string) ([]byte, bool) {
	switch strings.ToLower(a.DataType) {
	case "boolean":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, false
		}
		return []byte(strconv.FormatBool(b)), true
	case "int64":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, false
		}
		return []byte(strconv.FormatInt(n, 10)), true
	}
	b, err := json.Marshal(v)
	return b, err == nil
}

// newCustomer builds the account a sign-up creates and checks it as
// CreateUser checks a new user: the collected values, an emailAddress
// identity in the tenant's issuer (its default domain, as External ID's
// self-service sign-up uses the tenant's), mail = the email,
// creationType LocalAccount.
func (s *Service) newCustomer(ctx context.Context, r SelfServiceSignUp) (*User, error) {
	values := make(map[string]any, len(r.Values)+1)
	for k, v := range r.Values {
		values[k] = v
	}
	values, exts, t, err := s.writeInput(ctx, r.TenantID, values)
	if err != nil {
		return nil, err
	}
	u := &User{ID: s.newID(), TenantID: t.ID, Extensions: exts}
	now := s.now().UTC().Truncate(time.Microsecond)
	u.CreatedDateTime = &now
	for name, v := range values {
		prop, _ := LookupProperty(name)
		prop.set(u, v)
	}
	email := strings.ToLower(strings.TrimSpace(r.Email))
	u.Identities = []Identity{{SignInType: "emailAddress", Issuer: t.DefaultDomain, IssuerAssignedID: email}}
	u.Mail = &email
	if _, ok := values["displayName"]; !ok {
		// A graphdir user needs a displayName; a flow that does not
		// collect one gets the email's local part, as External ID shows
		// "unknown" rather than nothing.
		dn := email
		if at := strings.LastIndexByte(email, '@'); at > 0 {
			dn = email[:at]
		}
		values["displayName"] = &dn
		u.DisplayName = &dn
	}
	// A code-only account has no password; applyCreateRules would ask for
	// one, so it is told one exists and the hash stays empty.
	if err := s.applyCreateRules(u, t, values, true); err != nil {
		return nil, err
	}
	if r.PasswordHash != "" {
		u.Password = PasswordState{Hash: r.PasswordHash}
		u.LastPasswordChangeDateTime = &now
	}
	return u, nil
}

// SignUpCustomer creates the account of a completed self-service sign-up,
// in one transaction with its audit event ("Add user", initiated by the
// application). KindConflict when the email is taken (the identity's
// unique index decides, not a prior read).
func (s *Service) SignUpCustomer(ctx context.Context, r SelfServiceSignUp) (_ *User, err error) {
	if !IsGUID(r.TenantID) {
		return nil, ErrNotFoundUser(r.Email)
	}
	if r.PasswordHash != "" && !password.IsHash(r.PasswordHash) {
		return nil, Internal(errors.New("the password is not an argon2id hash"), "sign-up")
	}
	names := []string{"identities", "mail", "displayName"}
	for k := range r.Values {
		names = append(names, k)
	}
	if r.PasswordHash != "" {
		names = append(names, "passwordProfile")
	}
	slices.Sort(names)
	p := &Principal{Kind: PrincipalApp, TenantID: r.TenantID, AppID: r.AppID}
	ev := s.auditUser(ctx, p, ActivityAddUser, UserKey{}, slices.Compact(names))
	defer s.auditEnd(ctx, ev, &err)
	ev.AddDetail("creationType", "LocalAccount")
	ev.AddDetail("flow", "self-service sign-up")
	u, err := s.newCustomer(ctx, r)
	if err != nil {
		return nil, err
	}
	auditNewUser(ev, u)
	if err := s.store.CreateUser(ctx, u, ev); err != nil {
		return nil, err
	}
	return u, nil
}

// CustomerBySignInEmail returns the live user whose emailAddress identity
// (any issuer) is email; KindNotFound when there is none.
func (s *Service) CustomerBySignInEmail(ctx context.Context, tenantID, email string) (*User, error) {
	email = strings.TrimSpace(email)
	if !IsGUID(tenantID) || email == "" || len(email) > 254 || !utf8.ValidString(email) || strings.ContainsAny(email, "\x00") {
		return nil, ErrNotFoundUser(email)
	}
	f, err := odata.ParseFilter("identities/any(i:i/issuerAssignedId eq '" + strings.ReplaceAll(email, "'", "''") + "')")
	if err != nil {
		return nil, ErrNotFoundUser(email)
	}
	page, err := s.store.ListUsers(ctx, normalizeGUID(tenantID), ListQuery{Filter: f, Top: 2})
	if err != nil {
		return nil, err
	}
	for _, u := range page.Users {
		for _, id := range u.Identities {
			if strings.HasPrefix(strings.ToLower(id.SignInType), "emailaddress") && strings.EqualFold(id.IssuerAssignedID, email) {
				return u, nil
			}
		}
	}
	return nil, ErrNotFoundUser(email)
}

// ResetCustomerPassword sets a new password for a customer who proved
// control of their email (self-service password reset): the policy of
// POST /users (unless the user's passwordPolicies allow weak ones), a new
// argon2id hash and lastPasswordChangeDateTime in one transaction with the
// audit event, initiated by the application. The store's password change
// moves the user's sign-in session boundary, which ends every refresh
// token issued before.
func (s *Service) ResetCustomerPassword(ctx context.Context, tenantID, appID, userID, newPassword string) (err error) {
	p := &Principal{Kind: PrincipalApp, TenantID: tenantID, AppID: appID}
	ev := s.auditUser(ctx, p, ActivityResetPasswordSelfService, UserKey{ID: normalizeGUID(userID)}, []string{"passwordProfile"})
	defer s.auditEnd(ctx, ev, &err)
	if !IsGUID(tenantID) || !IsGUID(userID) {
		return ErrNotFoundUser(userID)
	}
	err = s.store.ChangePassword(ctx, normalizeGUID(tenantID), normalizeGUID(userID), s.now().UTC().Truncate(time.Microsecond),
		func(_ PasswordState, policies *string) (*PasswordState, error) {
			return s.passwordState(&PasswordProfile{Password: &newPassword}, policies)
		}, ev)
	if KindOf(err) == KindNotFound {
		return ErrNotFoundUser(userID)
	}
	return err
}
