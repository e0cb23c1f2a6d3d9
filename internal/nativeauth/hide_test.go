package nativeauth

import (
	"context"
	"errors"
	"testing"
)

// The decision to hide user_not_found is asked per request with the
// request's tenant: two tenants of one Server answer differently, a
// failed lookup is a server error (never a silent reveal), and no
// function at all means Entra's behaviour (reveal).
func TestHideUserNotFound_PerTenant(t *testing.T) {
	ctx := context.Background()
	var asked []string
	s := &Server{d: Deps{HideUserNotFound: func(_ context.Context, tenantID string) (bool, error) {
		asked = append(asked, tenantID)
		switch tenantID {
		case "hiding":
			return true, nil
		case "broken":
			return true, errors.New("database down")
		}
		return false, nil
	}}}
	if hide, e := s.hideUnknown(ctx, "hiding"); e != nil || !hide {
		t.Errorf("hiding tenant: %v %v", hide, e)
	}
	if hide, e := s.hideUnknown(ctx, "revealing"); e != nil || hide {
		t.Errorf("revealing tenant: %v %v", hide, e)
	}
	if hide, e := s.hideUnknown(ctx, "broken"); e == nil || e.Code != CodeServerError || hide {
		t.Errorf("failed lookup: %v %v", hide, e)
	}
	if len(asked) != 3 || asked[0] != "hiding" || asked[1] != "revealing" {
		t.Errorf("asked %v", asked)
	}
	if hide, e := (&Server{}).hideUnknown(ctx, "any"); e != nil || hide {
		t.Errorf("no decision function: %v %v", hide, e)
	}
}
