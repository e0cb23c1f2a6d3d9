//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// response is one HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.Status, r.Body)
	}
	return m
}

// api sends requests to one base URL: HAProxy, or one instance directly
// (pinned, bypassing the balancer).
type api struct {
	t      *testing.T
	name   string
	base   string
	client *http.Client
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: 5 * time.Second},
		// The tests read each redirect themselves.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (c *cluster) balancer(t *testing.T) *api {
	return &api{t: t, name: "haproxy", base: c.lb, client: newClient(4)}
}

func (in *instance) api(t *testing.T) *api {
	return &api{t: t, name: in.name, base: in.url(), client: newClient(4)}
}

// request builds a request; a map body is sent as JSON, url.Values as a
// form; headers are name, value pairs.
func newRequest(method, u, token string, body any, headers ...string) *http.Request {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			panic(err)
		}
		rd, ctype = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		panic(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

func roundTrip(client *http.Client, req *http.Request) (*response, error) {
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	return readResponse(res)
}

func readResponse(res *http.Response) (*response, error) {
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: body}, nil
}

// do sends one request to path on a's base URL; a transport error fails t.
func (a *api) do(method, path, token string, body any, headers ...string) *response {
	a.t.Helper()
	r, err := roundTrip(a.client, newRequest(method, a.base+path, token, body, headers...))
	if err != nil {
		a.t.Fatalf("%s %s via %s: %v", method, path, a.name, err)
	}
	return r
}

// want asserts r's status and returns its JSON (nil for an empty body).
func want(t *testing.T, r *response, status int, what string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: want %d, got %d %s", what, status, r.Status, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(t)
}

func workforceUser(upn, name string) map[string]any {
	nick, _, _ := strings.Cut(upn, "@")
	return map[string]any{
		"accountEnabled": true, "displayName": name, "mailNickname": nick, "userPrincipalName": upn,
		"passwordProfile": map[string]any{"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"},
	}
}

// op is one kind of request of the mixed load, and the status it must get.
type op struct {
	name string
	want int
	req  func(seq int64) *http.Request
}

// mixedOps is the load: reads of one user (primary), eventual lists and
// counts (replica), updates and a few creates (creates hash a password,
// which is what a CPU-bound sign-up costs; a few are enough).
func (c *cluster) mixedOps(run string, seeds []string) []op {
	token := c.admin
	eventual := []string{"ConsistencyLevel", "eventual"}
	get := op{"get", http.StatusOK, func(seq int64) *http.Request {
		return newRequest("GET", c.lb+"/v1.0/users/"+seeds[seq%int64(len(seeds))]+"?$select=id,displayName,jobTitle", token, nil)
	}}
	list := op{"list eventual", http.StatusOK, func(seq int64) *http.Request {
		return newRequest("GET", c.lb+"/v1.0/users?$count=true&$top=5&$select=id,displayName", token, nil, eventual...)
	}}
	count := op{"$count eventual", http.StatusOK, func(seq int64) *http.Request {
		return newRequest("GET", c.lb+"/v1.0/users/$count", token, nil, eventual...)
	}}
	patch := op{"patch", http.StatusNoContent, func(seq int64) *http.Request {
		return newRequest("PATCH", c.lb+"/v1.0/users/"+seeds[seq%int64(len(seeds))], token, map[string]any{"jobTitle": fmt.Sprintf("t%d", seq)})
	}}
	create := op{"create", http.StatusCreated, func(seq int64) *http.Request {
		return newRequest("POST", c.lb+"/v1.0/users", token, workforceUser(fmt.Sprintf("%s-%d@contoso.com", run, seq), "Load "+run))
	}}
	// 16 requests: 6 gets, 4 lists, 2 counts, 3 patches, 1 create.
	return []op{get, list, patch, get, count, get, list, patch, get, list, create, get, count, list, patch, get}
}

// outcome is one request of a load run.
type outcome struct {
	op         string
	start, end time.Time
	status     int    // 0 on a transport error
	err        string // transport error or unexpected status with body
	server     string // X-Served-By: the instance HAProxy chose
}

func (o outcome) failed() bool { return o.err != "" }

// load runs ops from workers goroutines at most perSecond requests per
// second in all, until finish.
type load struct {
	t    *testing.T
	name string
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	seq  atomic.Int64
	from time.Time

	mu  sync.Mutex
	out []outcome
}

func startLoad(t *testing.T, name string, ops []op, workers, perSecond int) *load {
	l := &load{t: t, name: name, stop: make(chan struct{}), from: time.Now()}
	// A scenario that fails half-way leaves no load running into the next.
	t.Cleanup(l.halt)
	client := newClient(workers)
	// One ticker paces all workers: the load is steady, and the machine
	// keeps CPU for the processes under test.
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				case <-tick.C:
				}
				seq := l.seq.Add(1)
				o := ops[seq%int64(len(ops))]
				req := o.req(seq)
				oc := outcome{op: o.name, start: time.Now()}
				r, err := roundTrip(client, req)
				oc.end = time.Now()
				switch {
				case err != nil:
					oc.err = err.Error()
				default:
					oc.status, oc.server = r.Status, r.Header.Get("X-Served-By")
					if r.Status != o.want {
						oc.err = fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body[:min(len(r.Body), 300)]))
					}
				}
				l.mu.Lock()
				l.out = append(l.out, oc)
				l.mu.Unlock()
			}
		}()
	}
	go func() { <-l.stop; tick.Stop() }()
	return l
}

// halt stops the workers and waits for their requests in flight.
func (l *load) halt() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// count returns how many requests that started at or after since ended in
// success, and how many in failure.
func (l *load) count(since time.Time) (ok, failed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range l.out {
		if o.start.Before(since) {
			continue
		}
		if o.failed() {
			failed++
		} else {
			ok++
		}
	}
	return ok, failed
}

// waitOK waits until n requests that started at or after since succeeded.
func (l *load) waitOK(n int, since time.Time, within time.Duration) {
	l.t.Helper()
	waitFor(l.t, context.Background(), within, fmt.Sprintf("%d successful requests of the %s load", n, l.name), func() bool {
		ok, _ := l.count(since)
		return ok >= n
	})
}

// loadReport is what a finished load did.
type loadReport struct {
	outcomes []outcome
	failures []outcome
	elapsed  time.Duration
}

// finish stops the load, waits for the requests in flight and logs the
// figures: requests, rate, failures, and where HAProxy sent them.
func (l *load) finish() loadReport {
	l.t.Helper()
	l.halt()
	l.mu.Lock()
	defer l.mu.Unlock()
	r := loadReport{outcomes: l.out, elapsed: time.Since(l.from)}
	byServer, byOp := map[string]int{}, map[string]int{}
	for _, o := range l.out {
		byOp[o.op]++
		if o.server != "" {
			byServer[o.server]++
		}
		if o.failed() {
			r.failures = append(r.failures, o)
		}
	}
	l.t.Logf("load %q: %d requests in %v (%.0f/s), %d failed; answered by %s; ops %s", l.name, len(l.out),
		r.elapsed.Round(time.Millisecond), float64(len(l.out))/r.elapsed.Seconds(), len(r.failures), fmtCounts(byServer), fmtCounts(byOp))
	for i, f := range r.failures {
		if i == 10 {
			l.t.Logf("  ... and %d more failures", len(r.failures)-10)
			break
		}
		l.t.Logf("  failed: %s started %s, took %v: %s", f.op, f.start.Format("15:04:05.000"), f.end.Sub(f.start).Round(time.Millisecond), f.err)
	}
	return r
}

func fmtCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}
