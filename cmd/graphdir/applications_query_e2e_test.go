package main

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestApplications_QueryOptions drives the query options of List
// applications through the real router and store: $filter, $orderby,
// $search, $count (inline and /applications/$count), $top with keyset
// $skiptoken pages, with or without ConsistencyLevel: eventual, and the
// refusals, each a Graph error naming the property, operator or option.
func TestApplications_QueryOptions(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	admin := s.appToken("Application.ReadWrite.All")
	// The stack's own applications (the token's) are listed too; every
	// query below names only these.
	ids, appIDs := map[string]string{}, map[string]string{}
	for _, n := range []string{"qo Payroll Sync", "qo payroll export", "qo HR Portal", "qo Zeta"} {
		r := s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": n})
		if r.Status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", n, r.Status, r.Body)
		}
		m := r.JSON(t)
		ids[n], appIDs[n] = m["id"].(string), m["appId"].(string)
	}
	names := func(r *response) []string {
		t.Helper()
		var out []string
		for _, v := range r.JSON(t)["value"].([]any) {
			out = append(out, v.(map[string]any)["displayName"].(string))
		}
		return out
	}
	get := func(q url.Values, headers ...string) *response {
		t.Helper()
		return s.do("GET", "/v1.0/applications?"+q.Encode(), admin, nil, headers...)
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	for _, c := range []struct {
		q       url.Values
		want    []string
		ordered bool
	}{
		{q: url.Values{"$filter": {"displayName eq 'QO HR PORTAL'"}}, want: []string{"qo HR Portal"}},
		{q: url.Values{"$filter": {"startsWith(displayName,'qo pay')"}}, want: sorted("qo Payroll Sync", "qo payroll export")},
		{q: url.Values{"$filter": {"appId eq '" + appIDs["qo Zeta"] + "'"}}, want: []string{"qo Zeta"}},
		{q: url.Values{"$filter": {"id eq '" + ids["qo Zeta"] + "'"}}, want: []string{"qo Zeta"}},
		{q: url.Values{"$filter": {"id in ('" + ids["qo Zeta"] + "','" + ids["qo HR Portal"] + "')"}}, want: sorted("qo HR Portal", "qo Zeta")},
		{q: url.Values{"$filter": {"startsWith(displayName,'qo') and displayName ne 'qo Zeta' and not startsWith(displayName,'qo pay')"}}, want: []string{"qo HR Portal"}},
		{q: url.Values{"$filter": {"startsWith(displayName,'qo')"}, "$orderby": {"displayName desc"}}, ordered: true,
			want: []string{"qo Zeta", "qo Payroll Sync", "qo payroll export", "qo HR Portal"}},
		{q: url.Values{"$search": {`"displayName:sync" OR "displayName:portal"`}, "$filter": {"startsWith(displayName,'qo')"}}, want: sorted("qo HR Portal", "qo Payroll Sync")},
	} {
		for _, hdr := range [][]string{nil, {"ConsistencyLevel", "eventual"}} {
			r := get(c.q, hdr...)
			if r.Status != http.StatusOK {
				t.Errorf("%s: %d %s", c.q.Encode(), r.Status, r.Body)
				continue
			}
			got := names(r)
			if !c.ordered {
				slices.Sort(got)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s: %q, want %q", c.q.Encode(), got, c.want)
			}
		}
		// The same filter counted, inline and at /$count.
		cq := url.Values{"$count": {"true"}}
		for k, v := range c.q {
			if k != "$orderby" {
				cq[k] = v
			}
		}
		r := get(cq)
		if m := r.JSON(t); r.Status != http.StatusOK || m["@odata.count"] != float64(len(c.want)) {
			t.Errorf("%s: %d %s", cq.Encode(), r.Status, r.Body)
		}
		delete(cq, "$count")
		r = s.do("GET", "/v1.0/applications/$count?"+cq.Encode(), admin, nil, "ConsistencyLevel", "eventual")
		if r.Status != http.StatusOK || string(r.Body) != fmt.Sprint(len(c.want)) || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("/$count?%s: %d %s", cq.Encode(), r.Status, r.Body)
		}
	}
	// /applications/%24count, the escaped spelling, is the same count.
	if r := s.do("GET", "/v1.0/applications/%24count?$filter="+url.QueryEscape("startsWith(displayName,'qo')"), admin, nil); r.Status != http.StatusOK || string(r.Body) != "4" {
		t.Errorf("/applications/%%24count: %d %s", r.Status, r.Body)
	}

	// $top pages by keyset: ordered by displayName, nextLink carries the
	// query and a $skiptoken, and the pages neither skip nor repeat.
	var got []string
	link := "/v1.0/applications?" + url.Values{"$filter": {"startsWith(displayName,'qo')"}, "$orderby": {"displayName"}, "$top": {"1"}, "$select": {"displayName"}}.Encode()
	for pages := 0; link != ""; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		r := s.do("GET", link, admin, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("page %s: %d %s", link, r.Status, r.Body)
		}
		got = append(got, names(r)...)
		next, _ := r.JSON(t)["@odata.nextLink"].(string)
		link = strings.TrimPrefix(next, s.srv.URL)
		if next == "" {
			continue
		}
		if u, err := url.Parse(next); err != nil || u.Query().Get("$skiptoken") == "" || u.Query().Get("$orderby") != "displayName" || u.Query().Get("$top") != "1" {
			t.Fatalf("nextLink %s", next)
		}
	}
	if want := []string{"qo HR Portal", "qo payroll export", "qo Payroll Sync", "qo Zeta"}; !slices.Equal(got, want) {
		t.Errorf("pages: %q, want %q", got, want)
	}

	// Refusals: Graph's Request_UnsupportedQuery (or BadRequest for an
	// option the API does not take), naming what is refused.
	for _, c := range []struct {
		q     url.Values
		names string
	}{
		{url.Values{"$filter": {"createdDateTime ge 2024-01-01T00:00:00Z"}}, "createdDateTime"},
		{url.Values{"$filter": {"startsWith(appId,'a')"}}, "appId"},
		{url.Values{"$filter": {"displayName gt 'a'"}}, "displayName"},
		{url.Values{"$filter": {"endsWith(displayName,'a')"}}, "endsWith"},
		{url.Values{"$orderby": {"createdDateTime"}}, "createdDateTime"},
		{url.Values{"$search": {`"signInAudience:x"`}}, "signInAudience"},
		{url.Values{"$skip": {"1"}}, "$skip"},
		{url.Values{"$expand": {"owners"}}, "$expand"},
	} {
		r := get(c.q)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", c.q.Encode(), r.Status, r.Body)
			continue
		}
		code := r.ErrorCode(t)
		if (code != "Request_UnsupportedQuery" && code != "BadRequest" && code != "Request_BadRequest") || !strings.Contains(string(r.Body), c.names) {
			t.Errorf("%s: %s, want an error naming %s", c.q.Encode(), r.Body, c.names)
		}
		if strings.HasPrefix(c.names, "$") {
			continue
		}
		if code != "Request_UnsupportedQuery" {
			t.Errorf("%s: code %s, want Request_UnsupportedQuery", c.q.Encode(), code)
		}
	}
}

