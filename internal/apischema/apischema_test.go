package apischema_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/apischema"
)

// policy is a valid EscalationPolicy that the cases below break.
const policy = `
apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata:
  name: service-desk
spec:
  match:
    severities: [High]
  receivers:
    - name: service-desk
      email:
        to: [service-desk@example.org]
  escalation:
    levels:
      - notify:
          - receiver: service-desk
`

// notChecked is what the API server adds when an error keeps it from
// running the validation rules.
const notChecked = "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"

// refusedCases are objects the API server refuses on create, each with the
// errors it gives.
var refusedCases = map[string]struct {
	change func(obj map[string]any)
	want   []string
}{
	"severity outside the enum": {
		change: set("Huge", "spec", "match", "severities", 0),
		want: []string{
			`spec.match.severities[0]: Unsupported value: "Huge": supported values: "Low", "Medium", "High", "Critical"`,
			notChecked,
		},
	},
	"required field missing": {
		change: remove("spec", "escalation", "levels"),
		want:   []string{"spec.escalation.levels: Required value", notChecked},
	},
	"above its maximum": {
		change: set(int64(1001), "spec", "priority"),
		want:   []string{"spec.priority: Invalid value: 1001: spec.priority in body should be less than or equal to 1000"},
	},
	// The OpenAPI schema takes any receiver name: only a validation rule
	// knows the name must be one of spec.receivers.
	"validation rule": {
		change: set("pager", "spec", "escalation", "levels", 0, "notify", 0, "receiver"),
		want:   []string{`spec.escalation: Invalid value: every escalation.levels[].notify[].receiver must name one of spec.receivers`},
	},
	"validation rule on a list item": {
		change: set(map[string]any{"name": "service-desk"}, "spec", "receivers", 0),
		want:   []string{`spec.receivers[0]: Invalid value: a receiver needs exactly one channel: webhook, slack, teams, pagerDuty or email`},
	},
	"name not a DNS subdomain": {
		change: set("Service_Desk", "metadata", "name"),
		want: []string{`metadata.name: Invalid value: "Service_Desk": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', ` +
			`and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
	},
	"no name": {
		change: remove("metadata", "name"),
		want:   []string{"metadata.name: Required value: name or generateName is required", notChecked},
	},
	"duplicate in a set": {
		change: set([]any{"High", "High"}, "spec", "match", "severities"),
		want:   []string{`spec.match.severities[1]: Duplicate value: "High"`},
	},
	"unknown kind": {
		change: set("EscalationPolicies", "kind"),
		want: []string{`kind: Unsupported value: "EscalationPolicies": supported values: "Asset", "AuditBatch", "AuditTrail", "ClusterEscalationPolicy", "Department", ` +
			`"EscalationPolicy", "Evidence", "Filing", "Incident", "IncidentReport", "PolicyTest", "RegulatoryRegime"`},
	},
	"unknown version": {
		change: set("security.incidentops.io/v1", "apiVersion"),
		want:   []string{`apiVersion: Unsupported value: "security.incidentops.io/v1": supported values: "security.incidentops.io/v1alpha1"`},
	},
	"another group": {
		change: set("v1", "apiVersion"),
		want:   []string{`apiVersion: Unsupported value: "v1": supported values: "security.incidentops.io/v1alpha1"`},
	},
}

func TestAdmitRefuses(t *testing.T) {
	s := schemas(t)
	for name, tc := range refusedCases {
		t.Run(name, func(t *testing.T) {
			obj := decodeOne(t, policy)
			tc.change(obj.Object)
			errs, _ := s.Admit(obj)
			if got := errorStrings(errs); !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// TestSamplesAreAdmitted admits every object of config/samples, and shows
// the defaults filled in.
func TestSamplesAreAdmitted(t *testing.T) {
	s := schemas(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	admitted := map[string]*unstructured.Unstructured{}
	for _, file := range files {
		for _, obj := range decodeFile(t, file) {
			if obj.GroupVersionKind().Group != securityv1alpha1.GroupVersion.Group {
				continue
			}
			errs, pruned := s.Admit(obj)
			for _, err := range errs {
				t.Errorf("%s %s %s: %v", filepath.Base(file), obj.GetKind(), obj.GetName(), err)
			}
			if len(pruned) > 0 {
				t.Errorf("%s %s %s: pruned %v", filepath.Base(file), obj.GetKind(), obj.GetName(), pruned)
			}
			admitted[obj.GetKind()+"/"+obj.GetName()] = obj
		}
	}
	if len(admitted) < 10 {
		t.Fatalf("%d sample objects admitted; config/samples has more", len(admitted))
	}
	// The sample leaves spec.type out; the schema's default makes it an
	// Incident rather than a Weakness.
	incident := admitted["Incident/lost-laptop-fin-0142"]
	if incident == nil {
		t.Fatal("no sample Incident lost-laptop-fin-0142")
	}
	if got, _, _ := unstructured.NestedString(incident.Object, "spec", "type"); got != "Incident" {
		t.Errorf("spec.type of the sample incident is %q after Admit, want the default Incident", got)
	}
}

func TestAdmitPrunesAndDefaults(t *testing.T) {
	s := schemas(t)
	obj := decodeOne(t, policy+`
  severites: [Low]
  delivery: {}
status:
  conditions: not a list
`)
	unstructured.SetNestedField(obj.Object, "x", "metadata", "labelz")
	errs, pruned := s.Admit(obj)
	if len(errs) > 0 {
		t.Fatalf("refused: %v", errs)
	}
	if want := []string{"metadata.labelz", "spec.severites"}; !slices.Equal(sorted(pruned), want) {
		t.Errorf("pruned %v, want %v", pruned, want)
	}
	for _, p := range [][]string{{"spec", "severites"}, {"metadata", "labelz"}, {"status"}} {
		if _, found, _ := unstructured.NestedFieldNoCopy(obj.Object, p...); found {
			t.Errorf("%s is still there", strings.Join(p, "."))
		}
	}
	for want, p := range map[int64][]string{0: {"spec", "priority"}, 10: {"spec", "delivery", "maxAttempts"}, 1: {"metadata", "generation"}} {
		if got, found, _ := unstructured.NestedInt64(obj.Object, p...); !found || got != want {
			t.Errorf("%s is %d (set: %t), want %d", strings.Join(p, "."), got, found, want)
		}
	}
}

func TestAdmitNamespace(t *testing.T) {
	s := schemas(t)
	namespaced := decodeOne(t, policy)
	if errs, _ := s.Admit(namespaced); len(errs) > 0 || namespaced.GetNamespace() != "" {
		t.Errorf("an EscalationPolicy without a namespace: %v, namespace %q after", errs, namespaced.GetNamespace())
	}
	bad := decodeOne(t, policy)
	bad.SetNamespace("Social_Care")
	if errs, _ := s.Admit(bad); len(errs) != 1 || errs[0].Field != "metadata.namespace" {
		t.Errorf("a namespace that is not a DNS label: %v", errs)
	}
	cluster := decodeOne(t, strings.Replace(policy, "kind: EscalationPolicy", "kind: ClusterEscalationPolicy", 1))
	cluster.SetNamespace("finance")
	if errs, _ := s.Admit(cluster); len(errs) > 0 || cluster.GetNamespace() != "" {
		t.Errorf("a ClusterEscalationPolicy with a namespace: %v, namespace %q after", errs, cluster.GetNamespace())
	}
}

func TestDecode(t *testing.T) {
	objs, err := apischema.Decode(strings.NewReader("---\n# nothing\n---\n" + policy + "---\n{\"kind\": \"Asset\", \"spec\": {\"n\": 1.5, \"m\": 5}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, obj := range objs {
		kinds = append(kinds, obj.GetKind())
	}
	if want := []string{"EscalationPolicy", "Asset"}; !slices.Equal(kinds, want) {
		t.Fatalf("read %v, want %v", kinds, want)
	}
	// The API server reads a whole number as an integer, which type:
	// integer and the validation rules ask for, and any other as a float.
	spec := objs[1].Object["spec"].(map[string]any)
	if spec["m"] != int64(5) || spec["n"] != 1.5 {
		t.Errorf("5 and 1.5 read as %#v and %#v", spec["m"], spec["n"])
	}
	// JSON is read as JSON: as YAML, it could not hold a DEL.
	fromJSON, err := apischema.Decode(strings.NewReader("{\"kind\": \"Asset\", \"spec\": {\"name\": \"a\x7fb\"}}\n{\"kind\": \"Department\"}"))
	if err != nil || len(fromJSON) != 2 || fromJSON[0].Object["spec"].(map[string]any)["name"] != "a\x7fb" {
		t.Errorf("JSON read as %v, %v", fromJSON, err)
	}
	if _, err := apischema.Decode(strings.NewReader("- a list\n")); err == nil {
		t.Error("a list is read as an object")
	}
}

func schemas(t *testing.T) *apischema.Schemas {
	t.Helper()
	s, err := apischema.Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decodeOne(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	objs, err := apischema.Decode(strings.NewReader(doc))
	if err != nil || len(objs) != 1 {
		t.Fatalf("decoding %q: %d objects, %v", doc, len(objs), err)
	}
	return objs[0]
}

func decodeFile(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	objs, err := apischema.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return objs
}

// set returns a change setting value at the path of map keys and list
// indexes.
func set(value any, at ...any) func(map[string]any) {
	return func(obj map[string]any) {
		var node any = obj
		for i, seg := range at {
			last := i == len(at)-1
			switch s := seg.(type) {
			case string:
				m := node.(map[string]any)
				if last {
					m[s] = value
				}
				node = m[s]
			case int:
				l := node.([]any)
				if last {
					l[s] = value
				}
				node = l[s]
			}
		}
	}
}

func remove(at ...string) func(map[string]any) {
	return func(obj map[string]any) { unstructured.RemoveNestedField(obj, at...) }
}

func errorStrings(errs field.ErrorList) []string {
	out := make([]string, len(errs))
	for i, err := range errs {
		out[i] = err.Error()
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
