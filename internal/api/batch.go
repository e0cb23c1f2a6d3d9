package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/jsonstrict"
	"github.com/graphdir/graphdir/internal/textlimit"
)

// JSON batching: POST /v1.0/$batch carries up to 20 requests in one body.
//
// Each request inside is dispatched, in process, through the whole handler
// (NewHandler's), exactly as if it had been sent alone with the batch's
// Authorization header: authentication, authorization, throttling, URL and
// body limits, request ids, audit, metrics and the access log all apply to
// it on its own. Only two things differ: it runs inside the batch's
// concurrency slot (shed does not count it again) and within the batch's
// deadline as well as its own.
//
// The batch itself is validated completely before anything runs, so a
// malformed batch (400) executes nothing. Requests then run one at a time
// in the order they are declared; a request may depend only on requests
// declared before it, so that order always respects dependsOn and no cycle
// can be written. A request whose dependency did not succeed (any status
// outside 2xx, including 424) is not run and answers 424 Failed Dependency.
// Responses come back in request order.

const (
	batchPath = apiPrefix + "/$batch"
	// maxBatchRequests is Graph's limit of requests in one batch.
	maxBatchRequests = 20
	// maxBatchIDLength bounds a request id, which responses echo.
	maxBatchIDLength = 128
)

// batchMethods are the methods a request inside a batch may use.
var batchMethods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPatch: true, http.MethodPut: true, http.MethodDelete: true,
}

// batchForbiddenHeaders may not be set on a request inside a batch: the
// batch's own credentials apply to every request in it, and the transport
// headers describe the batch's body, not the request's JSON value.
var batchForbiddenHeaders = map[string]string{
	"Authorization":     "the batch's Authorization header applies to every request in it",
	"Host":              "requests in a batch go to this service",
	"Content-Length":    "it is computed from the body",
	"Content-Encoding":  "the body is a JSON value",
	"Transfer-Encoding": "the body is a JSON value",
	"Connection":        "it is a hop-by-hop header",
	"Te":                "it is a hop-by-hop header",
	"Trailer":           "it is a hop-by-hop header",
	"Upgrade":           "it is a hop-by-hop header",
	"Keep-Alive":        "it is a hop-by-hop header",
	"Expect":            "the body is already here",
}

// batchItemKey marks the context of a request dispatched from a batch.
type batchItemKey struct{}

// inBatch reports whether ctx is that of a request inside a batch.
func inBatch(ctx context.Context) bool {
	v, _ := ctx.Value(batchItemKey{}).(bool)
	return v
}

// batchRequest is one validated request of a batch.
type batchRequest struct {
	id        string
	method    string
	target    *url.URL // /v1.0/...
	header    http.Header
	body      []byte // nil when the request has none
	dependsOn []string
}

// batchResponse is one entry of the batch's responses.
type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body"`
}

func batchError(target, format string, args ...any) error {
	e := directory.Errorf(directory.KindBadRequest, format, args...)
	if target != "" {
		e = e.WithTarget(target)
	}
	return e
}

// parseBatch validates a batch body strictly and returns its requests in
// declared order.
func parseBatch(data []byte) ([]batchRequest, error) {
	top, err := jsonstrict.Fields(data, "requests")
	if err != nil {
		return nil, strictError(err, "")
	}
	raw, ok := top["requests"]
	if !ok {
		return nil, batchError("requests", "The batch must have a 'requests' array.")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return nil, batchError("requests", "'requests' must be an array of request objects.")
	}
	switch {
	case len(items) == 0:
		return nil, batchError("requests", "The batch must contain at least one request.")
	case len(items) > maxBatchRequests:
		return nil, batchError("requests", "A batch may contain at most %d requests; this one has %d.", maxBatchRequests, len(items))
	}
	out := make([]batchRequest, 0, len(items))
	index := make(map[string]int, len(items))
	for i, item := range items {
		where := "requests[" + strconv.Itoa(i) + "]"
		r, err := parseBatchRequest(item, where)
		if err != nil {
			return nil, err
		}
		if _, dup := index[r.id]; dup {
			return nil, batchError(where+".id", "Request id '%s' appears more than once in the batch.", textlimit.Clip(r.id, maxEchoed))
		}
		index[r.id] = i
		out = append(out, r)
	}
	// A request may depend only on requests declared before it: running in
	// declared order then always respects dependsOn, and cycles cannot exist.
	for i, r := range out {
		for _, d := range r.dependsOn {
			j, known := index[d]
			switch {
			case !known:
				return nil, batchError("requests["+strconv.Itoa(i)+"].dependsOn",
					"Request '%s' depends on '%s', which is not in the batch.", textlimit.Clip(r.id, maxEchoed), textlimit.Clip(d, maxEchoed))
			case j >= i:
				return nil, batchError("requests["+strconv.Itoa(i)+"].dependsOn",
					"Request '%s' depends on '%s', which is not declared before it; a request may depend only on earlier requests.", textlimit.Clip(r.id, maxEchoed), textlimit.Clip(d, maxEchoed))
			}
		}
	}
	return out, nil
}

