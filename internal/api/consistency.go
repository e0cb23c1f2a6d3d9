package api

import (
	"context"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/consistency"
)

// eventualContext is the request's context, marked when the client sent
// Graph's `ConsistencyLevel: eventual`: it accepts slightly stale results,
// so the store may answer from a read replica. Without the header the read
// goes to the primary and sees the caller's own writes.
func eventualContext(c *gin.Context) context.Context {
	ctx := c.Request.Context()
	if strings.EqualFold(strings.TrimSpace(c.GetHeader("ConsistencyLevel")), "eventual") {
		return consistency.WithEventual(ctx)
	}
	return ctx
}
