package routing

import (
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	celtypes "github.com/google/cel-go/common/types"
	"github.com/google/cel-go/parser"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// ExpressionFailure is a match expression that compiles and works on the
// fullest incident, but fails on one its author should expect: an
// incident without labels, annotations or assets, or with only its
// required fields. Routing would skip its policy for every such incident.
type ExpressionFailure struct {
	// Incident says what the incident it fails on lacks.
	Incident string
	// Part is the part of the expression that failed, as CEL writes it,
	// such as incident.metadata.labels["team"]; empty when it is not known.
	Part string
	// Err is the evaluation's error, such as "no such key: team".
	Err error
}

func (e *ExpressionFailure) Error() string {
	part, advice := "", "test for a field with has() before reading it, or read it as optional, as in incident.spec.impact.?dataSubjects.orValue(0) > 100"
	if e.Part != "" {
		part = e.Part + ": "
	}
	if strings.Contains(e.Part, "labels") || strings.Contains(e.Part, "annotations") {
		advice = "read a label as optional, as in incident.metadata.?labels[?'team'].orValue('') == 'x', or test for it first with has(incident.metadata.labels) && 'team' in incident.metadata.labels"
	}
	return fmt.Sprintf("fails on %s: %s%v; an incident may lack what the expression reads: %s", e.Incident, part, e.Err, advice)
}

// FailsOn says what the incident the expression fails on lacks. It tells
// this failure from an expression that is invalid on any incident.
func (e *ExpressionFailure) FailsOn() string { return e.Incident }

func (e *ExpressionFailure) Unwrap() error { return e.Err }

// representative is an incident that routing meets every day, and what it
// lacks, in words.
type representative struct {
	lacks    string
	incident *securityv1alpha1.Incident
	assets   map[string]*securityv1alpha1.Asset
}

// representatives are the incidents an expression must not fail on: the
// sparest one the API server accepts, and one with labels, annotations and
// an asset that hold none of what the expression may look for. They go
// through the operator's own conversion, so that they read as routing
// reads a stored incident.
func representatives() []representative {
	sparse := func() *securityv1alpha1.Incident {
		return &securityv1alpha1.Incident{
			ObjectMeta: metav1.ObjectMeta{Namespace: "sample", Name: "sample"},
			Spec: securityv1alpha1.IncidentSpec{
				Title:    "sample",
				Category: securityv1alpha1.CategoryOther,
				Severity: securityv1alpha1.SeverityLow,
				Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "sample"}},
			},
		}
	}
	other := sparse()
	other.Labels = map[string]string{"example.org/other": "other"}
	other.Annotations = map[string]string{"example.org/other": "other"}
	other.Spec.Assets = []string{"sample-asset"}
	asset := &securityv1alpha1.Asset{
		ObjectMeta: metav1.ObjectMeta{Namespace: "sample", Name: "sample-asset"},
		Spec: securityv1alpha1.AssetSpec{
			Type:               securityv1alpha1.AssetOther,
			Owner:              securityv1alpha1.Contact{Name: "sample"},
			DataClassification: securityv1alpha1.ClassificationInternal, // the API default
		},
	}
	return []representative{
		{lacks: "an incident with only its required fields: no labels, annotations, assets, impact or other optional field", incident: sparse()},
		{lacks: "an incident whose labels and annotations hold other keys, naming an asset with only its required fields", incident: other,
			assets: map[string]*securityv1alpha1.Asset{asset.Name: asset}},
	}
}

// checkRepresentatives evaluates the expression on each representative
// incident; the first failure is an *ExpressionFailure.
func (x *Expression) checkRepresentatives() error {
	for _, r := range representatives() {
		vars, err := incidentActivation(r.incident, r.assets)
		if err != nil {
			return err
		}
		if _, err := x.matches(vars); err != nil {
			return &ExpressionFailure{Incident: r.lacks, Part: x.failingPart(vars), Err: err}
		}
	}
	return nil
}

// failingPart is the innermost part of the expression whose evaluation
// failed on vars, as CEL writes it, or "" when it cannot be told.
func (x *Expression) failingPart(vars cel.Activation) string {
	e, err := celEnv()
	if err != nil {
		return ""
	}
	program, err := e.env.Program(x.ast, cel.EvalOptions(cel.OptTrackState), cel.CostLimit(costLimit))
	if err != nil {
		return ""
	}
	_, details, _ := program.Eval(vars)
	if details == nil || details.State() == nil {
		return ""
	}
	state := details.State()
	native := x.ast.NativeRep()
	var failed celast.Expr
	// Children are visited before their parent: the first part seen to
	// fail is one whose own parts did not.
	celast.PostOrderVisit(native.Expr(), celast.NewExprVisitor(func(expr celast.Expr) {
		if failed != nil {
			return
		}
		if v, ok := state.Value(expr.ID()); ok && celtypes.IsError(v) {
			failed = expr
		}
	}))
	if failed == nil {
		return ""
	}
	part, err := parser.Unparse(failed, native.SourceInfo())
	if err != nil {
		return ""
	}
	return part
}
