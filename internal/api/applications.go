package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/jsonstrict"
	"github.com/graphdir/graphdir/internal/textlimit"
)

// Applications is what the /v1.0/applications routes need, their
// extensionProperties included; *directory.Applications implements it. Every method reads the caller from
// the context and returns *directory.Error values.
type Applications interface {
	// Authorize checks, before anything is parsed, that the caller may
	// read (or write) applications at all; refused writes are audited as act.
	Authorize(ctx context.Context, write bool, act directory.Activity, key string) error
	CreateApplication(ctx context.Context, in directory.ApplicationInput) (*directory.Application, error)
	GetApplication(ctx context.Context, key string) (*directory.Application, error)
	ListApplications(ctx context.Context, q directory.ListQuery) (*directory.ApplicationPage, error)
	CountApplications(ctx context.Context, q directory.ListQuery) (int64, error)
	UpdateApplication(ctx context.Context, key string, in directory.ApplicationInput) error
	DeleteApplication(ctx context.Context, key string) error
	AddPassword(ctx context.Context, key string, in directory.PasswordCredentialInput) (*directory.NewSecret, error)
	RemovePassword(ctx context.Context, key, keyID string) error
	ExtensionDefinitions // extensions.go
}

var _ Applications = (*directory.Applications)(nil)

// odataTypeApplication is the only @odata.type an application body may declare.
const odataTypeApplication = "#microsoft.graph.application"

// permissionsProperty is graphdir's extension property holding an
// application's granted application permissions. Graph grants them as
// appRoleAssignments on the app's service principal; graphdir has no
// service principals, so the grant lives on the application itself.
const permissionsProperty = "graphdirPermissions"

// authorizeApplications checks that the caller may read (or write)
// applications at all, before anything is parsed.
func (s *server) authorizeApplications(write bool, act directory.Activity) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.apps.Authorize(c.Request.Context(), write, act, c.Param("key")); err != nil {
			s.writeError(c, err)
			return
		}
		c.Next()
		if write {
			s.recordRefusal(c, act) // audit.go
		}
	}
}

type passwordCredentialJSON struct {
	Context             string  `json:"@odata.context,omitempty"`
	CustomKeyIdentifier *string `json:"customKeyIdentifier"`
	DisplayName         *string `json:"displayName"`
	EndDateTime         string  `json:"endDateTime"`
	Hint                string  `json:"hint"`
	KeyID               string  `json:"keyId"`
	SecretText          *string `json:"secretText"`
	StartDateTime       string  `json:"startDateTime"`
}

type applicationJSON struct {
	Context             string                   `json:"@odata.context,omitempty"`
	ID                  string                   `json:"id"`
	DeletedDateTime     *string                  `json:"deletedDateTime"`
	AppID               string                   `json:"appId"`
	CreatedDateTime     string                   `json:"createdDateTime"`
	DisplayName         string                   `json:"displayName"`
	SignInAudience      string                   `json:"signInAudience"`
	KeyCredentials      []struct{}               `json:"keyCredentials"`
	PasswordCredentials []passwordCredentialJSON `json:"passwordCredentials"`
	signInJSON                                   // appsignin.go
	Permissions         []string                 `json:"graphdirPermissions"`
}

func credentialJSON(pc directory.PasswordCredential) passwordCredentialJSON {
	return passwordCredentialJSON{
		DisplayName: pc.DisplayName, EndDateTime: formatDateTime(pc.EndDateTime), Hint: pc.Hint,
		KeyID: pc.KeyID, StartDateTime: formatDateTime(pc.StartDateTime),
	}
}

func toApplicationJSON(a *directory.Application) applicationJSON {
	out := applicationJSON{
		ID: a.ID, AppID: a.AppID, CreatedDateTime: formatDateTime(a.CreatedAt), DisplayName: a.DisplayName,
		SignInAudience: "AzureADMyOrg", KeyCredentials: []struct{}{},
		PasswordCredentials: make([]passwordCredentialJSON, 0, len(a.PasswordCredentials)),
		Permissions:         append([]string{}, a.Permissions...),
		signInJSON:          toSignInJSON(a.SignInSettings),
	}
	for _, pc := range a.PasswordCredentials {
		out.PasswordCredentials = append(out.PasswordCredentials, credentialJSON(pc))
	}
	return out
}

func marshalJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // strings, slices and pointers to strings only
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// applicationQuery reads the query string of an applications route with
// the one option reader (parseOptions): the route's row says what it takes,
// and $select names application properties. An option the route does not
// take is refused naming applications.
func applicationQuery(c *gin.Context) (*queryOptions, []string, error) {
	var sel []string
	q, err := parseOptions(c.Request.URL.RawQuery, queryRules{
		allowed:  routeOptions(c),
		typeName: "application",
		selectList: func(v string) (err error) {
			sel, err = parseAppSelect(v)
			return err
		},
		refuse: func(option string) error {
			return (&directory.Error{Kind: directory.KindInvalid, Message: "Query option '" + option + "' is not supported on applications."}).WithTarget(option)
		},
	})
	return q, sel, err
}

