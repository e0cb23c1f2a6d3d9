package directory

import (
	"strings"
	"testing"
)

func TestParseBrandingLocale(t *testing.T) {
	for in, want := range map[string]string{"0": "", "default": "", "DEFAULT": "", "fr-fr": "fr-FR", "FR": "fr", "zh-hant-tw": "zh-Hant-TW", "en-x-m1": "en-x-m1"} {
		if got, err := ParseBrandingLocale(in); err != nil || got != want {
			t.Errorf("ParseBrandingLocale(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fr_FR", "../x", "<b>", "x", "en US", "fr-FR\x00", strings.Repeat("a", 36)} {
		if got, err := ParseBrandingLocale(in); KindOf(err) != KindNotFound {
			t.Errorf("ParseBrandingLocale(%q) = %q, %v; want not found", in, got, err)
		}
	}
}

func TestMatchLocalization(t *testing.T) {
	all := []*Branding{{Locale: ""}, {Locale: "de"}, {Locale: "fr-FR"}, {Locale: "pt-BR"}}
	for in, want := range map[string]string{"fr-FR": "fr-FR", "fr-fr": "fr-FR", "fr-CA": "fr-FR", "fr": "fr-FR", "de-AT": "de", "pt": "pt-BR",
		"en": "", "": "", "garbage!": "", "0": ""} {
		got := ""
		if b := matchLocalization(all, in); b != nil {
			got = b.Locale
		}
		if got != want {
			t.Errorf("matchLocalization(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBrandingInputValidate(t *testing.T) {
	s := func(v string) *Nullable[string] { return &Nullable[string]{Value: &v} }
	ok := []BrandingInput{
		{BackgroundColor: s("#FFF")}, {BackgroundColor: s("#0a1B2c")}, {BackgroundColor: &Nullable[string]{}},
		{SignInPageText: s(strings.Repeat("é", MaxSignInPageText))}, {SignInPageText: s("a\r\nb")},
		{UsernameHintText: s(strings.Repeat("x", MaxUsernameHintText))},
	}
	for _, in := range ok {
		if err := in.validate(); err != nil {
			t.Errorf("%+v: %v", in, err)
		}
	}
	bad := map[string]BrandingInput{
		"backgroundColor":  {BackgroundColor: s("#FFFF")},
		"signInPageText":   {SignInPageText: s(strings.Repeat("é", MaxSignInPageText+1))},
		"usernameHintText": {UsernameHintText: s("a\nb")},
	}
	for target, in := range bad {
		err := in.validate()
		if e, isErr := err.(*Error); !isErr || e.Kind != KindInvalid || e.Target != target {
			t.Errorf("%s: %v", target, err)
		}
	}
	for _, v := range []string{"\u2028", "\x1b[31m", "\ufeff\x7f", string([]byte{0xff})} {
		if err := (BrandingInput{SignInPageText: s(v)}).validate(); KindOf(err) != KindInvalid {
			t.Errorf("%q accepted", v)
		}
	}
}
