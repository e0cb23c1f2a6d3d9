package api

import (
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// The sign-up page's user-flow attributes as form controls. The user
// flow stores External ID's authenticationAttributeCollectionInputType
// (text, radioSingleSelect, checkboxMultiSelect, boolean,
// checkboxSingleSelect) and each choice input's options (label, value).
// A choice input is rendered as its accessible control: a radio group or
// a checkbox group in a fieldset with a legend, a dropdown (select with
// its label) for a single choice among many options, a single checkbox
// for boolean and checkboxSingleSelect. Whatever the control, the value
// arrives as text and the directory checks it against the options
// (SignUpValues), exactly as native authentication's attributes are.

// The controls an attribute can be.
const (
	kindText       = "text"
	kindRadio      = "radio"
	kindSelect     = "select"
	kindCheckboxes = "checkboxes"
	kindCheckbox   = "checkbox"
)

// dropdownAfter: a single choice with more options than this is a
// dropdown rather than a radio group (a long list of radios is hard to
// scan and pushes the button below the fold on a phone). Graph's input
// types have no dropdown of their own.
const dropdownAfter = 5

// attrOption is one choice of a radio group, checkbox group, dropdown
// or single checkbox.
type attrOption struct {
	ID, Name, Label, Value string
	Selected               bool
}

// attrKind is the control for attribute a.
func attrKind(a directory.FlowAttribute) string {
	switch a.InputType {
	case "radioSingleSelect":
		switch {
		case len(a.Options) == 0:
			return kindText
		case len(a.Options) > dropdownAfter:
			return kindSelect
		}
		return kindRadio
	case "checkboxMultiSelect":
		if len(a.Options) == 0 {
			return kindText
		}
		return kindCheckboxes
	case "boolean", "checkboxSingleSelect":
		return kindCheckbox
	}
	return kindText
}

// checkedValue is what a single checkbox submits when checked: its one
// option's value, or true.
func checkedValue(a directory.FlowAttribute) string {
	if len(a.Options) > 0 {
		return a.Options[0].Value
	}
	return "true"
}

// multiName is the form name of a checkbox group's option i: each box
// has its own name because a page form carries one value per name.
func multiName(a directory.FlowAttribute, i int) string {
	return "attr_" + a.Name + "." + strconv.Itoa(i)
}

// signUpValues reads the submitted value of each visible attribute from
// the form: a checkbox group's checked values joined by commas (the form
// native authentication takes for checkboxMultiSelect). Values are not
// checked here: a value no option has is the directory's field error.
func signUpValues(uf directory.UserFlow, form map[string]string) map[string]string {
	attrs := map[string]string{}
	for _, a := range uf.Attributes {
		if a.Hidden {
			continue
		}
		v := strings.TrimSpace(form["attr_"+a.Name])
		if attrKind(a) == kindCheckboxes {
			var picked []string
			for i := range a.Options {
				if p := strings.TrimSpace(form[multiName(a, i)]); p != "" {
					picked = append(picked, p)
				}
			}
			v = strings.Join(picked, ",")
		}
		if v != "" {
			attrs[a.Name] = v
		}
	}
	return attrs
}

// missingText is the error of a required attribute left empty.
func missingText(c *gin.Context, a directory.FlowAttribute) string {
	switch attrKind(a) {
	case kindRadio, kindSelect, kindCheckboxes:
		return tr(c, "Choose an option for %s.", labelOf(a))
	case kindCheckbox:
		return tr(c, "Select %s to continue.", labelOf(a))
	}
	return tr(c, "Enter %s.", labelOf(a))
}

// invalidText is the error of a value the directory refused.
func invalidText(a directory.FlowAttribute) string {
	if attrKind(a) == kindText {
		return "This value is not valid."
	}
	return "Choose one of the options shown."
}

// signUpFields are the user flow's visible attributes as page fields,
// with what was submitted and each field's error.
func signUpFields(uf directory.UserFlow, values, errs map[string]string) []attrField {
	var out []attrField
	for i, a := range uf.Attributes {
		if a.Hidden {
			continue
		}
		f := attrField{ID: "attr-" + strconv.Itoa(i), Name: "attr_" + a.Name, Label: labelOf(a), Value: values[a.Name],
			Error: errs[strings.ToLower(a.Name)], Required: a.Required, Autocomplete: attrAutocomplete[strings.ToLower(a.UserProperty)],
			Kind: attrKind(a)}
		switch f.Kind {
		case kindCheckbox:
			v := checkedValue(a)
			f.Options = []attrOption{{ID: f.ID, Name: f.Name, Label: f.Label, Value: v, Selected: f.Value != "" && f.Value == v}}
		case kindRadio, kindSelect, kindCheckboxes:
			picked := map[string]bool{f.Value: f.Value != ""}
			if f.Kind == kindCheckboxes {
				for _, p := range strings.Split(f.Value, ",") {
					picked[strings.TrimSpace(p)] = p != ""
				}
			}
			for j, o := range a.Options {
				opt := attrOption{ID: f.ID + "-" + strconv.Itoa(j), Name: f.Name, Label: o.Label, Value: o.Value, Selected: picked[o.Value]}
				if opt.Label == "" {
					opt.Label = o.Value
				}
				if f.Kind == kindCheckboxes {
					opt.Name = multiName(a, j)
				}
				f.Options = append(f.Options, opt)
			}
		}
		out = append(out, f)
	}
	return out
}
