package main

import (
	"encoding/json"
	"testing"
)

// TestGraphJavaScriptClient drives create, get, update, list (PageIterator)
// and delete with the official @microsoft/microsoft-graph-client, installed
// from npm at the version pinned in testdata/graphjs/package-lock.json and
// pointed, unmodified, at this server over HTTPS.
func TestGraphJavaScriptClient(t *testing.T) {
	s := newStack(t)
	token := s.appToken("User.ReadWrite.All")
	last := runGraphJS(t, s, "crud.mjs", s.srv.URL, token, s.domain)
	var res struct {
		Created  string `json:"created"`
		Listed   int    `json:"listed"`
		Conflict string `json:"conflict"`
		Deleted  bool   `json:"deleted"`
	}
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		t.Fatalf("unexpected client output: %s", last)
	}
	if res.Created == "" || res.Listed < 2 || res.Conflict != "Request_BadRequest" || !res.Deleted {
		t.Fatalf("client results: %+v", res)
	}
	if s.snapshot() != "" && countUsers(t, s) != 0 {
		t.Errorf("the client deleted its users, yet %d remain", countUsers(t, s))
	}
}

func countUsers(t *testing.T, s *stack) int {
	var n int
	// Live users: a deleted one waits in deleted items.
	if err := s.db.store.DB().QueryRow(`SELECT count(*) FROM users WHERE deleted_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
