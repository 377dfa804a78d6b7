package policytest

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func invariantsOf(t *testing.T, files []CaseFile) ([]Invariant, []string) {
	t.Helper()
	invs, from := Invariants(files)
	if len(invs) == 0 {
		t.Fatal("the case files state no invariant")
	}
	return invs, from
}

func verdictNamed(t *testing.T, verdicts []Verdict, prefix string) Verdict {
	t.Helper()
	for _, v := range verdicts {
		if strings.HasPrefix(v.Invariant.Name, prefix) {
			return v
		}
	}
	t.Fatalf("no invariant %q", prefix)
	return Verdict{}
}

// The council's invariants hold on the samples, over a space that crosses
// every category, severity and type with the flags the policies read and
// the namespaces the cluster policy tells apart.
func TestTheCouncilsInvariantsHold(t *testing.T) {
	objects, files := samples(t)
	invs, from := invariantsOf(t, files)
	verdicts, space, _ := Check(objects, invs, from)
	for _, v := range verdicts {
		if !v.Holds() || v.Incidents == 0 {
			t.Errorf("%s: %d incidents, %v %s", v.Invariant.Name, v.Incidents, v.Err, v.Counterexample)
		}
	}
	if got, min := space.Size(), 15*4*2*8*2; got < min {
		t.Errorf("the space holds %d incidents, want at least %d", got, min)
	}
}

// A department's policy at a higher priority that catches personal data
// and does not continue breaks the Internal Audit rule once the
// organisation's policy is not protected, and the counterexample names
// the department's policy; protected, the rule holds.
func TestADepartmentPolicyThatStopsBreaksTheInternalAuditRule(t *testing.T) {
	objects, files := samples(t)
	objects.Policies = append(objects.Policies, &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "finance-keeps-its-own", Generation: 1},
		Spec: securityv1alpha1.EscalationPolicySpec{Priority: 300, Match: securityv1alpha1.PolicyMatch{
			Impact: &securityv1alpha1.ImpactMatch{PersonalData: ptr(true)}},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{Notify: []securityv1alpha1.NotifyTarget{{Role: securityv1alpha1.RoleLineManager}}}}}},
	})
	invs, from := invariantsOf(t, files)
	verdicts, _, _ := Check(objects, invs, from)
	if v := verdictNamed(t, verdicts, "every personal-data breach"); !v.Holds() {
		t.Errorf("the protected policy is stopped: %s", v.Counterexample)
	}
	for _, p := range objects.ClusterPolicies {
		p.Spec.Protected = false
	}
	verdicts, _, _ = Check(objects, invs, from)
	v := verdictNamed(t, verdicts, "every personal-data breach")
	if v.Holds() || !strings.Contains(v.Counterexample, "personal-data-breach would tell internal-audit at level 0, but finance-keeps-its-own matched first and does not continue") ||
		!strings.Contains(v.Counterexample, "counterexample: ") || !strings.Contains(v.Counterexample, "personalData") {
		t.Errorf("counterexample:\n%s", v.Counterexample)
	}
}

// A rule that someone is never told is broken by the policy that tells
// them, and a number an expression compares is tried at its boundary.
func TestNeverToldAndBoundaries(t *testing.T) {
	objects, _ := samples(t)
	objects.Policies = append(objects.Policies, &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "large-breaches", Generation: 1},
		Spec: securityv1alpha1.EscalationPolicySpec{Priority: 400, Continue: true,
			Match:     securityv1alpha1.PolicyMatch{Expression: "incident.spec.impact.?dataSubjects.orValue(0) > 100"},
			Receivers: []securityv1alpha1.Receiver{{Name: "board", Email: &securityv1alpha1.EmailReceiver{To: []string{"board@example.org"}}}},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{Notify: []securityv1alpha1.NotifyTarget{
				{Receiver: "board"}, {Role: securityv1alpha1.RoleSupplier}}}}}},
	})
	invs := []Invariant{
		{Name: "no supplier hears of special category data", When: securityv1alpha1.PolicyMatch{
			Impact: &securityv1alpha1.ImpactMatch{SpecialCategoryData: ptr(true)}, Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryPhishing}},
			NeverTold: &Target{Role: securityv1alpha1.RoleSupplier}},
		{Name: "the board hears of every breach of 100 people or more",
			When: securityv1alpha1.PolicyMatch{Expression: "incident.spec.impact.?dataSubjects.orValue(0) >= 100"},
			Told: &Target{Receiver: "board"}},
	}
	verdicts, space, _ := Check(objects, invs, []string{"test", "test"})
	if v := verdicts[0]; v.Holds() || !strings.Contains(v.Counterexample, "EscalationPolicy large-breaches routes it and tells role Supplier") {
		t.Errorf("never told: %s", v.Counterexample)
	}
	if v := verdicts[1]; v.Holds() || !strings.Contains(v.Counterexample, "dataSubjects 100") || !strings.Contains(v.Counterexample, "large-breaches tells board, but does not match") {
		t.Errorf("boundary: %s", v.Counterexample)
	}
	tried := map[int32]bool{}
	for _, n := range space.DataSubjects {
		if n != nil {
			tried[*n] = true
		}
	}
	if space.DataSubjects[0] != nil || !tried[99] || !tried[100] || !tried[101] || len(space.Flags) != 7 {
		t.Errorf("the space tries dataSubjects %v and %d flags; want unset, 99, 100, 101 and every flag an expression may read", tried, len(space.Flags))
	}
}

// BenchmarkInvariants checks the council's invariants over the samples'
// whole space, and prints its size.
func BenchmarkInvariants(b *testing.B) {
	objects, files, err := Load([]string{"../../config/samples", "../../config/samples/tests/council.yaml"})
	if err != nil {
		b.Fatal(err)
	}
	invs, from := Invariants(files)
	var size int
	for b.Loop() {
		_, space, _ := Check(objects, invs, from)
		size = space.Size()
	}
	b.ReportMetric(float64(size), "incidents")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size), "ns/incident")
}
