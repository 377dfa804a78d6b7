package routing_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/routing"
)

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

func policy(name string, priority int32, cont bool, m securityv1alpha1.PolicyMatch) *securityv1alpha1.EscalationPolicy {
	return &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "council", Name: name, Generation: 1},
		Spec:       securityv1alpha1.EscalationPolicySpec{Priority: priority, Continue: cont, Match: m},
	}
}

func prepare(t *testing.T, policies ...*securityv1alpha1.EscalationPolicy) []routing.Policy {
	t.Helper()
	cache := routing.NewExpressionCache()
	out := make([]routing.Policy, len(policies))
	for i, p := range policies {
		out[i] = routing.Prepare(p, cache)
	}
	return out
}

func newIncident(edit func(*securityv1alpha1.Incident)) *securityv1alpha1.Incident {
	inc := &securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Namespace: "council", Name: "phish"},
		Spec: securityv1alpha1.IncidentSpec{
			Title: "Phishing", Category: securityv1alpha1.CategoryPhishing, Severity: securityv1alpha1.SeverityHigh,
			Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Rob"}},
		},
	}
	if edit != nil {
		edit(inc)
	}
	return inc
}

// The policies and incidents of the agreement test: every kind of clause,
// held and not, alone and together.
func corpus() ([]*securityv1alpha1.EscalationPolicy, []*securityv1alpha1.Incident) {
	policies := []*securityv1alpha1.EscalationPolicy{
		policy("everything", -100, false, securityv1alpha1.PolicyMatch{}),
		policy("severe", 10, true, securityv1alpha1.PolicyMatch{Severities: []securityv1alpha1.Severity{"High", "Critical"}}),
		policy("loss", 20, true, securityv1alpha1.PolicyMatch{Categories: []securityv1alpha1.IncidentCategory{"Loss", "Theft"}}),
		policy("weakness", 30, true, securityv1alpha1.PolicyMatch{Types: []securityv1alpha1.IncidentType{"Weakness"}}),
		policy("personal", 100, true, securityv1alpha1.PolicyMatch{Impact: &securityv1alpha1.ImpactMatch{PersonalData: yes()}}),
		policy("not-it", 40, true, securityv1alpha1.PolicyMatch{Impact: &securityv1alpha1.ImpactMatch{ITRelated: no(), BusinessCritical: yes()}}),
		policy("finance", 50, true, securityv1alpha1.PolicyMatch{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"department": "finance"}}}),
		policy("many-subjects", 60, true, securityv1alpha1.PolicyMatch{Expression: "incident.spec.impact.?dataSubjects.orValue(0) > 100"}),
		policy("all-at-once", 70, false, securityv1alpha1.PolicyMatch{
			Severities: []securityv1alpha1.Severity{"Critical"}, Categories: []securityv1alpha1.IncidentCategory{"Phishing"},
			Impact:     &securityv1alpha1.ImpactMatch{SecurityBreach: yes()},
			Selector:   &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "department", Operator: metav1.LabelSelectorOpExists}}},
			Expression: "incident.spec.title.startsWith('P')",
		}),
		policy("failing-expression", 5, true, securityv1alpha1.PolicyMatch{Expression: "incident.spec.assets[0] == 'x'"}),
		policy("bad-selector", 1, true, securityv1alpha1.PolicyMatch{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"bad key!": "x"}}}),
	}
	var subjects int32 = 240
	incidents := []*securityv1alpha1.Incident{
		newIncident(nil),
		newIncident(func(i *securityv1alpha1.Incident) { i.Spec.Severity = "Low"; i.Spec.Category = "Loss" }),
		newIncident(func(i *securityv1alpha1.Incident) { i.Spec.Type = "Weakness"; i.Spec.Impact.BusinessCritical = true }),
		newIncident(func(i *securityv1alpha1.Incident) {
			i.Spec.Severity = "Critical"
			i.Spec.Impact = securityv1alpha1.Impact{PersonalData: true, SecurityBreach: true, DataSubjects: &subjects}
			i.Labels = map[string]string{"department": "finance"}
		}),
		newIncident(func(i *securityv1alpha1.Incident) {
			i.Spec.Severity = "Critical"
			i.Spec.Impact = securityv1alpha1.Impact{SecurityBreach: true, ITRelated: true, BusinessCritical: true}
			i.Labels = map[string]string{"department": "it"}
			i.Spec.Assets = []string{"x"}
		}),
		newIncident(func(i *securityv1alpha1.Incident) {
			i.Spec.Title = "Lost"
			i.Spec.Category = "Theft"
			i.Spec.Assets = []string{"y"}
		}),
	}
	return policies, incidents
}