// TestApplications_MetadataCapabilities: the Capabilities annotations of
// /applications in $metadata say what the list answers: each property
// FilterRestrictions lists takes eq, each non-filterable one is refused,
// $orderby works exactly on the sortable ones, and it is searchable.
func TestApplications_MetadataCapabilities(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	admin := s.appToken("Application.Read.All")
	m := loadCSDL(t, s.do("GET", "/v1.0/$metadata", "", nil).Body)
	var filterable, nonFilterable, nonSortable []string
	searchable := ""
	found := false
	for _, a := range m.doc.Schemas[0].Annotations {
		if a.Target != "microsoft.graph.GraphService/applications" {
			continue
		}
		found = true
		for _, an := range a.Annotations {
			for _, v := range an.Values {
				switch v.Property {
				case "NonFilterableProperties":
					nonFilterable = v.PropertyPath
				case "NonSortableProperties":
					nonSortable = v.PropertyPath
				case "Searchable":
					searchable = v.Bool
				case "FilterExpressionRestrictions":
					for _, r := range v.Records {
						for _, pv := range r.Values {
							if pv.Property == "Property" {
								filterable = append(filterable, pv.PropertyPath)
							}
						}
					}
				}
			}
		}
	}
	if !found || !slices.Equal(sorted(filterable), []string{"appId", "displayName", "id"}) || len(nonFilterable) < 5 || searchable != "true" {
		t.Fatalf("applications annotations: found %v, filterable %v, non-filterable %v, searchable %q", found, filterable, nonFilterable, searchable)
	}
	get := func(q url.Values) *response { return s.do("GET", "/v1.0/applications?"+q.Encode(), admin, nil) }
	for _, p := range filterable {
		if r := get(url.Values{"$filter": {p + " eq '" + "00000000-0000-0000-0000-000000000000'"}}); r.Status != http.StatusOK {
			t.Errorf("annotated filterable, but $filter=%s eq … is %d %s", p, r.Status, r.Body)
		}
	}
	for _, p := range nonFilterable {
		if r := get(url.Values{"$filter": {p + " eq 'x'"}}); r.Status != http.StatusBadRequest {
			t.Errorf("annotated non-filterable, but $filter=%s eq … is %d", p, r.Status)
		}
	}
	for _, p := range append([]string{"displayName"}, nonSortable...) {
		r := get(url.Values{"$orderby": {p}})
		if want := !slices.Contains(nonSortable, p); want != (r.Status == http.StatusOK) {
			t.Errorf("sortable=%v in $metadata, but $orderby=%s is %d %s", want, p, r.Status, r.Body)
		}
	}
	if r := get(url.Values{"$search": {`"displayName:x"`}}); r.Status != http.StatusOK {
		t.Errorf("annotated searchable, but $search is %d %s", r.Status, r.Body)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
