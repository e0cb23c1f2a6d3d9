package api

import (
	"context"
	"encoding/json"

	"github.com/graphdir/graphdir/internal/directory"
)

// $expand on applications: extensionProperties, the one navigation
// property of application graphdir serves (Graph's owners,
// federatedIdentityCredentials, ... are not in its model, and so not in
// $metadata: naming them is a 400 from parseExpand).

// expandApplications loads what names expands on apps (one query for the
// whole page) and returns the writer that adds it to each application's
// JSON (its selected properties, already written).
func (s *server) expandApplications(ctx context.Context, names []string, apps []*directory.Application) (func(*directory.Application, json.RawMessage) json.RawMessage, error) {
	if len(names) == 0 {
		return func(_ *directory.Application, b json.RawMessage) json.RawMessage { return b }, nil
	}
	defs, err := s.apps.ExtensionPropertiesOf(ctx, apps)
	if err != nil {
		return nil, err
	}
	return func(a *directory.Application, b json.RawMessage) json.RawMessage {
		return closeWith(b, func(b []byte) []byte {
			for _, n := range names { // only extensionProperties parses
				v := []byte{'['}
				for i, d := range defs[a.ID] {
					if i > 0 {
						v = append(v, ',')
					}
					v = append(v, marshalJSON(toExtensionPropertyJSON(d))...)
				}
				b = appendMember(b, n, append(v, ']'))
			}
			return b
		})
	}, nil
}
