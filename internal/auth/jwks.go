package auth

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/graphdir/graphdir/internal/directory"
)

// Defaults for JWKSConfig.
const (
	// DefaultJWKSRefreshInterval is how often the key set is refreshed in
	// the background (Microsoft: hourly).
	DefaultJWKSRefreshInterval = time.Hour
	// DefaultMinRefetchInterval is the least time between two fetches
	// forced by an unknown kid (Microsoft: no more often than every 5 min).
	DefaultMinRefetchInterval = 5 * time.Minute
	// DefaultJWKSMaxBytes caps a JWKS or discovery response.
	DefaultJWKSMaxBytes = 1 << 20
	// DefaultJWKSFetchTimeout bounds one HTTP fetch, connection included.
	DefaultJWKSFetchTimeout = 10 * time.Second
	// MaxRSAKeyBits refuses absurd moduli, which cost CPU on every verify.
	MaxRSAKeyBits = 8192
)

// JWKSConfig configures a JWKSKeySource. Every URL comes from graphdir's
// configuration, never from a token.
type JWKSConfig struct {
	// Name identifies the issuer in errors and logs.
	Name string
	// Issuer is the exact iss the issuer's tokens carry. With DiscoveryURL,
	// the discovery document's issuer must equal it (or, when the document
	// gives a {tenantid} template, equal it once TenantID is substituted).
	Issuer string
	// TenantID substitutes a {tenantid} template in the discovery issuer.
	TenantID string
	// JWKSURL is the key set's URL. Exactly one of JWKSURL and DiscoveryURL.
	JWKSURL string
	// DiscoveryURL is an OpenID Provider configuration document
	// (/.well-known/openid-configuration) whose jwks_uri names the key set.
	DiscoveryURL string
	// RefreshInterval is the background refresh period; zero means
	// DefaultJWKSRefreshInterval.
	RefreshInterval time.Duration
	// MinRefetchInterval is the least time between fetches forced by an
	// unknown kid; zero means DefaultMinRefetchInterval.
	MinRefetchInterval time.Duration
	// AllowUnavailableAtStart lets construction succeed when the first
	// fetch (or discovery) fails: tokens of this issuer then get 503 until a
	// fetch succeeds, while other issuers keep working. Default: fail closed.
	AllowUnavailableAtStart bool
	// HTTPClient replaces the default client (tests, proxies). Responses are
	// capped at MaxResponseBytes whatever the client.
	HTTPClient *http.Client
	// MaxResponseBytes caps a response body; zero means DefaultJWKSMaxBytes.
	MaxResponseBytes int64
	// OnError, when set, hears about every failed fetch (for logs). It must
	// not block.
	OnError func(error)
	// Now replaces time.Now for the refetch cool-down (tests).
	Now func() time.Time
}

// JWKSKeySource is the KeySource of an external issuer: a remote JWKS kept
// in a jwx jwk.Cache, refreshed every RefreshInterval, refetched on an
// unknown kid at most once per MinRefetchInterval (concurrent misses share
// one fetch), and keeping the last good keys when a fetch fails.
//
// Only keys that graphdir would accept survive a fetch: kty RSA, use absent
// or "sig", 2048 to 8192 bits, an RS256-compatible alg (or none), a kid. Each
// is rebuilt as a bare public key with alg RS256 and, if the issuer
// published one, Entra's per-key issuer (KeyIssuerParam), which the
// Verifier checks against the token's iss.
type JWKSKeySource struct {
	cfg    JWKSConfig
	client *cappedClient
	cache  *jwk.Cache
	cancel context.CancelFunc
	now    func() time.Time

	keys    atomic.Pointer[keyIndex] // last good keys; nil until a fetch succeeded
	healthy atomic.Bool              // the latest fetch attempt succeeded

	mu         sync.Mutex
	jwksURL    string // resolved; "" until discovery succeeded
	registered bool
	inflight   *fetchCall
	lastForced time.Time
}

type keyIndex struct {
	byKid   map[string]jwk.Key
	fetched time.Time
}

type fetchCall struct {
	done chan struct{}
	err  error
}

var (
	errCoolingDown = errors.New("jwks: refetch skipped, minimum interval not elapsed")
	errNoKeys      = errors.New("jwks: no usable signing keys in the key set")
)