// strictError turns a jsonstrict error into a 400 naming the member, under
// the JSON path prefix.
func strictError(err error, prefix string) error {
	var je *jsonstrict.Error
	if errors.As(err, &je) {
		target := prefix
		if je.Key != "" {
			if target != "" {
				target += "."
			}
			target += je.Key
		}
		return batchError(textlimit.Clip(target, maxEchoed), "%s", textlimit.Clip(je.Msg, maxEchoed))
	}
	return batchError(prefix, "%s", textlimit.Clip(err.Error(), maxEchoed))
}

func parseBatchRequest(data json.RawMessage, where string) (batchRequest, error) {
	var r batchRequest
	f, err := jsonstrict.Fields(data, "id", "method", "url", "headers", "body", "dependsOn")
	if err != nil {
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			return r, strictError(err, where)
		}
		return r, batchError(where, "Each request of a batch must be a JSON object.")
	}
	str := func(name string) (string, error) {
		v, ok := f[name]
		if !ok || jsonstrict.IsNull(v) {
			return "", batchError(where+"."+name, "Each request of a batch must have '%s'.", name)
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", batchError(where+"."+name, "'%s' must be a string.", name)
		}
		return s, nil
	}
	if r.id, err = str("id"); err != nil {
		return r, err
	}
	if r.id == "" || len(r.id) > maxBatchIDLength {
		return r, batchError(where+".id", "A request id must have 1 to %d characters.", maxBatchIDLength)
	}
	method, err := str("method")
	if err != nil {
		return r, err
	}
	r.method = strings.ToUpper(method)
	if !batchMethods[r.method] {
		return r, batchError(where+".method", "Method '%s' of request '%s' is not supported in a batch; use GET, POST, PATCH, PUT or DELETE.", textlimit.Clip(method, maxEchoed), textlimit.Clip(r.id, maxEchoed))
	}
	rawURL, err := str("url")
	if err != nil {
		return r, err
	}
	if r.target, err = batchTarget(rawURL); err != nil {
		return r, (&directory.Error{Kind: directory.KindBadRequest,
			Message: "The url of request '" + textlimit.Clip(r.id, maxEchoed) + "' " + err.Error() + "."}).WithTarget(where + ".url")
	}
	r.header = http.Header{}
	if v, ok := f["headers"]; ok && !jsonstrict.IsNull(v) {
		members, err := jsonstrict.Object(v)
		if err != nil {
			return r, batchError(where+".headers", "'headers' of request '%s' must be an object of string values.", textlimit.Clip(r.id, maxEchoed))
		}
		for _, m := range members {
			name := m.Key
			var value string
			if err := json.Unmarshal(m.Value, &value); err != nil {
				return r, batchError(where+".headers", "Header '%s' of request '%s' must have a string value.", textlimit.Clip(name, maxEchoed), textlimit.Clip(r.id, maxEchoed))
			}
			if !validHeaderName(name) || !validHeaderValue(value) {
				return r, batchError(where+".headers", "Request '%s' has an invalid header '%s'.", textlimit.Clip(r.id, maxEchoed), textlimit.Clip(name, maxEchoed))
			}
			canon := http.CanonicalHeaderKey(name)
			if why, bad := batchForbiddenHeaders[canon]; bad {
				return r, batchError(where+".headers", "Request '%s' may not set the '%s' header: %s.", textlimit.Clip(r.id, maxEchoed), canon, why)
			}
			if len(r.header.Values(canon)) > 0 {
				return r, batchError(where+".headers", "Request '%s' sets the '%s' header more than once.", textlimit.Clip(r.id, maxEchoed), canon)
			}
			r.header.Set(canon, value)
		}
	}
	if v, ok := f["body"]; ok && !jsonstrict.IsNull(v) {
		r.body = bytes.TrimSpace(v)
		if r.header.Get("Content-Type") == "" {
			return r, batchError(where+".headers", "Request '%s' has a body, so its headers must include Content-Type.", textlimit.Clip(r.id, maxEchoed))
		}
	}
	if v, ok := f["dependsOn"]; ok && !jsonstrict.IsNull(v) {
		if err := json.Unmarshal(v, &r.dependsOn); err != nil {
			return r, batchError(where+".dependsOn", "'dependsOn' of request '%s' must be an array of request ids.", textlimit.Clip(r.id, maxEchoed))
		}
	}
	return r, nil
}

