package directory

import "testing"

func TestImportRejectString(t *testing.T) {
	if got := (ImportReject{Line: 4, Property: "mail", Reason: "bad."}).String(); got != "line 4: property mail: bad." {
		t.Errorf("got %q", got)
	}
	if got := (ImportReject{Line: 4, Reason: "bad."}).String(); got != "line 4: bad." {
		t.Errorf("got %q", got)
	}
}
