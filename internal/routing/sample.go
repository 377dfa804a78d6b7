package routing

import (
	"encoding/base64"
	"fmt"
	"math"
	"regexp"
	"strconv"

	celast "github.com/google/cel-go/common/ast"
	celtypes "github.com/google/cel-go/common/types"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
)

// ValidateExpression compiles a match expression and evaluates it once on a
// sample incident that has every field set, so that an expression that
// compiles but fails even on the fullest incident (a division by zero, an
// index past the longest list the schema allows, free text converted to a
// number without a guard) is refused when its policy is reconciled rather
// than reported on every incident. It then evaluates it on the incidents
// routing meets every day (representatives): one that fails there, such as
// incident.metadata.labels['team'] == 'x' on an incident without that
// label, is an *ExpressionFailure. The empty expression, which matches
// everything, is valid.
func ValidateExpression(source string) error {
	x, err := validOnSample(source)
	if x == nil || err != nil {
		return err
	}
	return x.checkRepresentatives()
}

// validOnSample compiles source and evaluates it on the sample incident;
// nil and no error for the empty expression.
func validOnSample(source string) (*Expression, error) {
	if source == "" {
		return nil, nil
	}
	x, err := CompileExpression(source)
	if err != nil {
		return nil, err
	}
	return x, x.checkSample()
}

// checkSample evaluates the expression on the sample incident.
func (x *Expression) checkSample() error {
	e, err := celEnv()
	if err != nil {
		return err
	}
	names := x.namedStrings()
	vars, err := activation(sampleIncident(e.structural, names), []any{sampleValue(e.assetsStructural.Items, names, 0)})
	if err != nil {
		return err
	}
	if _, err := x.matches(vars); err != nil {
		return fmt.Errorf("expression fails on a sample incident: %w", err)
	}
	return nil
}

// namedStrings are the string literals and field names in the expression.
// The sample's labels and annotations hold each of them as a key, so that
// incident.metadata.labels.team finds a label, as it would on an incident
// that has one.
func (x *Expression) namedStrings() []string {
	var names []string
	celast.PostOrderVisit(x.ast.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.LiteralKind:
			if s, ok := e.AsLiteral().(celtypes.String); ok {
				names = append(names, string(s))
			}
		case celast.SelectKind:
			names = append(names, e.AsSelect().FieldName())
		}
	}))
	return names
}

const (
	// sampleListItems is how many items the sample gives a list whose
	// schema sets no maxItems.
	sampleListItems = 3
	// sampleMaxListItems caps a longer maxItems, to keep the sample small.
	sampleMaxListItems = 100
)

// sampleIncident returns the most populated incident s allows: every
// optional field set, every list as long as its maxItems, each map holding
// the sample key and mapKeys, every value within its enum, format, pattern
// and bounds. Numbers are 1, not 0, so that a division by a field is not
// blamed on the sample.
func sampleIncident(s *structuralschema.Structural, mapKeys []string) map[string]any {
	m, _ := sampleValue(s, mapKeys, 0).(map[string]any)
	return m
}

func sampleValue(s *structuralschema.Structural, mapKeys []string, i int) any {
	v := s.ValueValidation
	if v == nil {
		v = &structuralschema.ValueValidation{}
	}
	if s.XIntOrString {
		return int64(1)
	}
	switch s.Type {
	case "object":
		out := map[string]any{}
		for name := range s.Properties {
			prop := s.Properties[name]
			out[name] = sampleValue(&prop, mapKeys, 0)
		}
		if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
			for j, key := range append([]string{"sample"}, mapKeys...) {
				out[key] = sampleValue(s.AdditionalProperties.Structural, mapKeys, j)
			}
		}
		return out
	case "array":
		n := sampleListItems
		if v.MaxItems != nil {
			n = int(min(*v.MaxItems, sampleMaxListItems))
		}
		if s.Items == nil {
			return []any{}
		}
		if enum := enumValues(s.Items.ValueValidation); len(enum) > 0 && s.XListType != nil && *s.XListType == "set" {
			n = min(n, len(enum))
		}
		out := make([]any, n)
		for j := range out {
			out[j] = sampleValue(s.Items, mapKeys, j)
		}
		return out
	case "string":
		return sampleString(v, i)
	case "integer":
		return int64(sampleNumber(v))
	case "number":
		return sampleNumber(v)
	case "boolean":
		return true
	}
	return nil
}

// sampleString is the i'th sample string value of a schema; items of a list
// differ, so that sets stay sets.
func sampleString(v *structuralschema.ValueValidation, i int) string {
	if enum := enumValues(v); len(enum) > 0 {
		if s, ok := enum[i%len(enum)].(string); ok {
			return s
		}
	}
	switch v.Format {
	case "date-time":
		return fmt.Sprintf("2026-01-02T03:04:%02dZ", i%60)
	case "date":
		return fmt.Sprintf("2026-01-%02d", 1+i%28)
	case "duration":
		return strconv.Itoa(i+1) + "h"
	case "byte":
		return base64.StdEncoding.EncodeToString([]byte("sample" + suffix(i)))
	}
	var pattern *regexp.Regexp
	if v.Pattern != "" {
		// The API server's patterns are ECMA 262; one RE2 cannot compile is
		// ignored, and the first candidate is used.
		pattern, _ = regexp.Compile(v.Pattern)
	}
	candidates := []string{"sample" + suffix(i), "sample" + suffix(i) + "@example.org", "a" + suffix(i), strconv.Itoa(i + 1)}
	for j, c := range candidates {
		if v.MinLength != nil {
			for int64(len(c)) < *v.MinLength {
				c += "x"
			}
		}
		if v.MaxLength != nil && int64(len(c)) > *v.MaxLength {
			c = c[:*v.MaxLength]
		}
		candidates[j] = c
		if pattern == nil || pattern.MatchString(c) {
			return c
		}
	}
	return candidates[0]
}

func enumValues(v *structuralschema.ValueValidation) []any {
	if v == nil {
		return nil
	}
	out := make([]any, len(v.Enum))
	for i, e := range v.Enum {
		out[i] = e.Object
	}
	return out
}

func suffix(i int) string {
	if i == 0 {
		return ""
	}
	return strconv.Itoa(i)
}

// sampleNumber is 1, or the nearest value the bounds allow.
func sampleNumber(v *structuralschema.ValueValidation) float64 {
	n := 1.0
	if v.Minimum != nil && n <= *v.Minimum {
		n = *v.Minimum
		if v.ExclusiveMinimum {
			n = math.Floor(n) + 1
		}
	}
	if v.Maximum != nil && n >= *v.Maximum {
		n = *v.Maximum
		if v.ExclusiveMaximum {
			n = math.Ceil(n) - 1
		}
	}
	return n
}
