package odata

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// filterTests pairs a $filter value with its canonical form.
var filterTests = []struct{ in, want string }{
	// Graph's documented forms.
	{"userType eq 'Member'", "userType eq 'Member'"},
	{"department in ('Retail','Sales')", "department in ('Retail','Sales')"},
	{"companyName ne null", "companyName ne null"},
	{"not(userType eq 'Member')", "not userType eq 'Member'"},
	{"NOT startsWith(displayName,'Conf')", "not startsWith(displayName,'Conf')"},
	{"startswith(givenName,'J')", "startswith(givenName,'J')"},
	{"endsWith(mail,'@outlook.com')", "endsWith(mail,'@outlook.com')"},
	{"createdDateTime ge 2024-01-01T00:00:00Z", "createdDateTime ge 2024-01-01T00:00:00Z"},
	{"createdDateTime le 2024-01-01T10:00:00.123+02:00", "createdDateTime le 2024-01-01T10:00:00.123+02:00"},
	{"birthday eq 2024-01-01", "birthday eq 2024-01-01"},
	{"city eq null", "city eq null"},
	{"startswith(displayName,'mary') or startswith(mail,'mary')", "startswith(displayName,'mary') or startswith(mail,'mary')"},
	{"a eq 1 AND b eq 2 OR c eq 3", "a eq 1 and b eq 2 or c eq 3"},
	{"a eq 1 and (b eq 2 or c eq 3)", "a eq 1 and (b eq 2 or c eq 3)"},
	{"otherMails/any(p:p eq 'a@b.com')", "otherMails/any(p:p eq 'a@b.com')"},
	{"proxyAddresses/any(p:startsWith(p,'smtp:x'))", "proxyAddresses/any(p:startsWith(p,'smtp:x'))"},
	{"assignedLicenses/any(s:s/skuId eq 184efa21-98c3-4e5d-95ab-d07053a96e67)", "assignedLicenses/any(s:s/skuId eq 184efa21-98c3-4e5d-95ab-d07053a96e67)"},
	{"identities/any(i:i/issuer eq 'x' and i/issuerAssignedId eq 'y')", "identities/any(i:i/issuer eq 'x' and i/issuerAssignedId eq 'y')"},
	{"otherMails/any()", "otherMails/any()"},
	{"otherMails/$count eq 0", "otherMails/$count eq 0"},
	{"not(otherMails/any(x:x eq 'a'))", "not otherMails/any(x:x eq 'a')"},
	{"manager/displayName eq 'O''Brien'", "manager/displayName eq 'O''Brien'"},
	// Literals.
	{"a eq -5", "a eq -5"},
	{"a eq - 5", "a eq - 5"},
	{"a eq -(5)", "a eq - 5"},
	{"a eq --5", "a eq --5"},
	{"a eq 1.5e10 or a eq 2E-3 or a eq -INF or a eq NaN", "a eq 1.5e10 or a eq 2E-3 or a eq -INF or a eq NaN"},
	{"a eq TRUE or a eq False or a eq NULL", "a eq true or a eq false or a eq null"},
	{"t eq 13:20:00 and d eq duration'P1D'", "t eq 13:20:00 and d eq duration'P1D'"},
	{"s has Sales.Pattern'Yellow'", "s has Sales.Pattern'Yellow'"},
	{`a in ["x","y\"z"]`, `a in ['x','y"z']`},
	{"a in ()", "a in ()"},
	{"a in []", "a in []"},
	{"a in (b)", "a in (b)"},
	{`a eq {"k":[1,{"":null}],"b\\c":x/y}`, `a eq {"k":[1,{"":null}],"b\\c":x/y}`},
	// Precedence.
	{"not a eq b and c", "not a eq b and c"},
	{"(not a) eq b", "(not a) eq b"},
	{"not (a and b)", "not (a and b)"},
	{"not not a", "not not a"},
	{"a eq not b", "a eq (not b)"},
	{"-a add b", "-a add b"},
	{"-(a add b)", "-(a add b)"},
	{"a sub (b sub c)", "a sub (b sub c)"},
	{"(a sub b) sub c", "a sub b sub c"},
	{"a add b mul c", "a add b mul c"},
	{"(a add b) mul c", "(a add b) mul c"},
	{"a eq b eq c", "a eq b eq c"},
	{"a lt b eq c gt d", "a lt b eq c gt d"},
	{"(a eq b) lt c", "(a eq b) lt c"},
	{"a in (1,2) eq true", "a in (1,2) eq true"},
	{"-a in (1)", "-a in (1)"},
	{"(-a) in (1)", "(-a) in (1)"},
	{"(a or b) and (c or d)", "(a or b) and (c or d)"},
	// Paths, calls and other 4.01 syntax.
	{"Address/Model.AddressWithLocation/Street eq 'x'", "Address/Model.AddressWithLocation/Street eq 'x'"},
	{"cast(a,Edm.String) eq 'x'", "cast(a,Edm.String) eq 'x'"},
	{"Model.Fn(x=1,y=@p)/Name", "Model.Fn(x=1,y=@p)/Name"},
	{"$root/Employees('A')/LastName eq $it/Name", "$root/Employees('A')/LastName eq $it/Name"},
	{"Products/$filter(Age gt 3)(ID='x')/Name", "Products/$filter(Age gt 3)(ID='x')/Name"},
	{"Products/$count($filter=Price gt 5) gt 2", "Products/$count($filter=Price gt 5) gt 2"},
	{"Items/Fn()/$count", "Items/Fn()/$count"},
	{"Price/@Measures.Currency#R eq 'EUR'", "Price/@Measures.Currency#R eq 'EUR'"},
	{"now( )", "now()"},
	{"f(a, b)", "f(a,b)"},
}

