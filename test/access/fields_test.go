package access_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// incidentFieldRules says, for every field of an incident's spec, how a
// change to it is kept. A field added to IncidentSpec fails
// TestEveryIncidentFieldHasARule until it is listed here, and, if people
// may change it, until spec.changes records it (config/admission).
var incidentFieldRules = map[string]string{
	// What was reported: every change is an entry of spec.changes with
	// its old and new value, and it is frozen once resolved.
	"title": "reported", "description": "reported", "type": "reported", "category": "reported", "severity": "reported",
	"reporter.name": "reported", "reporter.email": "reported", "reporter.phone": "reported", "reporter.department": "reported",
	"reporter.lineManager.name": "reported", "reporter.lineManager.email": "reported", "reporter.lineManager.phone": "reported",
	"assets": "reported", "impact.personalData": "reported", "impact.specialCategoryData": "reported", "impact.socialCare": "reported",
	"impact.itRelated": "reported", "impact.serviceAffecting": "reported", "impact.businessCritical": "reported",
	"impact.securityBreach": "reported", "impact.dataSubjects": "reported", "forensicInvestigation": "reported",
	// Records: made once, attested, then fixed by the CRD's rules; the
	// change that makes one is an entry of spec.changes under its name.
	"acknowledgement": "record", "resolution": "record", "authorityNotification": "record", "legalHold": "record",
	// Written by the API server, or set only when the incident is created.
	"reportedBy": "server", "imported": "server", "changes": "server", "reportedAt": "immutable", "awareAt": "immutable",
}

// records are the fields whose sub-fields are one record.
var records = []string{"acknowledgement", "resolution", "authorityNotification", "legalHold", "reportedBy", "imported", "changes"}

func TestEveryIncidentFieldHasARule(t *testing.T) {
	diffs := policyVariable(t, "MutatingAdmissionPolicy", "incident-attested-identity.security.incidentops.io", "diffs")
	for _, path := range leafPaths(reflect.TypeFor[securityv1alpha1.IncidentSpec](), "") {
		top := path
		for _, r := range records {
			if path == r || strings.HasPrefix(path, r+".") {
				top = r
			}
		}
		rule, ok := incidentFieldRules[top]
		if !ok {
			t.Errorf("spec.%s has no rule in incidentFieldRules: say how a change to it is kept", path)
			continue
		}
		if (rule == "reported" || rule == "record") && !strings.Contains(diffs, "['"+top+"',") {
			t.Errorf("spec.%s is changed by people, but the mutating policy's diffs do not record it", top)
		}
	}
}

// The validating policy checks spec.changes against the same list of
// differences the mutating policy writes, so the two must be the same text.
func TestBothPoliciesComputeTheSameChanges(t *testing.T) {
	for _, name := range []string{"diffs", "window"} {
		m := policyVariable(t, "MutatingAdmissionPolicy", "incident-attested-identity.security.incidentops.io", name)
		v := policyVariable(t, "ValidatingAdmissionPolicy", "incident-attested-identity.security.incidentops.io", name)
		if m == "" || m != v {
			t.Errorf("variable %s differs between the mutating and validating policies:\n%s\n---\n%s", name, m, v)
		}
	}
}

// leafPaths lists the JSON paths of t's leaves, lists and maps as one.
func leafPaths(t reflect.Type, prefix string) []string {
	var paths []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if name == "" && f.Anonymous {
			paths = append(paths, leafPaths(ft, prefix)...)
			continue
		}
		path := prefix + name
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[metav1.Time]() {
			paths = append(paths, leafPaths(ft, path+".")...)
			continue
		}
		paths = append(paths, path)
	}
	slices.Sort(paths)
	return paths
}

// policyVariable is the expression of a variable of a policy in
// config/admission.
func policyVariable(t *testing.T, kind, name, variable string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.AdmissionDir(), "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		decoder := yaml.NewYAMLOrJSONDecoder(strings.NewReader(string(data)), 4096)
		for {
			obj := &unstructured.Unstructured{}
			if decoder.Decode(&obj.Object) != nil {
				break
			}
			if obj.GetKind() != kind || obj.GetName() != name {
				continue
			}
			vars, _, _ := unstructured.NestedSlice(obj.Object, "spec", "variables")
			for _, v := range vars {
				if m, ok := v.(map[string]any); ok && m["name"] == variable {
					expr, _ := m["expression"].(string)
					return expr
				}
			}
		}
	}
	t.Fatalf("%s %s has no variable %s", kind, name, variable)
	return ""
}

// Every kind the project serves is in the table: a new kind fails this
// until its rows say who may write it.
func TestEveryKindIsInTheTable(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "crd", "bases", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, a := range attempts() {
		listed[a.kind] = true
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &obj.Object); err != nil {
			t.Fatal(err)
		}
		kind, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "kind")
		if !listed[kind] {
			t.Errorf("kind %s (%s) has no row in the table", kind, filepath.Base(file))
		}
	}
	if len(files) == 0 {
		t.Fatal("no CRDs in config/crd/bases")
	}
}
