package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// deltaClient follows delta links like a sync job and keeps the replayed
// view: id -> the properties it has seen (merged, for return=minimal).
type deltaClient struct {
	s       *stack
	token   string
	headers []string
	link    string // the next link to follow ("" before the first round)
	view    map[string]map[string]any
	rounds  int
	pages   int
}

func newDeltaClient(s *stack, token string, query string, headers ...string) *deltaClient {
	return &deltaClient{s: s, token: token, headers: headers, link: "/v1.0/users/delta" + query, view: map[string]map[string]any{}}
}

// round follows one whole round (nextLinks until a deltaLink) and applies
// it; it returns the round's items.
func (d *deltaClient) round(t *testing.T) []map[string]any {
	t.Helper()
	var items []map[string]any
	for {
		r := d.s.do("GET", d.link, d.token, nil, d.headers...)
		for r.Status == 429 {
			time.Sleep(200 * time.Millisecond)
			r = d.s.do("GET", d.link, d.token, nil, d.headers...)
		}
		if r.Status != 200 {
			t.Errorf("GET %s: %d %s", d.link, r.Status, r.Body)
			return nil
		}
		d.pages++
		m := r.JSON(t)
		for _, v := range m["value"].([]any) {
			it := v.(map[string]any)
			items = append(items, it)
			id := it["id"].(string)
			if _, removed := it["@removed"]; removed {
				delete(d.view, id)
				continue
			}
			cur := d.view[id]
			if cur == nil {
				cur = map[string]any{}
				d.view[id] = cur
			}
			for k, v := range it {
				cur[k] = v
			}
		}
		if next, ok := m["@odata.nextLink"].(string); ok {
			if !strings.Contains(next, "$skiptoken=") {
				t.Errorf("nextLink without $skiptoken: %s", next)
			}
			d.link = next
			continue
		}
		dl, ok := m["@odata.deltaLink"].(string)
		if !ok || !strings.Contains(dl, "$deltatoken=") {
			t.Errorf("last page without deltaLink: %s", r.Body)
			return items
		}
		d.link = dl
		d.rounds++
		return items
	}
}

func byID(items []map[string]any) map[string]map[string]any {
	m := map[string]map[string]any{}
	for _, it := range items {
		m[it["id"].(string)] = it
	}
	return m
}

// liveUsers is the directory's state from the database: id -> displayName,
// jobTitle of every live user of the stack's tenant.
func (s *stack) liveUsers(t *testing.T) map[string][2]any {
	t.Helper()
	rows, err := s.db.store.DB().Query(`SELECT id::text, display_name, job_title FROM users
		WHERE tenant_id = $1 AND deleted_at IS NULL`, s.tenant)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]any{}
	for rows.Next() {
		var id string
		var dn, jt *string
		if err := rows.Scan(&id, &dn, &jt); err != nil {
			t.Fatal(err)
		}
		var a, b any
		if dn != nil {
			a = *dn
		}
		if jt != nil {
			b = *jt
		}
		out[id] = [2]any{a, b}
	}
	return out
}

