package routing

import (
	"errors"
	"testing"
)

// An expression that holds on the fullest incident but fails on one
// without a label, an optional field or an asset is an ExpressionFailure
// naming the part that failed; written to allow for what may be missing,
// it is valid.
func TestValidateExpressionOnRepresentatives(t *testing.T) {
	cases := map[string]struct {
		source string
		// part is the part named as failing; "" for a valid expression.
		part string
	}{
		"a label read by key":              {source: `incident.metadata.labels['team'] == 'x'`, part: "incident.metadata.labels"},
		"a label read as a field":          {source: `incident.metadata.labels.team == 'x'`, part: "incident.metadata.labels"},
		"labels tested, the key not":       {source: `has(incident.metadata.labels) && incident.metadata.labels['team'] == 'x'`, part: `incident.metadata.labels["team"]`},
		"an annotation read by key":        {source: `incident.metadata.annotations['council.example/owner'] != ''`, part: "incident.metadata.annotations"},
		"an optional number":               {source: `incident.spec.impact.dataSubjects > 100`, part: "incident.spec.impact.dataSubjects"},
		"a flag left false is absent":      {source: `incident.spec.impact.personalData`, part: "incident.spec.impact.personalData"},
		"an optional list":                 {source: `"laptop-fin-0142" in incident.spec.assets`, part: "incident.spec.assets"},
		"the first of no assets":           {source: `assets[0].spec.businessCritical`, part: "assets[0]"},
		"an asset's optional supplier":     {source: `assets.exists(a, a.spec.supplier.name == 'Capita')`, part: "a.spec.supplier"},
		"a label read as optional":         {source: `incident.metadata.?labels[?'team'].orValue('') == 'x'`},
		"a label tested first":             {source: `has(incident.metadata.labels) && 'team' in incident.metadata.labels && incident.metadata.labels.team == 'x'`},
		"a number read as optional":        {source: `incident.spec.impact.?dataSubjects.orValue(0) > 100`},
		"a number tested first":            {source: `has(incident.spec.impact.dataSubjects) && incident.spec.impact.dataSubjects > 100`},
		"a required field":                 {source: `incident.spec.severity in ['High', 'Critical']`},
		"assets by a field with a default": {source: `assets.exists(a, a.spec.dataClassification == 'Restricted')`},
		"an asset's supplier tested":       {source: `assets.exists(a, a.spec.?supplier.name.orValue('') == 'Capita')`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := ValidateExpression(tc.source)
			var failure *ExpressionFailure
			switch {
			case tc.part == "" && err != nil:
				t.Fatalf("ValidateExpression(%s): %v", tc.source, err)
			case tc.part == "":
			case !errors.As(err, &failure):
				t.Fatalf("ValidateExpression(%s) = %v, want an *ExpressionFailure", tc.source, err)
			case failure.Part != tc.part:
				t.Errorf("failure names %q, want %q: %v", failure.Part, tc.part, err)
			case failure.FailsOn() == "" || failure.Err == nil:
				t.Errorf("failure %#v does not say on what it fails, or why", failure)
			}
		})
	}
}

// The advice fits what failed: a label is read as optional by key, a field
// is tested with has() or read with .? and orValue().
func TestExpressionFailureAdvises(t *testing.T) {
	for source, want := range map[string]string{
		`incident.metadata.labels.team == 'x'`:  "incident.metadata.?labels[?'team']",
		`incident.spec.impact.dataSubjects > 1`: "has()",
	} {
		err := ValidateExpression(source)
		checkError(t, err, want)
	}
}