// NewJWKSKeySource resolves the JWKS URL (from DiscoveryURL if given),
// registers it with a jwk.Cache and fetches it once. If that fails, it
// returns the error unless AllowUnavailableAtStart is set. The source's
// background work stops when ctx ends or Close is called.
func NewJWKSKeySource(ctx context.Context, cfg JWKSConfig) (*JWKSKeySource, error) {
	if (cfg.JWKSURL == "") == (cfg.DiscoveryURL == "") {
		return nil, fmt.Errorf("jwks %s: exactly one of the JWKS URL and the discovery URL is needed", cfg.Name)
	}
	for _, u := range []string{cfg.JWKSURL, cfg.DiscoveryURL} {
		if u != "" {
			if err := CheckFetchURL(u); err != nil {
				return nil, fmt.Errorf("jwks %s: %w", cfg.Name, err)
			}
		}
	}
	if cfg.DiscoveryURL != "" && cfg.Issuer == "" {
		return nil, fmt.Errorf("jwks %s: discovery needs the expected issuer", cfg.Name)
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = DefaultJWKSRefreshInterval
	}
	if cfg.MinRefetchInterval == 0 {
		cfg.MinRefetchInterval = DefaultMinRefetchInterval
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultJWKSMaxBytes
	}
	if cfg.RefreshInterval < time.Second || cfg.MinRefetchInterval < 0 || cfg.MaxResponseBytes < 0 {
		return nil, fmt.Errorf("jwks %s: bad intervals or size cap", cfg.Name)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = defaultJWKSHTTPClient()
	}
	s := &JWKSKeySource{cfg: cfg, client: &cappedClient{c: hc, max: cfg.MaxResponseBytes}, now: cfg.Now, jwksURL: cfg.JWKSURL}
	if s.now == nil {
		s.now = time.Now
	}
	// httprc checks for due refreshes once per "refresh window"; it must
	// not exceed the refresh interval (Register refuses that).
	window := min(cfg.RefreshInterval, 15*time.Minute)
	cctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.cache = jwk.NewCache(cctx,
		jwk.WithRefreshWindow(window),
		jwk.WithErrSink(errSink(s.failed)), // background refresh failures
	)
	fctx, fcancel := context.WithTimeout(ctx, 2*DefaultJWKSFetchTimeout)
	defer fcancel()
	if err := s.Refresh(fctx); err != nil && !cfg.AllowUnavailableAtStart {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the background refresh.
func (s *JWKSKeySource) Close() { s.cancel() }

// JWKSURL returns the key set's URL, "" while discovery has not succeeded.
func (s *JWKSKeySource) JWKSURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jwksURL
}

// Ready reports whether the source holds keys and its latest fetch
// succeeded; for health checks.
func (s *JWKSKeySource) Ready() bool { return s.keys.Load() != nil && s.healthy.Load() }

// Key implements KeySource. tenantID is not used: one key set serves the
// whole issuer, and the Verifier ties the key to the token's iss and tid.
// An unknown kid forces one refetch (rate-limited, shared); if the kid is
// still unknown the answer is KindNotFound (401) when the key set is known
// to be current, and KindUnavailable (503) when it is not: no keys yet, or
// the latest fetch failed.
func (s *JWKSKeySource) Key(ctx context.Context, _ string, kid string) (jwk.Key, error) {
	if k := s.lookup(kid); k != nil {
		return k, nil
	}
	err := s.fetch(ctx, false)
	if k := s.lookup(kid); k != nil {
		return k, nil
	}
	switch {
	case s.keys.Load() == nil:
		return nil, s.unavailable(cmpErr(err, errNoKeys))
	case err != nil && !errors.Is(err, errCoolingDown):
		return nil, s.unavailable(err)
	case !s.healthy.Load():
		return nil, s.unavailable(errors.New("jwks: the latest fetch failed"))
	}
	return nil, directory.Errorf(directory.KindNotFound, "Key not found.")
}

func cmpErr(err, fallback error) error {
	if err != nil && !errors.Is(err, errCoolingDown) {
		return err
	}
	return fallback
}

func (s *JWKSKeySource) unavailable(err error) error {
	return &directory.Error{Kind: directory.KindUnavailable, Message: MsgUnavailable, Err: fmt.Errorf("jwks %s: %w", s.cfg.Name, err)}
}

// Refresh fetches the key set now, ignoring the cool-down (but sharing a
// fetch already in flight). A failure leaves the last good keys in place.
func (s *JWKSKeySource) Refresh(ctx context.Context) error { return s.fetch(ctx, true) }

func (s *JWKSKeySource) lookup(kid string) jwk.Key {
	if idx := s.keys.Load(); idx != nil {
		return idx.byKid[kid]
	}
	return nil
}

// fetch runs one fetch, or joins the one in flight. Unless force, it is
// refused while MinRefetchInterval has not elapsed since the last forced
// fetch began, so a flood of unknown kids costs the issuer one request per
// interval.
func (s *JWKSKeySource) fetch(ctx context.Context, force bool) error {
	s.mu.Lock()
	if c := s.inflight; c != nil {
		s.mu.Unlock()
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	now := s.now()
	if !force && !s.lastForced.IsZero() && now.Sub(s.lastForced) < s.cfg.MinRefetchInterval {
		s.mu.Unlock()
		return errCoolingDown
	}
	s.lastForced = now
	c := &fetchCall{done: make(chan struct{})}
	s.inflight = c
	s.mu.Unlock()

	// The fetch is shared, so one caller's cancellation must not fail it
	// for the others; the HTTP client's timeout bounds it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*DefaultJWKSFetchTimeout)
	c.err = s.doFetch(fctx)
	cancel()
	if c.err != nil {
		s.failed(c.err)
	}

	s.mu.Lock()
	s.inflight = nil
	s.mu.Unlock()
	close(c.done)
	return c.err
}

// doFetch resolves and registers the URL on first success, letting
// jwk.Cache fetch it (and schedule its refreshes). Later forced fetches go
// around the cache: each jwk.Cache.Refresh would start another perpetual
// refresh chain in httprc v1 (every fetch enqueues its successor), so
// misses would multiply the background traffic. Both paths end in the
// same postFetch, which is what publishes keys.
func (s *JWKSKeySource) doFetch(ctx context.Context) error {
	s.mu.Lock()
	u, registered := s.jwksURL, s.registered
	s.mu.Unlock()
	if registered {
		return s.fetchDirect(ctx, u)
	}
	if u == "" {
		var err error
		if u, err = s.discover(); err != nil {
			return err
		}
		s.mu.Lock()
		s.jwksURL = u
		s.mu.Unlock()
	}
	err := s.cache.Register(u,
		jwk.WithHTTPClient(s.client),
		jwk.WithRefreshInterval(s.cfg.RefreshInterval),
		// Only consulted if the interval above were zero (Cache-Control
		// mode); kept as the floor so no configuration can refresh faster.
		jwk.WithMinRefreshInterval(s.cfg.MinRefetchInterval),
		jwk.WithIgnoreParseError(true), // one odd key must not void the set
		jwk.WithPostFetcher(jwk.PostFetchFunc(s.postFetch)),
	)
	if err != nil {
		return fmt.Errorf("jwks %s: %w", s.cfg.Name, err)
	}
	s.mu.Lock()
	s.registered = true
	s.mu.Unlock()
	if _, err := s.cache.Refresh(ctx, u); err != nil {
		return fmt.Errorf("jwks %s: %w", s.cfg.Name, err)
	}
	return nil
}

// fetchDirect does what jwk.Cache's fetch does: GET, 200 only, parse,
// postFetch.
func (s *JWKSKeySource) fetchDirect(_ context.Context, u string) error {
	body, err := s.client.getBody(u)
	if err != nil {
		return fmt.Errorf("jwks %s: %w", s.cfg.Name, err)
	}
	set, err := jwk.Parse(body, jwk.WithIgnoreParseError(true))
	if err != nil {
		return fmt.Errorf("jwks %s: parsing the key set: %w", s.cfg.Name, err)
	}
	if _, err := s.postFetch(u, set); err != nil {
		return fmt.Errorf("jwks %s: %w", s.cfg.Name, err)
	}
	return nil
}

// errSink is a jwk.ErrSink (httprc's) made of a function.
type errSink func(error)

func (f errSink) Error(err error) { f(err) }

func (s *JWKSKeySource) failed(err error) {
	s.healthy.Store(false)
	if s.cfg.OnError != nil {
		s.cfg.OnError(err)
	}
}

// postFetch filters a fetched set down to the keys graphdir accepts and
// publishes them. An empty result is an error, so the cache and our index
// keep the last good keys rather than an empty set.
func (s *JWKSKeySource) postFetch(_ string, set jwk.Set) (jwk.Set, error) {
	out := jwk.NewSet()
	idx := &keyIndex{byKid: map[string]jwk.Key{}, fetched: s.now()}
	for i := range set.Len() {
		k, _ := set.Key(i)
		kept, ok := usableKey(k)
		if !ok {
			continue
		}
		if _, dup := idx.byKid[kept.KeyID()]; dup {
			continue // the first usable key with a kid wins, as jwx's LookupKeyID
		}
		idx.byKid[kept.KeyID()] = kept
		if err := out.AddKey(kept); err != nil {
			return nil, err
		}
	}
	if len(idx.byKid) == 0 {
		return nil, errNoKeys
	}
	s.keys.Store(idx)
	s.healthy.Store(true)
	return out, nil
}

// usableKey returns a fresh public RS256 key holding only kid, alg, use and
// the issuer property, or false if k is not a key we verify with.
func usableKey(k jwk.Key) (jwk.Key, bool) {
	if k == nil || k.KeyType() != jwa.RSA {
		return nil, false
	}
	if u := k.KeyUsage(); u != "" && u != string(jwk.ForSignature) {
		return nil, false
	}
	if alg := k.Algorithm(); alg != nil && alg.String() != "" && alg.String() != string(jwa.RS256) {
		return nil, false
	}
	if ops := k.KeyOps(); len(ops) > 0 && !slices.Contains(ops, jwk.KeyOpVerify) {
		return nil, false
	}
	kid := k.KeyID()
	if kid == "" || len(kid) > MaxKeyIDLength || !isPrintableASCII(kid) {
		return nil, false
	}
	raw, err := jwk.PublicRawKeyOf(k)
	if err != nil {
		return nil, false
	}
	pub, ok := raw.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < 2048 || pub.N.BitLen() > MaxRSAKeyBits || pub.E < 3 || pub.E%2 == 0 {
		return nil, false
	}
	out, err := jwk.FromRaw(pub)
	if err != nil {
		return nil, false
	}
	if out.Set(jwk.KeyIDKey, kid) != nil || out.Set(jwk.AlgorithmKey, jwa.RS256) != nil || out.Set(jwk.KeyUsageKey, jwk.ForSignature) != nil {
		return nil, false
	}
	if v, present := k.Get(KeyIssuerParam); present {
		iss, isString := v.(string)
		if !isString || iss == "" || out.Set(KeyIssuerParam, iss) != nil {
			return nil, false // an issuer we cannot read binds to nothing: drop the key
		}
	}
	return out, true
}

// discover reads the OpenID configuration and returns its jwks_uri after
// checking that its issuer is the one configured.
func (s *JWKSKeySource) discover() (string, error) {
	body, err := s.client.getBody(s.cfg.DiscoveryURL)
	if err != nil {
		return "", fmt.Errorf("jwks %s: discovery: %w", s.cfg.Name, err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("jwks %s: discovery document: %w", s.cfg.Name, err)
	}
	if !discoveryIssuerMatches(doc.Issuer, s.cfg.Issuer, s.cfg.TenantID) {
		return "", fmt.Errorf("jwks %s: discovery issuer %q is not the configured issuer %q", s.cfg.Name, doc.Issuer, s.cfg.Issuer)
	}
	if err := CheckFetchURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("jwks %s: discovery jwks_uri: %w", s.cfg.Name, err)
	}
	return doc.JWKSURI, nil
}

func discoveryIssuerMatches(doc, want, tenant string) bool {
	if doc == "" {
		return false
	}
	if doc == want {
		return true
	}
	return tenant != "" && strings.Count(doc, TenantPlaceholder) == 1 &&
		strings.ReplaceAll(doc, TenantPlaceholder, tenant) == want
}

// CheckFetchURL accepts the URLs graphdir fetches keys from: absolute https,
// or http to a loopback host (local development and tests), with no user
// information or fragment.
func CheckFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: http is only allowed for localhost; use https", raw)
	}
	return fmt.Errorf("%q: only https URLs are fetched", raw)
}

