package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// deltaFake answers delta queries and records what each asked.
type deltaFake struct {
	*fakeUsers
	mu      sync.Mutex
	queries []directory.DeltaQuery
}

func (d *deltaFake) UsersDelta(ctx context.Context, q directory.DeltaQuery) (*directory.DeltaPage, error) {
	d.mu.Lock()
	d.queries = append(d.queries, q)
	d.mu.Unlock()
	return &directory.DeltaPage{Base: "b", Target: "t"}, nil
}

const (
	idA = "aaaaaaaa-0000-4000-8000-000000000001"
	idB = "bbbbbbbb-0000-4000-8000-000000000002"
)

// TestDeltaFunctionSpellingKeepsTheFilter: /users/delta() is /users/delta,
// and the ids of its $filter travel in the signed deltaLink, so the next
// round tracks the same users without repeating the option.
func TestDeltaFunctionSpellingKeepsTheFilter(t *testing.T) {
	d := &deltaFake{fakeUsers: &fakeUsers{}}
	a := newTestAPI(t, func(o *Options) { o.Directory = d })
	filter := url.QueryEscape("id eq '" + idA + "' or ID eq '" + strings.ToUpper(idB) + "' or id eq '" + idA + "'")
	for _, p := range []string{"/v1.0/users/delta()", "/v1.0/users/delta"} {
		d.queries = nil
		w := a.do(t, request{method: "GET", target: p + "?$filter=" + filter, token: "app-read"})
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", p, w.Code, w.Body)
		}
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		link, _ := body["@odata.deltaLink"].(string)
		u, err := url.Parse(link)
		if err != nil || u.Path != "/v1.0/users/delta" || strings.Contains(link, "filter") {
			t.Fatalf("%s: deltaLink %q", p, link)
		}
		if w := a.do(t, request{method: "GET", target: u.RequestURI(), token: "app-read"}); w.Code != 200 {
			t.Fatalf("%s: following the deltaLink: %d %s", p, w.Code, w.Body)
		}
		want := []string{idA, idB}
		if len(d.queries) != 2 || !slices.Equal(d.queries[0].IDs, want) || !slices.Equal(d.queries[1].IDs, want) {
			t.Fatalf("%s: ids asked %+v, want %v in both rounds", p, d.queries, want)
		}
	}
}

// TestApplicationsRefuseARepeatedSelect: applications read their query
// string with the same reader as users, which refuses an option given
// twice, whatever its case or encoding.
func TestApplicationsRefuseARepeatedSelect(t *testing.T) {
	apps := &recordingApps{}
	a := newTestAPI(t, func(o *Options) { o.Applications = apps })
	for _, target := range []string{
		"/v1.0/applications?$select=id&$select=displayName",
		"/v1.0/applications?$select=id&$SELECT=displayName",
		"/v1.0/applications?$select=id&%24select=displayName",
		"/v1.0/applications/" + idA + "?$select=id&$Select=appId",
	} {
		w := a.do(t, request{method: "GET", target: target, token: "app-read"})
		if code, msg := errorOf(t, w); w.Code != 400 || code != "Request_BadRequest" || !strings.Contains(msg, "more than once") {
			t.Errorf("%s: %d %s %q", target, w.Code, code, msg)
		}
	}
	if apps.calls != 0 {
		t.Errorf("the service was called %d times for refused requests", apps.calls)
	}
	// $select on applications goes through the same parser as users': an
	// empty name is refused the same way.
	w := a.do(t, request{method: "GET", target: "/v1.0/applications?$select=id,,appId", token: "app-read"})
	u := a.do(t, request{method: "GET", target: "/v1.0/users?$select=id,,city", token: "app-read"})
	if cw, mw := errorOf(t, w); w.Code != 400 || u.Code != 400 || mw != "Invalid $select: empty property name." {
		t.Errorf("empty $select name: applications %d %s %q, users %d", w.Code, cw, mw, u.Code)
	}
}

// recordingApps lets every caller in and counts the calls that get past
// the query string.
type recordingApps struct {
	Applications
	calls int
}

func (r *recordingApps) Authorize(context.Context, bool, directory.Activity, string) error {
	return nil
}

func (r *recordingApps) ListApplications(context.Context, directory.ListQuery) (*directory.ApplicationPage, error) {
	r.calls++
	return &directory.ApplicationPage{}, nil
}

func (r *recordingApps) GetApplication(context.Context, string) (*directory.Application, error) {
	r.calls++
	return &directory.Application{}, nil
}

