// Package odata parses the OData v4.01 system query options that a Microsoft
// Graph /users clone handles: $filter, $orderby, $select, $search, $top,
// $skip, $count and $skiptoken, plus parameter aliases and custom options of
// a whole query string (ParseQuery).
//
// The package owns the syntax only: a hand-written scanner and a
// recursive-descent parser in the style of go/scanner and go/parser, an AST
// whose nodes carry byte offsets, a canonical printer (every node's String
// method) and positioned errors (Error, ErrorList). Like go/parser it accepts
// a larger language than the service supports: OData 4.01 constructs such as
// arithmetic, JSON array and object literals, $it/$root/$this, bound
// functions, annotations and $filter path segments parse into AST nodes so
// that a separate checker can refuse them with a precise message
// ("unsupported" rather than "syntax error").
//
// Grammar decisions (checked against the OASIS conformance cases in
// testdata/odata/filter-cases.json at the repository root):
//
//   - Precedence, loosest first: or; and; not; eq ne; gt ge lt le; add sub;
//     mul div divby mod; unary minus; has and in; primary (paths, calls,
//     lambdas). "not" takes a whole comparison, as the ABNF rule
//     notExpr = "not" RWS boolCommonExpr reads, but not an and/or:
//     "not a eq b and c" is "(not (a eq b)) and c".
//   - Word operators, true/false/null and function names are
//     case-insensitive; any/all need a collection path (x/any(...)).
//   - "x in (...)" with two or more items takes literals only; "x in [...]"
//     takes a JSON array.
//   - Whitespace (space and tab) is allowed between tokens only, never at
//     the start or end of an option value.
//   - ParseQuery percent-decodes values as RFC 3986 does: '+' stays '+'.
//
// Every entry point enforces Limits (input length, nesting depth, node count,
// in-list size) and never panics, whatever the input.
//
// Library API and what graphdir uses: graphdir's HTTP edge
// (internal/api/query.go) reads the query string itself, because it words
// refusals as Microsoft Graph does, allows options per route and resolves
// $select against its own property tables; it calls ParseFilter,
// ParseOrderBy, ParseSearch, ParseCount and ParseNonNegativeInt for the
// option values. ParseQuery (a whole query string, with parameter aliases
// and custom options) and ParseSelect (a $select value with paths and
// nested options) are library API for other servers and tools and are
// covered by this package's tests, not by graphdir's routes.
//
// The package is pure Go, uses the standard library only and imports nothing
// of the graphdir project; project packages import it, never the reverse.
package odata