// IsLoopbackHost reports whether host is localhost or a loopback address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func defaultJWKSHTTPClient() *http.Client {
	return &http.Client{
		Timeout: DefaultJWKSFetchTimeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 5 * time.Second,
			MaxIdleConns:          4,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
	}
}

// cappedClient is the httprc.HTTPClient jwk.Cache uses: it reads at most
// max bytes, closes the real body (jwx's transformer never closes it) and
// hands back an in-memory one. Redirects are followed only to URLs
// CheckFetchURL accepts, and never from https to http.
type cappedClient struct {
	c   *http.Client
	max int64
}

func (cc *cappedClient) Get(u string) (*http.Response, error) {
	if err := CheckFetchURL(u); err != nil {
		return nil, err
	}
	c := *cc.c
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("too many redirects")
		}
		if err := CheckFetchURL(req.URL.String()); err != nil {
			return err
		}
		if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return errors.New("redirect from https to http")
		}
		return nil
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, cc.max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", u, err)
	}
	if int64(len(body)) > cc.max {
		return nil, fmt.Errorf("%s: response larger than %d bytes", u, cc.max)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	return res, nil
}

// getBody fetches u and returns the body of a 200 response.
func (cc *cappedClient) getBody(u string) ([]byte, error) {
	res, err := cc.Get(u)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: status %s", u, res.Status)
	}
	return io.ReadAll(res.Body)
}
