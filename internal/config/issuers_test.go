package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	gdTenant    = "d0d0d0d0-1111-2222-3333-444444444444"
	entraTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

const exampleIssuers = `[
  {"name": "contoso-entra",
   "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
   "discoveryUrl": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/.well-known/openid-configuration",
   "audiences": ["6e74172b-be56-4843-9ff4-e66a39bb12e3", "api://6e74172b-be56-4843-9ff4-e66a39bb12e3"],
   "tenant": "D0D0D0D0-1111-2222-3333-444444444444",
   "entraTenant": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
  {"name": "contoso-entra-v1",
   "issuer": "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
   "jwksUrl": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/discovery/keys",
   "audiences": ["api://6e74172b-be56-4843-9ff4-e66a39bb12e3"],
   "tenant": "d0d0d0d0-1111-2222-3333-444444444444",
   "entraTenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
   "allowUnavailableAtStart": true, "refreshInterval": "30m", "minRefetchInterval": "1m"},
  {"name": "keycloak",
   "issuer": "https://kc.example.com/realms/customers",
   "discoveryUrl": "https://kc.example.com/realms/customers/.well-known/openid-configuration",
   "audiences": ["graphdir"],
   "tenant": "d0d0d0d0-1111-2222-3333-444444444444",
   "acceptedTypes": ["JWT", "at+jwt"]},
  {"name": "local-dev",
   "issuer": "http://localhost:8081/realms/dev",
   "jwksUrl": "http://127.0.0.1:8081/realms/dev/protocol/openid-connect/certs",
   "audiences": ["graphdir"],
   "tenant": "d0d0d0d0-1111-2222-3333-444444444444"}
]`

func TestLoadTrustedIssuersValid(t *testing.T) {
	got, err := LoadTrustedIssuers(envOf(map[string]string{EnvTrustedIssuers: exampleIssuers}))
	if err != nil {
		t.Fatal(err)
	}
	want := []TrustedIssuerConfig{
		{Name: "contoso-entra", Issuer: "https://login.microsoftonline.com/" + entraTenant + "/v2.0",
			DiscoveryURL: "https://login.microsoftonline.com/" + entraTenant + "/v2.0/.well-known/openid-configuration",
			Audiences:    []string{"6e74172b-be56-4843-9ff4-e66a39bb12e3", "api://6e74172b-be56-4843-9ff4-e66a39bb12e3"},
			TenantID:     gdTenant, EntraTenant: entraTenant, ExpectedTenant: entraTenant, AcceptedTypes: []string{"JWT"}, Version: "2.0"},
		{Name: "contoso-entra-v1", Issuer: "https://sts.windows.net/" + entraTenant + "/",
			JWKSURL:   "https://login.microsoftonline.com/" + entraTenant + "/discovery/keys",
			Audiences: []string{"api://6e74172b-be56-4843-9ff4-e66a39bb12e3"},
			TenantID:  gdTenant, EntraTenant: entraTenant, ExpectedTenant: entraTenant, AcceptedTypes: []string{"JWT"}, Version: "1.0",
			AllowUnavailableAtStart: true, RefreshInterval: 30 * time.Minute, MinRefetchInterval: time.Minute},
		{Name: "keycloak", Issuer: "https://kc.example.com/realms/customers",
			DiscoveryURL: "https://kc.example.com/realms/customers/.well-known/openid-configuration",
			Audiences:    []string{"graphdir"}, TenantID: gdTenant, ExpectedTenant: gdTenant, TenantClaimOptional: true,
			AcceptedTypes: []string{"JWT", "at+jwt"}},
		{Name: "local-dev", Issuer: "http://localhost:8081/realms/dev",
			JWKSURL:   "http://127.0.0.1:8081/realms/dev/protocol/openid-connect/certs",
			Audiences: []string{"graphdir"}, TenantID: gdTenant, ExpectedTenant: gdTenant, TenantClaimOptional: true,
			AcceptedTypes: []string{"JWT"}},
	}
	if !reflect.DeepEqual(got, want) {
		for i := range got {
			if i < len(want) && !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("entry %d:\n got %+v\nwant %+v", i, got[i], want[i])
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d entries, want %d", len(got), len(want))
		}
	}
}

func TestLoadTrustedIssuersFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuers.json")
	if err := os.WriteFile(path, []byte(exampleIssuers), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadTrustedIssuers(envOf(map[string]string{EnvTrustedIssuersFile: path}))
	if err != nil || len(got) != 4 {
		t.Fatalf("%d %v", len(got), err)
	}
	_, err = LoadTrustedIssuers(envOf(map[string]string{EnvTrustedIssuersFile: path + ".missing"}))
	if !IsConfigError(err) || !strings.Contains(err.Error(), EnvTrustedIssuersFile) {
		t.Errorf("missing file: %v", err)
	}
	_, err = LoadTrustedIssuers(envOf(map[string]string{EnvTrustedIssuersFile: path, EnvTrustedIssuers: exampleIssuers}))
	if !IsConfigError(err) {
		t.Errorf("both set: %v", err)
	}
}

func TestLoadTrustedIssuersNone(t *testing.T) {
	for _, env := range []map[string]string{{}, {EnvTrustedIssuers: "  "}, {EnvTrustedIssuers: "[]"}} {
		got, err := LoadTrustedIssuers(envOf(env))
		if err != nil || len(got) != 0 {
			t.Errorf("%v: %v %v", env, got, err)
		}
	}
}

func TestLoadTrustedIssuersInvalid(t *testing.T) {
	base := `"name":"x","issuer":"https://kc.example.com/realms/r","jwksUrl":"https://kc.example.com/certs","audiences":["graphdir"],"tenant":"` + gdTenant + `"`
	entra := `"name":"e","discoveryUrl":"https://login.microsoftonline.com/` + entraTenant + `/v2.0/.well-known/openid-configuration","audiences":["a"],"tenant":"` + gdTenant + `"`
	cases := map[string]struct {
		json string
		want []string // substrings of the problems, all expected
	}{
		"not JSON":            {`{nope`, []string{"not a JSON array"}},
		"object, not array":   {`{` + base + `}`, []string{"not a JSON array"}},
		"unknown key":         {`[{` + base + `,"audience":"typo"}]`, []string{`unknown field "audience"`}},
		"trailing data":       {`[{` + base + `}] []`, []string{"trailing data"}},
		"no name":             {`[{` + strings.Replace(base, `"name":"x"`, `"name":""`, 1) + `}]`, []string{"name: required"}},
		"tenant not a GUID":   {`[{` + strings.Replace(base, gdTenant, "contoso", 1) + `}]`, []string{"tenant: \"contoso\""}},
		"no audiences":        {`[{` + strings.Replace(base, `["graphdir"]`, `[]`, 1) + `}]`, []string{"audiences: at least one"}},
		"empty audience":      {`[{` + strings.Replace(base, `["graphdir"]`, `[""]`, 1) + `}]`, []string{"audiences: \"\""}},
		"duplicate audience":  {`[{` + strings.Replace(base, `["graphdir"]`, `["a","a"]`, 1) + `}]`, []string{"listed twice"}},
		"both URLs":           {`[{` + base + `,"discoveryUrl":"https://kc.example.com/d"}]`, []string{"exactly one of"}},
		"no URL":              {`[{` + strings.Replace(base, `"jwksUrl":"https://kc.example.com/certs",`, ``, 1) + `}]`, []string{"exactly one of"}},
		"http remote jwks":    {`[{` + strings.Replace(base, `https://kc.example.com/certs`, `http://kc.example.com/certs`, 1) + `}]`, []string{"jwksUrl", "use https"}},
		"relative jwks":       {`[{` + strings.Replace(base, `https://kc.example.com/certs`, `/certs`, 1) + `}]`, []string{"jwksUrl", "not an absolute URL"}},
		"file jwks":           {`[{` + strings.Replace(base, `https://kc.example.com/certs`, `file:///etc/passwd`, 1) + `}]`, []string{"jwksUrl"}},
		"http remote issuer":  {`[{` + strings.Replace(base, `https://kc.example.com/realms/r`, `http://kc.example.com/realms/r`, 1) + `}]`, []string{"issuer:"}},
		"issuer with query":   {`[{` + strings.Replace(base, `https://kc.example.com/realms/r`, `https://kc.example.com/realms/r?x=1`, 1) + `}]`, []string{"issuer:"}},
		"bad entraTenant":     {`[{` + entra + `,"issuer":"https://login.microsoftonline.com/{tenantid}/v2.0","entraTenant":"contoso"}]`, []string{"entraTenant: \"contoso\" is not a GUID"}},
		"MSA tenant":          {`[{` + entra + `,"issuer":"https://login.microsoftonline.com/{tenantid}/v2.0","entraTenant":"9188040d-6c67-4c5b-b112-36a304b66dad"}]`, []string{"personal-accounts"}},
		"template w/o tenant": {`[{` + entra + `,"issuer":"https://login.microsoftonline.com/{tenantid}/v2.0"}]`, []string{"template needs entraTenant"}},
		"two placeholders":    {`[{` + entra + `,"issuer":"https://login.microsoftonline.com/{tenantid}/{tenantid}","entraTenant":"` + entraTenant + `"}]`, []string{"more than one"}},
		"Entra issuer w/o entraTenant": {`[{` + entra + `,"issuer":"https://login.microsoftonline.com/` + entraTenant + `/v2.0"}]`,
			[]string{"an Entra issuer needs entraTenant"}},
		"Entra issuer of another tenant": {`[{` + entra + `,"issuer":"https://sts.windows.net/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0/","entraTenant":"` + entraTenant + `"}]`,
			[]string{"the tenant in the issuer must be it"}},
		"version mismatch":                   {`[{` + entra + `,"issuer":"https://login.microsoftonline.com/{tenantid}/v2.0","entraTenant":"` + entraTenant + `","version":"1.0"}]`, []string{"does not match the issuer's form"}},
		"version unknown":                    {`[{` + base + `,"version":"3"}]`, []string{"version: \"3\""}},
		"bad typ":                            {`[{` + base + `,"acceptedTypes":["JWT\""]}]`, []string{"acceptedTypes"}},
		"bad interval":                       {`[{` + base + `,"refreshInterval":"1s","minRefetchInterval":"soon"}]`, []string{"refreshInterval", "minRefetchInterval"}},
		"duplicate name":                     {`[{` + base + `},{` + strings.Replace(base, `realms/r"`, `realms/s"`, 1) + `}]`, []string{"name also used by entry 0"}},
		"duplicate issuer":                   {`[{` + base + `},{` + strings.Replace(base, `"name":"x"`, `"name":"y"`, 1) + `}]`, []string{"issuer also configured by entry 0"}},
		"entraTenant not in a custom issuer": {`[{` + base + `,"entraTenant":"` + entraTenant + `"}]`, []string{"does not name entraTenant"}},
		// Every problem of every entry at once.
		"all at once": {`[{"name":"","issuer":"","audiences":[],"tenant":"x"},{` + strings.Replace(base, gdTenant, "y", 1) + `}]`,
			[]string{"[0]: name", "[0]: tenant", "[0]: issuer", "[0]: exactly one of", "[0]: audiences", "[1] (x): tenant"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := LoadTrustedIssuers(envOf(map[string]string{EnvTrustedIssuers: tc.json}))
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			if !IsConfigError(err) {
				t.Fatalf("%T is not a config error: %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("problems lack %q:\n%v", w, err)
				}
			}
		})
	}
}