// TestRouteTableSpellingsAreRoutesAndDocumented: every path of every row
// is a route of the engine and an operation of the document, with its own
// operationId and the row's tag.
func TestRouteTableSpellingsAreRoutesAndDocumented(t *testing.T) {
	doc := loadOpenAPI(t)
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	(&server{}).addRoutes(engine)
	registered := map[string]bool{}
	for _, r := range engine.Routes() {
		registered[r.Method+" "+r.Path] = true
	}
	ids := map[string]bool{}
	for _, rt := range (&server{}).routes() {
		for _, p := range rt.paths {
			if !registered[rt.method+" "+p] {
				t.Errorf("%s %s is in the table but not routed", rt.method, p)
			}
			if rt.undocumented {
				continue
			}
			op := doc.Paths.Find(openAPIPath(p)).GetOperation(rt.method)
			if op == nil || ids[op.OperationID] {
				t.Errorf("%s %s: operation %v missing or its id repeated", rt.method, p, op)
				continue
			}
			ids[op.OperationID] = true
			if len(op.Tags) != 1 || op.Tags[0] != rt.tag {
				t.Errorf("%s %s: tags %v, want [%s]", rt.method, p, op.Tags, rt.tag)
			}
		}
	}
	for _, p := range []string{"/v1.0/users/delta()", "/v1.0/directory/deletedItems/graph.user", "/v1.0/directory/deletedItems/graph.user/$count"} {
		if doc.Paths.Find(p) == nil {
			t.Errorf("%s is not documented", p)
		}
	}
}

// optionProbe is a well-formed value of each system query option, so that
// a route that takes the option gets past the option reader.
var optionProbe = map[string]string{
	"$filter": url.QueryEscape("id eq '" + idA + "'"), "$select": "id", "$orderby": "id", "$top": "1", "$skip": "1",
	"$skiptoken": "x", "$deltatoken": "latest", "$search": url.QueryEscape(`"displayName:a"`), "$count": "true", "$format": "json",
	"$expand": "*",
}

// refusedOption reports whether w is the option reader's refusal of an
// option the route does not take.
func refusedOption(w *httptest.ResponseRecorder) bool {
	if w.Code != 400 {
		return false
	}
	b := w.Body.String()
	return strings.Contains(b, "is not allowed for this request") || strings.Contains(b, "is not supported on applications") ||
		strings.Contains(b, "is not supported with delta query") || strings.Contains(b, "Unrecognized query argument")
}

// TestRouteOptionsAreWhatHandlersTake: the query options a row declares
// (and the document lists) are exactly those its handler lets through. It
// fails when a handler decides its options itself instead of reading its
// row (delta, with its own parser, must agree with deltaOptions), or when
// a handler that serves two rows (users/%24count) reads the wrong one.
func TestRouteOptionsAreWhatHandlersTake(t *testing.T) {
	principals["app-all"] = &directory.Principal{Kind: directory.PrincipalApp, TenantID: tenantA, AppID: "app-all", Permissions: []string{
		directory.PermUserReadWriteAll, directory.PermDirectoryReadWriteAll, directory.PermRoleManagementReadWriteDir,
		directory.PermAuditLogReadAll, directory.PermApplicationReadWriteAll, directory.PermEventListenerReadWriteAll,
		directory.PermOrganizationalBrandingReadWriteAll, directory.PermDelegatedPermissionGrantReadWriteAll}}
	principals["user-all"] = &directory.Principal{Kind: directory.PrincipalUser, TenantID: tenantA, AppID: "app-all", UserID: meID,
		Permissions: []string{directory.PermUserReadWrite, "Directory.AccessAsUser.All"}}
	defer delete(principals, "app-all")
	defer delete(principals, "user-all")
	// Handlers may reach fakes that do not implement what they call: that
	// is a 500 after the options were read, which is all this test needs.
	a := newTestAPI(t, func(o *Options) { o.Applications = &recordingApps{} })
	checked := 0
	for _, rt := range (&server{}).routes() {
		if rt.options == 0 {
			continue
		}
		for _, p := range rt.paths {
			target := strings.NewReplacer(":key", idA, ":id", idB).Replace(p)
			token := "app-all"
			if strings.HasPrefix(p, apiPrefix+"/me") {
				token = "user-all"
			}
			for _, o := range optionNames {
				w := a.do(t, request{method: rt.method, target: target + "?" + o.name + "=" + optionProbe[o.name], token: token, body: []byte("{}")})
				if w.Code == 401 || w.Code == 403 {
					t.Fatalf("%s %s: %d: the probe's caller may not call the route", rt.method, p, w.Code)
				}
				if takes := rt.options&o.bit != 0; takes == refusedOption(w) {
					t.Errorf("%s %s?%s: row takes it: %v, answer %d %.200s", rt.method, p, o.name, takes, w.Code, w.Body)
				}
				checked++
			}
		}
	}
	if checked < 300 {
		t.Fatalf("only %d probes", checked)
	}
}
