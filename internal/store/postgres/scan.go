package postgres

import (
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/directory"
)

// Scanning users without sqlx's reflection. sqlx's StructScan walks the
// struct by reflection for every row (fieldsByTraversal was ~17% of the CPU
// of a page of 100 users); here each column's destination, a field of
// directory.User, comes from userBinders, derived from the property table
// (userprops.go). A statement's columns are resolved once per result set
// (once per statement for GetUser), not per row. A column nothing binds is
// an error: it means a statement selects what the table does not describe.

// userRow is one row of userSelect (or userSelectWithPassword): the user
// itself, scanned in place, and what needs decoding after the scan.
type userRow struct {
	u            directory.User
	identities   []byte
	passwordHash *string
}

// user finishes the scanned user: identities decoded, collections never
// null, the password hash (when selected).
func (r *userRow) user() (*directory.User, error) {
	u := &r.u
	for _, p := range collectionProperties {
		if p.coll != nil {
			if c := p.coll(u); *c == nil {
				*c = []string{}
			}
		} else if _, ok := u.Props[p.Name]; !ok {
			if u.Props == nil {
				u.Props = make(map[string]any)
			}
			u.Props[p.Name] = []string{}
		}
	}
	if r.passwordHash != nil {
		u.Password.Hash = *r.passwordHash
	}
	u.Identities = []directory.Identity{}
	if err := decodeIdentities(r.identities, &u.Identities); err != nil { // identities.go
		return nil, fmt.Errorf("decode identities: %w", err)
	}
	return u, nil
}

func (r *userRow) field(col string) any {
	if b := userBinders[col]; b != nil {
		return b(r)
	}
	return nil
}

// scanTargets fills dst (len(cols)) with field(cols[i]); an error names a
// column without one.
func scanTargets(field func(string) any, cols []string, dst []any) error {
	for i, c := range cols {
		p := field(c)
		if p == nil {
			return fmt.Errorf("postgres: column %s has no scan target", c)
		}
		dst[i] = p
	}
	return nil
}

// The Scanners of nullable columns. database/sql scans into a pointer field
// (**string, a NULL-able column) by reflection, reflect.New and a recursive
// call: that was the largest part of scanning a page of 100 users. These
// do it directly; each is one pointer, so boxing it allocates nothing.
type (
	scanString struct{ p **string }
	scanBool   struct{ p **bool }
	scanUTC    struct{ p **time.Time } // in UTC, as the API writes times
)

func (n scanString) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.p = nil
	case string:
		*n.p = &v
	case []byte:
		s := string(v)
		*n.p = &s
	default:
		return fmt.Errorf("cannot scan %T into a string", src)
	}
	return nil
}

func (n scanBool) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.p = nil
	case bool:
		*n.p = &v
	default:
		return fmt.Errorf("cannot scan %T into a bool", src)
	}
	return nil
}

func (n scanUTC) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.p = nil
	case time.Time:
		v = v.UTC()
		*n.p = &v
	default:
		return fmt.Errorf("cannot scan %T into a time", src)
	}
	return nil
}

// scanUser scans the one row of row, a row of userSelect (with password:
// userSelectWithPassword, binders saying which) into r, by position.
func scanUser(row *sqlx.Row, binders []func(*userRow) any, r *userRow) error {
	var buf [64]any
	ptrs := buf[:0]
	if len(binders) > len(buf) {
		ptrs = make([]any, 0, len(binders))
	}
	for _, b := range binders {
		ptrs = append(ptrs, b(r))
	}
	return row.Scan(ptrs...)
}

// scanOne scans the one row of row through field, by column name.
func scanOne(row *sqlx.Row, field func(col string) any) error {
	cols, err := row.Columns()
	if err != nil {
		return row.Scan() // reports the query's error (sql.ErrNoRows included)
	}
	ptrs := make([]any, len(cols))
	if err := scanTargets(field, cols, ptrs); err != nil {
		return err
	}
	return row.Scan(ptrs...)
}

// listScanner scans the rows of one list statement, its columns resolved
// once.
type listScanner struct {
	rows  *sqlx.Rows
	binds []func(*listRow) any
	dst   []any
}

func newListScanner(rows *sqlx.Rows) (*listScanner, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	s := &listScanner{rows: rows, binds: make([]func(*listRow) any, len(cols)), dst: make([]any, len(cols))}
	for i, c := range cols {
		switch c {
		case "sort_keys":
			s.binds[i] = func(r *listRow) any { return &r.SortKeys }
		case "total":
			s.binds[i] = func(r *listRow) any { return &r.Total }
		default:
			b := userBinders[c]
			if b == nil {
				return nil, fmt.Errorf("postgres: column %s has no scan target", c)
			}
			s.binds[i] = func(r *listRow) any { return b(&r.userRow) }
		}
	}
	return s, nil
}

func (s *listScanner) scan(r *listRow) error {
	for i, b := range s.binds {
		s.dst[i] = b(r)
	}
	return s.rows.Scan(s.dst...)
}
