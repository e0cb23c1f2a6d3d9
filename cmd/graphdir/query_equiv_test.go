package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
)

// The equivalence test: a seeded tenant, a few hundred generated queries,
// each answered by the server (paging through @odata.nextLink with a small
// $top) and by an evaluator written here, independently of the store: its
// own generator, its own printer, its own OData 4.01 semantics. They must
// agree on the set, on the order when $orderby is given, on @odata.count
// and on /users/$count.
//
// Semantics the evaluator implements (issue 3, README "Queries"):
//   - strings compare case-insensitively (lower() on both sides; ordering
//     by code point, as the test database's C.UTF-8 collation does);
//   - eq and ne are two-valued: null eq null is true, null eq 'x' false,
//     null ne 'x' true;
//   - gt/ge/lt/le with a null operand are false;
//   - startsWith/endsWith/contains of null are null;
//   - and/or/not are three-valued (Kleene); only true selects;
//   - x in (a, b) is x eq a or x eq b;
//   - coll/any(v: body) is true when body is true for some element;
//   - $orderby puts nulls first ascending and last descending; ties are
//     broken by id, in the direction of the last key;
//   - identities/$count counts the userPrincipalName identity graphdir
//     derives for every user (as Graph lists it), but identities/any(...)
//     matches the stored sign-in identities only, as in Graph;
//   - $search "displayName:t" matches when a word of displayName starts with
//     t, "mail:t" when mail starts with t (case-insensitively).

const (
	equivUsers   = 300
	equivQueries = 400
	equivSeed    = 20260501
)

// seedUser is one user as the evaluator sees it.
type seedUser struct {
	id                              string
	displayName, givenName, surname *string
	mail, city, country, jobTitle   *string
	department, companyName         *string
	upn                             string
	accountEnabled                  *bool
	created                         time.Time
	otherMails                      []string
	identities                      []directory.Identity
}

func (u *seedUser) str(prop string) *string {
	switch prop {
	case "displayName":
		return u.displayName
	case "givenName":
		return u.givenName
	case "surname":
		return u.surname
	case "mail":
		return u.mail
	case "city":
		return u.city
	case "country":
		return u.country
	case "jobTitle":
		return u.jobTitle
	case "department":
		return u.department
	case "companyName":
		return u.companyName
	case "userPrincipalName":
		return &u.upn
	}
	panic("no string property " + prop)
}

var (
	givenNames = []string{"Ada", "ada", "ADA", "Alan", "Grace", "Zoë", "Ólafur", "Chloé", "Émile", "Linus", "Ken", "Barbara",
		"Dennis", "Margaret", "Edsger", "Niklaus", "Frances", "Åsa", "Bjørn", "Siân"}
	surnames = []string{"Lovelace", "Turing", "Hopper", "O'Brien", "Nakamura", "Søren", "Müller", "Smith", "smith", "SMITH",
		"Hamilton", "Dijkstra", "Wirth", "Allen", "Liskov", "Ritchie", "Thompson", "Torvalds"}
	cities      = []string{"Oslo", "oslo", "OSLO", "Bergen", "São Paulo", "Zürich", "Tromsø", "New York", "new york", "Kyoto"}
	countries   = []string{"Norway", "Brazil", "Switzerland", "United States", "Japan", "norway"}
	jobTitles   = []string{"Engineer", "engineer", "Senior Engineer", "Senior_Engineer", "100% Remote", "Manager", "Ops Lead"}
	departments = []string{"Sales", "R&D", "R_D", "RnD", "Support", "sales"}
	companies   = []string{"Contoso", "Fabrikam", "contoso", "Northwind Traders", "Woodgrove Bank"}
	mailDomains = []string{"example.com", "Example.org", "mail.test", "exa_mple.net"}
	baseTime    = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func maybe(r *rand.Rand, pNull float64, v string) *string {
	if r.Float64() < pNull {
		return nil
	}
	return &v
}

// asciiCase flips the case of some ASCII letters: the directory is
// case-insensitive, and the evaluator must not depend on how a locale
// folds other scripts.
func asciiCase(r *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if r.IntN(3) == 0 {
			switch {
			case 'a' <= c && c <= 'z':
				b[i] = c - 32
			case 'A' <= c && c <= 'Z':
				b[i] = c + 32
			}
		}
	}
	return string(b)
}

