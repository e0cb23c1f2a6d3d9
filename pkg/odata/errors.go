package odata

import (
	"errors"
	"fmt"
	"sort"
)

// ErrLimitExceeded is matched (errors.Is) by errors reporting that an input
// exceeded one of the configured Limits rather than being malformed.
var ErrLimitExceeded = errors.New("odata: limit exceeded")

// Error is a positioned parse error. Offset is the byte offset of the
// offending token: within the option value for the Parse* functions, within
// the raw query string for ParseQuery.
type Error struct {
	Offset int
	Msg    string
	// Limit is true when the input exceeded a configured limit.
	Limit bool
}

// Error formats the error as "syntax error at position N: msg".
func (e *Error) Error() string {
	if e.Limit {
		return fmt.Sprintf("query too complex at position %d: %s", e.Offset, e.Msg)
	}
	return fmt.Sprintf("syntax error at position %d: %s", e.Offset, e.Msg)
}

// Unwrap returns ErrLimitExceeded for limit errors.
func (e *Error) Unwrap() error {
	if e.Limit {
		return ErrLimitExceeded
	}
	return nil
}

// ErrorList is a list of *Error, as in go/scanner. The parsers stop at the
// first error, so a returned list holds exactly one element today.
type ErrorList []*Error

// Add appends an error.
func (l *ErrorList) Add(offset int, msg string) { *l = append(*l, &Error{Offset: offset, Msg: msg}) }

// Sort sorts the list by offset.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Offset < l[j].Offset })
}

// Error reports the first error and how many more there are.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", l[0], len(l)-1)
}

// Unwrap lets errors.As find the *Error elements and errors.Is find
// ErrLimitExceeded.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// Err returns nil for an empty list and the list itself otherwise.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// bailout is the panic value the parsers use to abandon parsing at the first
// error; it is recovered only by the entry points.
type bailout struct{}

// Limits bounds the work a parser does on untrusted input. Zero fields take
// the corresponding DefaultLimits value.
type Limits struct {
	MaxLength int // maximum length in bytes of one option value
	MaxDepth  int // maximum nesting of parentheses, unary operators, calls and lambdas
	MaxNodes  int // maximum number of AST nodes in one option value
	MaxInList int // maximum number of items in one in-list
}

// DefaultLimits are the limits used by the package-level Parse functions.
var DefaultLimits = Limits{MaxLength: 8 << 10, MaxDepth: 100, MaxNodes: 2000, MaxInList: 1000}

func (l Limits) withDefaults() Limits {
	if l.MaxLength <= 0 {
		l.MaxLength = DefaultLimits.MaxLength
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = DefaultLimits.MaxNodes
	}
	if l.MaxInList <= 0 {
		l.MaxInList = DefaultLimits.MaxInList
	}
	return l
}