// The explanation and routing can never disagree: a policy matches by the
// clauses exactly when routing, given that policy alone, picks it; and the
// policies the explanation says were routed are the ones routing picks.
func TestExplanationAgreesWithRouting(t *testing.T) {
	policies, incidents := corpus()
	prepared := prepare(t, policies...)
	for i, inc := range incidents {
		explained := routing.Explain(inc, nil, prepared)
		decision := routing.Route(inc, prepared)
		var routed, want []string
		for _, e := range explained {
			if e.Routed {
				routed = append(routed, e.Name)
			}
		}
		for _, m := range decision.Matched {
			want = append(want, m.Name)
		}
		if !slices.Equal(routed, want) {
			t.Errorf("incident %d: explanation routes %v, routing %v", i, routed, want)
		}
		for _, e := range explained {
			p := prepared[slices.IndexFunc(prepared, func(p routing.Policy) bool { return p.Name == e.Name })]
			alone := routing.Route(inc, []routing.Policy{p})
			if got := len(alone.Matched) == 1; e.Matches != got {
				t.Errorf("incident %d, policy %s: explanation says matches=%v, routing alone %v (clauses %+v)", i, e.Name, e.Matches, got, e.Clauses)
			}
			if (e.Invalid != nil || slices.ContainsFunc(e.Clauses, func(c routing.Clause) bool { return c.Err != nil })) != (len(alone.Skipped) > 0) {
				t.Errorf("incident %d, policy %s: explanation and routing disagree on whether it could be evaluated: %+v, skipped %v", i, e.Name, e, alone.Skipped)
			}
		}
	}
}

