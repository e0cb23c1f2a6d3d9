package postgres

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

func TestDecodeIdentitiesMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`[]`,
		`[{"signInType" : "emailAddress", "issuer" : "contoso.com", "issuerAssignedId" : "a@b.c"}]`,
		`[{"signInType" : "userName", "issuer" : "x", "issuerAssignedId" : "y"}, {"signInType" : "federated", "issuer" : "facebook.com", "issuerAssignedId" : "客户"}]`,
		`[{"signInType" : "userName", "issuer" : "x\"q", "issuerAssignedId" : "y\u00e9"}]`, // escapes: slow path
		`[{"issuer" : "x", "signInType" : "userName", "issuerAssignedId" : "y"}]`,          // other order: slow path
		`[{"signInType":"userName","issuer":"x","issuerAssignedId":"y"}]`,                  // other layout: slow path
	} {
		var want, got []directory.Identity
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		if err := decodeIdentities([]byte(in), &got); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", in, got, want)
		}
	}
	var got []directory.Identity
	if err := decodeIdentities([]byte(`[{"signInType" : "a", "issuer" : "b"`), &got); err == nil {
		t.Error("truncated input decoded")
	}
}
