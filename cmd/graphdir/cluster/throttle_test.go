//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// throttleApp is the client id of the throttling scenario's token: a
// bucket no other scenario touched.
const throttleApp = "7d0c1a7e-5b1e-4c51-9a39-0c1a57e70000"

// throttleAcrossInstances restarts the instances with a small
// resource-unit bucket and a window so long that refill during the run is
// negligible, sends three times the limit round-robin straight to the
// instances, and expects the limit admitted within ±20%: Graph's limit is
// per (tenant, application), not per server. Buckets kept per instance
// admit three times the limit.
func (c *cluster) throttleAcrossInstances(t *testing.T, ctx context.Context, userID string) {
	const (
		limit = 120 // resource units; a GET of one user costs 1
		sent  = 3 * limit
	)
	var wg sync.WaitGroup
	for _, in := range c.insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.stop(syscall.SIGTERM, shutdownDrain+shutdownGrace+5*time.Second)
		}()
	}
	wg.Wait()
	c.startInstances(t, ctx, []string{"GRAPHDIR_THROTTLE=true", "GRAPHDIR_THROTTLE_RESOURCE_UNITS=" + strconv.Itoa(limit),
		"GRAPHDIR_THROTTLE_WINDOW=1h"})
	token := c.cli(t, ctx, "token", "--roles", "User.Read.All", "--app-id", throttleApp)

	type tally struct{ admitted, throttled, other atomic.Int64 }
	per := make([]*tally, len(c.insts))
	for i := range per {
		per[i] = &tally{}
	}
	var next atomic.Int64
	client := newClient(6)
	began := time.Now()
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= sent {
					return
				}
				k := int(i) % len(c.insts)
				r, err := roundTrip(client, newRequest("GET", c.insts[k].url()+"/v1.0/users/"+userID, token, nil))
				switch {
				case err == nil && r.Status == http.StatusOK:
					per[k].admitted.Add(1)
				case err == nil && r.Status == http.StatusTooManyRequests:
					per[k].throttled.Add(1)
				default:
					per[k].other.Add(1)
					t.Errorf("throttled GET on %s: %v %v", c.insts[k].name, err, r)
				}
			}
		}()
	}
	wg.Wait()
	var admitted int64
	var split string
	for k, p := range per {
		admitted += p.admitted.Load()
		split += fmt.Sprintf(" %s=%d/%d", c.insts[k].name, p.admitted.Load(), p.admitted.Load()+p.throttled.Load()+p.other.Load())
	}
	ratio := float64(admitted) / limit
	t.Logf("throttling: limit %d resource units per (tenant, app) per hour; %d requests round-robin over 3 instances in %v; admitted %d (%.2f x the limit; admitted/sent per instance:%s)",
		limit, sent, time.Since(began).Round(time.Millisecond), admitted, ratio, split)
	if ratio < 0.8 || ratio > 1.2 {
		t.Errorf("admitted %d requests against a limit of %d (%.2f x): the limit does not hold across instances "+
			"(buckets kept per instance admit up to 3 x; shared throttling makes it hold)", admitted, limit, ratio)
	}
}
