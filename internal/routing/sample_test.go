package routing

import (
	"context"
	"reflect"
	"testing"

	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	celvalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	apiextensionsvalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	celconfig "k8s.io/apiserver/pkg/apis/cel"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// onSample is ValidateExpression up to the sample incident with every
// field set, before the representative incidents: what the cases below
// test is whether the sample is full enough.
func onSample(source string) error {
	_, err := validOnSample(source)
	return err
}

func TestValidateExpressionOnTheSample(t *testing.T) {
	cases := map[string]struct {
		source  string
		wantErr string
	}{
		"no expression":       {source: ""},
		"plain comparison":    {source: `incident.spec.impact.dataSubjects > 100`},
		"division by a field": {source: `100 / incident.spec.impact.dataSubjects < 5`},
		"label the sample is given": {
			source: `incident.metadata.labels.department == "finance" && incident.metadata.annotations["council.example/owner"] != ""`,
		},
		"last asset the schema allows": {source: `incident.spec.assets[49] != ""`},
		"guarded conversion":           {source: `incident.metadata.labels.count.matches("^[0-9]+$") && int(incident.metadata.labels.count) > 3`},
		"division by zero": {
			source:  `incident.spec.impact.dataSubjects / 0 > 1`,
			wantErr: "expression fails on a sample incident: division by zero",
		},
		"modulus by zero": {
			source:  `incident.spec.impact.dataSubjects % (incident.spec.impact.dataSubjects - incident.spec.impact.dataSubjects) == 0`,
			wantErr: "expression fails on a sample incident: modulus by zero",
		},
		"index past maxItems": {
			source:  `incident.spec.assets[50] == "laptop"`,
			wantErr: "expression fails on a sample incident: index out of bounds: 50",
		},
		"unguarded conversion of free text": {
			source:  `int(incident.metadata.labels.count) > 3`,
			wantErr: "expression fails on a sample incident: type conversion error",
		},
		"compile errors come first": {
			source:  `incident.spec.nosuch / 0 > 1`,
			wantErr: "undefined field 'nosuch'",
		},
		"cost limit": {
			source:  `incident.metadata.labels.all(k, incident.metadata.labels[k].size() < 10)`,
			wantErr: "worst-case cost",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			checkError(t, onSample(tc.source), tc.wantErr)
		})
	}
}

// TestSampleIncidentIsValid checks that the sample is an incident the API
// server would accept, by its OpenAPI schema and its validation rules: an
// expression that fails on it fails on an incident someone can report.
func TestSampleIncidentIsValid(t *testing.T) {
	props, err := crdSchema(incidentCRD)
	if err != nil {
		t.Fatal(err)
	}
	root, err := structuralschema.NewStructural(props)
	if err != nil {
		t.Fatal(err)
	}
	e, err := celEnv()
	if err != nil {
		t.Fatal(err)
	}
	sample := sampleIncident(e.structural, []string{"department", "council.example/owner"})
	obj := map[string]any{
		"apiVersion": securityv1alpha1.GroupVersion.String(),
		"kind":       "Incident",
		"metadata":   sample["metadata"],
		"spec":       sample["spec"],
	}
	validator, _, err := apiextensionsvalidation.NewSchemaValidator(props)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range apiextensionsvalidation.ValidateCustomResource(nil, obj, validator) {
		t.Errorf("schema: %v", err)
	}
	rules := celvalidation.NewValidator(root, true, celconfig.PerCallLimit)
	errs, _ := rules.Validate(context.Background(), nil, root, obj, nil, celconfig.RuntimeCELCostBudget)
	for _, err := range errs {
		t.Errorf("validation rule: %v", err)
	}
}

// TestSampleIncidentSetsEveryField checks the sample against the Go types:
// it has no field they lack and leaves none of theirs unset, so a field
// added to the API is in the sample as soon as the CRD is regenerated.
func TestSampleIncidentSetsEveryField(t *testing.T) {
	e, err := celEnv()
	if err != nil {
		t.Fatal(err)
	}
	sample := sampleIncident(e.structural, nil)
	var incident securityv1alpha1.Incident
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(sample, &incident, true); err != nil {
		t.Fatalf("the sample does not decode into an Incident: %v", err)
	}
	for _, path := range unsetFields(reflect.ValueOf(incident.Spec), "spec") {
		t.Errorf("%s is not set in the sample", path)
	}
	meta := incident.ObjectMeta
	if meta.Name == "" || meta.Namespace == "" || len(meta.Labels) == 0 || len(meta.Annotations) == 0 {
		t.Errorf("sample metadata %+v leaves a declared field unset", meta)
	}
}

// unsetFields lists the exported fields of v, recursively, that hold their
// zero value.
func unsetFields(v reflect.Value, path string) []string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return []string{path}
		}
		v = v.Elem()
	}
	if v.IsZero() {
		return []string{path}
	}
	if v.Kind() != reflect.Struct || v.Type().PkgPath() != reflect.TypeFor[securityv1alpha1.Incident]().PkgPath() {
		return nil
	}
	var unset []string
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() {
			name := path + "." + f.Name
			if f.Anonymous {
				name = path
			}
			unset = append(unset, unsetFields(v.Field(i), name)...)
		}
	}
	return unset
}
