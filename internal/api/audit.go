package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/textlimit"
	"github.com/graphdir/graphdir/pkg/odata"
)

// AuditLogs is what the edge needs of the audit trail.
type AuditLogs interface {
	// ListDirectoryAudits returns one page of the caller's tenant's events,
	// newest first. KindForbidden, KindUnsupported.
	ListDirectoryAudits(ctx context.Context, q directory.AuditQuery) (*directory.AuditPage, error)
	// RecordDenied records a write the edge refused for lack of rights
	// (directory.IsDenial) before any handler ran; target is the path key
	// as sent ("me" for /me routes).
	RecordDenied(ctx context.Context, act directory.Activity, target string, err error)
	// RecordRefused records a write the edge refused after its permission
	// check (a body or key it could not decode); errors the domain has
	// recorded already (directory.Audited) are skipped.
	RecordRefused(ctx context.Context, act directory.Activity, target string, err error)
}

// recordDenied records a refused write at the edge. op's activity comes
// from directory.AuditedActivity (reads and unregistered operations are
// not recorded); target is the :key path parameter, or "me".
func (s *server) recordDenied(c *gin.Context, op directory.Operation, err error) {
	if !directory.IsDenial(err) {
		return
	}
	act, ok := directory.AuditedActivity(op, c.Request.Method)
	if !ok {
		return
	}
	s.dir.RecordDenied(c.Request.Context(), act, auditTarget(c), err)
}

// auditTarget is the target an edge refusal names: the :key path
// parameter, else :id, else "me" on /me routes.
func auditTarget(c *gin.Context) string {
	target := c.Param("key")
	if target == "" {
		if c.Param("id") != "" {
			target = c.Param("id")
		} else if strings.HasPrefix(c.FullPath(), apiPrefix+"/me") {
			target = "me"
		}
	}
	return target
}

// recordRefusal runs after the handler of an audited write (act): when
// the handler answered an error the domain did not record (renderError
// keeps it in c.Errors), such as a body that is not valid UTF-8, the
// refusal joins the audit trail, so every attempt leaves one event.
func (s *server) recordRefusal(c *gin.Context, act directory.Activity) {
	if len(c.Errors) == 0 {
		return
	}
	s.dir.RecordRefused(c.Request.Context(), act, auditTarget(c), c.Errors.Last().Err)
}

// authorizeCaller is authorize for routes whose check is a function of the
// caller alone (changePassword, audit logs); a refused write is audited
// as act (nil for reads).
func (s *server) authorizeCaller(check func(*directory.Principal) error, act *directory.Activity) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := check(directory.PrincipalFrom(c.Request.Context())); err != nil {
			if act != nil && directory.IsDenial(err) {
				s.dir.RecordDenied(c.Request.Context(), *act, "me", err)
			}
			s.writeError(c, err)
			return
		}
		c.Next()
		if act != nil {
			s.recordRefusal(c, *act)
		}
	}
}

