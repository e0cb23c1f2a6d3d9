package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/jsonstrict"
	"github.com/graphdir/graphdir/internal/textlimit"
)

// PasswordChanger serves POST /v1.0/me/changePassword. KindBadRequest (app token), KindForbidden,
// KindUnauthenticated with Claims (step-up), KindInvalid (wrong current
// password, weak new one), KindTooManyRequests.
type PasswordChanger interface {
	ChangePassword(ctx context.Context, currentPassword, newPassword string) error
}

// handleChangePassword serves POST /v1.0/me/changePassword: a strict body
// of exactly currentPassword and newPassword (both strings), 204 without a
// body. Error messages never repeat either value.
func (s *server) handleChangePassword(c *gin.Context) {
	if _, err := parseQuery(c.Request.URL.RawQuery, routeOptions(c)); err != nil {
		s.writeError(c, err)
		return
	}
	data, err := s.readBody(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	current, next, err := decodeChangePassword(data)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.dir.ChangePassword(c.Request.Context(), current, next); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// decodeChangePassword reads {"currentPassword": "...", "newPassword": "..."}:
// exact keys, each once, both required strings.
func decodeChangePassword(data []byte) (string, string, error) {
	f, err := jsonstrict.Fields(data, "currentPassword", "newPassword")
	if err != nil {
		var je *jsonstrict.Error
		if errors.As(err, &je) && je.Key != "" {
			return "", "", (&directory.Error{Kind: directory.KindInvalid,
				Message: "Property '" + textlimit.Clip(je.Key, maxEchoed) + "' is not allowed here: the body takes only currentPassword and newPassword."}).WithTarget(textlimit.Clip(je.Key, maxEchoed))
		}
		// The parser's message may quote the body; the body holds passwords.
		return "", "", directory.Errorf(directory.KindBadRequest, "The request body must be a JSON object with currentPassword and newPassword.")
	}
	var out [2]string
	for i, name := range []string{"currentPassword", "newPassword"} {
		raw, ok := f[name]
		if !ok || jsonstrict.IsNull(raw) {
			return "", "", (&directory.Error{Kind: directory.KindInvalid, Message: "Property '" + name + "' is required."}).WithTarget(name)
		}
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return "", "", (&directory.Error{Kind: directory.KindInvalid, Message: "Invalid value for property '" + name + "': expected Edm.String."}).WithTarget(name)
		}
	}
	return out[0], out[1], nil
}
