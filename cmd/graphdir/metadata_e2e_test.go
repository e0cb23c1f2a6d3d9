package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// csdlDoc is the part of a CSDL XML document the tests read.
type csdlDoc struct {
	Schemas []struct {
		Namespace    string         `xml:"Namespace,attr"`
		Alias        string         `xml:"Alias,attr"`
		EntityTypes  []csdlTypeXML  `xml:"EntityType"`
		ComplexTypes []csdlTypeXML  `xml:"ComplexType"`
		EnumTypes    []csdlTypeXML  `xml:"EnumType"`
		Container    csdlContainer  `xml:"EntityContainer"`
		Annotations  []csdlAnnotate `xml:"Annotations"`
	} `xml:"DataServices>Schema"`
}

type csdlTypeXML struct {
	Name     string `xml:"Name,attr"`
	BaseType string `xml:"BaseType,attr"`
	OpenType bool   `xml:"OpenType,attr"`
	Props    []struct {
		Name     string `xml:"Name,attr"`
		Type     string `xml:"Type,attr"`
		Nullable string `xml:"Nullable,attr"`
	} `xml:"Property"`
	Navs []struct {
		Name string `xml:"Name,attr"`
		Type string `xml:"Type,attr"`
	} `xml:"NavigationProperty"`
}

type csdlContainer struct {
	Name       string `xml:"Name,attr"`
	EntitySets []struct {
		Name string `xml:"Name,attr"`
		Type string `xml:"EntityType,attr"`
	} `xml:"EntitySet"`
	Singletons []struct {
		Name string `xml:"Name,attr"`
		Type string `xml:"Type,attr"`
	} `xml:"Singleton"`
}

type csdlAnnotate struct {
	Target      string `xml:"Target,attr"`
	Annotations []struct {
		Term   string `xml:"Term,attr"`
		Values []struct {
			Property     string   `xml:"Property,attr"`
			Bool         string   `xml:"Bool,attr"`
			PropertyPath []string `xml:"Collection>PropertyPath"`
			Records      []struct {
				Values []struct {
					Property     string `xml:"Property,attr"`
					PropertyPath string `xml:"PropertyPath,attr"`
					String       string `xml:"String,attr"`
				} `xml:"PropertyValue"`
			} `xml:"Collection>Record"`
		} `xml:"Record>PropertyValue"`
	} `xml:"Annotation"`
}

// csdlModel resolves types with their inherited properties.
type csdlModel struct {
	types map[string]csdlTypeXML // by short name
	enums map[string]bool
	doc   csdlDoc
}

func (m *csdlModel) props(name string) map[string]string {
	out := map[string]string{}
	for name != "" {
		t, ok := m.types[name]
		if !ok {
			break
		}
		for _, p := range t.Props {
			out[p.Name] = p.Type
		}
		for _, n := range t.Navs {
			out[n.Name] = n.Type
		}
		name = strings.TrimPrefix(t.BaseType, "graph.")
	}
	return out
}

func (m *csdlModel) open(name string) bool {
	for name != "" {
		t := m.types[name]
		if t.OpenType {
			return true
		}
		name = strings.TrimPrefix(t.BaseType, "graph.")
	}
	return false
}

func loadCSDL(t *testing.T, body []byte) *csdlModel {
	t.Helper()
	m := &csdlModel{types: map[string]csdlTypeXML{}, enums: map[string]bool{}}
	if err := xml.Unmarshal(body, &m.doc); err != nil {
		t.Fatalf("$metadata is not XML: %v", err)
	}
	if len(m.doc.Schemas) != 1 || m.doc.Schemas[0].Namespace != "microsoft.graph" || m.doc.Schemas[0].Alias != "graph" {
		t.Fatalf("want one schema microsoft.graph (alias graph), got %+v", m.doc.Schemas)
	}
	s := m.doc.Schemas[0]
	for _, ty := range append(append([]csdlTypeXML(nil), s.EntityTypes...), s.ComplexTypes...) {
		m.types[ty.Name] = ty
	}
	for _, e := range s.EnumTypes {
		m.enums[e.Name] = true
	}
	return m
}

