package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/textlimit"
	"github.com/graphdir/graphdir/pkg/odata"
)

// SignInLogs is what the edge needs of the sign-in log.
type SignInLogs interface {
	// ListSignIns returns one page of the caller's tenant's sign-ins.
	// KindForbidden, KindUnsupported.
	ListSignIns(ctx context.Context, q directory.SignInQuery) (*directory.SignInPage, error)
	// GetSignIn returns one sign-in. KindNotFound.
	GetSignIn(ctx context.Context, id string) (*directory.SignIn, error)
	// AuthorizeSignInActivity allows reading, filtering or sorting on
	// users' signInActivity (AuditLog.Read.All, as Graph requires).
	AuthorizeSignInActivity(ctx context.Context) error
}

const signInsContext = "/$metadata#auditLogs/signIns"

// handleListSignIns serves GET /v1.0/auditLogs/signIns in Graph's signIn
// shape: newest first; $filter on createdDateTime (eq, ge, gt, le, lt),
// userId, userPrincipalName, appId and status/errorCode (eq), joined by
// and; $orderby on createdDateTime; $top (default 100, at most 999);
// paging by @odata.nextLink with a signed $skiptoken, as directoryAudits
// (audit.go's log helpers).
func (s *server) handleListSignIns(c *gin.Context) {
	q, err := parseQuery(c.Request.URL.RawQuery, routeOptions(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	sq := directory.SignInQuery{Top: q.top}
	if q.orderBy != nil {
		if sq.Ascending, err = logOrder(q.orderBy, "createdDateTime", "signIns"); err != nil {
			s.writeError(c, err)
			return
		}
	}
	if q.filter != nil {
		r := timeRange{}
		if err := signInFilter(q.filter, &sq, &r); err != nil {
			s.writeError(c, err)
			return
		}
		sq.From, sq.To, sq.FromExclusive, sq.ToExclusive = r.from, r.to, r.fromExclusive, r.toExclusive
	}
	shape := logShape("auditLogs/signIns", q)
	if sq.After, err = s.logCursor(c, shape, q); err != nil {
		s.writeError(c, err)
		return
	}
	page, err := s.dir.ListSignIns(c.Request.Context(), sq)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := signInLogListJSON{Context: s.base(c.Request) + apiPrefix + signInsContext, Value: make([]signInLogJSON, 0, len(page.SignIns))}
	out.NextLink = s.logNextLink(c, shape, q, page.Next)
	for _, si := range page.SignIns {
		out.Value = append(out.Value, renderSignIn(si))
	}
	writeLogJSON(c, s, out)
}

// handleGetSignIn serves GET /v1.0/auditLogs/signIns/{id}, with $select
// of signIn's properties (id always, as Graph).
func (s *server) handleGetSignIn(c *gin.Context) {
	var sel []string
	_, err := parseOptions(c.Request.URL.RawQuery, queryRules{allowed: routeOptions(c), typeName: "signIn",
		selectList: selectListOf(signInLogProperties, "signIn", &sel)})
	if err != nil {
		s.writeError(c, err)
		return
	}
	si, err := s.dir.GetSignIn(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	full := marshalJSON(signInLogEntityJSON{Context: s.base(c.Request) + apiPrefix + signInsContext + selectSuffix(sel) + "/$entity", signInLogJSON: renderSignIn(si)})
	if sel != nil {
		full = appendSelected(nil, full, sel, true)
	}
	writeJSON(c, http.StatusOK, full)
}

// signInLogProperties are the properties of signIn graphdir records (the
// members of signInLogJSON), for $select.
var signInLogProperties = []string{"id", "createdDateTime", "userId", "userPrincipalName", "userDisplayName", "appId",
	"appDisplayName", "ipAddress", "clientAppUsed", "correlationId", "conditionalAccessStatus", "isInteractive",
	"authenticationRequirement", "status"}

func errSignInFilter(msg string) error {
	return (&directory.Error{Kind: directory.KindUnsupported, Message: msg}).WithTarget("$filter")
}

// signInFilter turns $filter into q and r: a conjunction of comparisons
// of a supported property with a literal.
func signInFilter(e odata.Expr, q *directory.SignInQuery, r *timeRange) error {
	b, ok := e.(*odata.BinaryExpr)
	if !ok {
		return errSignInFilter("Unsupported filter on signIns: use comparisons of createdDateTime, userId, userPrincipalName, appId or status/errorCode joined by 'and'.")
	}
	if b.Op == odata.OpAnd {
		if err := signInFilter(b.X, q, r); err != nil {
			return err
		}
		return signInFilter(b.Y, q, r)
	}
	path, ok1 := b.X.(*odata.PathExpr)
	lit, ok2 := b.Y.(*odata.Literal)
	if !ok1 || !ok2 || path.Base != nil || len(path.Segments) == 0 || len(path.Segments) > 2 {
		return errSignInFilter("Unsupported filter on signIns: each comparison must be 'property op literal'.")
	}
	prop := strings.Join(path.Segments, "/")
	name := textlimit.Clip(prop, maxEchoed)
	invalid := func(msg string) error {
		return (&directory.Error{Kind: directory.KindInvalid, Message: msg}).WithTarget("$filter")
	}
	setString := func(dst *string, kinds ...odata.LiteralKind) error {
		if b.Op != odata.OpEq {
			return errSignInFilter("Only 'eq' is supported for property '" + name + "' of signIn.")
		}
		kindOK := false
		for _, k := range kinds {
			kindOK = kindOK || lit.Kind == k
		}
		if !kindOK {
			return invalid("Property '" + name + "' compares with a string literal.")
		}
		if *dst != "" && *dst != lit.Value {
			return errSignInFilter("Property '" + name + "' may be compared only once.")
		}
		*dst = lit.Value
		return nil
	}
	switch strings.ToLower(prop) {
	case "createddatetime":
		return r.bound(b, lit, "createdDateTime")
	case "userid":
		if err := setString(&q.UserID, odata.LitString, odata.LitGUID); err != nil {
			return err
		}
		q.UserID = strings.ToLower(q.UserID)
		return nil
	case "userprincipalname":
		return setString(&q.UserPrincipalName, odata.LitString)
	case "appid":
		if err := setString(&q.AppID, odata.LitString, odata.LitGUID); err != nil {
			return err
		}
		q.AppID = strings.ToLower(q.AppID)
		return nil
	case "status/errorcode":
		if b.Op != odata.OpEq {
			return errSignInFilter("Only 'eq' is supported for property 'status/errorCode' of signIn.")
		}
		if lit.Kind != odata.LitInt {
			return invalid("Property 'status/errorCode' compares with an integer literal.")
		}
		n, err := strconv.ParseInt(lit.Value, 10, 32)
		if err != nil {
			return invalid("Invalid Int32 '" + textlimit.Clip(lit.Value, maxEchoed) + "'.")
		}
		code := int(n)
		if q.ErrorCode != nil && *q.ErrorCode != code {
			return errSignInFilter("Property 'status/errorCode' may be compared only once.")
		}
		q.ErrorCode = &code
		return nil
	}
	return errSignInFilter("Unsupported or invalid query filter clause specified for property '" + name + "' of resource 'signIn'.")
}

// ----- the signIn shape

type signInLogListJSON struct {
	Context  string          `json:"@odata.context"`
	NextLink string          `json:"@odata.nextLink,omitempty"`
	Value    []signInLogJSON `json:"value"`
}

type signInLogEntityJSON struct {
	Context string `json:"@odata.context"`
	signInLogJSON
}

type signInLogJSON struct {
	ID                        string              `json:"id"`
	CreatedDateTime           string              `json:"createdDateTime"`
	UserID                    string              `json:"userId"`
	UserPrincipalName         string              `json:"userPrincipalName"`
	UserDisplayName           *string             `json:"userDisplayName"`
	AppID                     string              `json:"appId"`
	AppDisplayName            *string             `json:"appDisplayName"`
	IPAddress                 string              `json:"ipAddress"`
	ClientAppUsed             string              `json:"clientAppUsed"`
	CorrelationID             string              `json:"correlationId"`
	ConditionalAccessStatus   string              `json:"conditionalAccessStatus"`
	IsInteractive             bool                `json:"isInteractive"`
	AuthenticationRequirement string              `json:"authenticationRequirement"`
	Status                    signInLogStatusJSON `json:"status"`
}

type signInLogStatusJSON struct {
	ErrorCode         int     `json:"errorCode"`
	FailureReason     *string `json:"failureReason"`
	AdditionalDetails *string `json:"additionalDetails"`
}

func renderSignIn(si *directory.SignIn) signInLogJSON {
	out := signInLogJSON{
		ID: si.ID, CreatedDateTime: formatDateTime(si.CreatedDateTime),
		UserID: si.UserID, UserPrincipalName: si.UserPrincipalName, UserDisplayName: optStr(si.UserDisplayName),
		AppID: si.AppID, AppDisplayName: optStr(si.AppDisplayName), IPAddress: si.IPAddress,
		ClientAppUsed: si.ClientAppUsed, CorrelationID: si.CorrelationID,
		// graphdir has no Conditional Access: Graph's value for a sign-in
		// no policy applied to.
		ConditionalAccessStatus:   "notApplied",
		IsInteractive:             si.IsInteractive,
		AuthenticationRequirement: si.AuthenticationRequirement,
		Status:                    signInLogStatusJSON{ErrorCode: si.ErrorCode, FailureReason: optStr(si.FailureReason), AdditionalDetails: optStr(si.AdditionalDetails)},
	}
	if si.ErrorCode == directory.SignInSuccess && out.Status.FailureReason == nil {
		ok := "Other."
		out.Status.FailureReason = &ok
	}
	return out
}

// parseUserQuery is parseQuery for the routes that read users: a query
// that selects, filters or sorts on signInActivity needs the audit-log
// permission too, checked before the directory is asked anything.
func (s *server) parseUserQuery(c *gin.Context) (*queryOptions, error) {
	q, err := parseQuery(c.Request.URL.RawQuery, routeOptions(c))
	if err != nil {
		return nil, err
	}
	return q, s.checkSignInActivity(c, q)
}

// checkSignInActivity refuses a query of users that selects, filters or
// sorts on signInActivity without the audit-log permission.
func (s *server) checkSignInActivity(c *gin.Context, q *queryOptions) error {
	if s.namesSignInActivity(q) {
		return s.dir.AuthorizeSignInActivity(c.Request.Context())
	}
	return nil
}

func (s *server) namesSignInActivity(q *queryOptions) bool {
	for _, p := range q.selected {
		if p.Type == directory.TypeSignInActivity {
			return true
		}
	}
	if q.filter != nil && exprNames(q.filter, directory.IsSignInActivity) {
		return true
	}
	for _, o := range q.orderBy {
		if exprNames(o.Expr, directory.IsSignInActivity) {
			return true
		}
	}
	return false
}

// exprNames reports whether e has a property path whose first segment
// match accepts.
func exprNames(e odata.Expr, match func(string) bool) bool {
	switch e := e.(type) {
	case *odata.PathExpr:
		return (len(e.Segments) > 0 && match(e.Segments[0])) || (e.Base != nil && exprNames(e.Base, match))
	case *odata.BinaryExpr:
		return exprNames(e.X, match) || exprNames(e.Y, match)
	case *odata.UnaryExpr:
		return exprNames(e.X, match)
	case *odata.CallExpr:
		if e.Recv != nil && exprNames(e.Recv, match) {
			return true
		}
		for _, a := range e.Args {
			if exprNames(a, match) {
				return true
			}
		}
	case *odata.NamedArg:
		return exprNames(e.Value, match)
	case *odata.InExpr:
		if exprNames(e.X, match) {
			return true
		}
		for _, a := range e.List {
			if exprNames(a, match) {
				return true
			}
		}
	case *odata.LambdaExpr:
		return (e.Collection != nil && exprNames(e.Collection, match)) || (e.Body != nil && exprNames(e.Body, match))
	case *odata.CountExpr:
		return (e.Collection != nil && exprNames(e.Collection, match)) || (e.Filter != nil && exprNames(e.Filter, match))
	}
	return false
}
