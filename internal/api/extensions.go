package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/textlimit"
	"github.com/graphdir/graphdir/pkg/odata"
)

// Directory extension attributes at the edge: definitions under
// /v1.0/applications/{key}/extensionProperties, and extension values in
// $select (values in bodies pass through decodeUserBody as
// directory.RawExtension; $filter and $orderby through the Service).

// ExtensionUsers is what $select of extension properties needs.
type ExtensionUsers interface {
	// ResolveExtensions returns the caller's tenant's definitions of names
	// (400 for an unknown one).
	ResolveExtensions(ctx context.Context, names []string) ([]*directory.ExtensionProperty, error)
	// LoadExtensionValues fills the values of defs on users just read.
	LoadExtensionValues(ctx context.Context, users []*directory.User, defs []*directory.ExtensionProperty) error
}

// ExtensionDefinitions serves the extensionProperties routes (part of
// Applications).
type ExtensionDefinitions interface {
	CreateExtensionProperty(ctx context.Context, appKey string, in directory.ExtensionPropertyInput) (*directory.ExtensionProperty, error)
	ListExtensionProperties(ctx context.Context, appKey string) ([]*directory.ExtensionProperty, error)
	GetExtensionProperty(ctx context.Context, appKey, id string) (*directory.ExtensionProperty, error)
	DeleteExtensionProperty(ctx context.Context, appKey, id string) error
	// ExtensionPropertiesOf returns the definitions of apps by
	// application object id, in one query ($expand=extensionProperties).
	ExtensionPropertiesOf(ctx context.Context, apps []*directory.Application) (map[string][]*directory.ExtensionProperty, error)
}

