package api

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/textlimit"
	"github.com/graphdir/graphdir/pkg/odata"
)

// queryOption names a system query option a route may accept.
type queryOption uint16

const (
	optSelect queryOption = 1 << iota
	optTop
	optSkipToken
	optFormat
	optFilter
	optOrderBy
	optCount
	optSearch
	optSkip
	// optDeltaToken is $deltatoken, which only delta takes and reads with
	// its own parser (parseDeltaQuery); other routes do not know it.
	optDeltaToken
	// optExpand is $expand, resolved against the $metadata model of the
	// route's entity type (parseExpand, expand.go).
	optExpand
)

// The options each kind of route accepts.
const (
	collectionOptions = optSelect | optTop | optSkipToken | optFormat | optFilter | optOrderBy | optCount | optSearch | optSkip | optExpand
	countOptions      = optFilter | optSearch
	entityOptions     = optSelect | optFormat | optExpand
	writeOptions      = optFormat
	deltaOptions      = optSelect | optFilter | optSkipToken | optDeltaToken | optFormat | optExpand
)

// optionNames names the options, in the order the document lists them.
var optionNames = []struct {
	bit  queryOption
	name string
}{
	{optFilter, "$filter"}, {optSelect, "$select"}, {optExpand, "$expand"}, {optOrderBy, "$orderby"}, {optTop, "$top"}, {optSkip, "$skip"},
	{optSkipToken, "$skiptoken"}, {optDeltaToken, "$deltatoken"}, {optSearch, "$search"}, {optCount, "$count"}, {optFormat, "$format"},
}

// knownOptions maps each system query option graphdir recognises, in lower
// case, to the bit a route must allow.
var knownOptions = map[string]queryOption{
	"$select":    optSelect,
	"$top":       optTop,
	"$skiptoken": optSkipToken,
	"$format":    optFormat,
	"$filter":    optFilter,
	"$orderby":   optOrderBy,
	"$count":     optCount,
	"$search":    optSearch,
	"$skip":      optSkip,
	"$expand":    optExpand,
}

// queryLimits bound the work one request's $filter, $orderby and $search
// may cause (README "Queries" lists them). They are pkg/odata's defaults,
// spelled out so the documentation has one place to point at.
var queryLimits = odata.Limits{
	MaxLength: 8 << 10, // bytes of one decoded option value
	MaxDepth:  100,     // nesting of parentheses, not, calls and lambdas
	MaxNodes:  2000,    // syntax-tree nodes in one option
	MaxInList: 1000,    // items of one in (...) list
}

// splitQuery is the one query-string splitter of the API: it splits a raw
// query string into percent-decoded parameters in order, refusing a system
// query option ($-prefixed, names compared case-insensitively) that appears
// twice.
func splitQuery(rawQuery string) ([]queryParam, error) {
	var params []queryParam
	seen := make(map[string]bool)
	for raw := range strings.SplitSeq(rawQuery, "&") {
		if raw == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(raw, "=")
		name, err1 := url.QueryUnescape(rawName)
		value, err2 := url.QueryUnescape(rawValue)
		if err1 != nil || err2 != nil {
			return nil, directory.Errorf(directory.KindBadRequest, "The query string is not correctly percent-encoded.")
		}
		if lower := strings.ToLower(name); strings.HasPrefix(name, "$") {
			if seen[lower] {
				return nil, directory.Errorf(directory.KindInvalid, "Query option '%s' was specified more than once, but it must be specified at most once.", textlimit.Clip(name, maxEchoed))
			}
			seen[lower] = true
		}
		params = append(params, queryParam{name: name, value: value, raw: raw})
	}
	return params, nil
}

// queryParam is one name=value pair of the query string, decoded, with its
// raw form kept for building @odata.nextLink.
type queryParam struct {
	name, value string
	raw         string
}

// queryOptions are a request's parsed system query options.
type queryOptions struct {
	// selected is nil without $select; otherwise the properties in the
	// order asked, canonical names, without repeats.
	selected []*directory.Property
	// top is the page size ($top or the default).
	top int
	// skip is $skip (0 when absent).
	skip int
	// count is $count=true.
	count bool
	// filter, search and orderBy are the parsed trees (nil when absent).
	filter  odata.Expr
	search  odata.SearchExpr
	orderBy []odata.OrderItem
	// skipToken is the raw $skiptoken, "" when absent.
	skipToken string
	// expand is the navigation properties $expand names (parseExpand),
	// nil without $expand.
	expand []string
	// params are all pairs of the query string in order.
	params []queryParam
}

const (
	defaultPageSize = 100
	maxPageSize     = 999
)

// parseQuery reads the query string of a route serving users: $select
// names user properties (parseSelect), $expand navigation properties of
// user.
func parseQuery(rawQuery string, allowed queryOption) (*queryOptions, error) {
	return parseTypedQuery(rawQuery, allowed, "user")
}

