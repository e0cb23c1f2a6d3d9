package importer

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/password"
)

var importTenant = &directory.Tenant{ID: "00000000-0000-4000-8000-000000000001", DefaultDomain: "graphdir.test",
	Domains: []string{"graphdir.test", "contoso.com"}}

func testPreparer() *Preparer {
	cheap := password.Params{MemoryKiB: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}
	return NewPreparer(importTenant, directory.WithPasswordHasher(func(pw string) (string, error) { return password.HashWith(pw, cheap) }))
}

func TestPreparerPrepare(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	argon, _ := password.HashWith("pw", password.Params{MemoryKiB: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16})
	wf := `"accountEnabled":true,"displayName":"A","mailNickname":"a","userPrincipalName":"a@contoso.com"`
	im := testPreparer()

	t.Run("customer defaults", func(t *testing.T) {
		row, rej := im.Prepare(7, []byte(`{"displayName":"C","identities":[{"signInType":"emailAddress","issuer":"graphdir.test","issuerAssignedId":"c@example.com"},{"signInType":"userPrincipalName","issuer":"graphdir.test","issuerAssignedId":"c1@graphdir.test"}],"passwordProfile":{"password":"Str0ng!Passw0rd","forceChangePasswordNextSignIn":true}}`))
		if rej != nil {
			t.Fatal(rej)
		}
		u := row.User
		if row.Line != 7 || !row.Hashed || !directory.IsGUID(u.ID) || u.TenantID != importTenant.ID {
			t.Errorf("row = %+v", row)
		}
		if *u.UserPrincipalName != "c1@graphdir.test" || len(u.Identities) != 1 || *u.AccountEnabled != true ||
			*u.UserType != "Member" || *u.CreationType != "LocalAccount" || *u.MailNickname != "c1" {
			t.Errorf("defaults: %+v", u)
		}
		if err := password.Verify(u.Password.Hash, "Str0ng!Passw0rd"); err != nil || !u.Password.ForceChangePasswordNextSignIn {
			t.Errorf("password state %+v: %v", u.Password, err)
		}
	})
	t.Run("generated upn", func(t *testing.T) {
		row, rej := im.Prepare(1, []byte(`{"identities":[{"signInType":"federated","issuer":"facebook.com","issuerAssignedId":"x"}]}`))
		if rej != nil {
			t.Fatal(rej)
		}
		if *row.User.UserPrincipalName != row.User.ID+"@graphdir.test" || row.User.CreationType != nil || row.User.Password.Hash != "" {
			t.Errorf("user %+v", row.User)
		}
	})
	for _, h := range []string{string(bc), argon, strings.Replace(string(bc), "$2a$", "$2y$", 1)} {
		row, rej := im.Prepare(1, []byte(`{`+wf+`,"passwordProfile":{"passwordHash":"`+h+`"}}`))
		if rej != nil {
			t.Fatalf("hash %s: %v", h, rej)
		}
		if row.User.Password.Hash != h || row.Hashed {
			t.Errorf("hash %s stored as %q", h, row.User.Password.Hash)
		}
	}

	for _, c := range []struct{ line, prop, reason string }{
		{`{"accountEnabled":true`, "", "Invalid JSON"},
		{`[1]`, "", "must be a JSON object"},
		{`{` + wf + `,"displayname":"x","passwordProfile":{"password":"Str0ng!Passw0rd"}}`, "displayname", "did you mean 'displayName'"},
		{`{` + wf + `,"id":"x","passwordProfile":{"password":"Str0ng!Passw0rd"}}`, "id", "read-only"},
		{`{` + wf + `,"@odata.type":"#microsoft.graph.group","passwordProfile":{"password":"Str0ng!Passw0rd"}}`, "@odata.type", "must be"},
		{`{` + wf + `,"@odata.etag":"x","passwordProfile":{"password":"Str0ng!Passw0rd"}}`, "@odata.etag", "not supported"},
		{`{` + wf + `,"accountEnabled":false,"passwordProfile":{"password":"Str0ng!Passw0rd"}}`, "accountEnabled", "Duplicate"},
		{`{` + wf + `,"passwordProfile":{"password":"short"}}`, "passwordProfile.password", "complexity"},
		{`{` + wf + `,"passwordProfile":{"password":"Str0ng!Passw0rd","passwordHash":"` + string(bc) + `"}}`, "passwordProfile", "not both"},
		{`{` + wf + `,"passwordProfile":{}}`, "passwordProfile.password", "required"},
		{`{` + wf + `,"passwordProfile":{"passwordHash":"$2a$10$short"}}`, "passwordProfile.passwordHash", "bcrypt hash is malformed"},
		{`{` + wf + `,"passwordProfile":{"passwordHash":"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}}`, "passwordProfile.passwordHash", "out of range"},
		{`{` + wf + `,"passwordProfile":{"passwordHash":"plaintext"}}`, "passwordProfile.passwordHash", "neither"},
		{`{` + wf + `,"passwordProfile":{"passwordHash":"` + string(bc) + `","extra":1}}`, "passwordProfile.extra", ""},
		{`{"accountEnabled":true,"displayName":"A","mailNickname":"a","userPrincipalName":"a@fabrikam.com","passwordProfile":{"password":"Str0ng!Passw0rd"}}`, "userPrincipalName", "verified domain"},
		{`{"accountEnabled":true,"displayName":"A","userPrincipalName":"a@contoso.com","passwordProfile":{"password":"Str0ng!Passw0rd"}}`, "mailNickname", "required"},
		{`{"accountEnabled":true,"displayName":"A","mailNickname":"a","userPrincipalName":"a@contoso.com"}`, "passwordProfile", "required"},
		{`{"identities":[{"signInType":"emailAddress","issuer":"graphdir.test","issuerAssignedId":"c@example.com"}],"passwordProfile":{"password":"Str0ng!Passw0rd"}}`, "displayName", "required"},
		{`{"displayName":"C","identities":[{"signInType":"emailAddress","issuer":"graphdir.test","issuerAssignedId":"not-an-email"}],"passwordProfile":{"password":"Str0ng!Passw0rd"}}`, "identities", "valid email"},
		{`{"displayName":"C","identities":[{"signInType":"emailAddress","issuer":"graphdir.test","issuerAssignedId":"c@example.com"},{"signInType":"emailAddress","issuer":"GRAPHDIR.test","issuerAssignedId":"C@example.com"}],"passwordProfile":{"password":"Str0ng!Passw0rd"}}`, "identities", "listed twice"},
		{`{` + wf + `,"mail":"not mail","passwordProfile":{"password":"Str0ng!Passw0rd"}}`, "mail", "Invalid value"},
		{`{` + wf + `,"otherMails":["a@b.c",null],"passwordProfile":{"password":"Str0ng!Passw0rd"}}`, "otherMails", "null"},
		{`{` + wf + `,"accountEnabled":"yes"}`, "accountEnabled", ""},
	} {
		_, rej := im.Prepare(3, []byte(c.line))
		if rej == nil {
			t.Errorf("%s: accepted", c.line)
			continue
		}
		if rej.Line != 3 || rej.Property != c.prop || !strings.Contains(rej.Reason, c.reason) {
			t.Errorf("%s:\n got %s\nwant property %q, reason with %q", c.line, rej, c.prop, c.reason)
		}
	}
}

