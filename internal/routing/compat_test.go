package routing

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/google/cel-go/cel"
	celtypes "github.com/google/cel-go/common/types"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// untypedMatch evaluates source the way routing did before expressions were
// typed: `incident` a map(string, dyn) of the whole unstructured object.
func untypedMatch(t *testing.T, source string, incident *securityv1alpha1.Incident) (bool, error) {
	t.Helper()
	env, err := cel.NewEnv(cel.Variable("incident", cel.MapType(cel.StringType, cel.DynType)))
	if err != nil {
		t.Fatal(err)
	}
	ast, issues := env.Compile(source)
	if issues.Err() != nil {
		t.Fatalf("%s no longer compiles untyped: %v", source, issues.Err())
	}
	program, err := env.Program(ast, cel.CostLimit(costLimit))
	if err != nil {
		t.Fatal(err)
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(incident)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := program.Eval(map[string]any{"incident": u})
	if err != nil {
		return false, err
	}
	b, ok := out.(celtypes.Bool)
	if !ok {
		return false, errors.New("not a bool")
	}
	return bool(b), nil
}

func decodeAll[T any](t *testing.T, path string) []*T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*T
	decoder := yaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		v := new(T)
		if err := decoder.Decode(v); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, v)
	}
}

// TestTypedExpressionsMatchAsBefore evaluates the expressions of the tests,
// the benchmark and the docs on the sample incidents and the test incident,
// typed and untyped: wherever the untyped expression gave an answer, the
// typed one gives the same. Each holds on the sample incident; several,
// such as incident.spec.impact.dataSubjects > 1000, fail on an incident
// without the field, which the policy's Ready condition now reports
// (TestValidateExpressionOnRepresentatives), and still route as before.
func TestTypedExpressionsMatchAsBefore(t *testing.T) {
	incidents := decodeAll[securityv1alpha1.Incident](t, "../../config/samples/security_v1alpha1_incident.yaml")
	if len(incidents) == 0 {
		t.Fatal("no sample incidents")
	}
	for _, i := range incidents {
		i.Namespace = "council"
	}
	incidents = append(incidents, incident(nil), incident(func(i *securityv1alpha1.Incident) { i.Spec.Impact.DataSubjects = nil }))
	expressions := []string{
		`incident.spec.severity in ["High", "Critical"]`,
		`incident.spec.impact.personalData`,
		`incident.spec.impact.dataSubjects > 1000`,
		`incident.spec.impact.dataSubjects > 100 && incident.metadata.labels.department == 'finance'`,
		`incident.spec.impact.dataSubjects > 1`,
		`!has(incident.spec.impact.dataSubjects)`,
		`incident.spec.impact.dataSubjects > 100000`,
		`incident.spec.category == "Loss" || incident.spec.category == "Theft"`,
		`has(incident.spec.reporter.lineManager) && incident.spec.reporter.lineManager.email.endsWith("@example.org")`,
		`"laptop-fin-0142" in incident.spec.assets`,
		`has(incident.spec.assets) && incident.spec.assets.exists(a, a.startsWith("laptop"))`,
		`incident.spec.reporter.department == "Finance"`,
		`incident.metadata.name.startsWith("lost") && incident.metadata.namespace == "council"`,
		`has(incident.spec.impact.socialCare) && incident.spec.impact.socialCare`,
		`incident.spec.title.contains("laptop")`,
		`size(incident.spec.description) > 20`,
	}
	compared := 0
	for _, source := range expressions {
		x, err := CompileExpression(source)
		if err != nil {
			t.Errorf("%s: %v", source, err)
			continue
		}
		if err := onSample(source); err != nil {
			t.Errorf("%s: %v", source, err)
		}
		for _, i := range incidents {
			want, wantErr := untypedMatch(t, source, i)
			if wantErr != nil {
				continue
			}
			compared++
			vars, err := incidentActivation(i, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := x.matches(vars)
			if err != nil || got != want {
				t.Errorf("%s on %s: got %v, %v; untyped gave %v", source, i.Name, got, err, want)
			}
		}
	}
	if compared < len(expressions)*len(incidents)/2 {
		t.Errorf("only %d of %d cases had an untyped answer to compare with", compared, len(expressions)*len(incidents))
	}
}

// TestSamplePoliciesAreValid checks every expression of the sample policies.
func TestSamplePoliciesAreValid(t *testing.T) {
	for _, p := range decodeAll[securityv1alpha1.EscalationPolicy](t, "../../config/samples/security_v1alpha1_escalationpolicy.yaml") {
		if err := ValidateExpression(p.Spec.Match.Expression); err != nil {
			t.Errorf("%s: spec.match.expression: %v", p.Name, err)
		}
	}
}
