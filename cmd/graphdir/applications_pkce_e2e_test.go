package main

import (
	"net/http"
	"testing"
)

// TestApplicationSignIn_PKCERequiredSwitch: graphdirPkceRequired is true
// until a PATCH turns it off, audited, never null, a boolean only.
func TestApplicationSignIn_PKCERequiredSwitch(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("Application.ReadWrite.All")
	reader := s.appToken("AuditLog.Read.All")
	res := s.do("POST", "/v1.0/applications", admin, map[string]any{
		"displayName": "legacy portal", "web": map[string]any{"redirectUris": []string{"https://legacy.example/cb"}}})
	if res.Status != http.StatusCreated || res.JSON(t)["graphdirPkceRequired"] != true {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	id := res.JSON(t)["id"].(string)
	res = s.do("PATCH", "/v1.0/applications/"+id, admin, map[string]any{"graphdirPkceRequired": false})
	if res.Status != http.StatusNoContent {
		t.Fatalf("patch: %d %s", res.Status, res.Body)
	}
	if _, ok := modified(t, s.oneAudit(reader, res, "Update application", "success", ""))["graphdirPkceRequired"]; !ok {
		t.Fatal("audit of the switch does not name graphdirPkceRequired")
	}
	// A PATCH of web leaves the switch as it is.
	res = s.do("PATCH", "/v1.0/applications/"+id, admin, map[string]any{"web": map[string]any{"redirectUris": []string{"https://legacy.example/cb2"}}})
	if res.Status != http.StatusNoContent {
		t.Fatalf("patch web: %d %s", res.Status, res.Body)
	}
	res = s.do("GET", "/v1.0/applications/"+id+"?$select=graphdirPkceRequired", admin, nil)
	if res.Status != http.StatusOK || res.JSON(t)["graphdirPkceRequired"] != false {
		t.Fatalf("get: %d %s", res.Status, res.Body)
	}
	for _, bad := range []any{nil, "false", 0} {
		badRequestNaming(t, s.do("PATCH", "/v1.0/applications/"+id, admin, map[string]any{"graphdirPkceRequired": bad}), "graphdirPkceRequired")
	}
}