// FuzzDecodeImportFast checks that the fast decoder never disagrees with
// the strict one: whatever it accepts, the strict decoder accepts with the
// same values.
func FuzzDecodeImportFast(f *testing.F) {
	for _, s := range []string{
		`{"accountEnabled":true,"displayName":"Ä \"q\" \u00e9 \\","mailNickname":"a","userPrincipalName":"a@contoso.com","passwordProfile":{"password":"x","forceChangePasswordNextSignIn":false}}`,
		`{"displayName":null,"identities":[{"signInType":"emailAddress","issuer":"i","issuerAssignedId":"c@example.com"}],"otherMails":["a@b.c"],"businessPhones":null}`,
		`{"identities":null,"@odata.type":"#microsoft.graph.user","passwordProfile":{"passwordHash":"$2a$04$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"}}`,
		` { "city" : "x" , "accountEnabled" : null } `,
		`{"city":"x","city":"y"}`, `{"City":"x"}`, `{"city":1}`, `{"city":"x"}x`, `{"city":"x",}`, `{}`, `{"identities":[{"issuer":"a","issuer":"b"}]}`,
		`{"otherMails":[null]}`, `{"passwordProfile":{"password":"a","password":"b"}}`, "{\"city\":\"\xff\"}", `{"city":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fv, fpp, ok := decodeFast(data)
		if !ok {
			return
		}
		sv, spp, err := decodeLine(data)
		if err != nil {
			t.Fatalf("fast path accepted what the strict one refuses (%v): %s", err, data)
		}
		if !reflect.DeepEqual(fv, sv) || !reflect.DeepEqual(fpp, spp) {
			t.Fatalf("decoders disagree on %s:\nfast   %#v %#v\nstrict %#v %#v", data, fv, fpp, sv, spp)
		}
	})
}

func BenchmarkPreparerPrepare(b *testing.B) {
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	line := []byte(`{"accountEnabled":true,"displayName":"Ädele Vançe 12 ✓","mailNickname":"u12","userPrincipalName":"User.12@contoso.com","givenName":"Ädele","surname":"Vançe-12","jobTitle":null,"mail":"user.12@contoso.com","otherMails":["alt.12@example.com","zweit.12@example.org"],"businessPhones":["+41 44 668 18 00"],"mobilePhone":"+41 79 555 01 12","city":"Zürich","country":"Schweiz","usageLocation":"CH","preferredLanguage":"de-CH","employeeId":"100012","department":"Fòrschung & Entwicklung","companyName":"Contoso 株式会社","passwordProfile":{"passwordHash":"` + string(bc) + `","forceChangePasswordNextSignIn":true}}`)
	im := testPreparer()
	b.ReportAllocs()
	for b.Loop() {
		if _, rej := im.Prepare(1, line); rej != nil {
			b.Fatal(rej)
		}
	}
}
