package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// A PATCH's audit event names its target (resolved from the key the request
// used) and carries values only on success, whatever statement of the
// write's transaction resolves it: a stale If-Match, a conflict (which
// aborts the transaction), an unknown user, and a success with
// identities.
func TestAuditPatchFailuresNameTheirTarget(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All", "User.ManageIdentities.All")
	reader := s.appToken("AuditLog.Read.All")

	r := s.do("POST", "/v1.0/users", admin, workforceUser("fail-a@contoso.com"))
	s.mustStatus(r, 201, "create a")
	idA := r.JSON(t)["id"].(string)
	s.mustStatus(s.do("POST", "/v1.0/users", admin, workforceUser("fail-b@contoso.com")), 201, "create b")

	failure := func(r *response, what string) map[string]any {
		t.Helper()
		evs := s.auditsFor(reader, r.Header.Get("request-id"))
		if len(evs) != 1 || evs[0]["result"] != "failure" || evs[0]["activityDisplayName"] != "Update user" {
			t.Fatalf("%s: events %v", what, evs)
		}
		for name, m := range modified(t, evs[0]) {
			if m["oldValue"] != nil || m["newValue"] != nil {
				t.Errorf("%s: failure shows values of %s: %v", what, name, m)
			}
		}
		return target(t, evs[0])
	}

	r = s.do("PATCH", "/v1.0/users/fail-a@contoso.com", admin, map[string]any{"city": "Oslo"}, "If-Match", `W/"7"`)
	s.mustStatus(r, 412, "stale If-Match")
	if tg := failure(r, "stale If-Match"); tg["id"] != idA || tg["userPrincipalName"] != "fail-a@contoso.com" {
		t.Errorf("stale If-Match target %v", tg)
	}

	r = s.do("PATCH", "/v1.0/users/fail-a@contoso.com", admin, map[string]any{"userPrincipalName": "fail-b@contoso.com", "city": "Oslo"})
	s.mustStatus(r, 400, "upn taken")
	if tg := failure(r, "upn taken"); tg["id"] != idA || tg["userPrincipalName"] != "fail-a@contoso.com" {
		t.Errorf("conflict target %v", tg)
	}

	// By id: the key the event was begun with.
	r = s.do("PATCH", "/v1.0/users/"+idA, admin, map[string]any{"userPrincipalName": "fail-b@contoso.com", "city": "Oslo"})
	s.mustStatus(r, 400, "upn taken, by id")
	if tg := failure(r, "upn taken, by id"); tg["id"] != idA || tg["userPrincipalName"] != "fail-a@contoso.com" {
		t.Errorf("conflict by id target %v", tg)
	}

	r = s.do("PATCH", "/v1.0/users/nobody@contoso.com", admin, map[string]any{"city": "Oslo"})
	s.mustStatus(r, 404, "unknown user")
	if tg := failure(r, "unknown user"); tg["id"] != "" || tg["userPrincipalName"] != "nobody@contoso.com" {
		t.Errorf("unknown user target %v", tg)
	}

	// Success by UPN without any property whose values are shown.
	r = s.do("PATCH", "/v1.0/users/fail-a@contoso.com", admin, map[string]any{"mail": "fail-a@example.com"})
	s.mustStatus(r, 204, "patch mail")
	if tg := target(t, s.oneAudit(reader, r, "Update user", "success", "")); tg["id"] != idA || tg["userPrincipalName"] != "fail-a@contoso.com" {
		t.Errorf("mail target %v", tg)
	}

	// Success by UPN, identities replaced in the same transaction: old and
	// new values of the ordinary properties.
	r = s.do("PATCH", "/v1.0/users/fail-a@contoso.com", admin, map[string]any{"city": "Oslo", "jobTitle": "CFO",
		"identities": []any{map[string]any{"signInType": "emailAddress", "issuer": "contoso.com", "issuerAssignedId": "a@example.com"}}})
	s.mustStatus(r, 204, "patch")
	ev := s.oneAudit(reader, r, "Update user", "success", "")
	if tg := target(t, ev); tg["id"] != idA || tg["userPrincipalName"] != "fail-a@contoso.com" {
		t.Errorf("success target %v", tg)
	}
	m := modified(t, ev)
	if m["city"]["oldValue"] != `[]` || m["city"]["newValue"] != `["Oslo"]` || m["jobTitle"]["newValue"] != `["CFO"]` {
		t.Errorf("success values %v", m)
	}
}

// Concurrent PATCHes of one user: each event's old value is the new value
// of the event before it (the row is locked when its old values are read),
// so the events form one chain from the first value to the last.
func TestAuditConcurrentPatchesChainValues(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	reader := s.appToken("AuditLog.Read.All")
	r := s.do("POST", "/v1.0/users", admin, workforceUser("chain@contoso.com"))
	s.mustStatus(r, 201, "create")
	id := r.JSON(t)["id"].(string)

	const n = 16
	ids := make([]string, n)
	status := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := id
			if i%2 == 1 {
				key = "chain@contoso.com"
			}
			r := s.do("PATCH", "/v1.0/users/"+key, admin, map[string]any{"city": fmt.Sprintf("c%d", i)})
			ids[i], status[i] = r.Header.Get("request-id"), r.Status
		}()
	}
	wg.Wait()
	next := map[string]string{} // old value -> new value
	for i := range n {
		if status[i] != 204 {
			t.Fatalf("patch %d: %d", i, status[i])
		}
		evs := s.auditsFor(reader, ids[i])
		if len(evs) != 1 || target(t, evs[0])["id"] != id {
			t.Fatalf("patch %d: events %v", i, evs)
		}
		m := modified(t, evs[0])["city"]
		old, _ := m["oldValue"].(string)
		nv, _ := m["newValue"].(string)
		if _, dup := next[old]; dup || nv == "" {
			t.Fatalf("patch %d: old value %q seen twice or no new value (%v)", i, old, m)
		}
		next[old] = nv
	}
	v, steps := "[]", 0
	for ; steps <= n; steps++ {
		nv, ok := next[v]
		if !ok {
			break
		}
		v = nv
	}
	if steps != n {
		t.Fatalf("the events chain %d of %d values: %v", steps, n, next)
	}
}

// A PATCH whose UPDATE fails with an error that aborts its transaction
// (here a trigger's) still names its target in the failure's event.
func TestAuditPatchAbortedNamesTarget(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	reader := s.appToken("AuditLog.Read.All")
	r := s.do("POST", "/v1.0/users", admin, workforceUser("abort@contoso.com"))
	s.mustStatus(r, 201, "create")
	id := r.JSON(t)["id"].(string)

	db := s.db.store.DB()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE FUNCTION test_refuse_city() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.city = 'Refused' THEN RAISE EXCEPTION 'refused by test'; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER test_refuse_city BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION test_refuse_city()`); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{id, "abort@contoso.com"} {
		r = s.do("PATCH", "/v1.0/users/"+key, admin, map[string]any{"city": "Refused"})
		if r.Status < 500 {
			t.Fatalf("patch by %s: %d %s", key, r.Status, r.Body)
		}
		evs := s.auditsFor(reader, r.Header.Get("request-id"))
		if len(evs) != 1 || evs[0]["result"] != "failure" {
			t.Fatalf("patch by %s: events %v", key, evs)
		}
		if tg := target(t, evs[0]); tg["id"] != id || tg["userPrincipalName"] != "abort@contoso.com" {
			t.Errorf("patch by %s: target %v", key, tg)
		}
	}
}
