package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// The environment variables that configure external token issuers.
const (
	EnvTrustedIssuers     = "GRAPHDIR_TRUSTED_ISSUERS"
	EnvTrustedIssuersFile = "GRAPHDIR_TRUSTED_ISSUERS_FILE"
)

// Limits on the trusted-issuer configuration.
const (
	maxIssuersBytes = 1 << 20
	maxIssuers      = 32
	// TenantPlaceholder is the tenant segment of an Entra multi-tenant
	// issuer template (the same string auth uses).
	TenantPlaceholder = "{tenantid}"
)

// TrustedIssuerConfig is one external issuer, validated and resolved: the
// fields cmd copies into an auth.TrustedIssuer and auth.JWKSConfig.
type TrustedIssuerConfig struct {
	// Name identifies the issuer in logs and errors.
	Name string
	// Issuer is the exact iss tokens carry: a configured {tenantid}
	// template has been filled in with EntraTenant.
	Issuer string
	// DiscoveryURL or JWKSURL (exactly one is set).
	DiscoveryURL string
	JWKSURL      string
	Audiences    []string
	// TenantID is the graphdir tenant the issuer's tokens act in.
	TenantID string
	// EntraTenant, when set, is the Entra tenant whose tid tokens must carry.
	EntraTenant string
	// ExpectedTenant is the tid the verifier checks (EntraTenant, else
	// TenantID) and TenantClaimOptional says whether tid may be absent
	// (true only without EntraTenant).
	ExpectedTenant      string
	TenantClaimOptional bool
	// AcceptedTypes are the accepted JWS typ values (default ["JWT"]).
	AcceptedTypes []string
	// Version is the required ver claim, "" for none. For Entra issuer
	// forms it is inferred when not configured.
	Version string
	// AllowUnavailableAtStart lets graphdir start while the issuer's keys
	// cannot be fetched (its tokens get 503 until they can).
	AllowUnavailableAtStart bool
	// RefreshInterval and MinRefetchInterval, zero for auth's defaults
	// (1h and 5 min).
	RefreshInterval    time.Duration
	MinRefetchInterval time.Duration
}

// issuerJSON is the accepted JSON shape; unknown keys are refused.
type issuerJSON struct {
	Name                    string   `json:"name"`
	Issuer                  string   `json:"issuer"`
	DiscoveryURL            string   `json:"discoveryUrl"`
	JWKSURL                 string   `json:"jwksUrl"`
	Audiences               []string `json:"audiences"`
	Tenant                  string   `json:"tenant"`
	EntraTenant             string   `json:"entraTenant"`
	AcceptedTypes           []string `json:"acceptedTypes"`
	Version                 string   `json:"version"`
	AllowUnavailableAtStart bool     `json:"allowUnavailableAtStart"`
	RefreshInterval         string   `json:"refreshInterval"`
	MinRefetchInterval      string   `json:"minRefetchInterval"`
}

var (
	guidRE    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	typRE     = regexp.MustCompile(`^[A-Za-z0-9.+/-]{1,64}$`)
	entraV1RE = regexp.MustCompile(`^https://sts\.windows\.net/([^/]+)/$`)
	entraV2RE = regexp.MustCompile(`^https://login\.microsoftonline\.com/([^/]+)/v2\.0$`)
)

// msaTenant is the Microsoft personal-accounts tenant; graphdir serves
// organisations' and customers' directories, not consumer accounts.
const msaTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"