func TestParseFilter(t *testing.T) {
	for _, tt := range filterTests {
		x, err := ParseFilter(tt.in)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.in, err)
			continue
		}
		if got := x.String(); got != tt.want {
			t.Errorf("ParseFilter(%q).String()\n got %s\nwant %s", tt.in, got, tt.want)
		}
		checkExprRoundTrip(t, x)
	}
}

// dump renders a tree with node kinds and positions, for the golden file.
func dump(x any) string {
	switch x := x.(type) {
	case nil:
		return "nil"
	case *BinaryExpr:
		return fmt.Sprintf("(%s@%d %s %s)", x.Op, x.OpPos, dump(x.X), dump(x.Y))
	case *UnaryExpr:
		return fmt.Sprintf("(%s@%d %s)", x.Op, x.OpPos, dump(x.X))
	case *Literal:
		return fmt.Sprintf("%s%s:%q@%d", x.TypeName, x.Kind, x.Value, x.ValuePos)
	case *PathExpr:
		base := ""
		if x.Base != nil {
			base = dump(x.Base) + "/"
		}
		return fmt.Sprintf("path@%d[%s%s]", x.StartPos, base, strings.Join(x.Segments, " "))
	case *CallExpr:
		return fmt.Sprintf("call@%d{recv=%s %s/%s %s}", x.NamePos, dump(x.Recv), x.Name, x.Canonical, dumpList(x.Args))
	case *NamedArg:
		return fmt.Sprintf("%s@%d=%s", x.Name, x.NamePos, dump(x.Value))
	case *InExpr:
		return fmt.Sprintf("(in@%d %s %s bracket=%v)", x.InPos, dump(x.X), dumpList(x.List), x.Bracket)
	case *ArrayExpr:
		return fmt.Sprintf("array@%d%s", x.LbrackPos, dumpList(x.Elems))
	case *ObjectExpr:
		var parts []string
		for _, m := range x.Members {
			parts = append(parts, fmt.Sprintf("%q:%s", m.Name, dump(m.Value)))
		}
		return fmt.Sprintf("object@%d{%s}", x.LbracePos, strings.Join(parts, " "))
	case *LambdaExpr:
		return fmt.Sprintf("(%s@%d %s %s %s)", x.Kind, x.KindPos, dump(x.Collection), x.Var, dump(x.Body))
	case *CountExpr:
		return fmt.Sprintf("(count@%d %s %s)", x.CountPos, dump(x.Collection), dump(x.Filter))
	case *FilterExpr:
		return fmt.Sprintf("(filter@%d %s %s)", x.FilterPos, dump(x.Collection), dump(x.Filter))
	case *KeyExpr:
		return fmt.Sprintf("(key@%d %s %s)", x.LparenPos, dump(x.X), dumpList(x.Keys))
	}
	return fmt.Sprintf("?%T", x)
}

