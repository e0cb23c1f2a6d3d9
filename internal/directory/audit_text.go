package directory

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/graphdir/graphdir/internal/textlimit"
)

// MaxAuditString bounds every string an audit event stores (a key, a
// display name, a value): an attacker's 100 KB key must not make the
// audit log 100 KB per probe.
const MaxAuditString = 1024

// auditTruncated marks a string Sanitize cut short.
const auditTruncated = "…[truncated]"

// Sanitize makes every string of ev storable in any text or JSON column:
// a NUL byte (which PostgreSQL text and jsonb refuse) and each byte of
// invalid UTF-8 (lone surrogates included, which UTF-8 cannot encode)
// are written as the escape \x00 / \xNN, so the record shows what was
// sent instead of failing; strings longer than MaxAuditString are cut at a
// character boundary and marked. An event holding hostile input is
// therefore always recorded. Sanitize is idempotent; Auditor.End and the
// stores' audited writes call it before storing.
func (ev *AuditEvent) Sanitize() {
	if ev == nil {
		return
	}
	ev.TenantID = auditText(ev.TenantID)
	ev.CorrelationID = auditText(ev.CorrelationID)
	ev.ResultReason = auditText(ev.ResultReason)
	in := &ev.InitiatedBy
	in.AppID, in.DisplayName = auditText(in.AppID), auditText(in.DisplayName)
	in.ServicePrincipalID, in.UserID = auditText(in.ServicePrincipalID), auditText(in.UserID)
	in.UserPrincipalName = auditText(in.UserPrincipalName)
	for i := range ev.Targets {
		t := &ev.Targets[i]
		t.ID, t.Type = auditText(t.ID), auditText(t.Type)
		t.DisplayName, t.UserPrincipalName = auditText(t.DisplayName), auditText(t.UserPrincipalName)
		for j := range t.ModifiedProperties {
			m := &t.ModifiedProperties[j]
			m.DisplayName = auditText(m.DisplayName)
			if m.OldValue != nil {
				v := auditText(*m.OldValue)
				m.OldValue = &v
			}
			if m.NewValue != nil {
				v := auditText(*m.NewValue)
				m.NewValue = &v
			}
		}
	}
	for i := range ev.AdditionalDetails {
		d := &ev.AdditionalDetails[i]
		d.Key, d.Value = auditText(d.Key), auditText(d.Value)
	}
}

// auditText is one string as Sanitize stores it.
func auditText(s string) string {
	if len(s) <= MaxAuditString && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	var b strings.Builder
	cut := false
	for i := 0; i < len(s); {
		if b.Len() > MaxAuditString {
			cut = true
			break
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) || r == 0 {
			b.WriteString(`\x`)
			if s[i] < 0x10 {
				b.WriteByte('0')
			}
			b.WriteString(strconv.FormatUint(uint64(s[i]), 16))
			i++
			continue
		}
		b.WriteString(s[i : i+size])
		i += size
	}
	out := b.String()
	if !cut && len(out) <= MaxAuditString {
		return out
	}
	return textlimit.ClipMarked(out, MaxAuditString-len(auditTruncated), auditTruncated)
}