// LoadTrustedIssuers reads the external issuers from GRAPHDIR_TRUSTED_ISSUERS
// (a JSON array) or from the file named by GRAPHDIR_TRUSTED_ISSUERS_FILE,
// validates every entry and returns them resolved. Neither set means none.
// Every problem is reported at once, as a *Error.
func LoadTrustedIssuers(getenv func(string) string) ([]TrustedIssuerConfig, error) {
	inline, file := getenv(EnvTrustedIssuers), getenv(EnvTrustedIssuersFile)
	src := EnvTrustedIssuers
	var data []byte
	switch {
	case strings.TrimSpace(inline) != "" && file != "":
		return nil, &Error{Problems: []string{EnvTrustedIssuers + " and " + EnvTrustedIssuersFile + ": set one, not both"}}
	case file != "":
		src = EnvTrustedIssuersFile
		b, err := readCapped(file)
		if err != nil {
			return nil, &Error{Problems: []string{fmt.Sprintf("%s: %v", EnvTrustedIssuersFile, err)}}
		}
		data = b
	case strings.TrimSpace(inline) != "":
		data = []byte(inline)
	default:
		return nil, nil
	}
	if len(data) > maxIssuersBytes {
		return nil, &Error{Problems: []string{fmt.Sprintf("%s: larger than %d bytes", src, maxIssuersBytes)}}
	}

	var raw []issuerJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, &Error{Problems: []string{fmt.Sprintf("%s: not a JSON array of issuer objects: %v", src, err)}}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Problems: []string{src + ": trailing data after the JSON array"}}
	}
	if len(raw) > maxIssuers {
		return nil, &Error{Problems: []string{fmt.Sprintf("%s: at most %d issuers", src, maxIssuers)}}
	}

	var problems []string
	out := make([]TrustedIssuerConfig, 0, len(raw))
	names, issuers := map[string]int{}, map[string]int{}
	for i, r := range raw {
		label := fmt.Sprintf("%s[%d]", src, i)
		if r.Name != "" {
			label += " (" + r.Name + ")"
		}
		c, probs := resolveIssuer(r)
		for _, p := range probs {
			problems = append(problems, label+": "+p)
		}
		if r.Name != "" {
			if j, dup := names[r.Name]; dup {
				problems = append(problems, fmt.Sprintf("%s: name also used by entry %d", label, j))
			}
			names[r.Name] = i
		}
		if c.Issuer != "" {
			if j, dup := issuers[c.Issuer]; dup {
				problems = append(problems, fmt.Sprintf("%s: issuer also configured by entry %d", label, j))
			}
			issuers[c.Issuer] = i
		}
		out = append(out, c)
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return out, nil
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxIssuersBytes+1))
}