// checkValue checks a JSON value against a declared CSDL type, recursing
// into complex types; path names the value in failures.
func (m *csdlModel) checkValue(t *testing.T, path, typ string, v any) {
	t.Helper()
	if v == nil {
		return
	}
	if inner, ok := strings.CutPrefix(typ, "Collection("); ok {
		arr, ok := v.([]any)
		if !ok {
			t.Errorf("%s: declared %s, got %T", path, typ, v)
			return
		}
		for i, e := range arr {
			m.checkValue(t, path+"["+strconv.Itoa(i)+"]", strings.TrimSuffix(inner, ")"), e)
		}
		return
	}
	short := strings.TrimPrefix(typ, "graph.")
	switch {
	case typ == "Edm.Boolean":
		if _, ok := v.(bool); !ok {
			t.Errorf("%s: declared %s, got %v", path, typ, v)
		}
	case typ == "Edm.DateTimeOffset":
		if s, ok := v.(string); !ok {
			t.Errorf("%s: declared %s, got %v", path, typ, v)
		} else if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			t.Errorf("%s: declared %s, got %q", path, typ, s)
		}
	case typ == "Edm.Int32":
		if n, ok := v.(float64); !ok || n != float64(int32(n)) {
			t.Errorf("%s: declared %s, got %v", path, typ, v)
		}
	case typ == "Edm.Guid":
		if s, ok := v.(string); !ok || uuid.Validate(s) != nil {
			t.Errorf("%s: declared %s, got %v", path, typ, v)
		}
	case strings.HasPrefix(typ, "Edm."), m.enums[short]:
		if _, ok := v.(string); !ok {
			t.Errorf("%s: declared %s, got %v", path, typ, v)
		}
	default:
		obj, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: declared %s, got %v", path, typ, v)
			return
		}
		m.checkObject(t, path, short, obj)
	}
}

// checkObject checks that every property of obj is declared on typ (or
// is a directory extension property of an open type) with a matching type.
func (m *csdlModel) checkObject(t *testing.T, path, typ string, obj map[string]any) {
	t.Helper()
	if at, ok := obj["@odata.type"].(string); ok {
		typ = strings.TrimPrefix(at, "#microsoft.graph.")
	}
	if _, ok := m.types[typ]; !ok {
		t.Errorf("%s: type %s is not declared", path, typ)
		return
	}
	props := m.props(typ)
	for k, v := range obj {
		if strings.HasPrefix(k, "@") || strings.Contains(k, "@odata.") {
			continue // annotations (@odata.etag, @removed, ...)
		}
		declared, ok := props[k]
		if !ok {
			if strings.HasPrefix(k, "extension_") && m.open(typ) {
				continue
			}
			t.Errorf("%s: property %q of %s is not declared in $metadata", path, k, typ)
			continue
		}
		m.checkValue(t, path+"."+k, declared, v)
	}
}

// npmCI installs dir's package-lock.json when one of mods is missing.
func npmCI(ctx context.Context, t *testing.T, dir string, mods ...string) {
	t.Helper()
	for _, mod := range mods {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", mod)); err == nil {
			continue
		}
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Fatal("npm is needed to install " + dir)
		}
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
		return
	}
}