func dumpList(list []Expr) string {
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = dump(x)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// TestParseFilterGolden records the full trees, positions included, in
// testdata/filter.golden; run with -update after an intended change.
func TestParseFilterGolden(t *testing.T) {
	var b strings.Builder
	for _, tt := range filterTests {
		x, err := ParseFilter(tt.in)
		if err != nil {
			fmt.Fprintf(&b, "%s\n\t%v\n", tt.in, err)
			continue
		}
		fmt.Fprintf(&b, "%s\n\t%s\n", tt.in, dump(x))
	}
	golden := filepath.Join("testdata", "filter.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("trees differ from %s (run go test -run Golden -update and review the diff):\n%s", golden, b.String())
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		msg    string
	}{
		{"", 0, "expected expression, found end of input"},
		{" a eq 1", 0, "unexpected whitespace at start"},
		{"a eq 1 ", 6, "unexpected whitespace at end"},
		{"(a eq 1", 7, "expected ')', found end of input"},
		{"a eq 1)", 6, "unexpected ')' after expression"},
		{"startswith(a,'b' eq 1", 21, "expected ')', found end of input"},
		{"(a b)", 3, "expected ')', found 'b'"},
		{"a eq", 4, "expected expression, found end of input"},
		{"a in ('x', b)", 11, "only literals"},
		{"a in (b, 'x')", 7, "expected ')', found ','"},
		{"a in b", 5, "expected '(' or '[' after in, found 'b'"},
		{"any(x:true)", 3, "any must follow a collection path"},
		{"a/all()", 6, "all requires a range variable"},
		{"a/any(x true)", 8, "expected ':', found 'true'"},
		{"a/any(x.y:true)", 6, "expected range variable"},
		{"Model.Fn eq 1", 9, "expected '(' or '/' after qualified name Model.Fn, found 'eq'"},
		{"a/$count(x)", 9, "expected $filter"},
		{"$foo eq 1", 0, "unexpected $foo"},
		{"a/$it", 2, "unexpected $it in path"},
		{"f(a eq 1=2)", 8, "unexpected '=' after argument"},
		{"foo'x'", 0, "unknown literal prefix foo"},
		{"{a:1}", 1, "expected member name in double quotes"},
		{"a eq Model.*", 5, "unexpected wildcard"},
		{"a eq 'x", 5, "string literal not terminated"},
	}
	for _, tt := range tests {
		_, err := ParseFilter(tt.in)
		if err == nil {
			t.Errorf("ParseFilter(%q) succeeded; want %q at %d", tt.in, tt.msg, tt.offset)
			continue
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("ParseFilter(%q): %T is not an *Error", tt.in, err)
		}
		if e.Offset != tt.offset || !strings.Contains(e.Msg, tt.msg) {
			t.Errorf("ParseFilter(%q): %q at %d, want %q at %d", tt.in, e.Msg, e.Offset, tt.msg, tt.offset)
		}
		if want := fmt.Sprintf("syntax error at position %d: ", tt.offset); !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParseFilter(%q): message %q does not start with %q", tt.in, err.Error(), want)
		}
	}
}

func TestLimits(t *testing.T) {
	deep := strings.Repeat("(", 101) + "a" + strings.Repeat(")", 101)
	nots := strings.Repeat("not ", 150) + "a"
	long := "a eq '" + strings.Repeat("x", 9000) + "'"
	var many []string
	for i := 0; i < 1001; i++ {
		many = append(many, fmt.Sprint(i))
	}
	bigIn := "a in (" + strings.Join(many, ",") + ")"
	bigOr := "a eq 1" + strings.Repeat(" or a eq 1", 700)
	for _, in := range []string{deep, nots, long, bigIn, bigOr, "a in [" + strings.Join(many, ",") + "]"} {
		_, err := ParseFilter(in)
		if !errors.Is(err, ErrLimitExceeded) {
			t.Errorf("ParseFilter(%.40q...): %v, want a limit error", in, err)
		}
	}
	// Within limits.
	ok := strings.Repeat("(", 90) + "a" + strings.Repeat(")", 90)
	if _, err := ParseFilter(ok); err != nil {
		t.Errorf("90 parentheses: %v", err)
	}
	if _, err := ParseFilter("a in (" + strings.Join(many[:1000], ",") + ")"); err != nil {
		t.Errorf("1000-item in-list: %v", err)
	}
	// Configurable.
	l := Limits{MaxDepth: 3}
	if _, err := l.ParseFilter("((a))"); err != nil {
		t.Errorf("depth 3: %v", err)
	}
	if _, err := l.ParseFilter("(((a)))"); !errors.Is(err, ErrLimitExceeded) {
		t.Errorf("depth 4 with MaxDepth 3: %v", err)
	}
	if _, err := (Limits{MaxInList: 2}).ParseFilter("a in (1,2,3)"); !errors.Is(err, ErrLimitExceeded) {
		t.Errorf("MaxInList 2: %v", err)
	}
	if _, err := (Limits{MaxLength: 5}).ParseFilter("a eq 1"); !errors.Is(err, ErrLimitExceeded) {
		t.Errorf("MaxLength 5: %v", err)
	}
	if _, err := (Limits{MaxDepth: 10}).ParseSearch(strings.Repeat("(", 20) + "a" + strings.Repeat(")", 20)); !errors.Is(err, ErrLimitExceeded) {
		t.Errorf("search depth: %v", err)
	}
	if _, err := ParseSearch(strings.Repeat("NOT ", 200) + "a"); !errors.Is(err, ErrLimitExceeded) {
		t.Errorf("search NOT chain: %v", err)
	}
}

