package directory

import (
	"context"
	"strings"
)

// CustomerMFAEmail returns the address a customer's email one-time-code
// second factor goes to, "" when the account has none (native
// authentication then asks the customer to register one: just-in-time
// registration). It is the first otherMails entry (what just-in-time
// registration records, or what an administrator provisioned: Entra shows
// otherMails as the alternate email of authentication contact info), else
// mail (self-service sign-up sets it to the address its code proved).
// The sign-in email alone does not count: an administrator can create an
// emailAddress identity nobody ever proved to receive mail at.
func (s *Service) CustomerMFAEmail(ctx context.Context, tenantID, userID string) (string, error) {
	if !IsGUID(tenantID) || !IsGUID(userID) {
		return "", ErrNotFoundUser(userID)
	}
	u, err := s.store.GetUser(ctx, normalizeGUID(tenantID), UserKey{ID: normalizeGUID(userID)})
	if err != nil {
		return "", err
	}
	return mfaEmailOf(u), nil
}

func mfaEmailOf(u *User) string {
	for _, m := range u.OtherMails {
		if m = strings.TrimSpace(m); m != "" {
			return m
		}
	}
	if u.Mail != nil {
		return strings.TrimSpace(*u.Mail)
	}
	return ""
}

// RegisterMFAEmail records email, which the customer has just proven to
// receive mail at, as their MFA address: it becomes the first otherMails
// entry, in one transaction with its audit event ("Update user",
// initiated by the application). The write is conditional on the version
// read, so a concurrent edit is not lost (KindPreconditionFailed then).
func (s *Service) RegisterMFAEmail(ctx context.Context, tenantID, appID, userID, email string) (err error) {
	p := &Principal{Kind: PrincipalApp, TenantID: tenantID, AppID: appID}
	ev := s.auditUser(ctx, p, ActivityUpdateUser, UserKey{ID: normalizeGUID(userID)}, []string{"otherMails"})
	defer s.auditEnd(ctx, ev, &err)
	ev.AddDetail("flow", "just-in-time MFA method registration")
	if !IsGUID(tenantID) || !IsGUID(userID) {
		return ErrNotFoundUser(userID)
	}
	tid, uid := normalizeGUID(tenantID), normalizeGUID(userID)
	u, err := s.store.GetUser(ctx, tid, UserKey{ID: uid})
	if err != nil {
		return err
	}
	mails := []string{email}
	for _, m := range u.OtherMails {
		if !strings.EqualFold(m, email) && len(mails) < maxOtherMails {
			mails = append(mails, m)
		}
	}
	if err := s.checkValues(map[string]any{"otherMails": mails}, nil); err != nil {
		return err
	}
	_, err = s.store.UpdateUser(ctx, tid, UserKey{ID: uid}, UserPatch{Values: map[string]any{"otherMails": mails}, IfVersion: u.Version, Audit: ev})
	return err
}

// maxOtherMails is Graph's limit on otherMails entries.
const maxOtherMails = 250