// writeServerCA writes the test server's certificate for NODE_EXTRA_CA_CERTS.
func writeServerCA(t *testing.T, s *stack) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestODataMetadata serves $metadata and the service document without a
// token, checks that every property of every kind of response graphdir
// writes is declared there with its type, that every entity set and
// singleton (through its contained collections) answers, that the
// Capabilities annotations match what the query engine does, and that
// generic OData tools from npm read the document (testdata/odatatools).
func TestODataMetadata(t *testing.T) {
	s := newStack(t)
	res := s.do("GET", "/v1.0/$metadata", "", nil)
	if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/xml") {
		t.Fatalf("GET $metadata without a token: %d %s\n%s", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	m := loadCSDL(t, res.Body)
	container := m.doc.Schemas[0].Container

	svc := s.do("GET", "/v1.0/", "", nil)
	if svc.Status != http.StatusOK {
		t.Fatalf("GET /v1.0/ without a token: %d %s", svc.Status, svc.Body)
	}
	var sd struct {
		Context string `json:"@odata.context"`
		Value   []struct{ Name, Kind, URL string }
	}
	if err := json.Unmarshal(svc.Body, &sd); err != nil || sd.Context != s.srv.URL+"/v1.0/$metadata" {
		t.Fatalf("service document: %v %s", err, svc.Body)
	}
	var listed, declared []string
	for _, v := range sd.Value {
		listed = append(listed, v.Kind+":"+v.Name+":"+v.URL)
	}
	for _, e := range container.EntitySets {
		declared = append(declared, "EntitySet:"+e.Name+":"+e.Name)
	}
	for _, e := range container.Singletons {
		declared = append(declared, "Singleton:"+e.Name+":"+e.Name)
	}
	slices.Sort(listed)
	slices.Sort(declared)
	if !slices.Equal(listed, declared) || !slices.Contains(listed, "Singleton:me:me") {
		t.Errorf("service document lists %v; $metadata declares %v", listed, declared)
	}

	// Responses of every kind, each checked against the declared type.
	admin := s.appToken("User.ReadWrite.All", "User.ManageIdentities.All", "Application.ReadWrite.All",
		"AuditLog.Read.All", "RoleManagement.ReadWrite.Directory", "User.DeleteRestore.All", "EventListener.ReadWrite.All",
		"DelegatedPermissionGrant.ReadWrite.All")
	type sample struct {
		what, typ string
		res       *response
	}
	var samples []sample
	add := func(what, typ string, r *response, want int) map[string]any {
		t.Helper()
		if r.Status != want {
			t.Fatalf("%s: %d %s", what, r.Status, r.Body)
		}
		samples = append(samples, sample{what, typ, r})
		if len(r.Body) == 0 || r.Body[0] != '{' {
			return nil
		}
		return r.JSON(t)
	}
	app := add("create application", "application", s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": "meta-app"}), 201)
	appObj := app["id"].(string)
	add("create sign-in application", "application", s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": "meta-spa",
		"spa": map[string]any{"redirectUris": []string{"https://spa.example/cb"}}, "publicClient": map[string]any{"redirectUris": []string{"com.example://cb"}},
		"web":                             map[string]any{"redirectUris": []string{"https://web.example/cb"}, "logoutUrl": "https://web.example/bye"},
		"nativeAuthenticationApisEnabled": "all", "isFallbackPublicClient": true,
		"requiredResourceAccess": []any{map[string]any{"resourceAppId": "00000003-0000-0000-c000-000000000000",
			"resourceAccess": []any{map[string]any{"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"}}}}}), 201)
	add("add password", "passwordCredential", s.do("POST", "/v1.0/applications/"+appObj+"/addPassword", admin, map[string]any{"passwordCredential": map[string]any{"displayName": "ci"}}), 200)
	add("get application", "application", s.do("GET", "/v1.0/applications/"+appObj, admin, nil), 200)
	add("list applications", "application", s.do("GET", "/v1.0/applications", admin, nil), 200)
	ext := add("define extension", "extensionProperty", s.do("POST", "/v1.0/applications/"+appObj+"/extensionProperties", admin,
		map[string]any{"name": "tier", "dataType": "String", "targetObjects": []string{"User"}}), 201)
	add("list extensions", "extensionProperty", s.do("GET", "/v1.0/applications/"+appObj+"/extensionProperties", admin, nil), 200)
	// Expanded navigation properties are checked against their declared types too.
	add("application, expanded", "application", s.do("GET", "/v1.0/applications/"+appObj+"?$expand=extensionProperties", admin, nil), 200)
	tier := ext["name"].(string)

	// Every declared user property but the write-only passwordProfile,
	// plus the extension property: what the widest $select returns.
	var everyProp []string
	for p := range m.props("user") {
		if p != "passwordProfile" {
			everyProp = append(everyProp, p)
		}
	}
	everyProp = append(everyProp, tier)
	sel := "$select=" + strings.Join(everyProp, ",")
	u := add("create user", "user", s.do("POST", "/v1.0/users", admin, map[string]any{
		"displayName": "Meta Data", "city": "Oslo", "otherMails": []string{"m@example.com"}, tier: "Gold",
		"identities":      []map[string]any{{"signInType": "emailAddress", "issuer": s.domain, "issuerAssignedId": "meta@example.com"}},
		"passwordProfile": map[string]any{"password": "Str0ng!Passw0rd"}}), 201)
	id := u["id"].(string)
	add("get user, every property", "user", s.do("GET", "/v1.0/users/"+id+"?"+sel, admin, nil), 200)
	add("list users, every property", "user", s.do("GET", "/v1.0/users?"+sel, admin, nil), 200)
	// signInActivity needs AuditLog.Read.All (a customer reading itself
	// has not) and is not part of delta, as in Graph.
	var selfProps []string
	for _, p := range everyProp {
		if p != "signInActivity" {
			selfProps = append(selfProps, p)
		}
	}
	add("me", "user", s.do("GET", "/v1.0/me?$select="+strings.Join(selfProps, ","), s.userToken(id, "User.ReadWrite"), nil), 200)
	delta := add("delta", "user", s.do("GET", "/v1.0/users/delta?$select="+strings.Join(selfProps[:len(selfProps)-1], ","), admin, nil), 200)
	add("delete user", "", s.do("DELETE", "/v1.0/users/"+id, admin, nil), 204)
	add("delta after delete", "user", s.do("GET", delta["@odata.deltaLink"].(string), admin, nil), 200)
	add("deleted items", "user", s.do("GET", "/v1.0/directory/deletedItems/microsoft.graph.user?"+sel, admin, nil), 200)
	add("deleted item", "user", s.do("GET", "/v1.0/directory/deletedItems/"+id, admin, nil), 200)
	add("restore", "user", s.do("POST", "/v1.0/directory/deletedItems/"+id+"/restore", admin, nil), 200)
	defs := add("role definitions", "unifiedRoleDefinition", s.do("GET", "/v1.0/roleManagement/directory/roleDefinitions", admin, nil), 200)
	defID := defs["value"].([]any)[0].(map[string]any)["id"].(string)
	add("role definition", "unifiedRoleDefinition", s.do("GET", "/v1.0/roleManagement/directory/roleDefinitions/"+defID, admin, nil), 200)
	ra := add("assign role", "unifiedRoleAssignment", s.do("POST", "/v1.0/roleManagement/directory/roleAssignments", admin,
		map[string]any{"principalId": id, "roleDefinitionId": defID, "directoryScopeId": "/"}), 201)
	add("role assignment", "unifiedRoleAssignment", s.do("GET", "/v1.0/roleManagement/directory/roleAssignments/"+ra["id"].(string), admin, nil), 200)
	add("role assignments", "unifiedRoleAssignment", s.do("GET", "/v1.0/roleManagement/directory/roleAssignments", admin, nil), 200)
	add("role assignments, expanded", "unifiedRoleAssignment", s.do("GET", "/v1.0/roleManagement/directory/roleAssignments?$expand=*", admin, nil), 200)
	add("directory audits", "directoryAudit", s.do("GET", "/v1.0/auditLogs/directoryAudits", admin, nil), 200)
	flow := add("create user flow", "externalUsersSelfServiceSignUpEventsFlow", s.do("POST", "/v1.0/identity/authenticationEventsFlows", admin,
		graphFlowBody("meta flow", []string{app["appId"].(string)}, map[string]any{
			"attr":  map[string]any{"id": tier},
			"input": map[string]any{"attribute": tier, "inputType": "radioSingleSelect", "options": []any{map[string]any{"label": "Gold", "value": "gold"}}}})), 201)
	add("user flow", "externalUsersSelfServiceSignUpEventsFlow", s.do("GET", "/v1.0/identity/authenticationEventsFlows/"+flow["id"].(string), admin, nil), 200)
	add("user flows", "externalUsersSelfServiceSignUpEventsFlow", s.do("GET", "/v1.0/identity/authenticationEventsFlows", admin, nil), 200)
	add("user flow applications", "authenticationConditionApplication", s.do("GET", "/v1.0/identity/authenticationEventsFlows/"+flow["id"].(string)+"/conditions/applications/includeApplications", admin, nil), 200)
	brand := s.appToken("OrganizationalBranding.ReadWrite.All")
	add("update branding", "", s.do("PATCH", "/v1.0/organization/"+s.tenant+"/branding", brand, map[string]any{"backgroundColor": "#FFFFFF", "signInPageText": "Hi"}), 204)
	add("create branding localization", "organizationalBrandingLocalization", s.do("POST", "/v1.0/organization/"+s.tenant+"/branding/localizations", brand, map[string]any{"id": "fr-FR"}), 201)
	add("branding", "organizationalBranding", s.do("GET", "/v1.0/organization/"+s.tenant+"/branding", brand, nil), 200)
	add("branding localizations", "organizationalBrandingLocalization", s.do("GET", "/v1.0/organization/"+s.tenant+"/branding/localizations", brand, nil), 200)
	grant := add("create permission grant", "oAuth2PermissionGrant", s.do("POST", "/v1.0/oauth2PermissionGrants", admin, map[string]any{"clientId": app["appId"],
		"consentType": "AllPrincipals", "resourceId": "00000003-0000-0000-c000-000000000000", "scope": "openid User.Read"}), 201)
	add("permission grant", "oAuth2PermissionGrant", s.do("GET", "/v1.0/oauth2PermissionGrants/"+grant["id"].(string), admin, nil), 200)
	add("permission grants", "oAuth2PermissionGrant", s.do("GET", "/v1.0/oauth2PermissionGrants", admin, nil), 200)

	for _, smp := range samples {
		if smp.typ == "" {
			continue
		}
		body := smp.res.JSON(t)
		items := []any{body}
		if v, ok := body["value"].([]any); ok {
			items = v
			if len(items) == 0 {
				t.Errorf("%s: empty collection proves nothing", smp.what)
			}
		}
		for i, it := range items {
			obj, _ := it.(map[string]any)
			if _, removed := obj["@removed"]; removed {
				continue
			}
			m.checkObject(t, smp.what+"["+strconv.Itoa(i)+"]", smp.typ, obj)
		}
	}

	// Every entity set answers; the singletons answer through their
	// contained collections, in the form graphdir serves them.
	me := s.userToken(id, "User.Read")
	answers := map[string]string{
		"users":                  "/v1.0/users",
		"applications":           "/v1.0/applications",
		"me":                     "/v1.0/me",
		"directory":              "/v1.0/directory/deletedItems/microsoft.graph.user",
		"auditLogs":              "/v1.0/auditLogs/directoryAudits",
		"roleManagement":         "/v1.0/roleManagement/directory/roleDefinitions",
		"identity":               "/v1.0/identity/authenticationEventsFlows",
		"oauth2PermissionGrants": "/v1.0/oauth2PermissionGrants",
	}
	for _, name := range append(names(container.EntitySets), singletonNames(container)...) {
		path, ok := answers[name]
		if !ok {
			t.Errorf("$metadata declares %q: add the URL that serves it to this test", name)
			continue
		}
		tok := admin
		if name == "me" {
			tok = me
		}
		if r := s.do("GET", path, tok, nil); r.Status != http.StatusOK {
			t.Errorf("declared %s: GET %s = %d %s", name, path, r.Status, r.Body)
		}
	}

	checkCapabilities(t, s, m, admin)
	runODataTools(t, s)
}

