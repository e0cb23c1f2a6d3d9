package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/textlimit"
	"github.com/graphdir/graphdir/pkg/odata"
)

// DeltaUsers is what the delta handler needs of the directory.
type DeltaUsers interface {
	UsersDelta(ctx context.Context, q directory.DeltaQuery) (*directory.DeltaPage, error)
}

// Delta tokens ($skiptoken inside a round, $deltatoken between rounds) are
// base64url(version || kind || JSON(deltaState) || HMAC-SHA256(key,
// "graphdir/delta", tenant, version, kind, JSON)) with the server's
// skiptoken key. The state carries the round's positions (PostgreSQL
// snapshots, see internal/store/postgres/delta.go) and the first request's
// $select and $filter, so the links need nothing else and the options cannot
// be changed mid-sync; the MAC binds it all to the tenant. A token that does
// not verify, decode or fit is a 400; a genuine token whose history is gone
// is a 410 syncStateNotFound.
const (
	deltaTokenVersion = 1
	deltaKindSkip     = 's'
	deltaKindDelta    = 'd'
	// maxDeltaTokenLen bounds what we decode: a snapshot lists the
	// in-progress transactions (at most one per database connection).
	maxDeltaTokenLen = 64 << 10
	// deltaPageSize is the page size without Prefer: odata.maxpagesize.
	deltaPageSize = 100
)

// deltaState is a token's payload.
type deltaState struct {
	Select  string `json:"s,omitempty"`
	Filter  string `json:"f,omitempty"`
	Initial bool   `json:"i,omitempty"`
	Base    string `json:"b"`
	Target  string `json:"t,omitempty"`
	After   string `json:"a,omitempty"`
}

func (s skipTokenSigner) deltaMAC(tenantID string, kind byte, payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("graphdir/delta\x00"))
	m.Write([]byte(tenantID))
	m.Write([]byte{0, deltaTokenVersion, kind})
	m.Write(payload)
	return m.Sum(nil)
}

func (s skipTokenSigner) signDelta(tenantID string, kind byte, st *deltaState) string {
	js, err := json.Marshal(st)
	if err != nil {
		panic(err) // strings and a bool
	}
	raw := append([]byte{deltaTokenVersion, kind}, js...)
	return encodeToken(append(raw, s.deltaMAC(tenantID, kind, js)...))
}

