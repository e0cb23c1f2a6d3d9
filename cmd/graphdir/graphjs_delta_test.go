package main

import (
	"encoding/json"
	"testing"
)

// TestGraphJavaScriptClientDelta runs testdata/graphjs/delta.mjs: a sync
// job written with the official JavaScript client (delta rounds through
// PageIterator to the delta link: first round in pages, changes with
// @removed, a quiet round) and the deleted-items calls (list, get,
// restore), unmodified against this server.
func TestGraphJavaScriptClientDelta(t *testing.T) {
	s := newStack(t)
	token := s.appToken("User.ReadWrite.All", "User.DeleteRestore.All")
	last := runGraphJS(t, s, "delta.mjs", s.srv.URL, token, s.domain)
	var res struct {
		FirstRound int    `json:"firstRound"`
		Changes    int    `json:"changes"`
		QuietRound bool   `json:"quietRound"`
		Restored   string `json:"restored"`
	}
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		t.Fatalf("unexpected client output: %s", last)
	}
	if res.FirstRound != 3 || res.Changes != 3 || !res.QuietRound || res.Restored == "" {
		t.Fatalf("client results: %+v", res)
	}
}
