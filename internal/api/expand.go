package api

import (
	"slices"
	"strconv"
	"strings"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/textlimit"
)

// $expand: which navigation properties a request may expand is read from
// the $metadata model (csdlTypes), so the parser accepts exactly what the
// CSDL declares and refuses everything else as Graph refuses a property
// its type does not have. Navigation properties of the types graphdir
// serves: application/extensionProperties, unifiedRoleAssignment/principal
// and unifiedRoleAssignment/roleDefinition. user and directoryObject
// declare none (manager, memberOf, owners belong to features graphdir does
// not implement), so $expand there accepts only "*", which expands nothing.

// expandPrefix opens every $expand parse error, as Graph words them
// ("Parsing OData Select and Expand failed: Could not find a property
// named 'x' on type 'microsoft.graph.user'.").
const expandPrefix = "Parsing OData Select and Expand failed: "

// navigationsOf returns the navigation properties of the entity type
// typeName (unqualified: "user"), its base types' included, as $metadata
// declares them. Only non-contained ones and contained collections of
// entity types are expandable; all of graphdir's are.
func navigationsOf(typeName string) []string {
	types := csdlTypes()
	var out []string
	for name := typeName; name != ""; {
		i := slices.IndexFunc(types, func(t csdlType) bool { return t.name == name })
		if i < 0 {
			break
		}
		for _, n := range types[i].navs {
			out = append(out, n.name)
		}
		name = strings.TrimPrefix(types[i].base, "graph.")
	}
	return out
}

// errExpand is a $expand parse error, Graph's code and wording.
func errExpand(msg string) error {
	return (&directory.Error{Kind: directory.KindBadRequest, Message: expandPrefix + msg}).WithTarget("$expand")
}

// parseExpand resolves a $expand value against the navigation properties
// of typeName: the names asked, canonical and without repeats, in the
// order asked ("*" stands for all of them). Names match case-insensitively,
// as $select's do. graphdir expands one level without options: an item
// with options in parentheses, a /$ref or a type cast is refused naming
// it, rather than answered as if the option were not there.
func parseExpand(v, typeName string) ([]string, error) {
	navs := navigationsOf(typeName)
	items, err := splitExpand(v)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, it := range items {
		path, options, hasOptions := strings.Cut(it.text, "(")
		segments := strings.Split(path, "/")
		first := strings.TrimSpace(segments[0])
		var names []string
		switch {
		case first == "":
			return nil, errExpand("An identifier was expected at position " + strconv.Itoa(it.pos) + ".")
		case first == "*":
			names = navs
		default:
			i := slices.IndexFunc(navs, func(n string) bool { return strings.EqualFold(n, first) })
			if i < 0 {
				return nil, errExpand("Could not find a property named '" + textlimit.Clip(first, maxEchoed) +
					"' on type 'microsoft.graph." + typeName + "'.")
			}
			names = navs[i : i+1]
		}
		if len(segments) > 1 {
			return nil, errExpand("graphdir expands navigation properties themselves: '" + textlimit.Clip(strings.TrimSpace(path), maxEchoed) +
				"' (a /$ref, /$count or type-cast segment) is not supported.")
		}
		if hasOptions {
			return nil, errExpand("graphdir expands without nested query options: '" + textlimit.Clip(first+"("+options, maxEchoed) +
				"' is not supported; expand '" + textlimit.Clip(first, maxEchoed) + "' and use $select on the outer request.")
		}
		for _, n := range names {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// expandPart is one comma-separated item of $expand and its byte offset.
type expandPart struct {
	text string
	pos  int
}

// splitExpand splits v at the commas outside parentheses and quoted
// strings. Unbalanced parentheses or an unterminated string are refused.
func splitExpand(v string) ([]expandPart, error) {
	var parts []expandPart
	depth, start, quoted := 0, 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case quoted:
			if c == '\'' {
				quoted = false // a doubled '' reopens at the next byte
			}
		case c == '\'':
			quoted = true
		case c == '(':
			depth++
		case c == ')':
			if depth == 0 {
				return nil, errExpand("Found an unbalanced bracket expression.")
			}
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, expandPart{v[start:i], start})
			start = i + 1
		}
	}
	if quoted {
		return nil, errExpand("There is an unterminated string literal in the $expand value.")
	}
	if depth != 0 {
		return nil, errExpand("Found an unbalanced bracket expression.")
	}
	return append(parts, expandPart{v[start:], start}), nil
}

// expandSuffix is the part of @odata.context a selection and an expansion
// add: "(id,displayName,principal())" (OData 4.01's form, which Graph
// writes: an expanded navigation property is listed with empty
// parentheses after the selected properties).
func expandSuffix(sel, expanded []string) string {
	if sel == nil && len(expanded) == 0 {
		return ""
	}
	items := slices.Clone(sel)
	for _, n := range expanded {
		items = append(items, n+"()")
	}
	return "(" + strings.Join(items, ",") + ")"
}

// appendMember appends "name":value to the object b has open.
func appendMember(b []byte, name string, value []byte) []byte {
	b = append(b, ',')
	b = appendString(b, name)
	b = append(b, ':')
	return append(b, value...)
}

// closeWith replaces the closing brace of the object at the end of b by
// members, then closes it again: the expanded navigation properties follow
// the item's own (selected) properties.
func closeWith(b []byte, members func([]byte) []byte) []byte {
	b = b[:len(b)-1]
	return append(members(b), '}')
}