func names(sets []struct {
	Name string `xml:"Name,attr"`
	Type string `xml:"EntityType,attr"`
}) []string {
	var out []string
	for _, e := range sets {
		out = append(out, e.Name)
	}
	return out
}

func singletonNames(c csdlContainer) []string {
	var out []string
	for _, e := range c.Singletons {
		out = append(out, e.Name)
	}
	return out
}

// checkCapabilities asks the server what the annotations promise: every
// property FilterRestrictions lists answers an eq filter, every one it
// calls non-filterable is refused; likewise for $orderby.
func checkCapabilities(t *testing.T, s *stack, m *csdlModel, token string) {
	t.Helper()
	userProps := m.props("user")
	literal := func(p string) string {
		typ := userProps[p]
		if head, rest, ok := strings.Cut(p, "/"); ok { // a complex property's part (signInActivity/...)
			typ = m.props(strings.TrimPrefix(userProps[head], "graph."))[rest]
		}
		switch typ {
		case "Edm.Boolean":
			return "true"
		case "Edm.DateTimeOffset":
			return "2020-01-01T00:00:00Z"
		}
		if p == "id" {
			return "'" + uuid.NewString() + "'"
		}
		return "'x'"
	}
	for _, target := range []struct{ name, path string }{
		{"microsoft.graph.GraphService/users", "/v1.0/users"},
		{"microsoft.graph.GraphService/directory/deletedItems", "/v1.0/directory/deletedItems/microsoft.graph.user"},
	} {
		var ann *csdlAnnotate
		for i, a := range m.doc.Schemas[0].Annotations {
			if a.Target == target.name {
				ann = &m.doc.Schemas[0].Annotations[i]
			}
		}
		if ann == nil {
			t.Errorf("no Capabilities annotations for %s", target.name)
			continue
		}
		var filterable, nonFilterable, nonSortable []string
		terms := map[string]bool{}
		for _, a := range ann.Annotations {
			terms[strings.TrimPrefix(a.Term, "Org.OData.Capabilities.V1.")] = true
			for _, v := range a.Values {
				switch v.Property {
				case "NonFilterableProperties":
					nonFilterable = v.PropertyPath
				case "NonSortableProperties":
					nonSortable = v.PropertyPath
				case "FilterExpressionRestrictions":
					for _, r := range v.Records {
						for _, pv := range r.Values {
							if pv.Property == "Property" {
								filterable = append(filterable, pv.PropertyPath)
							}
						}
					}
				}
			}
		}
		for _, term := range []string{"FilterRestrictions", "SortRestrictions", "CountRestrictions", "SearchRestrictions"} {
			if !terms[term] {
				t.Errorf("%s: no %s annotation", target.name, term)
			}
		}
		if len(filterable) < 10 || len(nonFilterable) == 0 || len(nonSortable) == 0 {
			t.Fatalf("%s: implausible annotations: filterable %v, non-filterable %v, non-sortable %v", target.name, filterable, nonFilterable, nonSortable)
		}
		get := func(q url.Values) *response {
			return s.do("GET", target.path+"?"+q.Encode(), token, nil)
		}
		for _, p := range filterable {
			if r := get(url.Values{"$filter": {p + " eq " + literal(p)}}); r.Status != http.StatusOK {
				t.Errorf("%s: annotated filterable, but $filter=%s eq … is %d %s", target.name, p, r.Status, r.Body)
			}
		}
		for _, p := range nonFilterable {
			if r := get(url.Values{"$filter": {p + " eq " + literal(p)}}); r.Status != http.StatusBadRequest {
				t.Errorf("%s: annotated non-filterable, but $filter=%s eq … is %d", target.name, p, r.Status)
			}
		}
		for p := range userProps {
			if p == "passwordProfile" || strings.HasPrefix(userProps[p], "Collection(") {
				continue
			}
			r := get(url.Values{"$orderby": {p}})
			if want := !slices.Contains(nonSortable, p); want != (r.Status == http.StatusOK) {
				t.Errorf("%s: sortable=%v in $metadata, but $orderby=%s is %d %s", target.name, want, p, r.Status, r.Body)
			}
		}
	}
}

