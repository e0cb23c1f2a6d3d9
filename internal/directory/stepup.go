package directory

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// DefaultStepUpProperties are the profile properties a customer may change
// at /me only after multi-factor authentication ("password" stands for
// passwordProfile and POST /me/changePassword).
var DefaultStepUpProperties = []string{"mail", "otherMails", "mobilePhone", "identities", "passwordProfile"}

// DefaultStepUpACRS is the authentication context (Entra Conditional Access
// "c1".."c99") that counts as stepped up.
var DefaultStepUpACRS = []string{"c1"}

// StepUp is the step-up rule for sensitive self-service edits. Graph's
// external-tenant self-service set
// (https://learn.microsoft.com/graph/api/resources/users#default-user-permissions-in-external-tenants)
// does not include these properties; graphdir lets a customer change them
// at /me when the token proves multi-factor authentication: amr contains
// "mfa", or acrs contains one of the configured authentication contexts.
// Otherwise the write is refused with 401 and an Entra-style claims
// challenge, so that MSAL-based apps can ask for a stepped-up token and
// retry.
type StepUp struct {
	props map[string]bool
	acrs  []string
	// claims is the base64 claims challenge.
	claims string
}

// NewStepUp checks the property names (exact or any case; "password" means
// passwordProfile) and authentication contexts and returns the rule. An
// empty property list disables step-up; acrs must not be empty.
func NewStepUp(properties, acrs []string) (*StepUp, error) {
	su := &StepUp{props: map[string]bool{}}
	for _, name := range properties {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if strings.EqualFold(name, "password") {
			name = "passwordProfile"
		}
		p, ok := LookupPropertyFold(name)
		if !ok || p.ReadOnly {
			return nil, fmt.Errorf("step-up property %q is not a writable user property", name)
		}
		su.props[p.Name] = true
	}
	for _, a := range acrs {
		if a = strings.TrimSpace(a); a != "" {
			if strings.ContainsAny(a, "\"\\ ,") {
				return nil, fmt.Errorf("authentication context %q may not contain quotes, backslashes, spaces or commas", a)
			}
			su.acrs = append(su.acrs, a)
		}
	}
	if len(su.acrs) == 0 {
		return nil, fmt.Errorf("at least one step-up authentication context is required")
	}
	// Entra's claims request: {"access_token":{"acrs":{"essential":true,"value":"c1"}}}.
	// With several accepted contexts the challenge asks for the first.
	js, _ := json.Marshal(map[string]any{"access_token": map[string]any{
		"acrs": map[string]any{"essential": true, "value": su.acrs[0]}}})
	su.claims = base64.StdEncoding.EncodeToString(js)
	return su, nil
}

var defaultStepUp = func() *StepUp {
	su, err := NewStepUp(DefaultStepUpProperties, DefaultStepUpACRS)
	if err != nil {
		panic(err)
	}
	return su
}()

// Requires reports whether changing property name at /me needs step-up.
func (su *StepUp) Requires(name string) bool { return su != nil && su.props[name] }

// Properties returns the step-up properties, sorted.
func (su *StepUp) Properties() []string {
	out := make([]string, 0, len(su.props))
	for n := range su.props {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Claims returns the base64 claims challenge.
func (su *StepUp) Claims() string { return su.claims }

// Satisfied reports whether p's token shows multi-factor authentication and
// returns how ("amr:mfa" or "acrs:c1") for the audit trail.
func (su *StepUp) Satisfied(p *Principal) (string, bool) {
	if p == nil {
		return "", false
	}
	for _, m := range p.AMR {
		if strings.EqualFold(m, "mfa") {
			return "amr:mfa", true
		}
	}
	for _, a := range p.ACRS {
		if slices.Contains(su.acrs, a) {
			return "acrs:" + a, true
		}
	}
	return "", false
}

// challenge is the 401 a write of names without step-up gets. The code is
// Graph's InvalidAuthenticationToken (the one 401 code Graph uses, also for
// its own Continuous Access Evaluation claims challenges); the edge adds
// WWW-Authenticate: Bearer realm=..., error="insufficient_claims", claims="...".
func (su *StepUp) challenge(names []string) *Error {
	names = slices.Clone(names)
	slices.Sort(names)
	return &Error{Kind: KindUnauthenticated, Claims: su.claims, Target: names[0],
		Message: "Changing " + strings.Join(names, ", ") + " requires multi-factor authentication: " +
			"sign in again with MFA (amr 'mfa') or the authentication context '" + su.acrs[0] + "' requested by the claims challenge."}
}

// WithStepUp sets the step-up rule; without it the Service uses the
// defaults (DefaultStepUpProperties, DefaultStepUpACRS). A rule with no
// properties disables step-up.
func WithStepUp(su *StepUp) ServiceOption {
	return func(s *Service) { s.ext.stepUp = su }
}

func (s *Service) stepUpRule() *StepUp {
	if s.ext.stepUp != nil {
		return s.ext.stepUp
	}
	return defaultStepUp
}

// checkSelfService applies the self-service property rule of a /me (or own
// id) update before anything is read: every property must be in the base
// self-service set (https://learn.microsoft.com/graph/api/resources/users#default-user-permissions-in-external-tenants)
// or in the step-up set; anything
// else is 403 whatever the token.
func (s *Service) checkSelfService(p *Principal, values map[string]any) error {
	su := s.stepUpRule()
	for name := range values {
		if prop, _ := LookupProperty(name); (prop != nil && prop.SelfService) || su.Requires(name) {
			continue
		}
		msg := "Insufficient privileges to complete the operation. A user may change only these properties of their own profile: " +
			strings.Join(SelfServiceProperties(), ", ")
		if len(su.props) > 0 {
			msg += "; and, after multi-factor authentication, " + strings.Join(su.Properties(), ", ")
		}
		return &Error{Kind: KindForbidden, Target: name, Message: msg + "."}
	}
	return nil
}

// checkStepUp requires a stepped-up token when values holds a step-up
// property: 401 with a claims challenge otherwise. It runs once the key is
// known to be the caller's own, so a write addressed to someone else is a
// plain 403, never a prompt for MFA. How the caller stepped up goes into
// the audit event.
func (s *Service) checkStepUp(p *Principal, values map[string]any, ev *AuditEvent) error {
	su := s.stepUpRule()
	var needs []string
	for name := range values {
		if su.Requires(name) {
			needs = append(needs, name)
		}
	}
	if len(needs) == 0 {
		return nil
	}
	how, ok := su.Satisfied(p)
	if !ok {
		return su.challenge(needs)
	}
	ev.AddDetail("stepUp", how)
	return nil
}
