package odata

import (
	"fmt"
	"strings"
	"testing"
)

type scanned struct {
	pos int
	tok Token
	lit string
}

func scanAll(src string) (toks []scanned, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				panic(r)
			}
		}
	}()
	var s scanner
	s.init(src, func(off int, msg string) {
		err = &Error{Offset: off, Msg: msg}
		panic(bailout{})
	})
	for {
		pos, tok, lit, val := s.scan()
		if tok == STRING || tok == JSONSTRING || tok == PREFIXED {
			lit += "=" + val
		}
		toks = append(toks, scanned{pos, tok, lit})
		if tok == EOF {
			return toks, nil
		}
	}
}

func TestScanner(t *testing.T) {
	tests := []struct {
		src  string
		want string // tok:lit@pos ...
	}{
		{"displayName eq 'O''Brien'", "identifier:displayName@0 identifier:eq@12 string:'O''Brien'=O'Brien@15"},
		{"a/b", "identifier:a@0 '/':/@1 identifier:b@2"},
		{"Model.Customer/Name", "identifier:Model.Customer@0 '/':/@14 identifier:Name@15"},
		{"Model.*", "identifier:Model.*@0"},
		{"42 4.0 1.5e3 2E-2", "integer:42@0 decimal:4.0@3 double:1.5e3@7 double:2E-2@13"},
		{"01234567-89ab-cdef-0123-456789ABCDEF", "GUID:01234567-89ab-cdef-0123-456789ABCDEF@0"},
		{"abcdef01-89ab-cdef-0123-456789abcdef", "GUID:abcdef01-89ab-cdef-0123-456789abcdef@0"},
		{"2024-01-01", "date:2024-01-01@0"},
		{"2024-01-01T00:00:00Z", "date-time:2024-01-01T00:00:00Z@0"},
		{"2024-01-01T10:00:00.1234567+02:00", "date-time:2024-01-01T10:00:00.1234567+02:00@0"},
		{"2024-01-01T10:00-05:30", "date-time:2024-01-01T10:00-05:30@0"},
		{"13:20:00.5", "time of day:13:20:00.5@0"},
		{"$it $count", "$identifier:$it@0 $identifier:$count@4"},
		{"@p @Core.Messages#x", "@identifier:@p@0 @identifier:@Core.Messages#x@3"},
		{`"a\"b\u0041"`, `JSON string:"a\"b\u0041"=a"bA@0`},
		{"duration'P1D' Sales.Pattern'Yellow'", "typed literal:duration=P1D@0 typed literal:Sales.Pattern=Yellow@14"},
		{"( ) [ ] { } , : / = ; * -", "'(':(@0 ')':)@2 '[':[@4 ']':]@6 '{':{@8 '}':}@10 ',':,@12 ':'::@14 '/':/@16 '=':=@18 ';':;@20 '*':*@22 '-':-@24"},
		{"\tx", "identifier:x@1"},
		{"Größe", "identifier:Größe@0"},
	}
	for _, tt := range tests {
		toks, err := scanAll(tt.src)
		if err != nil {
			t.Errorf("scan(%q): %v", tt.src, err)
			continue
		}
		var parts []string
		for _, s := range toks[:len(toks)-1] {
			parts = append(parts, fmt.Sprintf("%s:%s@%d", s.tok, s.lit, s.pos))
		}
		if got := strings.Join(parts, " "); got != tt.want {
			t.Errorf("scan(%q)\n got %s\nwant %s", tt.src, got, tt.want)
		}
	}
}

func TestScannerErrors(t *testing.T) {
	tests := []struct {
		src    string
		offset int
		msg    string
	}{
		{"'abc", 0, "string literal not terminated"},
		{`"abc`, 0, "string literal not terminated"},
		{"2024-13-01", 5, "month out of range"},
		{"2024-01-01T25:00:00Z", 11, "hour out of range"},
		{"2024-01-01T10:00:00", 19, "expected time zone"},
		{"1.", 2, "expected digit after decimal point"},
		{"1e", 2, "expected exponent digits"},
		{"12abc", 2, "unexpected character after number"},
		{"a ! b", 2, "unexpected character '!'"},
		{"$", 0, "expected identifier after '$'"},
		{"@", 0, "expected identifier after '@'"},
		{"a\nb", 1, "unexpected character '\\n'"},
		{"\xff", 0, "invalid UTF-8"},
		{`"\q"`, 1, "invalid escape"},
	}
	for _, tt := range tests {
		_, err := scanAll(tt.src)
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("scan(%q): no error, want %q at %d", tt.src, tt.msg, tt.offset)
			continue
		}
		if e.Offset != tt.offset || !strings.Contains(e.Msg, tt.msg) {
			t.Errorf("scan(%q): error %q at %d, want %q at %d", tt.src, e.Msg, e.Offset, tt.msg, tt.offset)
		}
	}
}