// noQuery refuses the query options of routes that take none but $format.
func noQuery(c *gin.Context) error {
	_, _, err := applicationQuery(c)
	return err
}

// handleListApplications serves GET /v1.0/applications with the options
// Graph documents on List applications: $select, $filter, $orderby,
// $search, $count and $top (1..999, default 100), with server-driven
// keyset paging through a signed $skiptoken. Graph wants ConsistencyLevel:
// eventual for ne, not, $count and $search; graphdir answers in its one
// consistent mode with or without it, as for users.
func (s *server) handleListApplications(c *gin.Context) {
	q, sel, err := applicationQuery(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	p := directory.PrincipalFrom(c.Request.Context())
	lq := q.listQuery()
	shape := q.shapeHash()
	if q.skipToken != "" {
		if lq.After, err = s.skipTokens.Open(p.TenantID, shape, q.skipToken); err != nil {
			s.writeError(c, err)
			return
		}
	}
	page, err := s.apps.ListApplications(c.Request.Context(), lq)
	if err != nil {
		s.writeError(c, err)
		return
	}
	expanded, err := s.expandApplications(c.Request.Context(), q.expand, page.Applications) // applications_expand.go
	if err != nil {
		s.writeError(c, err)
		return
	}
	base := s.base(c.Request)
	body := struct {
		Context  string            `json:"@odata.context"`
		Count    *int64            `json:"@odata.count,omitempty"`
		NextLink string            `json:"@odata.nextLink,omitempty"`
		Value    []json.RawMessage `json:"value"`
	}{Context: base + apiPrefix + "/$metadata#applications" + expandSuffix(sel, q.expand), Count: page.Count,
		Value: make([]json.RawMessage, 0, len(page.Applications))}
	if page.Next != nil {
		body.NextLink = base + apiPrefix + "/applications?" + q.nextLinkQuery(s.skipTokens.Sign(p.TenantID, shape, page.Next))
	}
	for _, a := range page.Applications {
		body.Value = append(body.Value, expanded(a, selectApplication(toApplicationJSON(a), sel)))
	}
	writeJSON(c, http.StatusOK, marshalJSON(body))
}

// handleCountApplications serves GET /v1.0/applications/$count: the number
// of applications $filter and $search match, as a bare integer in
// text/plain (writeCount), with or without ConsistencyLevel: eventual.
func (s *server) handleCountApplications(c *gin.Context) {
	q, _, err := applicationQuery(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	n, err := s.apps.CountApplications(c.Request.Context(), q.listQuery())
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeCount(c, n)
}

// handleGetApplication serves GET /v1.0/applications/{id | appId='...'}.
func (s *server) handleGetApplication(c *gin.Context) {
	if c.Param("key") == "$count" {
		// /applications/%24count: the router matched the escaped form as
		// a key; the options are those of the $count row.
		c.Set(routeOptionsKey, countOptions)
		s.handleCountApplications(c)
		return
	}
	q, sel, err := applicationQuery(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	a, err := s.apps.GetApplication(c.Request.Context(), c.Param("key"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	expanded, err := s.expandApplications(c.Request.Context(), q.expand, []*directory.Application{a})
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := toApplicationJSON(a)
	out.Context = s.base(c.Request) + apiPrefix + "/$metadata#applications" + expandSuffix(sel, q.expand) + "/$entity"
	writeJSON(c, http.StatusOK, expanded(a, selectApplication(out, sel)))
}

// applicationProperties are the properties of an application, in output
// order; $select picks among them (case-insensitively, as Graph does).
var applicationProperties = slices.Concat([]string{"id", "deletedDateTime", "appId", "createdDateTime", "displayName",
	"signInAudience", "keyCredentials", "passwordCredentials"}, signInProperties, []string{permissionsProperty})

// parseAppSelect resolves a $select list of application properties
// (selectOf, the one $select parser).
func parseAppSelect(v string) ([]string, error) {
	return selectOf(v, func(name string) (string, bool) {
		for _, p := range applicationProperties {
			if strings.EqualFold(p, name) {
				return p, true
			}
		}
		return "", false
	}, func(name string) error {
		return (&directory.Error{Kind: directory.KindInvalid,
			Message: "Could not find a property named '" + textlimit.Clip(name, maxEchoed) + "' on type 'microsoft.graph.application'."}).WithTarget("$select")
	})
}

func selectSuffix(sel []string) string {
	if sel == nil {
		return ""
	}
	return "(" + strings.Join(sel, ",") + ")"
}

// selectApplication renders a with only the selected properties (all when
// sel is nil), keeping @odata.context first and id always, as Graph does.
func selectApplication(a applicationJSON, sel []string) json.RawMessage {
	full := marshalJSON(a)
	if sel == nil {
		return full
	}
	return appendSelected(nil, full, sel, true)
}

// appendSelected appends the members of the JSON object full that sel
// names, with @odata.context and id always, as Graph returns them: as a
// new object when first, else continuing the object b has open.
func appendSelected(b, full []byte, sel []string, first bool) []byte {
	members, err := jsonstrict.Object(full)
	if err != nil {
		panic(err) // we just wrote it
	}
	if first {
		b = append(b, '{')
	}
	for _, m := range members {
		if m.Key != "@odata.context" && m.Key != "id" && !slices.Contains(sel, m.Key) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, m.Key)
		b = append(b, ':')
		b = append(b, m.Value...)
	}
	return append(b, '}')
}

// handleCreateApplication serves POST /v1.0/applications: 201 with the
// application (no secrets; use addPassword).
func (s *server) handleCreateApplication(c *gin.Context) {
	in, err := s.applicationBody(c, true)
	if err != nil {
		s.writeError(c, err)
		return
	}
	a, err := s.apps.CreateApplication(c.Request.Context(), in)
	if err != nil {
		s.writeError(c, err)
		return
	}
	base := s.base(c.Request)
	out := toApplicationJSON(a)
	out.Context = base + apiPrefix + "/$metadata#applications/$entity"
	c.Header("Location", base+apiPrefix+"/applications/"+a.ID)
	writeJSON(c, http.StatusCreated, marshalJSON(out))
}

// handleUpdateApplication serves PATCH: 204 No Content, as Graph answers.
func (s *server) handleUpdateApplication(c *gin.Context) {
	in, err := s.applicationBody(c, false)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.apps.UpdateApplication(c.Request.Context(), c.Param("key"), in); err != nil {
		s.writeError(c, err)
		return
	}
	noContent(c)
}

// handleDeleteApplication serves DELETE: 204.
func (s *server) handleDeleteApplication(c *gin.Context) {
	if err := noQuery(c); err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.apps.DeleteApplication(c.Request.Context(), c.Param("key")); err != nil {
		s.writeError(c, err)
		return
	}
	noContent(c)
}

func noContent(c *gin.Context) {
	c.Writer.Header().Set("Cache-Control", "no-store")
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

// handleAddPassword serves POST .../addPassword: 200 with the new
// passwordCredential, whose secretText is never shown again.
func (s *server) handleAddPassword(c *gin.Context) {
	in, err := s.addPasswordBody(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	sec, err := s.apps.AddPassword(c.Request.Context(), c.Param("key"), in)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := credentialJSON(sec.PasswordCredential)
	out.Context = s.base(c.Request) + apiPrefix + "/$metadata#microsoft.graph.passwordCredential"
	out.SecretText = &sec.SecretText
	writeJSON(c, http.StatusOK, marshalJSON(out))
}

// handleRemovePassword serves POST .../removePassword {"keyId"}: 204.
func (s *server) handleRemovePassword(c *gin.Context) {
	members, err := s.strictBody(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	keyID, err := decodeMembers(members, &removePasswordTable)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if keyID == "" {
		s.writeError(c, (&directory.Error{Kind: directory.KindInvalid, Message: "Property 'keyId' is required."}).WithTarget("keyId"))
		return
	}
	if err := s.apps.RemovePassword(c.Request.Context(), c.Param("key"), keyID); err != nil {
		s.writeError(c, err)
		return
	}
	noContent(c)
}

// strictBody reads the members of an applications request's JSON object
// body; the routes take no query options.
func (s *server) strictBody(c *gin.Context) ([]jsonstrict.Member, error) {
	if err := noQuery(c); err != nil {
		return nil, err
	}
	data, err := s.readBody(c)
	if err != nil {
		return nil, err
	}
	return strictMembers(data)
}

// applicationTable is the property table of an application body (create
// and update). Server-set properties are read-only; the Graph properties
// graphdir does not model are refused, so that nothing is silently dropped.
var applicationTable = bodyTable[directory.ApplicationInput]{
	resource: "microsoft.graph.application", odataType: odataTypeApplication, noun: "an application",
	fields: slices.Concat([]bodyField[directory.ApplicationInput]{
		{name: "displayName", decode: func(raw json.RawMessage, in *directory.ApplicationInput) error {
			return json.Unmarshal(raw, &in.DisplayName)
		}},
		{name: permissionsProperty, decode: func(raw json.RawMessage, in *directory.ApplicationInput) error {
			if err := json.Unmarshal(raw, &in.Permissions); err != nil {
				return err
			}
			if len(*in.Permissions) > 100 {
				return errInvalidValue
			}
			return nil
		}},
		{name: "passwordCredentials", refuse: "Property 'passwordCredentials' cannot be set directly; use addPassword."},
	}, signInFields(),
		readOnlyFields[directory.ApplicationInput]("id", "appId", "createdDateTime", "deletedDateTime", "publisherDomain"),
		unsupportedFields[directory.ApplicationInput]("keyCredentials", "signInAudience",
			"appRoles", "api", "identifierUris", "tags", "description", "notes",
			"owners", "federatedIdentityCredentials", "optionalClaims", "info", "groupMembershipClaims"),
	),
}

// applicationBody decodes a create (create true) or update body strictly.
func (s *server) applicationBody(c *gin.Context, create bool) (directory.ApplicationInput, error) {
	members, err := s.strictBody(c)
	if err != nil {
		return directory.ApplicationInput{}, err
	}
	in, err := decodeMembers(members, &applicationTable)
	if err != nil {
		return in, err
	}
	if !create && in.DisplayName == nil && in.Permissions == nil && len(in.SignIn.Properties()) == 0 {
		return in, directory.Errorf(directory.KindInvalid, "The request body names no property to update.")
	}
	return in, nil
}

// addPasswordTable is the property table of an addPassword body,
// {"passwordCredential": {...}}; a missing or null passwordCredential is
// an empty one.
var addPasswordTable = bodyTable[directory.PasswordCredentialInput]{
	resource: "addPassword",
	fields: []bodyField[directory.PasswordCredentialInput]{
		{name: "passwordCredential", nullable: true, decode: func(raw json.RawMessage, in *directory.PasswordCredentialInput) (err error) {
			*in, err = decodeObject(raw, &passwordCredentialTable)
			return err
		}},
	},
}

// passwordCredentialTable is the property table of addPassword's
// passwordCredential: the caller names it and bounds its validity; the
// server generates the rest, which is refused as read-only. Null members
// are left to the server's defaults.
var passwordCredentialTable = bodyTable[directory.PasswordCredentialInput]{
	resource: "microsoft.graph.passwordCredential",
	fields: []bodyField[directory.PasswordCredentialInput]{
		{name: "displayName", nullable: true, decode: func(raw json.RawMessage, in *directory.PasswordCredentialInput) error {
			return json.Unmarshal(raw, &in.DisplayName)
		}},
		{name: "startDateTime", nullable: true, decode: func(raw json.RawMessage, in *directory.PasswordCredentialInput) (err error) {
			in.StartDateTime, err = decodeDateTime("startDateTime", raw)
			return err
		}},
		{name: "endDateTime", nullable: true, decode: func(raw json.RawMessage, in *directory.PasswordCredentialInput) (err error) {
			in.EndDateTime, err = decodeDateTime("endDateTime", raw)
			return err
		}},
		{name: "keyId", readOnly: true, refuse: "Property 'keyId' is generated by the server and cannot be set."},
		{name: "secretText", readOnly: true, refuse: "Property 'secretText' is generated by the server and cannot be set."},
		{name: "hint", readOnly: true, refuse: "Property 'hint' is generated by the server and cannot be set."},
		{name: "customKeyIdentifier", readOnly: true, refuse: "Property 'customKeyIdentifier' is generated by the server and cannot be set."},
	},
}

// decodeDateTime decodes a JSON string holding an RFC 3339 date and time.
func decodeDateTime(key string, raw json.RawMessage) (*time.Time, error) {
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, (&directory.Error{Kind: directory.KindInvalid,
			Message: "Property '" + key + "' must be an ISO 8601 date and time with a time zone, e.g. 2027-01-01T00:00:00Z."}).WithTarget(key)
	}
	return &t, nil
}

// addPasswordBody decodes an addPassword body strictly (addPasswordTable).
func (s *server) addPasswordBody(c *gin.Context) (directory.PasswordCredentialInput, error) {
	members, err := s.strictBody(c)
	if err != nil {
		return directory.PasswordCredentialInput{}, err
	}
	return decodeMembers(members, &addPasswordTable)
}

// removePasswordTable is the property table of a removePassword body,
// {"keyId"}.
var removePasswordTable = bodyTable[string]{
	resource: "removePassword",
	fields: []bodyField[string]{
		{name: "keyId", decode: func(raw json.RawMessage, keyID *string) error { return json.Unmarshal(raw, keyID) }},
	},
}