// batchTarget resolves a request's url, relative to the API version as in
// Graph ("/users?$top=5" or "users?$top=5"), to the path it is served at.
// The error completes the sentence "The url of request 'x' ...".
func batchTarget(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("is empty")
	}
	if strings.ContainsAny(raw, "\\#") {
		return nil, errors.New("may not contain '\\' or '#'")
	}
	if strings.HasPrefix(raw, "//") || hasScheme(raw) {
		return nil, errors.New("must be relative to the API version, like '/users'; absolute URLs are not allowed")
	}
	rel := strings.TrimPrefix(raw, "/")
	u, err := url.Parse("/" + rel)
	if err != nil {
		return nil, errors.New("is not a valid URL")
	}
	if u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return nil, errors.New("must be relative to the API version, like '/users'; absolute URLs are not allowed")
	}
	if first, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/"); first == "v1.0" || first == "beta" {
		return nil, errors.New("must be relative to the API version: write '/users', not '/v1.0/users'")
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return nil, errors.New("may not contain '.' or '..' segments")
		}
	}
	full, err := url.Parse(apiPrefix + "/" + rel)
	if err != nil {
		return nil, errors.New("is not a valid URL")
	}
	return full, nil
}

// hasScheme reports whether raw starts with a URL scheme ("https:").
func hasScheme(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// handleBatch serves POST /v1.0/$batch.
func (s *server) handleBatch(c *gin.Context) {
	if inBatch(c.Request.Context()) {
		s.writeError(c, directory.Errorf(directory.KindBadRequest, "A batch may not contain another batch request."))
		return
	}
	data, err := s.readBody(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	reqs, err := parseBatch(data)
	if err != nil {
		s.writeError(c, err)
		return
	}
	status := make(map[string]int, len(reqs))
	out := make([]batchResponse, 0, len(reqs))
	for _, r := range reqs {
		var res batchResponse
		if failed := firstFailed(r.dependsOn, status); failed != "" {
			res = s.failedDependency(c, r.id, failed)
		} else {
			// A nested $batch is dispatched too, and refused by
			// handleBatch like any request to it from inside a batch.
			res = s.dispatchBatchItem(c, r)
		}
		status[r.id] = res.Status
		out = append(out, res)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Responses []batchResponse `json:"responses"`
	}{out}); err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// firstFailed returns the first of deps whose status is not a success, or "".
func firstFailed(deps []string, status map[string]int) string {
	for _, d := range deps {
		if st := status[d]; st < 200 || st > 299 {
			return d
		}
	}
	return ""
}

// dispatchBatchItem runs one request through the whole handler, with the
// batch's credentials, and records its response.
func (s *server) dispatchBatchItem(c *gin.Context, r batchRequest) batchResponse {
	outer := c.Request
	ctx := context.WithValue(outer.Context(), batchItemKey{}, true)
	header := r.header.Clone()
	header["Authorization"] = append([]string(nil), outer.Header.Values("Authorization")...)
	if header.Get("Client-Request-Id") == "" {
		// Correlate the request with the batch unless the client chose its own id.
		header.Set("Client-Request-Id", requestIDs(c).clientRequestID)
	}
	u := *r.target
	inner := (&http.Request{
		Method:     r.method,
		URL:        &u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header,
		Body:       http.NoBody,
		Host:       outer.Host,
		RemoteAddr: outer.RemoteAddr,
		TLS:        outer.TLS,
		RequestURI: u.RequestURI(),
	}).WithContext(ctx)
	if r.body != nil {
		inner.Body = readCloser{bytes.NewReader(r.body)}
		inner.ContentLength = int64(len(r.body))
	}
	w := &batchRecorder{header: http.Header{}}
	s.dispatch.ServeHTTP(w, inner)
	return w.response(r.id)
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// failedDependency answers a request that was not run because a request it
// depends on failed.
func (s *server) failedDependency(c *gin.Context, id, dep string) batchResponse {
	return s.itemError(c, id, http.StatusFailedDependency, "FailedDependency",
		"The request was not run because request '"+textlimit.Clip(dep, maxEchoed)+"', which it depends on, failed.")
}

// itemError is a Graph error envelope for a request the batch answers
// itself, without running it; it carries the batch's request ids.
func (s *server) itemError(c *gin.Context, id string, status int, code, message string) batchResponse {
	ids := requestIDs(c)
	body, _ := json.Marshal(errorEnvelope{Error: errorBody{Code: code, Message: message, InnerError: innerError{
		Date: time.Now().UTC().Format("2006-01-02T15:04:05"), RequestID: ids.requestID, ClientRequestID: ids.clientRequestID,
	}}})
	return batchResponse{ID: id, Status: status, Body: body, Headers: map[string]string{
		"Content-Type": contentTypeJSON, "OData-Version": "4.0", "Cache-Control": "no-store",
		"request-id": ids.requestID, "client-request-id": ids.clientRequestID,
	}}
}

// batchRecorder is the ResponseWriter of a request inside a batch.
type batchRecorder struct {
	header http.Header
	sent   http.Header // the header as of WriteHeader
	status int
	body   bytes.Buffer
}

func (w *batchRecorder) Header() http.Header { return w.header }

func (w *batchRecorder) WriteHeader(code int) {
	if w.status != 0 || code < 200 {
		return
	}
	w.status = code
	w.sent = w.header.Clone()
}

func (w *batchRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.body.Write(b)
}

// batchHopHeaders describe one HTTP message on the wire and say nothing
// about a response inside a batch.
var batchHopHeaders = map[string]bool{"Content-Length": true, "Transfer-Encoding": true, "Connection": true}

// graphHeaderNames spells headers the way Graph does in batch responses
// (Go canonicalises "request-id" to "Request-Id").
var graphHeaderNames = map[string]string{
	"Request-Id":        "request-id",
	"Client-Request-Id": "client-request-id",
	"Odata-Version":     "OData-Version",
	"Etag":              "ETag",
	"Www-Authenticate":  "WWW-Authenticate",
}

func graphHeaderName(canon string) string {
	if n, ok := graphHeaderNames[canon]; ok {
		return n
	}
	if strings.HasPrefix(canon, "X-Ms-") {
		return strings.ToLower(canon)
	}
	return canon
}

// response turns what the request wrote into its batch entry: a JSON body
// as a JSON value, any other body (the text/plain of $count) as a string,
// no body as null.
func (w *batchRecorder) response(id string) batchResponse {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	res := batchResponse{ID: id, Status: w.status, Headers: map[string]string{}}
	for k, vs := range w.sent {
		if batchHopHeaders[k] || len(vs) == 0 {
			continue
		}
		res.Headers[graphHeaderName(k)] = strings.Join(vs, ", ")
	}
	body := bytes.TrimSpace(w.body.Bytes())
	if len(body) == 0 {
		return res
	}
	mt, _, _ := mime.ParseMediaType(w.sent.Get("Content-Type"))
	if (mt == "application/json" || strings.HasSuffix(mt, "+json")) && json.Valid(body) {
		res.Body = append(json.RawMessage(nil), body...)
		return res
	}
	res.Body, _ = json.Marshal(strings.ToValidUTF8(w.body.String(), "\uFFFD"))
	return res
}

// batchRequestSchema and batchResponseSchema are the OpenAPI schemas of the
// batch's body and answer (openapi.go).
func batchRequestSchema() obj {
	return obj{"type": "object", "required": []any{"requests"}, "additionalProperties": false, "properties": obj{
		"requests": obj{"type": "array", "minItems": 1, "maxItems": maxBatchRequests, "items": obj{
			"type": "object", "required": []any{"id", "method", "url"}, "additionalProperties": false,
			"properties": obj{
				"id":        obj{"type": "string", "minLength": 1, "maxLength": maxBatchIDLength},
				"method":    obj{"type": "string", "enum": []any{"GET", "POST", "PATCH", "PUT", "DELETE"}},
				"url":       obj{"type": "string", "description": "Relative to the API version, e.g. /users?$top=5."},
				"headers":   obj{"type": "object", "additionalProperties": obj{"type": "string"}},
				"body":      obj{"description": "The request's JSON body; headers must then include Content-Type."},
				"dependsOn": obj{"type": "array", "items": obj{"type": "string"}, "description": "Ids of earlier requests that must succeed first; otherwise 424."},
			}}},
	}}
}

func batchResponseSchema() obj {
	return obj{"type": "object", "required": []any{"responses"}, "additionalProperties": false, "properties": obj{
		"responses": obj{"type": "array", "items": obj{
			"type": "object", "required": []any{"id", "status", "body"}, "additionalProperties": false,
			"properties": obj{
				"id":      obj{"type": "string"},
				"status":  obj{"type": "integer"},
				"headers": obj{"type": "object", "additionalProperties": obj{"type": "string"}},
				"body":    obj{"nullable": true, "description": "The JSON body, a string for text bodies, or null."},
			}}},
	}}
}
