package api

import (
	"crypto/sha256"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/graphdir/graphdir/internal/directory"
)

// queryOption names a system query option a route may accept.
type queryOption uint16

const (
	optSelect queryOption = 1 << iota
	optTop
	optSkipToken
	optFormat
)

// The options each kind of route accepts. The OData engine (filter,
// orderby, count, search, expand) extends these sets and queryOptions.
const (
	collectionOptions = optSelect | optTop | optSkipToken | optFormat
	entityOptions     = optSelect | optFormat
	writeOptions      = optFormat
)

// knownOptions maps each system query option graphdir recognises, in lower
// case, to the bit a route must allow. Options with a zero bit are
// recognised but not implemented yet.
var knownOptions = map[string]queryOption{
	"$select":    optSelect,
	"$top":       optTop,
	"$skiptoken": optSkipToken,
	"$format":    optFormat,
	"$filter":    0,
	"$orderby":   0,
	"$count":     0,
	"$search":    0,
	"$expand":    0,
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
	// skipToken is the raw $skiptoken, "" when absent.
	skipToken string
	// params are all pairs of the query string in order.
	params []queryParam
}

const (
	defaultPageSize = 100
	maxPageSize     = 999
)

// parseQuery reads the query string: option names are matched
// case-insensitively (OData 4.01) and may appear once; parameters without
// a '$' are not ours and are ignored; allowed says which options the route
// supports.
func parseQuery(rawQuery string, allowed queryOption) (*queryOptions, error) {
	q := &queryOptions{top: defaultPageSize}
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
		q.params = append(q.params, queryParam{name: name, value: value, raw: raw})
		if !strings.HasPrefix(name, "$") {
			continue
		}
		lower := strings.ToLower(name)
		if seen[lower] {
			return nil, directory.Errorf(directory.KindInvalid, "Query option '%s' was specified more than once, but it must be specified at most once.", clip(name))
		}
		seen[lower] = true
		bit, known := knownOptions[lower]
		switch {
		case lower == "$skip":
			return nil, directory.Errorf(directory.KindInvalid, "'$skip' is not supported by the service.")
		case !known:
			return nil, directory.Errorf(directory.KindInvalid, "Unrecognized query argument specified: '%s'.", clip(name))
		case bit == 0:
			return nil, directory.Errorf(directory.KindUnsupported, "Query option '%s' is not supported yet.", lower)
		case allowed&bit == 0:
			return nil, directory.Errorf(directory.KindBadRequest, "Query option '%s' is not allowed for this request.", lower)
		}
		var err error
		switch bit {
		case optSelect:
			q.selected, err = parseSelect(value)
		case optTop:
			q.top, err = parseTop(value)
		case optSkipToken:
			if value == "" {
				err = errBadSkipToken()
			}
			q.skipToken = value
		case optFormat:
			if !strings.EqualFold(value, "json") && !strings.EqualFold(value, "application/json") {
				err = directory.Errorf(directory.KindUnsupported, "Format '%s' is not supported; use 'json'.", clip(value))
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return q, nil
}

// parseSelect resolves a $select list. Names match case-insensitively and
// come back canonical; write-only properties are as unknown as missing ones.
func parseSelect(v string) ([]*directory.Property, error) {
	out := []*directory.Property{}
	for name := range strings.SplitSeq(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, directory.Errorf(directory.KindBadRequest, "Invalid $select: empty property name.")
		}
		p, ok := directory.LookupPropertyFold(name)
		if !ok || p.WriteOnly {
			return nil, (&directory.Error{Kind: directory.KindUnsupported,
				Message: "Property '" + clip(name) + "' does not exist as a declared property or extension property."}).WithTarget(clip(name))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func parseTop(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, directory.Errorf(directory.KindUnsupported, "Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", clip(v), maxPageSize)
	}
	return n, nil
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
// option but $skiptoken itself, names folded, in a canonical order.
func (q *queryOptions) shapeHash() [sha256.Size]byte {
	var opts []string
	for _, p := range q.params {
		lower := strings.ToLower(p.name)
		if strings.HasPrefix(lower, "$") && lower != "$skiptoken" {
			opts = append(opts, lower+"="+p.value)
		}
	}
	slices.Sort(opts)
	return sha256.Sum256([]byte(strings.Join(opts, "\x00")))
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
