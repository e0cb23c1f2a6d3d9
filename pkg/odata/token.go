package odata

// Token is a lexical token of the $filter/$orderby/$select grammar. Word
// operators (eq, and, not, in, ...) and keywords (true, null, ...) are
// scanned as IDENT and recognised by the parser from context, as go/parser
// reads '=' as '==' on a right-hand side.
type Token int

// The tokens.
const (
	EOF Token = iota

	IDENT          // displayName, Model.Customer, Model.* (qualified names keep their dots)
	DOLLARIDENT    // $it, $root, $this, $count, $filter, $select, ...
	ATIDENT        // @alias, @Core.Messages, @Measures.Currency#Reporting
	STRING         // 'O''Brien' (lit is the source text, val the unescaped content)
	JSONSTRING     // "a \"b\"" (JSON string, only meaningful inside JSON arrays/objects)
	INT            // 42
	DECIMAL        // 4.0
	DOUBLE         // 1.5e3
	GUID           // 01234567-89ab-cdef-0123-456789abcdef
	DATE           // 2024-01-01
	DATETIMEOFFSET // 2024-01-01T00:00:00Z
	TIMEOFDAY      // 13:20:00
	PREFIXED       // duration'P1D', Sales.Pattern'Yellow' (lit is the prefix, val the content)

	LPAREN // (
	RPAREN // )
	LBRACK // [
	RBRACK // ]
	LBRACE // {
	RBRACE // }
	COMMA  // ,
	COLON  // :
	SLASH  // /
	ASSIGN // =
	SEMI   // ;
	STAR   // *
	MINUS  // -
)

var tokenNames = [...]string{
	EOF:            "end of input",
	IDENT:          "identifier",
	DOLLARIDENT:    "$identifier",
	ATIDENT:        "@identifier",
	STRING:         "string",
	JSONSTRING:     "JSON string",
	INT:            "integer",
	DECIMAL:        "decimal",
	DOUBLE:         "double",
	GUID:           "GUID",
	DATE:           "date",
	DATETIMEOFFSET: "date-time",
	TIMEOFDAY:      "time of day",
	PREFIXED:       "typed literal",
	LPAREN:         "'('",
	RPAREN:         "')'",
	LBRACK:         "'['",
	RBRACK:         "']'",
	LBRACE:         "'{'",
	RBRACE:         "'}'",
	COMMA:          "','",
	COLON:          "':'",
	SLASH:          "'/'",
	ASSIGN:         "'='",
	SEMI:           "';'",
	STAR:           "'*'",
	MINUS:          "'-'",
}

// String returns a human-readable name of the token for error messages.
func (t Token) String() string {
	if t >= 0 && int(t) < len(tokenNames) && tokenNames[t] != "" {
		return tokenNames[t]
	}
	return "token(?)"
}