// parseTypedQuery is parseQuery for a route whose entity type is typeName
// (a user read through directoryObject's deletedItems without the cast).
func parseTypedQuery(rawQuery string, allowed queryOption, typeName string) (*queryOptions, error) {
	var sel []*directory.Property
	q, err := parseOptions(rawQuery, queryRules{allowed: allowed, typeName: typeName, selectList: func(v string) (err error) {
		sel, err = parseSelect(v)
		return err
	}})
	if err != nil {
		return nil, err
	}
	q.selected = sel
	return q, nil
}

// queryRules are what one resource's routes take in the query string.
type queryRules struct {
	// allowed says which options the route supports.
	allowed queryOption
	// selectList resolves a $select value against the resource's
	// properties (with selectOf); nil when allowed has no optSelect.
	selectList func(value string) error
	// refuse, when set, words the refusal of a known option the route
	// does not take; otherwise it is Graph's generic "not allowed".
	refuse func(option string) error
	// typeName is the entity type $expand names navigation properties of
	// (unqualified, as $metadata declares it); needed with optExpand.
	typeName string
}

// parseOptions is the one reader of system query options, for every
// resource: option names are matched case-insensitively (OData 4.01) and
// may appear once; parameters without a '$' are not ours and are ignored.
// Syntax errors in $filter, $orderby and $search are KindBadRequest with
// the position (a byte offset into the decoded option value, counted from
// 0); the store decides later whether it can answer what parsed.
func parseOptions(rawQuery string, rules queryRules) (*queryOptions, error) {
	allowed := rules.allowed
	q := &queryOptions{top: defaultPageSize}
	params, err := splitQuery(rawQuery)
	if err != nil {
		return nil, err
	}
	q.params = params
	for _, p := range params {
		name, value := p.name, p.value
		if !strings.HasPrefix(name, "$") {
			continue
		}
		lower := strings.ToLower(name)
		bit, known := knownOptions[lower]
		switch {
		case !known:
			return nil, directory.Errorf(directory.KindInvalid, "Unrecognized query argument specified: '%s'.", textlimit.Clip(name, maxEchoed))
		case allowed&bit == 0 && rules.refuse != nil:
			return nil, rules.refuse(lower)
		case allowed&bit == 0:
			return nil, directory.Errorf(directory.KindBadRequest, "Query option '%s' is not allowed for this request.", lower)
		}
		var err error
		switch bit {
		case optSelect:
			err = rules.selectList(value)
		case optExpand:
			q.expand, err = parseExpand(value, rules.typeName)
		case optTop:
			q.top, err = parseTop(value)
		case optSkip:
			q.skip, err = parseSkip(value)
		case optCount:
			q.count, err = odata.ParseCount(value)
			err = syntaxError("Invalid $count value", err)
		case optFilter:
			q.filter, err = queryLimits.ParseFilter(value)
			err = syntaxError("Invalid filter clause", err)
		case optOrderBy:
			q.orderBy, err = queryLimits.ParseOrderBy(value)
			err = syntaxError("Invalid $orderby clause", err)
		case optSearch:
			q.search, err = queryLimits.ParseSearch(value)
			err = syntaxError("Invalid $search clause", err)
		case optSkipToken:
			if value == "" {
				err = errBadSkipToken()
			}
			q.skipToken = value
		case optFormat:
			if !strings.EqualFold(value, "json") && !strings.EqualFold(value, "application/json") {
				err = directory.Errorf(directory.KindUnsupported, "Format '%s' is not supported; use 'json'.", textlimit.Clip(value, maxEchoed))
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return q, nil
}

// syntaxError words a pkg/odata error as Graph does ("Invalid filter
// clause: ...") and keeps its position: "Invalid filter clause: syntax error
// at position 14: expected ')', found 'eq'." The message holds only the
// parser's words and clipped client text, never anything of the server.
func syntaxError(prefix string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var list odata.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		msg = list[0].Error()
	}
	msg = textlimit.Clip(msg, 4*maxEchoed)
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return directory.Errorf(directory.KindBadRequest, "%s: %s", prefix, msg)
}

// selectOf is the one $select parser, for every resource: the
// comma-separated names of v, in the order asked and without repeats, each
// resolved by lookup (case-insensitively, to the resource's canonical
// property); a name lookup does not know is refused as unknown words it.
func selectOf[P comparable](v string, lookup func(name string) (P, bool), unknown func(name string) error) ([]P, error) {
	out := []P{}
	for name := range strings.SplitSeq(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, directory.Errorf(directory.KindBadRequest, "Invalid $select: empty property name.")
		}
		p, ok := lookup(name)
		if !ok {
			return nil, unknown(name)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// parseSelect resolves a $select list of user properties. Names come back
// canonical; write-only properties are as unknown as missing ones.
func parseSelect(v string) ([]*directory.Property, error) {
	return selectOf(v, func(name string) (*directory.Property, bool) {
		p, ok := directory.LookupPropertyFold(name)
		if !ok && directory.IsExtensionName(name) {
			// Resolved against the tenant's definitions by the handler
			// (selectExtensions, extensions.go).
			return directory.ExtensionSelectProperty(name), true
		}
		return p, ok && !p.WriteOnly
	}, func(name string) error {
		return (&directory.Error{Kind: directory.KindUnsupported,
			Message: "Property '" + textlimit.Clip(name, maxEchoed) + "' does not exist as a declared property or extension property."}).WithTarget(textlimit.Clip(name, maxEchoed))
	})
}

// parseSkip reads $skip: a non-negative integer (beyond Graph, which
// refuses $skip; see README "Queries").
func parseSkip(v string) (int, error) {
	n, err := odata.ParseNonNegativeInt(v)
	if err != nil {
		return 0, directory.Errorf(directory.KindBadRequest, "Invalid $skip value: '%s'. Must be a non-negative integer.", textlimit.Clip(v, maxEchoed))
	}
	return n, nil
}

func parseTop(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, directory.Errorf(directory.KindUnsupported, "Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", textlimit.Clip(v, maxEchoed), maxPageSize)
	}
	return n, nil
}

// listQuery is the directory query the options describe, without a
// continuation (the handler opens $skiptoken, which needs the tenant).
func (q *queryOptions) listQuery() directory.ListQuery {
	return directory.ListQuery{
		Filter:  q.filter,
		Search:  q.search,
		OrderBy: q.orderBy,
		Top:     q.top,
		Skip:    q.skip,
		Count:   q.count,
	}
}

// properties returns what to write for each user: the selection, or the
// default set.
func (q *queryOptions) properties() []*directory.Property {
	if q.selected != nil {
		return q.selected
	}
	return defaultProperties
}

// selectSuffix is the "(a,b)" part of @odata.context for a selection.
func (q *queryOptions) selectSuffix() string {
	if q.selected == nil {
		return ""
	}
	names := make([]string, len(q.selected))
	for i, p := range q.selected {
		names[i] = p.Name
	}
	return "(" + strings.Join(names, ",") + ")"
}

// shapeHash identifies the query a $skiptoken belongs to: every system
// option but $skiptoken itself, names lower-cased, values as sent (after
// percent-decoding, so a client that re-encodes a link differently still
// matches), sorted by name. Each name and value is length-prefixed, so no
// value can imitate an option boundary. Parameters without '$' do not
// change the answer and are left out.
func (q *queryOptions) shapeHash() [sha256.Size]byte {
	type opt struct{ name, value string }
	var opts []opt
	for _, p := range q.params {
		lower := strings.ToLower(p.name)
		if strings.HasPrefix(lower, "$") && lower != "$skiptoken" {
			opts = append(opts, opt{lower, p.value})
		}
	}
	slices.SortFunc(opts, func(a, b opt) int { return strings.Compare(a.name, b.name) })
	h := sha256.New()
	for _, o := range opts {
		for _, s := range []string{o.name, o.value} {
			h.Write(binary.AppendUvarint(nil, uint64(len(s))))
			h.Write([]byte(s))
		}
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// nextLinkQuery is the query string of @odata.nextLink: every parameter
// as the client sent it, minus the old $skiptoken, plus the new one.
func (q *queryOptions) nextLinkQuery(token string) string {
	var b strings.Builder
	for _, p := range q.params {
		if strings.EqualFold(p.name, "$skiptoken") {
			continue
		}
		b.WriteString(p.raw)
		b.WriteByte('&')
	}
	b.WriteString("$skiptoken=")
	b.WriteString(token)
	return b.String()
}

// defaultProperties is Graph's default set, in Graph's order (id last).
var defaultProperties = func() []*directory.Property {
	var out []*directory.Property
	var id *directory.Property
	for _, p := range directory.DefaultProperties() {
		if p.Name == "id" {
			id = p
			continue
		}
		out = append(out, p)
	}
	return append(out, id)
}()

// selectListOf is the queryRules.selectList of a type whose properties are
// a fixed list: names match in any case, an unknown one is Graph's 400
// naming the type, and the chosen names are stored in *sel.
func selectListOf(properties []string, typeName string, sel *[]string) func(string) error {
	return func(v string) (err error) {
		*sel, err = selectOf(v, func(name string) (string, bool) {
			for _, p := range properties {
				if strings.EqualFold(p, name) {
					return p, true
				}
			}
			return "", false
		}, func(name string) error {
			return (&directory.Error{Kind: directory.KindInvalid,
				Message: "Could not find a property named '" + textlimit.Clip(name, maxEchoed) + "' on type 'microsoft.graph." + typeName + "'."}).WithTarget("$select")
		})
		return err
	}
}
