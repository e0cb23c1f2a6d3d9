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
	p := directory.PrincipalFrom(c.Request.Context())
	shape := auditShape(q)
	if q.skipToken != "" {
		cur, err := s.skipTokens.Open(p.TenantID, shape, q.skipToken)
		if err != nil {
			s.writeError(c, err)
			return
		}
		if len(cur.Keys) != 1 || cur.Keys[0] == nil {
			s.writeError(c, errBadSkipToken())
			return
		}
		t, err := time.Parse(time.RFC3339Nano, *cur.Keys[0])
		if err != nil {
			s.writeError(c, errBadSkipToken())
			return
		}
		aq.After = &directory.AuditCursor{Time: t, ID: cur.ID}
	}
	page, err := s.dir.ListDirectoryAudits(c.Request.Context(), aq)
	if err != nil {
		s.writeError(c, err)
		return
	}
	base := s.base(c.Request)
	out := auditListJSON{Context: base + apiPrefix + "/$metadata#auditLogs/directoryAudits", Value: make([]directoryAuditJSON, 0, len(page.Events))}
	if page.Next != nil {
		t := page.Next.Time.UTC().Format(time.RFC3339Nano)
		tok := s.skipTokens.Sign(p.TenantID, shape, &directory.Cursor{Keys: []*string{&t}, ID: page.Next.ID})
		out.NextLink = base + c.Request.URL.EscapedPath() + "?" + q.nextLinkQuery(tok)
	}
	for _, ev := range page.Events {
		out.Value = append(out.Value, renderAudit(ev))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		s.writeError(c, directory.Internal(err, "encode audit events"))
		return
	}
	writeJSON(c, http.StatusOK, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// auditOrder reads $orderby as Graph documents it for directoryAudits: on
// activityDateTime only, ascending or descending. It reports whether the
// order is ascending. (Ties keep the id order of the same direction.)
func auditOrder(items []odata.OrderItem) (bool, error) {
	refuse := func() error {
		return (&directory.Error{Kind: directory.KindUnsupported,
			Message: "Unsupported $orderby on directoryAudits: only 'activityDateTime' (asc or desc) is supported."}).WithTarget("$orderby")
	}
	if len(items) != 1 {
		return false, refuse()
	}
	path, ok := items[0].Expr.(*odata.PathExpr)
	if !ok || path.Base != nil || len(path.Segments) != 1 || !strings.EqualFold(path.Segments[0], "activityDateTime") {
		return false, refuse()
	}
	return !items[0].Desc, nil
}

// auditShape binds a $skiptoken to this listing (not /users) and its options.
func auditShape(q *queryOptions) [sha256.Size]byte {
	inner := q.shapeHash()
	return sha256.Sum256(append([]byte("auditLogs/directoryAudits\x00"), inner[:]...))
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
		if lit.Kind != odata.LitDateTimeOffset {
			return (&directory.Error{Kind: directory.KindInvalid, Message: "Property 'activityDateTime' compares with a DateTimeOffset literal such as 2024-01-31T00:00:00Z."}).WithTarget("$filter")
		}
		t, err := parseDateTimeOffset(lit.Value)
		if err != nil {
			return (&directory.Error{Kind: directory.KindInvalid, Message: "Invalid DateTimeOffset '" + textlimit.Clip(lit.Value, maxEchoed) + "'."}).WithTarget("$filter")
		}
		switch b.Op {
		case odata.OpGe, odata.OpGt:
			lowerBound(q, t, b.Op == odata.OpGt)
		case odata.OpLe, odata.OpLt:
			upperBound(q, t, b.Op == odata.OpLt)
		case odata.OpEq:
			lowerBound(q, t, false)
			upperBound(q, t, false)
		default:
			return errAuditFilter("Operator '" + b.Op.String() + "' is not supported for property 'activityDateTime'.")
		}
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

// lowerBound tightens q's lower bound to t (strict when exclusive).
func lowerBound(q *directory.AuditQuery, t time.Time, exclusive bool) {
	if q.From == nil || t.After(*q.From) || (t.Equal(*q.From) && exclusive) {
		q.From, q.FromExclusive = &t, exclusive
	}
}

// upperBound tightens q's upper bound to t (strict when exclusive).
func upperBound(q *directory.AuditQuery, t time.Time, exclusive bool) {
	if q.To == nil || t.Before(*q.To) || (t.Equal(*q.To) && exclusive) {
		q.To, q.ToExclusive = &t, exclusive
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