func seedUsers(r *rand.Rand, n int, domain string) []*seedUser {
	users := make([]*seedUser, n)
	for i := range users {
		u := &seedUser{id: uuid.NewString()}
		given, sur := pick(r, givenNames), pick(r, surnames)
		switch r.IntN(10) {
		case 0:
		case 1:
			u.displayName = maybe(r, 0, given+" "+pick(r, givenNames)+" "+sur)
		default:
			u.displayName = maybe(r, 0, given+" "+sur)
		}
		u.givenName = maybe(r, 0.15, given)
		u.surname = maybe(r, 0.15, sur)
		u.upn = fmt.Sprintf("upn-%03d.%s@contoso.com", i, asciiCase(r, strings.ToLower(strings.ReplaceAll(asciiOnly(sur), "'", ""))))
		local := strings.ToLower(asciiOnly(given)) + pick(r, []string{".", "_", ""}) + strings.ToLower(asciiOnly(sur))
		u.mail = maybe(r, 0.2, asciiCase(r, fmt.Sprintf("%s%d@%s", local, i, pick(r, mailDomains))))
		u.city = maybe(r, 0.25, pick(r, cities))
		u.country = maybe(r, 0.3, pick(r, countries))
		u.jobTitle = maybe(r, 0.3, pick(r, jobTitles))
		u.department = maybe(r, 0.3, pick(r, departments))
		u.companyName = maybe(r, 0.4, pick(r, companies))
		switch r.IntN(5) {
		case 0:
		case 1:
			u.accountEnabled = new(bool)
		default:
			t := true
			u.accountEnabled = &t
		}
		// Created times spread over five years, with deliberate ties.
		if i > 0 && r.IntN(10) == 0 {
			u.created = users[r.IntN(i)].created
		} else {
			u.created = baseTime.Add(time.Duration(r.Int64N(5*365*24*3600)) * time.Second)
		}
		for k := r.IntN(4); k > 0; k-- {
			u.otherMails = append(u.otherMails, asciiCase(r, fmt.Sprintf("%s.%s@%s", strings.ToLower(asciiOnly(pick(r, givenNames))), pick(r, []string{"alt", "home", "work"}), pick(r, mailDomains))))
		}
		// Sign-in identities; (issuer, issuerAssignedId) is unique in the
		// tenant. No stored issuerAssignedId starts with 'u' and no issuer is
		// contoso.com, so the userPrincipalName identity graphdir derives
		// (and Graph does not let one filter on) never changes an answer.
		switch r.IntN(6) {
		case 0:
		case 1:
			u.identities = append(u.identities, directory.Identity{SignInType: "federated", Issuer: pick(r, []string{"google.com", "facebook.com"}), IssuerAssignedID: fmt.Sprintf("%d", 100000+i)})
		default:
			u.identities = append(u.identities, directory.Identity{SignInType: "emailAddress", Issuer: domain, IssuerAssignedID: asciiCase(r, fmt.Sprintf("%s.%d@example.com", strings.ToLower(asciiOnly(given)), i))})
			if r.IntN(3) == 0 {
				u.identities = append(u.identities, directory.Identity{SignInType: "userName", Issuer: domain, IssuerAssignedID: fmt.Sprintf("login%d", i)})
			}
			if r.IntN(4) == 0 {
				u.identities = append(u.identities, directory.Identity{SignInType: "federated", Issuer: "google.com", IssuerAssignedID: fmt.Sprintf("g%d", 500000+i)})
			}
		}
		users[i] = u
	}
	return users
}

func asciiOnly(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c < 128 {
			b.WriteRune(c)
		} else {
			b.WriteByte('x')
		}
	}
	return b.String()
}

// ---- Three-valued logic

type tri int8