// selectExtensions resolves the extension properties of q's $select
// against the caller's tenant (replacing parseSelect's placeholders by
// canonical properties) and loads their values on users. A no-op without
// extension properties in $select.
func (s *server) selectExtensions(c *gin.Context, q *queryOptions, users []*directory.User) error {
	var names []string
	for _, p := range q.selected {
		if p.Type == directory.TypeExtension {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	eu := s.dir
	ctx := c.Request.Context()
	defs, err := eu.ResolveExtensions(ctx, names)
	if err != nil {
		return err
	}
	byName := map[string]*directory.Property{}
	for _, d := range defs {
		byName[strings.ToLower(d.Name)] = directory.ExtensionPropertyOf(d)
	}
	sel := make([]*directory.Property, 0, len(q.selected))
	for _, p := range q.selected {
		if p.Type == directory.TypeExtension && p.Extension() == nil {
			r, ok := byName[strings.ToLower(p.Name)]
			if !ok { // ResolveExtensions refuses unknown names; never here
				return (&directory.Error{Kind: directory.KindUnsupported,
					Message: "Property '" + textlimit.Clip(p.Name, maxEchoed) + "' does not exist as a declared property or extension property."}).WithTarget(textlimit.Clip(p.Name, maxEchoed))
			}
			p = r
		}
		if !slices.Contains(sel, p) {
			sel = append(sel, p)
		}
	}
	q.selected = sel
	return eu.LoadExtensionValues(ctx, users, defs)
}

// ----- definitions

type extensionPropertyJSON struct {
	Context                string   `json:"@odata.context,omitempty"`
	ID                     string   `json:"id"`
	DeletedDateTime        *string  `json:"deletedDateTime"`
	AppDisplayName         string   `json:"appDisplayName"`
	DataType               string   `json:"dataType"`
	IsMultiValued          bool     `json:"isMultiValued"`
	IsSyncedFromOnPremises bool     `json:"isSyncedFromOnPremises"`
	Name                   string   `json:"name"`
	TargetObjects          []string `json:"targetObjects"`
}

func toExtensionPropertyJSON(d *directory.ExtensionProperty) extensionPropertyJSON {
	return extensionPropertyJSON{ID: d.ID, AppDisplayName: d.AppDisplayName, DataType: d.DataType,
		IsMultiValued: d.IsMultiValued, Name: d.Name, TargetObjects: append([]string{}, d.TargetObjects...)}
}

// extensionDefinitions starts every extensionProperties handler: the
// routes take no query options.
func (s *server) extensionDefinitions(c *gin.Context) (ExtensionDefinitions, bool) {
	if err := noQuery(c); err != nil {
		s.writeError(c, err)
		return nil, false
	}
	return s.apps, true
}

func (s *server) extensionContext(c *gin.Context, entity bool) string {
	ctx := s.base(c.Request) + apiPrefix + "/$metadata#applications('" + c.Param("key") + "')/extensionProperties"
	if entity {
		ctx += "/$entity"
	}
	return ctx
}

// handleCreateExtensionProperty serves POST .../extensionProperties: 201.
func (s *server) handleCreateExtensionProperty(c *gin.Context) {
	ed, ok := s.extensionDefinitions(c)
	if !ok {
		return
	}
	in, err := s.extensionPropertyBody(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	d, err := ed.CreateExtensionProperty(c.Request.Context(), c.Param("key"), in)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := toExtensionPropertyJSON(d)
	out.Context = s.extensionContext(c, true)
	c.Header("Location", s.base(c.Request)+apiPrefix+"/applications/"+d.ApplicationID+"/extensionProperties/"+d.ID)
	writeJSON(c, http.StatusCreated, marshalJSON(out))
}

// extensionPropertyProperties are the properties of an extensionProperty,
// in output order; $select picks among them (case-insensitively).
var extensionPropertyProperties = []string{"id", "deletedDateTime", "appDisplayName", "dataType",
	"isMultiValued", "isSyncedFromOnPremises", "name", "targetObjects"}

// extensionQuery starts the extensionProperties reads: the route's row
// says which options it takes (parseOptions), and $select names
// extensionProperty properties (selectOf). sel is nil without $select.
func (s *server) extensionQuery(c *gin.Context) (ExtensionDefinitions, *queryOptions, []string, bool) {
	var sel []string
	q, err := parseOptions(c.Request.URL.RawQuery, queryRules{
		allowed:    routeOptions(c),
		selectList: selectListOf(extensionPropertyProperties, "extensionProperty", &sel),
	})
	if err != nil {
		s.writeError(c, err)
		return nil, nil, nil, false
	}
	return s.apps, q, sel, true
}

// extensionNameFilter reads the one $filter Graph documents for
// extensionProperties, name eq '…', and returns the name ("" without a
// filter).
func extensionNameFilter(e odata.Expr) (name string, err error) {
	if e == nil {
		return "", nil
	}
	b, ok := e.(*odata.BinaryExpr)
	if ok && b.Op == odata.OpEq {
		path, ok1 := b.X.(*odata.PathExpr)
		lit, ok2 := b.Y.(*odata.Literal)
		if ok1 && ok2 && path.Base == nil && len(path.Segments) == 1 && strings.EqualFold(path.Segments[0], "name") && lit.Kind == odata.LitString {
			return lit.Value, nil
		}
	}
	return "", (&directory.Error{Kind: directory.KindUnsupported,
		Message: "Unsupported filter on extensionProperties: only name eq '{name}' is supported."}).WithTarget("$filter")
}

// handleListExtensionProperties serves GET .../extensionProperties, with
// $select and $filter=name eq '…'. The list comes whole (Graph does not
// page it either), so the filter picks from it here: names are unique in
// the tenant, and reading the application's definitions is the query the
// route makes anyway.
func (s *server) handleListExtensionProperties(c *gin.Context) {
	ed, q, sel, ok := s.extensionQuery(c)
	if !ok {
		return
	}
	name, err := extensionNameFilter(q.filter)
	if err != nil {
		s.writeError(c, err)
		return
	}
	defs, err := ed.ListExtensionProperties(c.Request.Context(), c.Param("key"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	b := append([]byte(`{"@odata.context":`), appendString(nil, s.extensionContext(c, false)+selectSuffix(sel))...)
	b = append(b, `,"value":[`...)
	n := 0
	for _, d := range defs {
		if name != "" && !strings.EqualFold(d.Name, name) {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		full := marshalJSON(toExtensionPropertyJSON(d))
		if sel != nil {
			full = appendSelected(nil, full, sel, true)
		}
		b = append(b, full...)
	}
	writeJSON(c, http.StatusOK, append(b, "]}"...))
}

// handleGetExtensionProperty serves GET .../extensionProperties/{id}, with
// $select.
func (s *server) handleGetExtensionProperty(c *gin.Context) {
	ed, _, sel, ok := s.extensionQuery(c)
	if !ok {
		return
	}
	d, err := ed.GetExtensionProperty(c.Request.Context(), c.Param("key"), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := toExtensionPropertyJSON(d)
	out.Context = s.extensionContext(c, true)
	if sel != nil {
		out.Context = s.extensionContext(c, false) + selectSuffix(sel) + "/$entity"
		writeJSON(c, http.StatusOK, appendSelected(nil, marshalJSON(out), sel, true))
		return
	}
	writeJSON(c, http.StatusOK, marshalJSON(out))
}

// handleDeleteExtensionProperty serves DELETE .../extensionProperties/{id}:
// 204; every value of the property goes with it.
func (s *server) handleDeleteExtensionProperty(c *gin.Context) {
	ed, ok := s.extensionDefinitions(c)
	if !ok {
		return
	}
	if err := ed.DeleteExtensionProperty(c.Request.Context(), c.Param("key"), c.Param("id")); err != nil {
		s.writeError(c, err)
		return
	}
	noContent(c)
}

// extensionPropertyTable is the property table of an extension property
// definition body.
var extensionPropertyTable = bodyTable[directory.ExtensionPropertyInput]{
	resource: "microsoft.graph.extensionProperty", odataType: "#microsoft.graph.extensionProperty", noun: "an extension property",
	fields: slices.Concat([]bodyField[directory.ExtensionPropertyInput]{
		{name: "name", decode: func(raw json.RawMessage, in *directory.ExtensionPropertyInput) error {
			return json.Unmarshal(raw, &in.Name)
		}},
		{name: "dataType", decode: func(raw json.RawMessage, in *directory.ExtensionPropertyInput) error {
			return json.Unmarshal(raw, &in.DataType)
		}},
		{name: "targetObjects", decode: func(raw json.RawMessage, in *directory.ExtensionPropertyInput) error {
			if err := json.Unmarshal(raw, &in.TargetObjects); err != nil {
				return err
			}
			if len(in.TargetObjects) > 16 {
				return errInvalidValue
			}
			return nil
		}},
		{name: "isMultiValued", nullable: true, decode: func(raw json.RawMessage, in *directory.ExtensionPropertyInput) error {
			return json.Unmarshal(raw, &in.IsMultiValued)
		}},
	},
		readOnlyFields[directory.ExtensionPropertyInput]("id", "appDisplayName", "deletedDateTime", "isSyncedFromOnPremises"),
	),
}

// extensionPropertyBody decodes {"name", "dataType", "targetObjects",
// "isMultiValued"} strictly (extensionPropertyTable).
// extensionDefinitions has refused query options already.
func (s *server) extensionPropertyBody(c *gin.Context) (directory.ExtensionPropertyInput, error) {
	data, err := s.readBody(c)
	if err != nil {
		return directory.ExtensionPropertyInput{}, err
	}
	return decodeObject(data, &extensionPropertyTable)
}