func TestUsersDeltaRoundTrip(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	reader := s.appToken("User.Read.All")
	var ids []string
	for i := range 4 {
		ids = append(ids, s.create(admin, workforceUser(fmt.Sprintf("delta%d@contoso.com", i)))["id"].(string))
	}

	// Initial round, two users a page: current live users only.
	d := newDeltaClient(s, reader, "", "Prefer", "odata.maxpagesize=2")
	items := d.round(t)
	live := s.liveUsers(t)
	if len(items) != len(live) || len(d.view) != len(live) || d.pages < 2 {
		t.Fatalf("initial round: %d items over %d pages, %d live users", len(items), d.pages, len(live))
	}
	r := s.do("GET", "/v1.0/users/delta", reader, nil)
	m := r.JSON(t)
	if m["@odata.context"] != s.srv.URL+"/v1.0/$metadata#users" || r.Header.Get("Preference-Applied") != "" {
		t.Errorf("context %v, Preference-Applied %q", m["@odata.context"], r.Header.Get("Preference-Applied"))
	}

	// Update, soft delete, purge, create.
	if r := s.do("PATCH", "/v1.0/users/"+ids[0], admin, map[string]any{"jobTitle": "Chief"}); r.Status != 204 {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1.0/users/"+ids[1], admin, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1.0/users/"+ids[2], admin, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1.0/directory/deletedItems/"+ids[2], admin, nil); r.Status != 204 {
		t.Fatalf("purge: %d %s", r.Status, r.Body)
	}
	fresh := s.create(admin, workforceUser("delta-new@contoso.com"))["id"].(string)
	got := byID(d.round(t))
	if len(got) != 4 {
		t.Fatalf("change round: %v", got)
	}
	if u := got[ids[0]]; u["jobTitle"] != "Chief" || u["userPrincipalName"] != "delta0@contoso.com" {
		t.Errorf("updated user (default: all default properties): %v", u)
	}
	if rm, _ := got[ids[1]]["@removed"].(map[string]any); rm["reason"] != "changed" || len(got[ids[1]]) != 2 {
		t.Errorf("soft-deleted user: %v", got[ids[1]])
	}
	if rm, _ := got[ids[2]]["@removed"].(map[string]any); rm["reason"] != "deleted" || len(got[ids[2]]) != 2 {
		t.Errorf("purged user: %v", got[ids[2]])
	}
	if u := got[fresh]; u["userPrincipalName"] != "delta-new@contoso.com" {
		t.Errorf("created user: %v", u)
	}
	if again := d.round(t); len(again) != 0 {
		t.Errorf("round without changes: %v", again)
	}

	// Prefer: return=minimal: only what changed, changes to null included.
	if r := s.do("PATCH", "/v1.0/users/"+ids[0], admin, map[string]any{"jobTitle": nil, "officeLocation": "B2"}); r.Status != 204 {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	// A change to a property outside the selection (default set) is not reported.
	if r := s.do("PATCH", "/v1.0/users/"+ids[3], admin, map[string]any{"city": "Oslo"}); r.Status != 204 {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	d.headers = []string{"Prefer", "return=minimal"}
	got = byID(d.round(t))
	if len(got) != 1 || !slices.Equal(keys(got[ids[0]]), []string{"id", "jobTitle", "officeLocation"}) ||
		got[ids[0]]["jobTitle"] != nil || got[ids[0]]["officeLocation"] != "B2" {
		t.Fatalf("minimal round: %v", got)
	}

	// $select and $filter on ids, kept in the tokens.
	q := "?$select=displayName,jobTitle&$filter=" + url.QueryEscape("id eq '"+ids[0]+"' or id eq '"+fresh+"'")
	f := newDeltaClient(s, reader, q)
	r = s.do("GET", f.link, reader, nil)
	if m := r.JSON(t); m["@odata.context"] != s.srv.URL+"/v1.0/$metadata#users(displayName,jobTitle)" {
		t.Errorf("context with $select: %v", m["@odata.context"])
	}
	got = byID(f.round(t))
	if len(got) != 2 || !slices.Equal(keys(got[fresh]), []string{"displayName", "id", "jobTitle"}) {
		t.Fatalf("filtered initial round: %v", got)
	}
	if strings.Contains(f.link, "select") || strings.Contains(f.link, "filter") {
		t.Errorf("deltaLink repeats the options: %s", f.link)
	}
	s.do("PATCH", "/v1.0/users/"+ids[0], admin, map[string]any{"displayName": "Renamed"})
	s.do("PATCH", "/v1.0/users/"+ids[3], admin, map[string]any{"displayName": "Not in filter"})
	s.do("PATCH", "/v1.0/users/"+fresh, admin, map[string]any{"mobilePhone": "+1 555 0100"}) // not selected
	got = byID(f.round(t))
	if len(got) != 1 || got[ids[0]]["displayName"] != "Renamed" || len(got[ids[0]]) != 3 {
		t.Fatalf("filtered change round: %v", got)
	}
	// The options cannot change mid-sync.
	if r := s.do("GET", f.link+"&$select=displayName", reader, nil); r.Status != 400 {
		t.Errorf("changed $select with a deltatoken: %d %s", r.Status, r.Body)
	}

	// $deltatoken=latest: nothing now, changes from now on.
	l := newDeltaClient(s, reader, "?$deltaToken=latest")
	if items := l.round(t); len(items) != 0 {
		t.Fatalf("latest: %v", items)
	}
	s.do("PATCH", "/v1.0/users/"+ids[3], admin, map[string]any{"jobTitle": "After latest"})
	if got := byID(l.round(t)); len(got) != 1 || got[ids[3]]["jobTitle"] != "After latest" {
		t.Fatalf("round after latest: %v", got)
	}

	// Tampered, misplaced and foreign tokens: 400.
	u, _ := url.Parse(l.link)
	tok := u.Query().Get("$deltatoken")
	flip := []byte(tok)
	flip[len(flip)/2] ^= 1
	if flip[len(flip)/2] == '-' || flip[len(flip)/2] == '_' {
		flip[len(flip)/2] = 'A'
	}
	for _, bad := range []string{
		"/v1.0/users/delta?$deltatoken=" + string(flip),
		"/v1.0/users/delta?$skiptoken=" + tok,
		"/v1.0/users/delta?$deltatoken=garbage",
		"/v1.0/users/delta?$top=5",
		"/v1.0/users/delta?$filter=" + url.QueryEscape("displayName eq 'x'"),
		"/v1.0/users/delta?$filter=" + url.QueryEscape("id eq 'not-a-guid'"),
	} {
		if r := s.do("GET", bad, reader, nil); r.Status != 400 {
			t.Errorf("GET %s: %d %s", bad, r.Status, r.Body)
		}
	}
	other := s.newTenant("delta-other.example")
	if r := s.do("GET", "/v1.0/users/delta?$deltatoken="+tok, s.appTokenIn(other, "User.Read.All"), nil); r.Status != 400 {
		t.Errorf("token of another tenant: %d %s", r.Status, r.Body)
	}
	// Listing permission needed.
	if r := s.do("GET", "/v1.0/users/delta", s.appToken(), nil); r.Status != 403 {
		t.Errorf("without permission: %d %s", r.Status, r.Body)
	}

	// Expired: the change log was pruned past the token.
	s.do("PATCH", "/v1.0/users/"+ids[3], admin, map[string]any{"jobTitle": "Pruned"})
	if _, err := s.db.store.PruneUserChanges(context.Background(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	r = s.do("GET", l.link, reader, nil)
	if r.Status != 410 || r.ErrorCode(t) != "syncStateNotFound" {
		t.Fatalf("expired token: %d %s", r.Status, r.Body)
	}
}

// TestUsersDeltaStress runs writers (API creates, updates, soft deletes,
// restores and purges, plus raw transactions that commit late on purpose
// or roll back) against two readers following delta links in a loop, one
// with all default properties and one with Prefer: return=minimal on a
// $select. After the writers stop and one final round, each reader's
// replayed view must be exactly the directory.
func TestUsersDeltaStress(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test")
	}
	s := newStack(t)
	const (
		apiWriters  = 6
		lateWriters = 3
		duration    = 6 * time.Second
		seed        = 20
	)
	admin := s.appToken("User.ReadWrite.All")
	var mu sync.Mutex
	var known []string // every id ever created
	for i := range seed {
		known = append(known, s.create(admin, workforceUser(fmt.Sprintf("seed%d@contoso.com", i)))["id"].(string))
	}
	pick := func(r *rand.Rand) string {
		mu.Lock()
		defer mu.Unlock()
		return known[r.IntN(len(known))]
	}
	var deleted []string // soft-deleted by a writer, to restore or purge
	pickDeleted := func(r *rand.Rand) string {
		mu.Lock()
		defer mu.Unlock()
		if len(deleted) == 0 {
			return known[r.IntN(len(known))]
		}
		i := r.IntN(len(deleted))
		id := deleted[i]
		deleted = slices.Delete(deleted, i, i+1)
		return id
	}
	// Customers signing in with a federated identity: no password to hash,
	// so the writers are not bound by argon2.
	federated := func(w, n int) map[string]any {
		return map[string]any{"displayName": fmt.Sprintf("c %d %d", w, n), "identities": []any{map[string]any{
			"signInType": "federated", "issuer": "google.com", "issuerAssignedId": fmt.Sprintf("g-%d-%d", w, n)}}}
	}

	full := newDeltaClient(s, s.appToken("User.Read.All"), "", "Prefer", "odata.maxpagesize=7")
	minimal := newDeltaClient(s, s.appToken("User.Read.All"), "?$select=displayName,jobTitle",
		"Prefer", "return=minimal, odata.maxpagesize=5")
	full.round(t)
	minimal.round(t)

	var ops [8]atomic.Int64 // create, update, delete, restore, purge, late commit, late rollback, conflicts/404s
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range apiWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := s.appToken("User.ReadWrite.All")
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var res *response
				switch x := r.IntN(100); {
				case x < 25:
					res = s.do("POST", "/v1.0/users", tok, federated(w, n))
					if res.Status == 201 {
						mu.Lock()
						known = append(known, res.JSON(t)["id"].(string))
						mu.Unlock()
						ops[0].Add(1)
						continue
					}
				case x < 70:
					res = s.do("PATCH", "/v1.0/users/"+pick(r), tok, map[string]any{
						"displayName": fmt.Sprintf("dn %d %d", w, n), "jobTitle": []any{nil, fmt.Sprintf("jt %d", n)}[r.IntN(2)]})
					if res.Status == 204 {
						ops[1].Add(1)
						continue
					}
				case x < 82:
					id := pick(r)
					if res = s.do("DELETE", "/v1.0/users/"+id, tok, nil); res.Status == 204 {
						mu.Lock()
						deleted = append(deleted, id)
						mu.Unlock()
						ops[2].Add(1)
						continue
					}
				case x < 91:
					if res = s.do("POST", "/v1.0/directory/deletedItems/"+pickDeleted(r)+"/restore", tok, nil); res.Status == 200 {
						ops[3].Add(1)
						continue
					}
				default:
					if res = s.do("DELETE", "/v1.0/directory/deletedItems/"+pickDeleted(r), tok, nil); res.Status == 204 {
						ops[4].Add(1)
						continue
					}
				}
				switch res.Status {
				case 400, 404, 409, 412, 429:
					ops[7].Add(1) // target gone, not deleted, name taken, throttled
				default:
					t.Errorf("writer: %d %s", res.Status, res.Body)
					return
				}
			}
		}()
	}
	// Late committers: a raw transaction that updates a user, sleeps while
	// other writers commit and readers advance, then commits or rolls back.
	for w := range lateWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(100+w), 9))
			db := s.db.store.DB()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				tx, err := db.BeginTx(context.Background(), nil)
				if err != nil {
					t.Error(err)
					return
				}
				_, err = tx.Exec(`UPDATE users SET job_title = $2, version = version + 1 WHERE tenant_id = $3 AND id = $1`,
					pick(r), fmt.Sprintf("late %d %d", w, n), s.tenant)
				if err == nil {
					_, err = tx.Exec(`SELECT pg_sleep($1)`, 0.05+0.3*r.Float64())
				}
				if err != nil {
					_ = tx.Rollback()
					t.Error(err)
					return
				}
				if r.IntN(5) == 0 {
					_ = tx.Rollback()
					ops[6].Add(1)
				} else if err := tx.Commit(); err != nil {
					t.Error(err)
					return
				} else {
					ops[5].Add(1)
				}
			}
		}()
	}
	// The readers follow their deltaLinks in a loop meanwhile.
	var rwg sync.WaitGroup
	for _, d := range []*deltaClient{full, minimal} {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d.round(t)
			}
		}()
	}
	time.Sleep(duration)
	close(stop)
	wg.Wait()
	rwg.Wait()
	// One final round, with no writer left.
	full.round(t)
	minimal.round(t)

	want := s.liveUsers(t)
	for name, d := range map[string]*deltaClient{"full": full, "minimal": minimal} {
		missing, phantom, wrong := 0, 0, 0
		for id, w := range want {
			v, ok := d.view[id]
			switch {
			case !ok:
				missing++
			case v["displayName"] != w[0] || v["jobTitle"] != w[1]:
				wrong++
				if wrong <= 3 {
					t.Errorf("%s reader: %s is %v/%v, directory has %v/%v", name, id, v["displayName"], v["jobTitle"], w[0], w[1])
				}
			}
		}
		for id := range d.view {
			if _, ok := want[id]; !ok {
				phantom++
			}
		}
		if missing+phantom+wrong > 0 {
			t.Errorf("%s reader: %d missing, %d phantom, %d wrong of %d live users", name, missing, phantom, wrong, len(want))
		}
		t.Logf("%s reader: %d rounds, %d pages, %d users", name, d.rounds, d.pages, len(d.view))
	}
	t.Logf("writers: %d API + %d late-commit for %v: %d creates, %d updates, %d soft deletes, %d restores, %d purges, %d late commits, %d late rollbacks, %d refused (gone/conflict)",
		apiWriters, lateWriters, duration, ops[0].Load(), ops[1].Load(), ops[2].Load(), ops[3].Load(), ops[4].Load(), ops[5].Load(), ops[6].Load(), ops[7].Load())
	if ops[0].Load() == 0 || ops[1].Load() == 0 || ops[2].Load() == 0 || ops[3].Load() == 0 || ops[4].Load() == 0 || ops[5].Load() == 0 {
		t.Errorf("the stress test did not exercise every kind of write")
	}
}