func (s skipTokenSigner) openDelta(tenantID string, kind byte, token string) (*deltaState, error) {
	bad := errBadDeltaToken(kind)
	if len(token) > maxDeltaTokenLen {
		return nil, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < 3+sha256.Size || raw[0] != deltaTokenVersion || raw[1] != kind {
		return nil, bad
	}
	js, sum := raw[2:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	if !hmac.Equal(sum, s.deltaMAC(tenantID, kind, js)) {
		return nil, bad
	}
	var st deltaState
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil || dec.More() || st.Base == "" ||
		(kind == deltaKindDelta && (st.Initial || st.Target != "" || st.After != "")) ||
		(kind == deltaKindSkip && st.After == "") {
		return nil, bad
	}
	return &st, nil
}

func errBadDeltaToken(kind byte) error {
	name := "$skiptoken"
	if kind == deltaKindDelta {
		name = "$deltatoken"
	}
	return (&directory.Error{Kind: directory.KindInvalid,
		Message: "The " + name + " is invalid or does not belong to this tenant. Use @odata.nextLink and @odata.deltaLink as returned."}).WithTarget(name)
}

// errSyncStateNotFound is Graph's answer to a delta token it can no longer
// serve (README "Delta query"; Graph's error codes, https://learn.microsoft.com/graph/errors):
// 410 Gone, code syncStateNotFound.
func errSyncStateNotFound(msg string) error {
	return &edgeError{http.StatusGone, "syncStateNotFound", msg}
}

// deltaRequest is a delta request's options.
type deltaRequest struct {
	selectRaw, filterRaw  string
	hasSelect, hasFilter  bool
	skipToken, deltaToken string
	hasSkip, hasDelta     bool
	minimal               bool
	pageSize              int
	preferApplied         []string
	selected              []*directory.Property
	ids                   []string
}

// parseDeltaQuery reads the query string of GET /users/delta. Only $select,
// $filter (id eq ... or ...), $expand, $skiptoken, $deltatoken and $format
// apply.
func parseDeltaQuery(rawQuery string) (*deltaRequest, error) {
	r := &deltaRequest{pageSize: deltaPageSize}
	params, err := splitQuery(rawQuery)
	if err != nil {
		return nil, err
	}
	for _, p := range params {
		name, value := p.name, p.value
		if !strings.HasPrefix(name, "$") {
			continue
		}
		lower := strings.ToLower(name)
		switch lower {
		case "$select":
			r.selectRaw, r.hasSelect = value, true
		case "$filter":
			r.filterRaw, r.hasFilter = value, true
		case "$skiptoken":
			r.skipToken, r.hasSkip = value, true
		case "$deltatoken":
			r.deltaToken, r.hasDelta = value, true
		case "$expand":
			// Graph's delta expands manager only; graphdir's user declares
			// no navigation property, so any name is refused as Graph
			// refuses one the type does not have, and "*" expands nothing.
			if _, err := parseExpand(value, "user"); err != nil {
				return nil, err
			}
		case "$format":
			if !strings.EqualFold(value, "json") && !strings.EqualFold(value, "application/json") {
				return nil, directory.Errorf(directory.KindUnsupported, "Format '%s' is not supported; use 'json'.", textlimit.Clip(value, maxEchoed))
			}
		default:
			if _, known := knownOptions[lower]; known {
				return nil, (&directory.Error{Kind: directory.KindUnsupported,
					Message: "Query option '" + lower + "' is not supported with delta query; only $select, $filter (id eq '...' or ...), $expand, $skiptoken and $deltatoken are."}).WithTarget(lower)
			}
			return nil, directory.Errorf(directory.KindInvalid, "Unrecognized query argument specified: '%s'.", textlimit.Clip(name, maxEchoed))
		}
	}
	if r.hasSkip && r.hasDelta {
		return nil, directory.Errorf(directory.KindBadRequest, "A delta request carries either $skiptoken or $deltatoken, not both.")
	}
	return r, nil
}

// parsePrefer reads Prefer: return=minimal and odata.maxpagesize=n.
func (r *deltaRequest) parsePrefer(h http.Header) {
	for _, v := range h.Values("Prefer") {
		for pref := range strings.SplitSeq(v, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(pref), "=")
			name, value = strings.ToLower(strings.TrimSpace(name)), strings.Trim(strings.TrimSpace(value), `"`)
			switch name {
			case "return":
				if strings.EqualFold(value, "minimal") && !r.minimal {
					r.minimal = true
					r.preferApplied = append(r.preferApplied, "return=minimal")
				}
			case "odata.maxpagesize":
				if n, err := strconv.Atoi(value); err == nil && n >= 1 && n <= maxPageSize {
					r.pageSize = n
					r.preferApplied = append(r.preferApplied, "odata.maxpagesize="+strconv.Itoa(n))
				}
			}
		}
	}
}

// applyOptions parses $select and $filter (as sent, or as kept in the token).
func (r *deltaRequest) applyOptions() error {
	if r.selectRaw != "" || r.hasSelect {
		sel, err := parseSelect(r.selectRaw)
		if err != nil {
			return err
		}
		for _, p := range sel {
			// A sign-in is no change delta tracks (signins.go).
			if p.Type == directory.TypeSignInActivity {
				return (&directory.Error{Kind: directory.KindUnsupported,
					Message: "Property 'signInActivity' is not supported in a delta query."}).WithTarget("$select")
			}
		}
		r.selected = sel
	}
	if r.filterRaw != "" || r.hasFilter {
		e, err := queryLimits.ParseFilter(r.filterRaw)
		if err != nil {
			return syntaxError("Invalid filter clause", err)
		}
		r.ids = []string{}
		clauses := 0
		if err := deltaFilterIDs(e, &r.ids, &clauses); err != nil {
			return err
		}
		if clauses > directory.MaxDeltaIDs {
			// Graph counts the clauses, repeats included, and words the
			// refusal as its directory does for any long or-chain.
			return (&directory.Error{Kind: directory.KindUnsupported,
				Message: "Too many child clauses specified in search filter expression containing 'OR' operators: " +
					strconv.Itoa(clauses) + ". Max allowed: " + strconv.Itoa(directory.MaxDeltaIDs) + "."}).WithTarget("$filter")
		}
	}
	return nil
}

// deltaFilterIDs collects the ids of a delta $filter, id eq '<guid>' terms
// joined by or, without repeats, and counts the terms (Graph allows
// directory.MaxDeltaIDs).
func deltaFilterIDs(e odata.Expr, ids *[]string, clauses *int) error {
	unsupported := func() error {
		return (&directory.Error{Kind: directory.KindUnsupported,
			Message: "Delta query supports only $filter=id eq '{id}', several joined by 'or' (at most 50)."}).WithTarget("$filter")
	}
	b, ok := e.(*odata.BinaryExpr)
	if !ok {
		return unsupported()
	}
	switch b.Op {
	case odata.OpOr:
		if err := deltaFilterIDs(b.X, ids, clauses); err != nil {
			return err
		}
		return deltaFilterIDs(b.Y, ids, clauses)
	case odata.OpEq:
		x, y := b.X, b.Y
		if _, ok := x.(*odata.Literal); ok {
			x, y = y, x
		}
		path, ok1 := x.(*odata.PathExpr)
		lit, ok2 := y.(*odata.Literal)
		if !ok1 || !ok2 || path.Base != nil || len(path.Segments) != 1 || !strings.EqualFold(path.Segments[0], "id") ||
			(lit.Kind != odata.LitString && lit.Kind != odata.LitGUID) {
			return unsupported()
		}
		if !directory.IsGUID(lit.Value) {
			return (&directory.Error{Kind: directory.KindInvalid,
				Message: "Invalid object identifier '" + textlimit.Clip(lit.Value, maxEchoed) + "'."}).WithTarget("id")
		}
		*clauses++
		if id := directory.ParseUserKey(lit.Value).ID; !slices.Contains(*ids, id) {
			*ids = append(*ids, id)
		}
		return nil
	}
	return unsupported()
}

// handleUsersDelta serves GET /v1.0/users/delta and delta() (README "Delta
// query"; https://learn.microsoft.com/graph/api/user-delta).
func (s *server) handleUsersDelta(c *gin.Context) {
	r, err := parseDeltaQuery(c.Request.URL.RawQuery)
	if err != nil {
		s.writeError(c, err)
		return
	}
	r.parsePrefer(c.Request.Header)
	p := directory.PrincipalFrom(c.Request.Context())
	q := directory.DeltaQuery{Top: r.pageSize}
	var st *deltaState
	switch {
	case r.hasDelta && strings.EqualFold(r.deltaToken, "latest"):
		q.Latest = true
	case r.hasDelta:
		st, err = s.skipTokens.openDelta(p.TenantID, deltaKindDelta, r.deltaToken)
	case r.hasSkip:
		st, err = s.skipTokens.openDelta(p.TenantID, deltaKindSkip, r.skipToken)
	default:
		q.Initial = true
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	if st != nil {
		// The options of the round's first request live in the token; a
		// link may repeat them, not change them.
		if (r.hasSelect && r.selectRaw != st.Select) || (r.hasFilter && r.filterRaw != st.Filter) {
			s.writeError(c, directory.Errorf(directory.KindBadRequest,
				"$select and $filter belong to the first request of a delta sync and are kept in its tokens; they cannot be changed with a $skiptoken or $deltatoken."))
			return
		}
		r.selectRaw, r.filterRaw = st.Select, st.Filter
		q.Initial, q.Base, q.Target, q.After = st.Initial, st.Base, st.Target, st.After
	}
	if err := r.applyOptions(); err != nil {
		s.writeError(c, err)
		return
	}
	q.IDs = r.ids
	page, err := s.dir.UsersDelta(c.Request.Context(), q)
	if errors.Is(err, directory.ErrSyncStateNotFound) {
		s.writeError(c, errSyncStateNotFound(directory.AsError(err).Message))
		return
	}
	if err != nil {
		s.writeError(c, err)
		return
	}

	base := s.base(c.Request)
	next := deltaState{Select: r.selectRaw, Filter: r.filterRaw}
	var link, linkName string
	if page.Next != "" {
		next.Initial, next.Base, next.Target, next.After = q.Initial, page.Base, page.Target, page.Next
		if q.Initial {
			next.Target = ""
		}
		linkName = "@odata.nextLink"
		link = base + apiPrefix + "/users/delta?$skiptoken=" + s.skipTokens.signDelta(p.TenantID, deltaKindSkip, &next)
	} else {
		next.Base = page.Target
		linkName = "@odata.deltaLink"
		link = base + apiPrefix + "/users/delta?$deltatoken=" + s.skipTokens.signDelta(p.TenantID, deltaKindDelta, &next)
	}

	props := defaultProperties
	suffix := ""
	if r.selected != nil {
		props = r.selected
		names := make([]string, len(props))
		hasID := false
		for i, pr := range props {
			names[i] = pr.Name
			hasID = hasID || pr.Name == "id"
		}
		suffix = "(" + strings.Join(names, ",") + ")"
		if !hasID {
			id, _ := directory.LookupProperty("id")
			props = append(append([]*directory.Property{}, props...), id)
		}
	}

	b := make([]byte, 0, 256+len(page.Items)*512)
	b = append(b, `{"@odata.context":`...)
	b = appendString(b, base+apiPrefix+"/$metadata#users"+suffix)
	b = append(b, ',')
	b = appendString(b, linkName)
	b = append(b, ':')
	b = appendString(b, link)
	b = append(b, `,"value":[`...)
	n := 0
	for _, it := range page.Items {
		out := props
		if it.User != nil && it.Changed != nil {
			// Only what changed, for return=minimal; and a user none of
			// whose selected properties changed is not reported at all.
			changed := make([]*directory.Property, 0, len(it.Changed)+1)
			for _, pr := range props {
				if pr.Name != "id" && slices.Contains(it.Changed, pr.Name) {
					changed = append(changed, pr)
				}
			}
			if len(changed) == 0 {
				continue
			}
			if r.minimal {
				id, _ := directory.LookupProperty("id")
				out = append(changed, id)
			}
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		if it.User == nil {
			b = append(b, `{"id":`...)
			b = appendString(b, it.ID)
			b = append(b, `,"@removed":{"reason":`...)
			b = appendString(b, it.Removed)
			b = append(b, "}}"...)
			continue
		}
		b = appendUser(b, it.User, out, true)
	}
	b = append(b, "]}"...)
	if len(r.preferApplied) > 0 {
		c.Header("Preference-Applied", strings.Join(r.preferApplied, ", "))
	}
	writeJSON(c, http.StatusOK, b)
}