func TestPositions(t *testing.T) {
	x, err := ParseFilter("a eq 1 and not startswith(b/c,'x')")
	if err != nil {
		t.Fatal(err)
	}
	and := x.(*BinaryExpr)
	eq := and.X.(*BinaryExpr)
	not := and.Y.(*UnaryExpr)
	call := not.X.(*CallExpr)
	path := call.Args[0].(*PathExpr)
	lit := call.Args[1].(*Literal)
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"and", and.OpPos, 7}, {"and.Pos", and.Pos(), 0}, {"eq", eq.OpPos, 2}, {"1", eq.Y.Pos(), 5},
		{"not", not.Pos(), 11}, {"call", call.Pos(), 15}, {"path", path.Pos(), 26}, {"lit", lit.Pos(), 30},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, want %d", c.name, c.got, c.want)
		}
	}
	if call.Name != "startswith" || call.Canonical != "startswith" || lit.Kind != LitString || lit.Value != "x" {
		t.Errorf("unexpected call %+v / literal %+v", call, lit)
	}
}

func TestParseOrderBy(t *testing.T) {
	tests := []struct{ in, want string }{
		{"displayName", "displayName"},
		{"displayName asc,createdDateTime DESC", "displayName,createdDateTime desc"},
		{"Name\tasc", "Name"},
		{"Cost ge Revenue asc", "Cost ge Revenue"},
		{"a/$count desc", "a/$count desc"},
	}
	for _, tt := range tests {
		items, err := ParseOrderBy(tt.in)
		if err != nil {
			t.Errorf("ParseOrderBy(%q): %v", tt.in, err)
			continue
		}
		if got := FormatOrderBy(items); got != tt.want {
			t.Errorf("ParseOrderBy(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	items, _ := ParseOrderBy("a, b desc")
	if len(items) != 2 || items[0].Desc || !items[1].Desc || items[1].Pos != 3 {
		t.Errorf("items %+v", items)
	}
	for _, bad := range []string{"", "a,", "a desc desc", "a asc b"} {
		if _, err := ParseOrderBy(bad); err == nil {
			t.Errorf("ParseOrderBy(%q) succeeded", bad)
		}
	}
}

func TestParseSelect(t *testing.T) {
	tests := []struct{ in, want string }{
		{"id,displayName", "id,displayName"},
		{"*", "*"},
		{"Address/Street,Model.*", "Address/Street,Model.*"},
		{"Fn(a,b),@Core.Messages", "Fn(a,b),@Core.Messages"},
		{"Addresses($filter=startswith(City,'H');$top=5;$search=blue;@c=15)", "Addresses($filter=startswith(City,'H');$top=5;$search=blue;@c=15)"},
		{"A($select=B($select=C))", "A($select=B($select=C))"},
	}
	for _, tt := range tests {
		items, err := ParseSelect(tt.in)
		if err != nil {
			t.Errorf("ParseSelect(%q): %v", tt.in, err)
			continue
		}
		if got := FormatSelect(items); got != tt.want {
			t.Errorf("ParseSelect(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	items, _ := ParseSelect("id,manager/displayName")
	if len(items) != 2 || items[1].Pos != 3 || strings.Join(items[1].Path, "/") != "manager/displayName" {
		t.Errorf("items %+v", items)
	}
	for _, bad := range []string{"", "a,", "a b", "*/a", "a/", "A($top=x)", "A($top=1;$top=2)", "A($bogus=1)", "'a'"} {
		if _, err := ParseSelect(bad); err == nil {
			t.Errorf("ParseSelect(%q) succeeded", bad)
		}
	}
}

func TestNumbers(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "10": 10, "007": 7} {
		if got, err := ParseNonNegativeInt(in); err != nil || got != want {
			t.Errorf("ParseNonNegativeInt(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-1", "+1", "1.0", " 1", "99999999999999999999"} {
		if _, err := ParseNonNegativeInt(bad); err == nil {
			t.Errorf("ParseNonNegativeInt(%q) succeeded", bad)
		}
	}
	for in, want := range map[string]bool{"true": true, "false": false, "TRUE": true} {
		if got, err := ParseCount(in); err != nil || got != want {
			t.Errorf("ParseCount(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseCount("yes"); err == nil {
		t.Error("ParseCount(yes) succeeded")
	}
}
