package routing

import (
	"strings"
	"testing"

	celtypes "github.com/google/cel-go/common/types"
	"k8s.io/apimachinery/pkg/labels"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// FuzzCompileExpression compiles arbitrary source and evaluates whatever
// compiles on the sample incident and through Route. Nothing may panic (CEL
// turns a panic into an "internal error"), a bool-typed expression must give
// a bool, and no evaluation may cost more than was estimated when it was
// compiled, which is itself within the limit.
func FuzzCompileExpression(f *testing.F) {
	for _, seed := range []string{
		`true`,
		`incident.spec.severity in ["High", "Critical"]`,
		`incident.spec.impact.dataSubjects > 100 && incident.metadata.labels.department == 'finance'`,
		`!has(incident.spec.impact.dataSubjects)`,
		`incident.spec.impact.?personalData.orValue(false)`,
		`incident.spec.impact.dataSubjects / 0 > 1`,
		`incident.spec.impact.dataSubjects % 7 == 3`,
		`incident.spec.assets[49] == "x"`,
		`incident.spec.assets.exists(a, incident.spec.assets.exists(b, a + b == "xy"))`,
		`incident.spec.assets.map(a, a + a).filter(a, a.size() > 4).size() > 1`,
		`incident.spec.description.split(" ").exists(w, w.lowerAscii() == "laptop")`,
		`incident.spec.description.matches("^(a|b)+$")`,
		`incident.spec.awareAt + duration("72h") > timestamp("2026-01-01T00:00:00Z")`,
		`incident.spec.authorityNotification.notifiedAt - incident.spec.awareAt < duration("72h")`,
		`int(incident.metadata.labels.count) > 3`,
		`incident.metadata.annotations["council.example/owner"].startsWith("it-")`,
		`incident.metadata.labels.exists(k, k == "team")`,
		`incident.spec.reporter.lineManager.email.endsWith("@example.org")`,
		`incident.spec.title.format([]) == ""`,
		`sets.contains(incident.spec.assets, ["a"])`,
		`quantity("1Gi").isGreaterThan(quantity("1Mi"))`,
		`url("https://example.org/x").getHost() == "example.org"`,
		`ip("10.0.0.1").family() == 4`,
		`incident.spec == incident.spec`,
		`incident.metadata == incident.metadata`,
		`[1, 2, 3].all(i, i > 0) && {"a": 1}.a == 1`,
		`incident.spec.(`,
	} {
		f.Add(seed)
	}
	e, err := celEnv()
	if err != nil {
		f.Fatal(err)
	}
	routed := incident(func(i *securityv1alpha1.Incident) {
		i.Annotations = map[string]string{"council.example/owner": "it-desk"}
	})
	f.Fuzz(func(t *testing.T, source string) {
		x, err := CompileExpression(source)
		if err != nil {
			// The empty expression is no expression: it matches everything.
			if source != "" && ValidateExpression(source) == nil {
				t.Fatalf("ValidateExpression accepted %q, which does not compile: %v", source, err)
			}
			return
		}
		if x.maxCost > maxEstimatedCost {
			t.Fatalf("compiled with an estimated cost %d over the limit", x.maxCost)
		}
		vars, err := unstructuredActivation(sampleIncident(e.structural, x.namedStrings()))
		if err != nil {
			t.Fatal(err)
		}
		out, details, err := x.program.Eval(vars)
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("evaluating %q panicked: %v", source, err)
		}
		if err == nil {
			if _, ok := out.(celtypes.Bool); !ok {
				t.Fatalf("%q is typed bool but gave %v", source, out)
			}
		}
		if details == nil || details.ActualCost() == nil {
			t.Fatal("evaluation did not track its cost")
		}
		if cost := *details.ActualCost(); cost > x.maxCost {
			t.Errorf("%q cost %d on the sample, more than its estimate %d", source, cost, x.maxCost)
		}
		if err := ValidateExpression(source); err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("validating %q panicked: %v", source, err)
		}
		d := RouteSorted(routed, []Policy{{Name: "fuzz", Selector: labels.Everything(), Expression: x}})
		for _, s := range d.Skipped {
			if strings.Contains(s.Reason.Error(), "internal error") {
				t.Fatalf("routing with %q panicked: %v", source, s.Reason)
			}
		}
	})
}