// resolveIssuer validates one entry and returns it resolved, with every
// problem found.
func resolveIssuer(r issuerJSON) (TrustedIssuerConfig, []string) {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	c := TrustedIssuerConfig{
		Name: r.Name, DiscoveryURL: r.DiscoveryURL, JWKSURL: r.JWKSURL,
		AcceptedTypes: r.AcceptedTypes, Version: r.Version, AllowUnavailableAtStart: r.AllowUnavailableAtStart,
	}
	if r.Name == "" || len(r.Name) > 64 || strings.ContainsFunc(r.Name, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		add("name: required, up to 64 printable characters")
	}

	// Tenants.
	if !guidRE.MatchString(r.Tenant) {
		add("tenant: %q must be the graphdir tenant id (a GUID)", r.Tenant)
	}
	c.TenantID = strings.ToLower(r.Tenant)
	if r.EntraTenant != "" {
		if !guidRE.MatchString(r.EntraTenant) {
			add("entraTenant: %q is not a GUID", r.EntraTenant)
		} else if strings.EqualFold(r.EntraTenant, msaTenant) {
			add("entraTenant: the Microsoft personal-accounts tenant is not supported")
		}
		c.EntraTenant = strings.ToLower(r.EntraTenant)
	}

	// Issuer: absolute URL; a {tenantid} template needs entraTenant and is
	// filled in with it, so the verifier compares iss exactly.
	c.Issuer = r.Issuer
	switch strings.Count(r.Issuer, TenantPlaceholder) {
	case 0:
	case 1:
		if c.EntraTenant == "" {
			add("issuer: a %s template needs entraTenant (tokens of other tenants are never accepted)", TenantPlaceholder)
		}
		c.Issuer = strings.ReplaceAll(r.Issuer, TenantPlaceholder, c.EntraTenant)
	default:
		add("issuer: more than one %s", TenantPlaceholder)
	}
	if err := checkURL(strings.ReplaceAll(r.Issuer, TenantPlaceholder, "t"), false); err != nil {
		add("issuer: %v", err)
	}
	// Entra issuer forms pin the tenant and the version.
	form := ""
	if m := entraV1RE.FindStringSubmatch(c.Issuer); m != nil {
		form = "1.0"
		if c.EntraTenant == "" || !strings.EqualFold(m[1], c.EntraTenant) {
			add("issuer: an Entra issuer needs entraTenant, and the tenant in the issuer must be it")
		}
	} else if m := entraV2RE.FindStringSubmatch(c.Issuer); m != nil {
		form = "2.0"
		if c.EntraTenant == "" || !strings.EqualFold(m[1], c.EntraTenant) {
			add("issuer: an Entra issuer needs entraTenant, and the tenant in the issuer must be it")
		}
	} else if c.EntraTenant != "" && !strings.Contains(strings.ToLower(c.Issuer), c.EntraTenant) {
		add("issuer: %q does not name entraTenant %s", c.Issuer, c.EntraTenant)
	}
	switch {
	case r.Version == "" && form != "":
		c.Version = form
	case r.Version != "" && r.Version != "1.0" && r.Version != "2.0":
		add("version: %q must be \"1.0\" or \"2.0\"", r.Version)
	case r.Version != "" && form != "" && r.Version != form:
		add("version: %s does not match the issuer's form (%s)", r.Version, form)
	}
	if c.EntraTenant != "" {
		c.ExpectedTenant = c.EntraTenant
	} else {
		// No Entra tenant: the issuer's tenant is the graphdir tenant, and
		// tokens need not carry tid (a tid that is present must match).
		c.ExpectedTenant, c.TenantClaimOptional = c.TenantID, true
	}

	// Where the keys come from.
	switch {
	case (r.DiscoveryURL == "") == (r.JWKSURL == ""):
		add("exactly one of discoveryUrl and jwksUrl is required")
	case r.DiscoveryURL != "":
		if err := checkURL(r.DiscoveryURL, true); err != nil {
			add("discoveryUrl: %v", err)
		}
	default:
		if err := checkURL(r.JWKSURL, true); err != nil {
			add("jwksUrl: %v", err)
		}
	}

	// Audiences and types.
	if len(r.Audiences) == 0 {
		add("audiences: at least one is required")
	}
	seen := map[string]bool{}
	for _, a := range r.Audiences {
		if strings.TrimSpace(a) != a || a == "" {
			add("audiences: %q is empty or has surrounding spaces", a)
		}
		if seen[a] {
			add("audiences: %q listed twice", a)
		}
		seen[a] = true
	}
	c.Audiences = r.Audiences
	if len(c.AcceptedTypes) == 0 {
		c.AcceptedTypes = []string{"JWT"}
	}
	for _, t := range c.AcceptedTypes {
		if !typRE.MatchString(t) {
			add("acceptedTypes: %q is not a media type such as JWT or at+jwt", t)
		}
	}

	// Refresh timing.
	if r.RefreshInterval != "" {
		d, err := time.ParseDuration(r.RefreshInterval)
		if err != nil || d < time.Minute || d > 24*time.Hour {
			add("refreshInterval: %q must be a duration from 1m to 24h", r.RefreshInterval)
		}
		c.RefreshInterval = d
	}
	if r.MinRefetchInterval != "" {
		d, err := time.ParseDuration(r.MinRefetchInterval)
		if err != nil || d < time.Second || d > 24*time.Hour {
			add("minRefetchInterval: %q must be a duration from 1s to 24h", r.MinRefetchInterval)
		}
		c.MinRefetchInterval = d
	}
	return c, p
}

// checkURL accepts absolute https URLs, and http ones only for localhost or
// a loopback address (local issuers in development). fetch URLs may carry a
// query; issuers may not.
func checkURL(raw string, fetched bool) error {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.User != nil || u.Fragment != "" || (!fetched && u.RawQuery != "") {
		return fmt.Errorf("%q must not carry user information, a fragment or (for an issuer) a query", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: use https (http only for localhost)", raw)
	}
	return fmt.Errorf("%q: only https URLs are allowed", raw)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
