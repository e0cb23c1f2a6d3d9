package issuer

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/graphdir/graphdir/internal/directory"
)

// IDTokenHint is what an id_token_hint tells the end-session endpoint.
type IDTokenHint struct {
	ClientID  string // aud
	SessionID string // sid
	UserID    string // sub
}

// VerifyIDTokenHint checks an id_token_hint (RP-Initiated Logout 1.0 §2):
// an ID token this issuer signed for the tenant (signature, iss, typ JWT,
// a string aud). Expiry is not checked: the specification lets a client
// log out with an expired ID token. Any failure is KindUnauthenticated.
func (i *Issuer) VerifyIDTokenHint(ctx context.Context, tenantID, hint string) (*IDTokenHint, error) {
	bad := func() (*IDTokenHint, error) {
		return nil, directory.Errorf(directory.KindUnauthenticated, "The id_token_hint is not a valid ID token of this issuer.")
	}
	if len(hint) > 16<<10 || strings.Count(hint, ".") != 2 {
		return bad()
	}
	msg, err := jws.Parse([]byte(hint))
	if err != nil || len(msg.Signatures()) != 1 {
		return bad()
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	if hdr.Type() != "JWT" || hdr.Algorithm().String() != Algorithm {
		return bad()
	}
	set, err := i.PublicKeys(ctx, tenantID)
	if err != nil {
		return bad()
	}
	payload, err := jws.Verify([]byte(hint), jws.WithKeySet(set, jws.WithRequireKid(true)))
	if err != nil {
		return bad()
	}
	var c struct {
		Iss   string `json:"iss"`
		Aud   any    `json:"aud"`
		Sid   string `json:"sid"`
		Sub   string `json:"sub"`
		Idtyp string `json:"idtyp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Iss != i.IssuerURL(tenantID) {
		return bad()
	}
	aud, ok := c.Aud.(string)
	if !ok || aud == "" {
		return bad()
	}
	return &IDTokenHint{ClientID: aud, SessionID: c.Sid, UserID: c.Sub}, nil
}