// handleListDirectoryAudits serves GET /v1.0/auditLogs/directoryAudits in
// Graph's directoryAudit shape: newest first, $filter on activityDateTime
// (eq, ge, gt, le, lt with a DateTimeOffset), activityDisplayName,
// correlationId, result and category (eq), joined by and; $orderby on
// activityDateTime (asc or desc); $top (default 100, at most 999); paging
// by @odata.nextLink with a signed $skiptoken (keyset on activityDateTime,
// id; the token is bound to the options, so the order cannot change
// between pages).
func (s *server) handleListDirectoryAudits(c *gin.Context) {
	q, err := parseQuery(c.Request.URL.RawQuery, routeOptions(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	aq := directory.AuditQuery{Top: q.top}
	if q.orderBy != nil {
		if aq.Ascending, err = auditOrder(q.orderBy); err != nil {
			s.writeError(c, err)
			return
		}
	}
	if q.filter != nil {
		if err := auditFilter(q.filter, &aq); err != nil {
			s.writeError(c, err)
			return
		}
	}
	shape := logShape("auditLogs/directoryAudits", q)
	if aq.After, err = s.logCursor(c, shape, q); err != nil {
		s.writeError(c, err)
		return
	}
	page, err := s.dir.ListDirectoryAudits(c.Request.Context(), aq)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := auditListJSON{Context: s.base(c.Request) + apiPrefix + "/$metadata#auditLogs/directoryAudits", Value: make([]directoryAuditJSON, 0, len(page.Events))}
	out.NextLink = s.logNextLink(c, shape, q, page.Next)
	for _, ev := range page.Events {
		out.Value = append(out.Value, renderAudit(ev))
	}
	writeLogJSON(c, s, out)
}

// logCursor opens the $skiptoken of a time-ordered log listing (audit
// events, sign-ins): keyset on (time, id), bound to shape. nil without one.
func (s *server) logCursor(c *gin.Context, shape [sha256.Size]byte, q *queryOptions) (*directory.AuditCursor, error) {
	if q.skipToken == "" {
		return nil, nil
	}
	p := directory.PrincipalFrom(c.Request.Context())
	cur, err := s.skipTokens.Open(p.TenantID, shape, q.skipToken)
	if err != nil {
		return nil, err
	}
	if len(cur.Keys) != 1 || cur.Keys[0] == nil {
		return nil, errBadSkipToken()
	}
	t, err := time.Parse(time.RFC3339Nano, *cur.Keys[0])
	if err != nil {
		return nil, errBadSkipToken()
	}
	return &directory.AuditCursor{Time: t, ID: cur.ID}, nil
}

// logNextLink is the @odata.nextLink of a log page that ends at next ("" on
// the last page).
func (s *server) logNextLink(c *gin.Context, shape [sha256.Size]byte, q *queryOptions, next *directory.AuditCursor) string {
	if next == nil {
		return ""
	}
	p := directory.PrincipalFrom(c.Request.Context())
	t := next.Time.UTC().Format(time.RFC3339Nano)
	tok := s.skipTokens.Sign(p.TenantID, shape, &directory.Cursor{Keys: []*string{&t}, ID: next.ID})
	return s.base(c.Request) + c.Request.URL.EscapedPath() + "?" + q.nextLinkQuery(tok)
}

// writeLogJSON writes a log listing or entry (no HTML escaping, as the
// rest of the API).
func writeLogJSON(c *gin.Context, s *server, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.writeError(c, directory.Internal(err, "encode log"))
		return
	}
	writeJSON(c, http.StatusOK, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// auditOrder reads $orderby as Graph documents it for directoryAudits: on
// activityDateTime only, ascending or descending. It reports whether the
// order is ascending. (Ties keep the id order of the same direction.)
func auditOrder(items []odata.OrderItem) (bool, error) {
	return logOrder(items, "activityDateTime", "directoryAudits")
}

// logOrder reads the $orderby of a time-ordered log: on its time property
// only, ascending or descending; it reports whether ascending.
func logOrder(items []odata.OrderItem, prop, resource string) (bool, error) {
	refuse := func() error {
		return (&directory.Error{Kind: directory.KindUnsupported,
			Message: "Unsupported $orderby on " + resource + ": only '" + prop + "' (asc or desc) is supported."}).WithTarget("$orderby")
	}
	if len(items) != 1 {
		return false, refuse()
	}
	path, ok := items[0].Expr.(*odata.PathExpr)
	if !ok || path.Base != nil || len(path.Segments) != 1 || !strings.EqualFold(path.Segments[0], prop) {
		return false, refuse()
	}
	return !items[0].Desc, nil
}

// logShape binds a $skiptoken to one log listing (not /users) and its
// options.
func logShape(listing string, q *queryOptions) [sha256.Size]byte {
	inner := q.shapeHash()
	return sha256.Sum256(append([]byte(listing+"\x00"), inner[:]...))
}

func errAuditFilter(msg string) error {
	return (&directory.Error{Kind: directory.KindUnsupported, Message: msg}).WithTarget("$filter")
}

// auditFilter turns $filter into q: a conjunction of comparisons of a
// supported property with a literal.
func auditFilter(e odata.Expr, q *directory.AuditQuery) error {
	b, ok := e.(*odata.BinaryExpr)
	if !ok {
		return errAuditFilter("Unsupported filter on directoryAudits: use comparisons of activityDateTime, activityDisplayName, correlationId, result or category joined by 'and'.")
	}
	if b.Op == odata.OpAnd {
		if err := auditFilter(b.X, q); err != nil {
			return err
		}
		return auditFilter(b.Y, q)
	}
	path, ok1 := b.X.(*odata.PathExpr)
	lit, ok2 := b.Y.(*odata.Literal)
	if !ok1 || !ok2 || path.Base != nil || len(path.Segments) != 1 {
		return errAuditFilter("Unsupported filter on directoryAudits: each comparison must be 'property op literal'.")
	}
	prop := path.Segments[0]
	setString := func(dst *string, kinds ...odata.LiteralKind) error {
		if b.Op != odata.OpEq {
			return errAuditFilter("Only 'eq' is supported for property '" + textlimit.Clip(prop, maxEchoed) + "' of directoryAudit.")
		}
		kindOK := false
		for _, k := range kinds {
			kindOK = kindOK || lit.Kind == k
		}
		if !kindOK {
			return (&directory.Error{Kind: directory.KindInvalid, Message: "Property '" + textlimit.Clip(prop, maxEchoed) + "' compares with a string literal."}).WithTarget("$filter")
		}
		if *dst != "" && *dst != lit.Value {
			return errAuditFilter("Property '" + textlimit.Clip(prop, maxEchoed) + "' may be compared only once.")
		}
		*dst = lit.Value
		return nil
	}
	switch strings.ToLower(prop) {
	case "activitydatetime":
		r := timeRange{q.From, q.To, q.FromExclusive, q.ToExclusive}
		if err := r.bound(b, lit, "activityDateTime"); err != nil {
			return err
		}
		q.From, q.To, q.FromExclusive, q.ToExclusive = r.from, r.to, r.fromExclusive, r.toExclusive
		return nil
	case "activitydisplayname":
		return setString(&q.ActivityDisplayName, odata.LitString)
	case "correlationid":
		return setString(&q.CorrelationID, odata.LitString, odata.LitGUID)
	case "result":
		if err := setString(&q.Result, odata.LitString, odata.LitEnum); err != nil {
			return err
		}
		q.Result = strings.ToLower(q.Result)
		return nil
	case "category":
		return setString(&q.Category, odata.LitString)
	}
	return (&directory.Error{Kind: directory.KindUnsupported,
		Message: "Unsupported or invalid query filter clause specified for property '" + textlimit.Clip(prop, maxEchoed) + "' of resource 'directoryAudit'."}).WithTarget("$filter")
}

func parseDateTimeOffset(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		t, err = time.Parse("2006-01-02T15:04Z07:00", v)
	}
	return t.UTC(), err
}

// timeRange is the bounds of a log listing's $filter on its time
// property (activityDateTime, createdDateTime).
type timeRange struct {
	from, to                   *time.Time
	fromExclusive, toExclusive bool
}

// bound tightens r by the comparison b of the time property prop with lit
// (ge, gt, le, lt, or eq for both bounds).
func (r *timeRange) bound(b *odata.BinaryExpr, lit *odata.Literal, prop string) error {
	if lit.Kind != odata.LitDateTimeOffset {
		return (&directory.Error{Kind: directory.KindInvalid, Message: "Property '" + prop + "' compares with a DateTimeOffset literal such as 2024-01-31T00:00:00Z."}).WithTarget("$filter")
	}
	t, err := parseDateTimeOffset(lit.Value)
	if err != nil {
		return (&directory.Error{Kind: directory.KindInvalid, Message: "Invalid DateTimeOffset '" + textlimit.Clip(lit.Value, maxEchoed) + "'."}).WithTarget("$filter")
	}
	switch b.Op {
	case odata.OpGe, odata.OpGt:
		r.lower(t, b.Op == odata.OpGt)
	case odata.OpLe, odata.OpLt:
		r.upper(t, b.Op == odata.OpLt)
	case odata.OpEq:
		r.lower(t, false)
		r.upper(t, false)
	default:
		return errAuditFilter("Operator '" + b.Op.String() + "' is not supported for property '" + prop + "'.")
	}
	return nil
}

// lower tightens the lower bound to t (strict when exclusive).
func (r *timeRange) lower(t time.Time, exclusive bool) {
	if r.from == nil || t.After(*r.from) || (t.Equal(*r.from) && exclusive) {
		r.from, r.fromExclusive = &t, exclusive
	}
}

// upper tightens the upper bound to t (strict when exclusive).
func (r *timeRange) upper(t time.Time, exclusive bool) {
	if r.to == nil || t.Before(*r.to) || (t.Equal(*r.to) && exclusive) {
		r.to, r.toExclusive = &t, exclusive
	}
}

// ----- the directoryAudit shape

type auditListJSON struct {
	Context  string               `json:"@odata.context"`
	NextLink string               `json:"@odata.nextLink,omitempty"`
	Value    []directoryAuditJSON `json:"value"`
}

type directoryAuditJSON struct {
	ID                  string                  `json:"id"`
	Category            string                  `json:"category"`
	CorrelationID       string                  `json:"correlationId"`
	Result              string                  `json:"result"`
	ResultReason        string                  `json:"resultReason"`
	ActivityDisplayName string                  `json:"activityDisplayName"`
	ActivityDateTime    string                  `json:"activityDateTime"`
	LoggedByService     string                  `json:"loggedByService"`
	OperationType       string                  `json:"operationType"`
	InitiatedBy         initiatedByJSON         `json:"initiatedBy"`
	TargetResources     []targetResourceJSON    `json:"targetResources"`
	AdditionalDetails   []directory.AuditDetail `json:"additionalDetails"`
}

type initiatedByJSON struct {
	User *userIdentityJSON `json:"user"`
	App  *appIdentityJSON  `json:"app"`
}

type userIdentityJSON struct {
	ID                string  `json:"id"`
	DisplayName       *string `json:"displayName"`
	UserPrincipalName *string `json:"userPrincipalName"`
	IPAddress         *string `json:"ipAddress"`
}

type appIdentityJSON struct {
	AppID                string  `json:"appId"`
	DisplayName          *string `json:"displayName"`
	ServicePrincipalID   *string `json:"servicePrincipalId"`
	ServicePrincipalName *string `json:"servicePrincipalName"`
}

type targetResourceJSON struct {
	ID                 string                            `json:"id"`
	DisplayName        *string                           `json:"displayName"`
	Type               string                            `json:"type"`
	UserPrincipalName  *string                           `json:"userPrincipalName"`
	GroupType          *string                           `json:"groupType"`
	ModifiedProperties []directory.AuditModifiedProperty `json:"modifiedProperties"`
}

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// renderAudit writes an event as Graph's directoryAudit. A signed-in
// caller is initiatedBy.user (the application it used is in
// additionalDetails as AppId); an application alone is initiatedBy.app.
func renderAudit(ev *directory.AuditEvent) directoryAuditJSON {
	out := directoryAuditJSON{
		ID: ev.ID, Category: ev.Activity.Category, CorrelationID: ev.CorrelationID,
		Result: ev.Result, ResultReason: ev.ResultReason,
		ActivityDisplayName: ev.Activity.DisplayName,
		ActivityDateTime:    formatDateTime(ev.ActivityDateTime),
		LoggedByService:     directory.LoggedByService,
		OperationType:       ev.Activity.OperationType,
		TargetResources:     []targetResourceJSON{},
		AdditionalDetails:   append([]directory.AuditDetail{}, ev.AdditionalDetails...),
	}
	in := ev.InitiatedBy
	if in.UserID != "" {
		out.InitiatedBy.User = &userIdentityJSON{ID: in.UserID, UserPrincipalName: optStr(in.UserPrincipalName)}
		if in.AppID != "" {
			out.AdditionalDetails = append(out.AdditionalDetails, directory.AuditDetail{Key: "AppId", Value: in.AppID})
		}
	} else {
		out.InitiatedBy.App = &appIdentityJSON{AppID: in.AppID, DisplayName: optStr(in.DisplayName), ServicePrincipalID: optStr(in.ServicePrincipalID)}
	}
	for _, t := range ev.Targets {
		mp := t.ModifiedProperties
		if mp == nil {
			mp = []directory.AuditModifiedProperty{}
		}
		out.TargetResources = append(out.TargetResources, targetResourceJSON{
			ID: t.ID, DisplayName: optStr(t.DisplayName), Type: t.Type,
			UserPrincipalName: optStr(t.UserPrincipalName), ModifiedProperties: mp,
		})
	}
	return out
}