const (
	triFalse tri = iota
	triTrue
	triNull
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

func (a tri) not() tri {
	switch a {
	case triTrue:
		return triFalse
	case triFalse:
		return triTrue
	}
	return triNull
}

func and3(a, b tri) tri {
	if a == triFalse || b == triFalse {
		return triFalse
	}
	if a == triTrue && b == triTrue {
		return triTrue
	}
	return triNull
}

func or3(a, b tri) tri {
	if a == triTrue || b == triTrue {
		return triTrue
	}
	if a == triFalse && b == triFalse {
		return triFalse
	}
	return triNull
}

// ---- The generated expressions: each prints itself as OData and
// evaluates itself over a seedUser.

type expr interface {
	text() string
	eval(u *seedUser) tri
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func lower(s string) string { return strings.ToLower(s) }

type strCmp struct {
	prop, op string
	lit      *string // nil: null
}

func (e strCmp) text() string {
	lit := "null"
	if e.lit != nil {
		lit = quote(*e.lit)
	}
	return e.prop + " " + e.op + " " + lit
}

func (e strCmp) eval(u *seedUser) tri {
	x := u.str(e.prop)
	switch e.op {
	case "eq", "ne":
		var eq bool
		switch {
		case e.lit == nil || x == nil:
			eq = e.lit == nil && x == nil
		default:
			eq = lower(*x) == lower(*e.lit)
		}
		if e.op == "ne" {
			eq = !eq
		}
		return triOf(eq)
	}
	if x == nil || e.lit == nil {
		return triFalse
	}
	c := strings.Compare(lower(*x), lower(*e.lit))
	return triOf(ordered(e.op, c))
}

func ordered(op string, c int) bool {
	switch op {
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	}
	panic(op)
}

type strFunc struct {
	fn, prop, arg string
}

func (e strFunc) text() string { return e.fn + "(" + e.prop + "," + quote(e.arg) + ")" }

func (e strFunc) eval(u *seedUser) tri {
	x := u.str(e.prop)
	if x == nil {
		return triNull
	}
	return triOf(strMatch(e.fn, *x, e.arg))
}

func strMatch(fn, x, arg string) bool {
	x, arg = lower(x), lower(arg)
	switch fn {
	case "startsWith":
		return strings.HasPrefix(x, arg)
	case "endsWith":
		return strings.HasSuffix(x, arg)
	case "contains":
		return strings.Contains(x, arg)
	}
	panic(fn)
}

type strIn struct {
	prop string
	vals []string
}

func (e strIn) text() string {
	q := make([]string, len(e.vals))
	for i, v := range e.vals {
		q[i] = quote(v)
	}
	return e.prop + " in (" + strings.Join(q, ",") + ")"
}

func (e strIn) eval(u *seedUser) tri {
	x := u.str(e.prop)
	if x == nil {
		return triFalse
	}
	return triOf(slices.ContainsFunc(e.vals, func(v string) bool { return lower(v) == lower(*x) }))
}

type boolCmp struct {
	op  string
	lit *bool
}

func (e boolCmp) text() string {
	lit := "null"
	if e.lit != nil {
		lit = strconv.FormatBool(*e.lit)
	}
	return "accountEnabled " + e.op + " " + lit
}

func (e boolCmp) eval(u *seedUser) tri {
	x := u.accountEnabled
	eq := (x == nil && e.lit == nil) || (x != nil && e.lit != nil && *x == *e.lit)
	if e.op == "ne" {
		eq = !eq
	}
	return triOf(eq)
}

type timeCmp struct {
	op string
	t  time.Time
}

func (e timeCmp) text() string { return "createdDateTime " + e.op + " " + e.t.Format(time.RFC3339) }

func (e timeCmp) eval(u *seedUser) tri { return triOf(ordered(e.op, u.created.Compare(e.t))) }

type otherMailsAny struct {
	all     bool   // all(...) instead of any(...)
	fn, arg string // fn "eq", "ne" or a string function
}

func (e otherMailsAny) text() string {
	q := "any"
	if e.all {
		q = "all"
	}
	if e.fn == "eq" || e.fn == "ne" {
		return "otherMails/" + q + "(m:m " + e.fn + " " + quote(e.arg) + ")"
	}
	return "otherMails/" + q + "(m:" + e.fn + "(m," + quote(e.arg) + "))"
}

// eval: any is true when the body holds for some element, all when it
// holds for every element (so all over no elements is true).
func (e otherMailsAny) eval(u *seedUser) tri {
	for _, m := range u.otherMails {
		var ok bool
		switch e.fn {
		case "eq":
			ok = lower(m) == lower(e.arg)
		case "ne":
			ok = lower(m) != lower(e.arg)
		default:
			ok = strMatch(e.fn, m, e.arg)
		}
		if ok && !e.all {
			return triTrue
		}
		if !ok && e.all {
			return triFalse
		}
	}
	return triOf(e.all)
}

type collCount struct {
	coll, op string
	n        int
}

func (e collCount) text() string { return e.coll + "/$count " + e.op + " " + strconv.Itoa(e.n) }

func (e collCount) eval(u *seedUser) tri {
	n := len(u.otherMails)
	if e.coll == "identities" {
		n = len(u.identities) + 1 // the userPrincipalName identity
	}
	return triOf(ordered(e.op, cmp.Compare(n, e.n)))
}

// identCond is one condition on the range variable of identities/any.
type identCond struct {
	field, op string // field issuer|issuerAssignedId|signInType; op eq|in|startsWith
	vals      []string
}

func (c identCond) text() string {
	switch c.op {
	case "eq":
		return "i/" + c.field + " eq " + quote(c.vals[0])
	case "startsWith":
		return "startsWith(i/" + c.field + "," + quote(c.vals[0]) + ")"
	}
	q := make([]string, len(c.vals))
	for i, v := range c.vals {
		q[i] = quote(v)
	}
	return "i/" + c.field + " in (" + strings.Join(q, ",") + ")"
}

func (c identCond) match(id directory.Identity) bool {
	x := map[string]string{"issuer": id.Issuer, "issuerAssignedId": id.IssuerAssignedID, "signInType": id.SignInType}[c.field]
	switch c.op {
	case "startsWith":
		return strMatch("startsWith", x, c.vals[0])
	}
	return slices.ContainsFunc(c.vals, func(v string) bool { return lower(v) == lower(x) })
}

type identitiesAny struct {
	conds []identCond // joined by and
}

func (e identitiesAny) text() string {
	parts := make([]string, len(e.conds))
	for i, c := range e.conds {
		parts[i] = c.text()
	}
	return "identities/any(i:" + strings.Join(parts, " and ") + ")"
}

func (e identitiesAny) eval(u *seedUser) tri {
	for _, id := range u.identities {
		ok := true
		for _, c := range e.conds {
			ok = ok && c.match(id)
		}
		if ok {
			return triTrue
		}
	}
	return triFalse
}

type notExpr struct{ x expr }

func (e notExpr) text() string         { return "not (" + e.x.text() + ")" }
func (e notExpr) eval(u *seedUser) tri { return e.x.eval(u).not() }

type logicExpr struct {
	op   string
	x, y expr
}

func (e logicExpr) text() string { return "(" + e.x.text() + ") " + e.op + " (" + e.y.text() + ")" }

func (e logicExpr) eval(u *seedUser) tri {
	if e.op == "and" {
		return and3(e.x.eval(u), e.y.eval(u))
	}
	return or3(e.x.eval(u), e.y.eval(u))
}

// ---- The generator

// equivCaps says what the generator may ask for: the store's property
// table decides what graphdir answers (internal/store/postgres), and every
// query generated here must be one it answers.
var equivCaps = struct {
	eqProps       []string // eq, ne, in, eq null, ne null
	orderedProps  []string // gt ge lt le
	startsWith    []string
	endsWith      []string
	contains      []string
	sortable      []string
	searchable    []string
	identityField []string
}{
	eqProps:       []string{"displayName", "givenName", "surname", "mail", "userPrincipalName", "city", "country", "jobTitle", "department", "companyName"},
	orderedProps:  []string{"displayName", "givenName", "surname", "mail", "userPrincipalName", "city"},
	startsWith:    []string{"displayName", "givenName", "surname", "mail", "userPrincipalName", "city", "country", "jobTitle", "department", "companyName"},
	endsWith:      []string{"mail", "userPrincipalName"},
	contains:      nil, // on users, contains is only for collection elements (otherMails below)
	sortable:      []string{"displayName", "userPrincipalName", "givenName", "surname", "mail", "createdDateTime", "city", "accountEnabled"},
	searchable:    []string{"displayName", "mail"},
	identityField: []string{"issuer", "issuerAssignedId", "signInType"},
}

type gen struct {
	r     *rand.Rand
	users []*seedUser
}

// someValue is a value of prop taken from a random user (nil when that
// user has none), with its ASCII case shuffled.
func (g *gen) someValue(prop string) *string {
	for range 5 {
		if v := g.users[g.r.IntN(len(g.users))].str(prop); v != nil {
			s := asciiCase(g.r, *v)
			return &s
		}
	}
	return nil
}

func (g *gen) literal(prop string) string {
	switch g.r.IntN(8) {
	case 0:
		return pick(g.r, []string{"zzz", "A", "O'B", "nobody@nowhere.test", "100%", "R_", "Ø"})
	}
	if v := g.someValue(prop); v != nil {
		return *v
	}
	return "none"
}

// fragment is a piece of a value of prop: a prefix, a suffix or an inner
// part, depending on fn.
func (g *gen) fragment(prop, fn string) string {
	v := g.literal(prop)
	rs := []rune(v)
	if len(rs) < 2 {
		return v
	}
	n := 1 + g.r.IntN(min(len(rs), 6))
	switch fn {
	case "startsWith":
		return string(rs[:n])
	case "endsWith":
		return string(rs[len(rs)-n:])
	}
	i := g.r.IntN(len(rs) - n + 1)
	return string(rs[i : i+n])
}

func (g *gen) leaf() expr {
	r := g.r
	switch r.IntN(13) {
	case 0, 1:
		prop := pick(r, equivCaps.eqProps)
		op := pick(r, []string{"eq", "ne"})
		if r.IntN(4) == 0 {
			return strCmp{prop, op, nil}
		}
		lit := g.literal(prop)
		return strCmp{prop, op, &lit}
	case 2:
		prop := pick(r, equivCaps.orderedProps)
		lit := g.literal(prop)
		if r.IntN(2) == 0 {
			lit = g.fragment(prop, "startsWith")
		}
		return strCmp{prop, pick(r, []string{"gt", "ge", "lt", "le"}), &lit}
	case 3, 4:
		prop := pick(r, equivCaps.startsWith)
		return strFunc{"startsWith", prop, g.fragment(prop, "startsWith")}
	case 5, 6:
		prop := pick(r, equivCaps.endsWith)
		return strFunc{"endsWith", prop, g.fragment(prop, "endsWith")}
	case 7:
		prop := pick(r, equivCaps.eqProps)
		var vals []string
		for k := 1 + r.IntN(4); k > 0; k-- {
			vals = append(vals, g.literal(prop))
		}
		return strIn{prop, vals}
	case 8:
		var lit *bool
		if r.IntN(3) > 0 {
			b := r.IntN(2) == 0
			lit = &b
		}
		return boolCmp{pick(r, []string{"eq", "ne"}), lit}
	case 9:
		t := baseTime.Add(time.Duration(r.Int64N(5*365*24*3600)) * time.Second)
		op := pick(r, []string{"gt", "ge", "lt", "le"})
		if r.IntN(4) == 0 {
			t, op = g.users[r.IntN(len(g.users))].created, pick(r, []string{"eq", "ne", "ge", "le"})
		}
		return timeCmp{op, t}
	case 10:
		u := g.users[r.IntN(len(g.users))]
		all := r.IntN(4) == 0
		fn := pick(r, []string{"eq", "eq", "ne", "startsWith", "startsWith", "endsWith", "contains"})
		if len(u.otherMails) == 0 || r.IntN(5) == 0 {
			return otherMailsAny{all, fn, pick(r, []string{"ada.alt@example.com", "grace", ".net", "x@y.z", "_"})}
		}
		m := asciiCase(r, pick(r, u.otherMails))
		switch fn {
		case "startsWith":
			m = m[:1+r.IntN(len(m)-1)]
		case "endsWith":
			m = m[r.IntN(len(m)-1):]
		case "contains":
			i := r.IntN(len(m) - 1)
			m = m[i : i+1+r.IntN(len(m)-i-1)]
		}
		return otherMailsAny{all, fn, m}
	case 11:
		return collCount{pick(r, []string{"otherMails", "identities"}), pick(r, []string{"eq", "ne", "gt", "lt", "ge", "le"}), r.IntN(4)}
	}
	return g.identities()
}

func (g *gen) identities() expr {
	r := g.r
	var id directory.Identity
	for {
		u := g.users[r.IntN(len(g.users))]
		if len(u.identities) > 0 {
			id = pick(r, u.identities)
			break
		}
	}
	value := func(field string) string {
		v := map[string]string{"issuer": id.Issuer, "issuerAssignedId": id.IssuerAssignedID, "signInType": id.SignInType}[field]
		if r.IntN(8) == 0 {
			v = "nobody@example.com"
		}
		return asciiCase(r, v)
	}
	cond := func(field string) identCond {
		switch r.IntN(4) {
		case 0:
			v := value(field)
			return identCond{field, "startsWith", []string{v[:1+r.IntN(len(v))]}}
		case 1:
			return identCond{field, "in", []string{value(field), pick(r, []string{"google.com", "facebook.com", "userName", "g500001", "other"})}}
		}
		return identCond{field, "eq", []string{value(field)}}
	}
	switch r.IntN(4) {
	case 0: // Graph's own form, exactly.
		return identitiesAny{[]identCond{{"issuerAssignedId", "eq", []string{value("issuerAssignedId")}}, {"issuer", "eq", []string{value("issuer")}}}}
	case 1:
		return identitiesAny{[]identCond{cond("issuerAssignedId")}}
	case 2:
		return identitiesAny{[]identCond{cond("signInType"), cond("issuer")}}
	}
	fields := slices.Clone(equivCaps.identityField)
	r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	var conds []identCond
	for _, f := range fields[:1+r.IntN(3)] {
		conds = append(conds, cond(f))
	}
	return identitiesAny{conds}
}

func (g *gen) expr(depth int) expr {
	if depth == 0 || g.r.IntN(10) < 4 {
		return g.leaf()
	}
	switch g.r.IntN(5) {
	case 0:
		return notExpr{g.expr(depth - 1)}
	case 1, 2:
		return logicExpr{"and", g.expr(depth - 1), g.expr(depth - 1)}
	}
	return logicExpr{"or", g.expr(depth - 1), g.expr(depth - 1)}
}

// ---- $search

type searchTerm struct {
	not        bool // NOT "prop:text"
	prop, text string
}

type searchExpr struct {
	terms []searchTerm
	op    string // AND or OR between terms
}

func (s searchExpr) text() string {
	parts := make([]string, len(s.terms))
	for i, t := range s.terms {
		parts[i] = `"` + t.prop + ":" + t.text + `"`
		if t.not {
			parts[i] = "NOT " + parts[i]
		}
	}
	return strings.Join(parts, " "+s.op+" ")
}

func (s searchExpr) match(u *seedUser) bool {
	for i, t := range s.terms {
		m := s.matchTerm(u, t)
		if s.op == "OR" && m {
			return true
		}
		if s.op == "AND" && !m {
			return false
		}
		if i == len(s.terms)-1 {
			return m
		}
	}
	return false
}

// matchTerm: a clause on a missing value is false, so NOT of it is true.
func (s searchExpr) matchTerm(u *seedUser, t searchTerm) bool {
	x := u.str(t.prop)
	var m bool
	switch {
	case x == nil:
	case t.prop == "mail":
		m = strings.HasPrefix(lower(*x), lower(t.text))
	default:
		for _, w := range searchTokens(*x) {
			if strings.HasPrefix(w, lower(t.text)) {
				m = true
				break
			}
		}
	}
	return m != t.not
}

// searchTokens splits a displayName as Graph's $search does
// (https://learn.microsoft.com/graph/search-query-parameter, "Use $search on
// directory object collections"): at spaces, at symbols, at a lower-case
// letter followed by an upper-case one and between digits and letters; a
// word that splits also counts whole, without its symbols. Tokens are
// lower-cased.
func searchTokens(name string) []string {
	var out []string
	for _, w := range strings.Fields(name) {
		var parts []string
		var cur []rune
		flush := func() {
			if len(cur) > 0 {
				parts = append(parts, lower(string(cur)))
				cur = cur[:0]
			}
		}
		var prev rune
		for _, c := range w {
			switch {
			case !unicode.IsLetter(c) && !unicode.IsDigit(c):
				flush()
				prev = 0
				continue
			case prev != 0 && (unicode.IsLower(prev) && unicode.IsUpper(c) || unicode.IsDigit(prev) != unicode.IsDigit(c)):
				flush()
			}
			cur = append(cur, c)
			prev = c
		}
		flush()
		out = append(out, parts...)
		if len(parts) > 1 {
			out = append(out, lower(strings.Join(parts, "")))
		}
	}
	return out
}

// mixedCase reports a lower-to-upper change inside a word ("McDonald"),
// where Graph's tokeniser splits.
func mixedCase(w string) bool {
	for i := 1; i < len(w); i++ {
		if 'a' <= w[i-1] && w[i-1] <= 'z' && 'A' <= w[i] && w[i] <= 'Z' {
			return true
		}
	}
	return false
}

func (g *gen) search() searchExpr {
	r := g.r
	var s searchExpr
	s.op = pick(r, []string{"AND", "OR"})
	for k := 1 + r.IntN(2); k > 0; k-- {
		prop := pick(r, equivCaps.searchable)
		v := g.users[r.IntN(len(g.users))].str(prop)
		text := "qq"
		if v != nil {
			if prop == "displayName" {
				// A prefix of one ASCII word: how other scripts are
				// tokenised is the store's business, not this test's.
				// Only words of ASCII letters, so that the store's
				// tokeniser (case changes, digits, symbols) and this
				// evaluator's split on spaces see the same words.
				w := pick(r, strings.Fields(*v))
				if strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == "" && !mixedCase(w) {
					text = w[:1+r.IntN(len(w))]
					switch r.IntN(3) {
					case 0:
						text = strings.ToLower(text)
					case 1:
						text = strings.ToUpper(text)
					}
				}
			} else {
				text = asciiCase(r, (*v)[:1+r.IntN(min(len(*v), 8))])
			}
		}
		s.terms = append(s.terms, searchTerm{r.IntN(6) == 0, prop, strings.NewReplacer(`"`, "", `\`, "", ":", "").Replace(text)})
	}
	return s
}

// ---- Ordering

type orderKey struct {
	prop string
	desc bool
}

func sortKey(u *seedUser, prop string) *string {
	switch prop {
	case "createdDateTime":
		s := u.created.UTC().Format(time.RFC3339Nano)
		return &s
	case "accountEnabled": // false before true
		if u.accountEnabled == nil {
			return nil
		}
		s := strconv.FormatBool(*u.accountEnabled)
		return &s
	}
	v := u.str(prop)
	if v == nil {
		return nil
	}
	l := lower(*v)
	return &l
}

func compareUsers(a, b *seedUser, keys []orderKey) int {
	for _, k := range keys {
		x, y := sortKey(a, k.prop), sortKey(b, k.prop)
		var c int
		switch {
		case x == nil && y == nil:
		case x == nil:
			c = -1 // nulls first ascending
		case y == nil:
			c = 1
		default:
			c = strings.Compare(*x, *y)
		}
		if k.desc {
			c = -c // and so nulls last descending
		}
		if c != 0 {
			return c
		}
	}
	// Ties: by id, in the direction of the last key (the store scans one
	// index either way).
	c := strings.Compare(a.id, b.id)
	if len(keys) > 0 && keys[len(keys)-1].desc {
		c = -c
	}
	return c
}

// ---- The test

func TestQueryEquivalence(t *testing.T) {
	start := time.Now()
	s := newStack(t)
	seed := uint64(equivSeed)
	if v := os.Getenv("GRAPHDIR_EQUIV_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("GRAPHDIR_EQUIV_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("seed %d (set GRAPHDIR_EQUIV_SEED to try another)", seed)
	r := rand.New(rand.NewPCG(seed, 3))
	users := seedUsers(r, equivUsers, s.domain)
	ctx := context.Background()
	for _, su := range users {
		du := &directory.User{
			ID: su.id, TenantID: s.tenant, DisplayName: su.displayName, GivenName: su.givenName, Surname: su.surname,
			Mail: su.mail, City: su.city, Country: su.country, JobTitle: su.jobTitle, Department: su.department,
			CompanyName: su.companyName, UserPrincipalName: &su.upn, AccountEnabled: su.accountEnabled,
			CreatedDateTime: &su.created, OtherMails: su.otherMails, Identities: su.identities,
		}
		if err := s.db.store.CreateUser(ctx, du, nil); err != nil {
			t.Fatalf("seed %s: %v", su.upn, err)
		}
	}
	admin := s.appToken("User.Read.All")
	g := &gen{r: r, users: users}

	mismatches := 0
	var stats struct{ queries, requests, matched, empty, ordered, searched, counted, skipped int }
	queries := equivQueries
	if testing.Short() {
		queries = equivQueries / 4
	}
	for qi := range queries {
		var f expr
		if qi%10 != 9 { // one in ten runs without a $filter
			f = g.expr(3)
		}
		var search *searchExpr
		if r.IntN(6) == 0 || f == nil {
			se := g.search()
			search = &se
		}
		var order []orderKey
		if r.IntN(5) < 2 {
			for _, p := range pickN(r, equivCaps.sortable, 1+r.IntN(2)) {
				order = append(order, orderKey{p, r.IntN(2) == 0})
			}
		}
		skip := 0
		if len(order) > 0 && r.IntN(6) == 0 {
			skip = r.IntN(12)
		}
		top := pick(r, []int{7, 7, 7, 1, 3, 50})
		count := r.IntN(2) == 0

		// The evaluator's answer.
		var want []*seedUser
		for _, u := range users {
			if (f == nil || f.eval(u) == triTrue) && (search == nil || search.match(u)) {
				want = append(want, u)
			}
		}
		if len(order) > 0 {
			slices.SortFunc(want, func(a, b *seedUser) int { return compareUsers(a, b, order) })
		}
		total := len(want)
		if skip > 0 {
			want = want[min(skip, len(want)):]
		}

		// The server's, page by page.
		params := []string{"$select=id", "$top=" + strconv.Itoa(top)}
		var desc strings.Builder
		if f != nil {
			params = append(params, "$filter="+url.QueryEscape(f.text()))
			desc.WriteString("$filter=" + f.text())
		}
		if search != nil {
			params = append(params, "$search="+url.QueryEscape(search.text()))
			desc.WriteString(" $search=" + search.text())
			stats.searched++
		}
		if len(order) > 0 {
			var items []string
			for _, k := range order {
				item := k.prop
				if k.desc {
					item += " desc"
				} else if r.IntN(2) == 0 {
					item += " asc"
				}
				items = append(items, item)
			}
			params = append(params, "$orderby="+url.QueryEscape(strings.Join(items, ",")))
			desc.WriteString(" $orderby=" + strings.Join(items, ","))
			stats.ordered++
		}
		if skip > 0 {
			params = append(params, "$skip="+strconv.Itoa(skip))
			desc.WriteString(" $skip=" + strconv.Itoa(skip))
			stats.skipped++
		}
		if count {
			params = append(params, "$count=true")
		}
		r.Shuffle(len(params), func(i, j int) { params[i], params[j] = params[j], params[i] })
		link := "/v1.0/users?" + strings.Join(params, "&")
		query := desc.String()

		var got []string
		seen := map[string]bool{}
		for pages := 0; link != ""; pages++ {
			if pages > equivUsers+2 {
				t.Fatalf("query %d (%s): paging does not end", qi, query)
			}
			var hdr []string
			if pages == 0 && r.IntN(2) == 0 {
				hdr = []string{"ConsistencyLevel", "eventual"}
			}
			res := s.do("GET", link, admin, nil, hdr...)
			stats.requests++
			if res.Status != 200 {
				t.Fatalf("query %d: %s\nGET %s: %d %s", qi, query, link, res.Status, res.Body)
			}
			var page struct {
				Count    *int64 `json:"@odata.count"`
				NextLink string `json:"@odata.nextLink"`
				Value    []struct {
					ID string `json:"id"`
				} `json:"value"`
			}
			if err := json.Unmarshal(res.Body, &page); err != nil {
				t.Fatalf("query %d: %v", qi, err)
			}
			if count && (page.Count == nil || *page.Count != int64(total)) {
				t.Errorf("query %d: %s\n@odata.count = %v on page %d, want %d", qi, query, deref(page.Count), pages+1, total)
			}
			if !count && page.Count != nil {
				t.Errorf("query %d: @odata.count without $count=true", qi)
			}
			if len(page.Value) > top || (page.NextLink != "" && len(page.Value) != top) {
				t.Errorf("query %d: %s\npage %d has %d users for $top=%d (nextLink %v)", qi, query, pages+1, len(page.Value), top, page.NextLink != "")
			}
			for _, v := range page.Value {
				if seen[v.ID] {
					t.Errorf("query %d: %s\nuser %s returned twice", qi, query, v.ID)
				}
				seen[v.ID] = true
				got = append(got, v.ID)
			}
			if page.NextLink != "" && !strings.HasPrefix(page.NextLink, s.srv.URL+"/v1.0/users?") {
				t.Fatalf("query %d: nextLink %q is not an absolute URL of this server", qi, page.NextLink)
			}
			link = page.NextLink
		}

		wantIDs := make([]string, len(want))
		for i, u := range want {
			wantIDs[i] = u.id
		}
		if len(order) == 0 {
			slices.Sort(got)
			slices.Sort(wantIDs)
		}
		if !slices.Equal(got, wantIDs) {
			t.Errorf("query %d: %s\nserver %d users, evaluator %d\n%s", qi, query, len(got), len(wantIDs), diffIDs(got, wantIDs, users))
			if mismatches++; mismatches >= 10 {
				t.Fatal("stopping after 10 mismatches")
			}
		}

		// /users/$count answers the same filter and search.
		if r.IntN(4) == 0 {
			var cp []string
			for _, p := range params {
				if strings.HasPrefix(p, "$filter=") || strings.HasPrefix(p, "$search=") {
					cp = append(cp, p)
				}
			}
			res := s.do("GET", "/v1.0/users/$count?"+strings.Join(cp, "&"), admin, nil)
			if res.Status != 200 || string(res.Body) != strconv.Itoa(total) {
				t.Errorf("query %d: %s\n/$count = %d %q, want %d", qi, query, res.Status, res.Body, total)
			}
			stats.counted++
		}
		stats.queries++
		stats.matched += total
		if total == 0 {
			stats.empty++
		}
	}
	t.Logf("%d users, %d queries (%d with $orderby, %d with $search, %d with $skip, %d also via /$count, %d matched nothing), "+
		"%d requests, %d matches in all, %s",
		equivUsers, stats.queries, stats.ordered, stats.searched, stats.skipped, stats.counted, stats.empty,
		stats.requests, stats.matched, time.Since(start).Round(time.Millisecond))
	if stats.empty > stats.queries/2 {
		t.Errorf("%d of %d queries matched nothing: the generator is too selective to prove much", stats.empty, stats.queries)
	}
}

func pickN[T any](r *rand.Rand, xs []T, n int) []T {
	c := slices.Clone(xs)
	r.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c[:n]
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// diffIDs describes how two answers differ, with the users involved.
func diffIDs(got, want []string, users []*seedUser) string {
	byID := map[string]*seedUser{}
	for _, u := range users {
		byID[u.id] = u
	}
	describe := func(id string) string {
		u := byID[id]
		if u == nil {
			return id + " (unknown)"
		}
		b, _ := json.Marshal(map[string]any{"displayName": u.displayName, "givenName": u.givenName, "surname": u.surname,
			"mail": u.mail, "upn": u.upn, "city": u.city, "country": u.country, "jobTitle": u.jobTitle,
			"department": u.department, "companyName": u.companyName, "accountEnabled": u.accountEnabled,
			"created": u.created, "otherMails": u.otherMails, "identities": u.identities})
		return id + " " + string(b)
	}
	var b strings.Builder
	g, w := map[string]bool{}, map[string]bool{}
	for _, id := range got {
		g[id] = true
	}
	for _, id := range want {
		w[id] = true
	}
	n := 0
	for _, id := range got {
		if !w[id] && n < 5 {
			fmt.Fprintf(&b, "  only server: %s\n", describe(id))
			n++
		}
	}
	for _, id := range want {
		if !g[id] && n < 10 {
			fmt.Fprintf(&b, "  only evaluator: %s\n", describe(id))
			n++
		}
	}
	if n == 0 {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				fmt.Fprintf(&b, "  same set, order differs at %d:\n  server    %s\n  evaluator %s\n", i, describe(got[i]), describe(want[i]))
				break
			}
		}
	}
	return b.String()
}
