package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/schedule"
)

// Deleted items, restore, purge and ETags over HTTP against PostgreSQL.

func (s *stack) mustStatus(r *response, want int, what string) {
	s.t.Helper()
	if r.Status != want {
		s.t.Fatalf("%s: status %d, want %d: %s", what, r.Status, want, r.Body)
	}
}

func conflictTarget(t *testing.T, r *response) string {
	t.Helper()
	if r.Status != 400 || r.ErrorCode(t) != "Request_BadRequest" {
		t.Fatalf("want 400 Request_BadRequest, got %d %s", r.Status, r.Body)
	}
	e := r.JSON(t)["error"].(map[string]any)
	details, _ := e["details"].([]any)
	if len(details) == 0 {
		t.Fatalf("conflict without details: %s", r.Body)
	}
	d := details[0].(map[string]any)
	if d["code"] != "ObjectConflict" {
		t.Fatalf("detail code = %v: %s", d["code"], r.Body)
	}
	return fmt.Sprint(d["target"])
}

func TestDeletedItems_SoftDeleteHidesEverywhere(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	c := s.create(admin, customer(s.domain, "gone@example.com"))
	id := c["id"].(string)
	upn := c["userPrincipalName"].(string)
	keep := s.create(admin, customer(s.domain, "kept@example.com"))
	me := s.userToken(id, "User.Read")
	s.mustStatus(s.do("GET", "/v1.0/me", me, nil), 200, "/me before delete")

	s.mustStatus(s.do("DELETE", "/v1.0/users/"+id, admin, nil), 204, "delete")

	s.mustStatus(s.do("GET", "/v1.0/users/"+id, admin, nil), 404, "get by id")
	s.mustStatus(s.do("GET", "/v1.0/users/"+url.PathEscape(upn), admin, nil), 404, "get by UPN")
	s.mustStatus(s.do("GET", "/v1.0/me", me, nil), 404, "/me of a deleted user")
	s.mustStatus(s.do("PATCH", "/v1.0/users/"+id, admin, map[string]any{"city": "X"}), 404, "patch")
	s.mustStatus(s.do("DELETE", "/v1.0/users/"+id, admin, nil), 404, "delete again")
	list := s.do("GET", "/v1.0/users?$count=true", admin, nil)
	s.mustStatus(list, 200, "list")
	if m := list.JSON(t); m["@odata.count"] != 1.0 || len(m["value"].([]any)) != 1 || m["value"].([]any)[0].(map[string]any)["id"] != keep["id"] {
		t.Errorf("list after delete: %s", list.Body)
	}
	lookup := "/v1.0/users?$filter=" + url.QueryEscape("identities/any(i:i/issuer eq '"+s.domain+"' and i/issuerAssignedId eq 'gone@example.com')")
	if r := s.do("GET", lookup, admin, nil); r.Status != 200 || len(r.JSON(t)["value"].([]any)) != 0 {
		t.Errorf("lookup by identity found a deleted user: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1.0/users/$count", admin, nil); string(r.Body) != "1" {
		t.Errorf("$count = %s", r.Body)
	}
}

func TestDeletedItems_ListGetRestorePurge(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	var ids []string
	for i := range 5 {
		c := s.create(admin, customer(s.domain, fmt.Sprintf("d%d@example.com", i)))
		ids = append(ids, c["id"].(string))
		s.mustStatus(s.do("DELETE", "/v1.0/users/"+c["id"].(string), admin, nil), 204, "delete")
		time.Sleep(2 * time.Millisecond) // distinct deletedDateTime values
	}
	s.create(admin, customer(s.domain, "live@example.com"))

	base := "/v1.0/directory/deletedItems/microsoft.graph.user"
	r := s.do("GET", base+"?$orderby=deletedDateTime%20desc&$top=2&$count=true", admin, nil)
	s.mustStatus(r, 200, "list deleted")
	m := r.JSON(t)
	if m["@odata.context"] != s.srv.URL+"/v1.0/$metadata#directory/deletedItems/microsoft.graph.user" || m["@odata.count"] != 5.0 {
		t.Errorf("list: %s", r.Body)
	}
	var seen []string
	for {
		for _, v := range m["value"].([]any) {
			it := v.(map[string]any)
			if it["@odata.type"] != "#microsoft.graph.user" || it["deletedDateTime"] == nil || it["@odata.etag"] == nil {
				t.Errorf("item: %v", it)
			}
			seen = append(seen, it["id"].(string))
		}
		next, _ := m["@odata.nextLink"].(string)
		if next == "" {
			break
		}
		r = s.do("GET", next, admin, nil)
		s.mustStatus(r, 200, "next page")
		m = r.JSON(t)
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("pages by deletedDateTime desc = %v, want %v", seen, want)
	}
	// $filter, including deletedDateTime and identities.
	r = s.do("GET", base+"?$filter="+url.QueryEscape("identities/any(i:i/issuer eq '"+s.domain+"' and i/issuerAssignedId eq 'd2@example.com')"), admin, nil)
	if r.Status != 200 || len(r.JSON(t)["value"].([]any)) != 1 {
		t.Errorf("filter by identity: %d %s", r.Status, r.Body)
	}
	r = s.do("GET", base+"?$filter="+url.QueryEscape("deletedDateTime ge 2000-01-01T00:00:00Z")+"&$select=id,displayName", admin, nil)
	if r.Status != 200 || len(r.JSON(t)["value"].([]any)) != 5 {
		t.Errorf("filter by deletedDateTime: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", base+"/$count?$filter="+url.QueryEscape("startsWith(displayName, 'Test')"), admin, nil); r.Status != 200 || string(r.Body) != "5" {
		t.Errorf("$count: %d %s", r.Status, r.Body)
	}
	// deletedDateTime belongs to deleted items only.
	if r := s.do("GET", "/v1.0/users?$orderby=deletedDateTime", admin, nil); r.Status != 400 {
		t.Errorf("/users $orderby=deletedDateTime: %d %s", r.Status, r.Body)
	}

	// Get one.
	r = s.do("GET", "/v1.0/directory/deletedItems/"+ids[0], admin, nil)
	s.mustStatus(r, 200, "get deleted")
	if g := r.JSON(t); g["@odata.type"] != "#microsoft.graph.user" || g["deletedDateTime"] == nil || r.Header.Get("ETag") == "" {
		t.Errorf("get deleted: %s %v", r.Body, r.Header)
	}
	s.mustStatus(s.do("GET", "/v1.0/directory/deletedItems/"+keepID(t, s, admin), admin, nil), 404, "get a live user as deleted")

	// Restore: back with its identities.
	r = s.do("POST", "/v1.0/directory/deletedItems/"+ids[0]+"/restore", admin, nil)
	s.mustStatus(r, 200, "restore")
	g := r.JSON(t)
	if g["@odata.context"] != s.srv.URL+"/v1.0/$metadata#directoryObjects/$entity" || g["@odata.type"] != "#microsoft.graph.user" ||
		g["id"] != ids[0] || g["deletedDateTime"] != nil {
		t.Errorf("restore response: %s", r.Body)
	}
	r = s.do("GET", "/v1.0/users/"+ids[0]+"?$select=identities", admin, nil)
	s.mustStatus(r, 200, "get restored")
	if !strings.Contains(string(r.Body), "d0@example.com") {
		t.Errorf("restored identities: %s", r.Body)
	}
	s.mustStatus(s.do("POST", "/v1.0/directory/deletedItems/"+ids[0]+"/restore", admin, nil), 404, "restore a live user")

	// Purge.
	s.mustStatus(s.do("DELETE", "/v1.0/directory/deletedItems/"+ids[1], admin, nil), 204, "purge")
	s.mustStatus(s.do("GET", "/v1.0/directory/deletedItems/"+ids[1], admin, nil), 404, "get purged")
	s.mustStatus(s.do("POST", "/v1.0/directory/deletedItems/"+ids[1]+"/restore", admin, nil), 404, "restore purged")
	var n int
	if err := s.db.store.DB().QueryRow(`SELECT count(*) FROM users WHERE id = $1`, ids[1]).Scan(&n); err != nil || n != 0 {
		t.Errorf("purged row still there: %d %v", n, err)
	}

	// Audit trail.
	var acts []string
	rows, err := s.db.store.DB().Query(`SELECT activity_display_name FROM audit_events ORDER BY activity_date_time`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		_ = rows.Scan(&a)
		acts = append(acts, a)
	}
	rows.Close()
	all := strings.Join(acts, ",")
	for _, a := range []string{"Delete user", "Restore user", "Hard delete user"} {
		if !strings.Contains(all, a) {
			t.Errorf("audit events %v lack %q", acts, a)
		}
	}
}

func keepID(t *testing.T, s *stack, token string) string {
	t.Helper()
	r := s.do("GET", "/v1.0/users?$top=1", token, nil)
	return r.JSON(t)["value"].([]any)[0].(map[string]any)["id"].(string)
}

func TestDeletedItems_RestoreConflicts(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")

	// userPrincipalName taken meanwhile.
	w := s.create(admin, workforceUser("adele@contoso.com"))
	s.mustStatus(s.do("DELETE", "/v1.0/users/"+w["id"].(string), admin, nil), 204, "delete")
	s.create(admin, workforceUser("ADELE@contoso.com")) // the name is free for a live user
	before := s.snapshot()
	r := s.do("POST", "/v1.0/directory/deletedItems/"+w["id"].(string)+"/restore", admin, nil)
	if got := conflictTarget(t, r); got != "userPrincipalName" {
		t.Errorf("conflict target = %s", got)
	}
	if s.snapshot() != before {
		t.Error("a failed restore changed the database")
	}

	// An identity taken meanwhile.
	c := s.create(admin, customer(s.domain, "taken@example.com"))
	s.mustStatus(s.do("DELETE", "/v1.0/users/"+c["id"].(string), admin, nil), 204, "delete")
	taker := s.create(admin, customer(s.domain, "TAKEN@example.com"))
	before = s.snapshot()
	r = s.do("POST", "/v1.0/directory/deletedItems/"+c["id"].(string)+"/restore", admin, nil)
	if got := conflictTarget(t, r); got != "identities" {
		t.Errorf("conflict target = %s", got)
	}
	if s.snapshot() != before {
		t.Error("a failed restore changed the database")
	}
	// The taker goes to deleted items: now the restore works.
	s.mustStatus(s.do("DELETE", "/v1.0/users/"+taker["id"].(string), admin, nil), 204, "delete taker")
	s.mustStatus(s.do("POST", "/v1.0/directory/deletedItems/"+c["id"].(string)+"/restore", admin, nil), 200, "restore")
	// ... and the taker's restore now conflicts.
	r = s.do("POST", "/v1.0/directory/deletedItems/"+taker["id"].(string)+"/restore", admin, nil)
	if got := conflictTarget(t, r); got != "identities" {
		t.Errorf("conflict target = %s", got)
	}
}

func TestDeletedItems_Permissions(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	c := s.create(admin, customer(s.domain, "p@example.com"))
	id := c["id"].(string)
	other := s.create(admin, customer(s.domain, "q@example.com"))
	s.mustStatus(s.do("DELETE", "/v1.0/users/"+id, admin, nil), 204, "delete")

	reader := s.appToken("User.Read.All")
	s.mustStatus(s.do("GET", "/v1.0/directory/deletedItems/microsoft.graph.user", reader, nil), 200, "list with User.Read.All")
	s.mustStatus(s.do("GET", "/v1.0/directory/deletedItems/"+id, reader, nil), 200, "get with User.Read.All")

	customerTok := s.userToken(other["id"].(string), "User.ReadWrite", "User.ReadWrite.All")
	basic := s.appToken("User.ReadBasic.All")
	for _, tc := range []struct {
		name, method, path, token string
	}{
		{"app reader restores", "POST", "/v1.0/directory/deletedItems/" + id + "/restore", reader},
		{"app reader purges", "DELETE", "/v1.0/directory/deletedItems/" + id, reader},
		{"basic app lists", "GET", "/v1.0/directory/deletedItems/microsoft.graph.user", basic},
		{"customer lists", "GET", "/v1.0/directory/deletedItems/microsoft.graph.user", customerTok},
		{"customer gets", "GET", "/v1.0/directory/deletedItems/" + id, customerTok},
		{"customer restores", "POST", "/v1.0/directory/deletedItems/" + id + "/restore", customerTok},
		{"customer purges", "DELETE", "/v1.0/directory/deletedItems/" + id, customerTok},
		{"customer deletes", "DELETE", "/v1.0/users/" + other["id"].(string), customerTok},
	} {
		before := s.snapshot()
		r := s.do(tc.method, tc.path, tc.token, nil)
		if r.Status != 403 || s.checkDenied(t, r, before) != "Authorization_RequestDenied" {
			t.Errorf("%s: %d %s", tc.name, r.Status, r.Body)
		}
	}

	// A User Administrator (delegated) may restore and purge; a Global
	// Administrator target is out of their reach.
	ua := s.rawUser(s.tenant, "ua@contoso.com", "User Administrator")
	uaTok := s.userToken(ua, "User.DeleteRestore.All", "User.Read.All")
	s.mustStatus(s.do("POST", "/v1.0/directory/deletedItems/"+id+"/restore", uaTok, nil), 200, "User Administrator restores")
	ga := s.rawUser(s.tenant, "ga@contoso.com", "Global Administrator")
	// Apps cannot delete a Global Administrator; another one could.
	s.mustStatus(s.do("DELETE", "/v1.0/users/"+ga, admin, nil), 403, "app deletes GA")
	ga2 := s.rawUser(s.tenant, "ga2@contoso.com", "Global Administrator")
	s.mustStatus(s.do("DELETE", "/v1.0/users/"+ga, s.userToken(ga2, "User.ReadWrite.All"), nil), 204, "GA deletes GA")
	before := s.snapshot()
	r := s.do("POST", "/v1.0/directory/deletedItems/"+ga+"/restore", uaTok, nil)
	if r.Status != 403 || s.checkDenied(t, r, before) != "Authorization_RequestDenied" {
		t.Errorf("User Administrator restores a Global Administrator: %d %s", r.Status, r.Body)
	}
	// A deleted administrator's token grants nothing.
	gaTok := s.userToken(ga, "User.ReadWrite.All", "Directory.ReadWrite.All")
	before = s.snapshot()
	r = s.do("DELETE", "/v1.0/users/"+ua, gaTok, nil)
	if r.Status != 403 || s.checkDenied(t, r, before) != "Authorization_RequestDenied" {
		t.Errorf("deleted admin deletes: %d %s", r.Status, r.Body)
	}
	s.mustStatus(s.do("DELETE", "/v1.0/directory/deletedItems/"+ga, s.appToken("User.DeleteRestore.All"), nil), 403, "app purges a Global Administrator")
	s.mustStatus(s.do("DELETE", "/v1.0/directory/deletedItems/"+ga, s.appToken("Directory.ReadWrite.All"), nil), 403, "app purges a Global Administrator")
}

func TestETags(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	created := s.do("POST", "/v1.0/users", admin, customer(s.domain, "e@example.com"))
	s.mustStatus(created, 201, "create")
	c := created.JSON(t)
	id := c["id"].(string)
	if created.Header.Get("ETag") != `W/"1"` || c["@odata.etag"] != `W/"1"` {
		t.Errorf("create ETag %q, @odata.etag %v", created.Header.Get("ETag"), c["@odata.etag"])
	}
	r := s.do("GET", "/v1.0/users/"+id, admin, nil)
	etag := r.Header.Get("ETag")
	if etag != `W/"1"` || r.JSON(t)["@odata.etag"] != etag {
		t.Fatalf("GET ETag %q: %s", etag, r.Body)
	}
	if r := s.do("GET", "/v1.0/me", s.userToken(id, "User.Read"), nil); r.Header.Get("ETag") != etag {
		t.Errorf("/me ETag = %q", r.Header.Get("ETag"))
	}
	list := s.do("GET", "/v1.0/users", admin, nil)
	if !strings.Contains(string(list.Body), `"@odata.etag":"W/\"1\""`) {
		t.Errorf("list items without @odata.etag: %s", list.Body)
	}

	// Current ETag: 204 with the new one.
	r = s.do("PATCH", "/v1.0/users/"+id, admin, map[string]any{"city": "Oslo"}, "If-Match", etag)
	s.mustStatus(r, 204, "patch with current If-Match")
	if r.Header.Get("ETag") != `W/"2"` {
		t.Errorf("PATCH ETag = %q", r.Header.Get("ETag"))
	}
	// Stale ETag: 412, nothing written.
	for _, tc := range []struct{ method, ifMatch string }{
		{"PATCH", etag}, {"PATCH", `"1"`}, {"PATCH", `W/"abc"`}, {"DELETE", etag},
	} {
		before := s.snapshot()
		var body any
		if tc.method == "PATCH" {
			body = map[string]any{"city": "Bergen"}
		}
		r = s.do(tc.method, "/v1.0/users/"+id, admin, body, "If-Match", tc.ifMatch)
		if r.Status != 412 || s.checkDenied(t, r, before) != "Request_PreconditionFailed" {
			t.Errorf("%s with stale If-Match %s: %d %s", tc.method, tc.ifMatch, r.Status, r.Body)
		}
	}
	// /me too.
	me := s.userToken(id, "User.ReadWrite")
	if r := s.do("PATCH", "/v1.0/me", me, map[string]any{"city": "Bergen"}, "If-Match", etag); r.Status != 412 {
		t.Errorf("PATCH /me with stale If-Match: %d %s", r.Status, r.Body)
	}
	s.mustStatus(s.do("PATCH", "/v1.0/me", me, map[string]any{"city": "Bergen"}, "If-Match", `W/"2"`), 204, "PATCH /me with current If-Match")
	// *: any existing user; a missing one stays 404.
	s.mustStatus(s.do("PATCH", "/v1.0/users/"+id, admin, map[string]any{"city": "Tromsø"}, "If-Match", "*"), 204, "If-Match: *")
	s.mustStatus(s.do("PATCH", "/v1.0/users/00000000-0000-0000-0000-000000000001", admin, map[string]any{"city": "X"}, "If-Match", `W/"1"`), 404, "missing user")
	// Without If-Match the last write wins.
	s.mustStatus(s.do("PATCH", "/v1.0/users/"+id, admin, map[string]any{"city": "Narvik"}), 204, "unconditional patch")
	r = s.do("GET", "/v1.0/users/"+id, admin, nil)
	etag = r.Header.Get("ETag")
	if etag != `W/"5"` {
		t.Errorf("ETag after four writes = %q", etag)
	}
	s.mustStatus(s.do("DELETE", "/v1.0/users/"+id, admin, nil, "If-Match", etag), 204, "delete with current If-Match")
	s.mustStatus(s.do("GET", "/v1.0/directory/deletedItems/"+id, admin, nil), 200, "deleted")
}

// TestETags_Race: concurrent PATCHes with the same If-Match, exactly one wins.
func TestETags_Race(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	id := s.create(admin, customer(s.domain, "race@example.com"))["id"].(string)
	for round := range 5 {
		etag := s.do("GET", "/v1.0/users/"+id, admin, nil).Header.Get("ETag")
		const writers = 6
		statuses := make([]int, writers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := s.do("PATCH", "/v1.0/users/"+id, admin, map[string]any{"city": fmt.Sprintf("w%d-%d", round, i)}, "If-Match", etag)
				statuses[i] = r.Status
			}()
		}
		close(start)
		wg.Wait()
		won, lost := 0, 0
		for _, st := range statuses {
			switch st {
			case 204:
				won++
			case 412:
				lost++
			}
		}
		if won != 1 || lost != writers-1 {
			t.Fatalf("round %d: statuses %v, want exactly one 204 and the rest 412", round, statuses)
		}
	}
}

// TestDeletedItems_BackgroundPurge runs serve's background jobs with a tiny
// retention, two instances at once.
func TestDeletedItems_BackgroundPurge(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	var ids []string
	for i := range 6 {
		id := s.create(admin, customer(s.domain, fmt.Sprintf("bp%d@example.com", i)))["id"].(string)
		s.mustStatus(s.do("DELETE", "/v1.0/users/"+id, admin, nil), 204, "delete")
		ids = append(ids, id)
	}
	live := s.create(admin, customer(s.domain, "bp-live@example.com"))["id"].(string)
	time.Sleep(30 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := *s.cfg
	cfg.DeletedRetention, cfg.PurgeInterval = 10*time.Millisecond, 5*time.Millisecond
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			schedule.Run(ctx, nil, backgroundJobs(&cfg, s.db.store, slog.New(slog.DiscardHandler))...)
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := s.do("GET", "/v1.0/directory/deletedItems/microsoft.graph.user/$count", admin, nil)
		if string(r.Body) == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deleted users left: %s", r.Body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	s.mustStatus(s.do("GET", "/v1.0/users/"+live, admin, nil), 200, "live user survives")
	for _, id := range ids {
		s.mustStatus(s.do("GET", "/v1.0/directory/deletedItems/"+id, admin, nil), 404, "purged")
	}
}