// runODataTools validates and parses $metadata with the npm tools of
// testdata/odatatools (installed from its package-lock.json, as the Graph
// JavaScript client test installs its own).
func runODataTools(t *testing.T, s *stack) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed for the OData tools test (install Node.js 18+)")
	}
	dir, err := filepath.Abs("../../testdata/odatatools")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	npmCI(ctx, t, dir, "odata-csdl", "xmllint-wasm", filepath.Join("@sap-ux", "edmx-parser"))
	certFile := writeServerCA(t, s)
	cmd := exec.CommandContext(ctx, node, "metadata.mjs", s.srv.URL+"/v1.0/$metadata")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+certFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node metadata.mjs: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var got struct {
		Valid                                     bool
		Namespace                                 string
		EntityTypes, ComplexTypes, EnumTypes      int
		Properties, NavigationProperties, Actions int
		Functions, EntitySets, Singletons         int
		AnnotationTargets                         []string
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("unexpected tool output: %s", out)
	}
	if !got.Valid || got.Namespace != "microsoft.graph" || got.EntityTypes < 10 || got.Properties < 80 ||
		got.Actions != 5 || got.Functions != 1 || got.EntitySets != 3 || got.Singletons != 5 || len(got.AnnotationTargets) != 3 {
		t.Fatalf("OData tools read: %s", lines[len(lines)-1])
	}
	t.Logf("$metadata validated against the OASIS CSDL XML schemas and parsed by @sap-ux/edmx-parser and odata-csdl: %s", lines[len(lines)-1])
}
