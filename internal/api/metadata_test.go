package api

import (
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

// TestMetadataIsPublicAndNothingElse: the two service documents answer
// without a token; every other /v1.0 path still answers 401 first.
func TestMetadataIsPublicAndNothingElse(t *testing.T) {
	a := newTestAPI(t)
	for _, tc := range []struct {
		target, contentType string
		status              int
	}{
		{"/v1.0/$metadata", "application/xml", http.StatusOK},
		{"/v1.0/", "application/json", http.StatusOK},
		{"/v1.0", "", http.StatusUnauthorized},
		{"/v1.0/$metadatax", "", http.StatusUnauthorized},
		{"/v1.0/users", "", http.StatusUnauthorized},
	} {
		w := a.do(t, request{method: "GET", target: tc.target})
		if w.Code != tc.status || !strings.HasPrefix(w.Header().Get("Content-Type"), tc.contentType) {
			t.Errorf("GET %s without a token: %d %s", tc.target, w.Code, w.Header().Get("Content-Type"))
		}
	}
	if len(a.users.called()) != 0 {
		t.Errorf("the service documents called the directory: %v", a.users.called())
	}
}

// TestMetadataCapabilities renders the annotations from the capabilities
// it is given: what the engine filters, sorts and searches, and the
// property table's other properties as non-filterable and non-sortable.
func TestMetadataCapabilities(t *testing.T) {
	doc := buildMetadata(directory.QueryCapabilities{Users: []directory.QueryCapability{
		{Property: "displayName", Operators: []string{"eq", "ne", "in", "gt", "ge", "lt", "le", "startsWith"}, Sortable: true, Searchable: true},
		{Property: "accountEnabled", Operators: []string{"eq", "ne", "in"}},
	}})
	if err := xml.Unmarshal(doc, new(struct{})); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	s := string(doc)
	for _, want := range []string{
		`<Annotations Target="microsoft.graph.GraphService/users">`,
		`<PropertyValue Property="Property" PropertyPath="displayName"/>`,
		`<PropertyValue Property="AllowedExpressions" String="MultiRangeOrSearchExpression"/>`,
		`<PropertyValue Property="AllowedExpressions" String="MultiValue"/>`,
		`<PropertyPath>city</PropertyPath>`,           // not in the engine's list: non-filterable, non-sortable
		`<PropertyPath>accountEnabled</PropertyPath>`, // filterable, not sortable
		`<PropertyValue Property="Searchable" Bool="true"/>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("$metadata lacks %s", want)
		}
	}
	if strings.Contains(s, "GraphService/directory/deletedItems") {
		t.Error("annotations for deleted items, which were given no capabilities")
	}
	if strings.Contains(string(buildMetadata(directory.QueryCapabilities{})), "Org.OData.Capabilities.V1.FilterRestrictions") {
		t.Error("annotations without capabilities")
	}
}