func TestClauses(t *testing.T) {
	policies, incidents := corpus()
	prepared := prepare(t, policies...)
	type clause struct {
		field, want, got string
		held             bool
	}
	tests := map[string]struct {
		incident    int
		policy      string
		clauses     []clause
		verdict     string
		errContains string
	}{
		"severity held": {
			incident: 0, policy: "severe",
			clauses: []clause{{"severities", "High, Critical", "High", true}},
			verdict: "matched",
		},
		"category not held": {
			incident: 0, policy: "loss",
			clauses: []clause{{"categories", "Loss, Theft", "Phishing", false}},
			verdict: "does not match",
		},
		"type defaults to Incident": {
			incident: 0, policy: "weakness",
			clauses: []clause{{"types", "Weakness", "Incident", false}},
			verdict: "does not match",
		},
		"each impact flag is its own clause": {
			incident: 2, policy: "not-it",
			clauses: []clause{{"impact.itRelated", "false", "false", true}, {"impact.businessCritical", "true", "true", true}},
			verdict: "matched",
		},
		"selector against the incident's labels": {
			incident: 3, policy: "finance",
			clauses: []clause{{"selector", "department=finance", "department=finance", true}},
			verdict: "would match, but not reached: all-at-once",
		},
		"selector on an incident without labels": {
			incident: 0, policy: "finance",
			clauses: []clause{{"selector", "department=finance", "no labels", false}},
			verdict: "does not match",
		},
		"expression true": {
			incident: 3, policy: "many-subjects",
			clauses: []clause{{"expression", "incident.spec.impact.?dataSubjects.orValue(0) > 100", "true", true}},
			verdict: "would match, but not reached: all-at-once",
		},
		"every clause judged, one failing": {
			incident: 4, policy: "all-at-once",
			clauses: []clause{
				{"severities", "Critical", "Critical", true},
				{"categories", "Phishing", "Phishing", true},
				{"impact.securityBreach", "true", "true", true},
				{"selector", "department", "department=it", true},
				{"expression", "incident.spec.title.startsWith('P')", "true", true},
			},
			verdict: "matched",
		},
		"a policy without clauses matches every incident": {
			incident: 0, policy: "everything",
			verdict: "matched",
		},
		"a policy stopped by an earlier match that does not continue": {
			incident: 4, policy: "everything",
			verdict: "would match, but not reached: all-at-once matched first and does not continue",
		},
		"an expression that fails on this incident": {
			incident: 0, policy: "failing-expression",
			verdict:     "does not match",
			errContains: "no such key",
		},
		"a broken policy is not evaluated": {
			incident: 0, policy: "bad-selector",
			verdict: "not evaluated: spec.match.selector",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			explained := routing.Explain(incidents[tc.incident], nil, prepared)
			i := slices.IndexFunc(explained, func(e routing.Explanation) bool { return e.Name == tc.policy })
			e := explained[i]
			if !strings.HasPrefix(e.Verdict(), tc.verdict) {
				t.Errorf("verdict %q, want %q", e.Verdict(), tc.verdict)
			}
			if tc.errContains != "" {
				if len(e.Clauses) != 1 || e.Clauses[0].Err == nil || !strings.Contains(e.Clauses[0].Got, tc.errContains) {
					t.Errorf("clauses %+v, want one failing with %q", e.Clauses, tc.errContains)
				}
				return
			}
			if tc.clauses == nil {
				return
			}
			var got []clause
			for _, c := range e.Clauses {
				got = append(got, clause{c.Field, c.Want, c.Got, c.Held})
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.clauses) {
				t.Errorf("clauses\n got %v\nwant %v", got, tc.clauses)
			}
		})
	}
}

func TestOrderIsRoutingsOrder(t *testing.T) {
	policies, _ := corpus()
	var got []string
	for _, e := range routing.Explain(newIncident(nil), nil, prepare(t, policies...)) {
		got = append(got, e.Name)
	}
	want := []string{"personal", "all-at-once", "many-subjects", "finance", "not-it", "weakness", "loss", "severe", "failing-expression", "bad-selector", "everything"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// A department's stop names the policy that stopped the others, and a
// protected cluster policy after it is routed, not stopped.
func TestProtectedClusterPolicyIsNotStopped(t *testing.T) {
	cache := routing.NewExpressionCache()
	audit := &securityv1alpha1.ClusterEscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "internal-audit", Generation: 1},
		Spec: securityv1alpha1.ClusterEscalationPolicySpec{
			EscalationPolicySpec: securityv1alpha1.EscalationPolicySpec{Priority: 50, Continue: true},
			Protected:            true,
		},
	}
	policies := append(prepare(t, policy("department-stop", 100, false, securityv1alpha1.PolicyMatch{}), policy("desk", 10, false, securityv1alpha1.PolicyMatch{})),
		routing.PrepareCluster(audit, cache))
	got := map[string]routing.Explanation{}
	for _, e := range routing.Explain(newIncident(nil), nil, policies) {
		got[e.Name] = e
	}
	if a := got["internal-audit"]; !a.Routed || !a.Protected || a.Kind != securityv1alpha1.KindClusterEscalationPolicy || a.StoppedBy != "" {
		t.Errorf("internal-audit: %+v, want routed, protected, a cluster policy", a)
	}
	if d := got["desk"]; d.Routed || d.StoppedBy != "department-stop" {
		t.Errorf("desk: %+v, want stopped by department-stop", d)
	}
}
