package routing

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func policy(name string, priority int32, cont bool, match securityv1alpha1.PolicyMatch) *securityv1alpha1.EscalationPolicy {
	return &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "council", Name: name, Generation: 1},
		Spec:       securityv1alpha1.EscalationPolicySpec{Priority: priority, Continue: cont, Match: match},
	}
}

func incident(mutate func(*securityv1alpha1.Incident)) *securityv1alpha1.Incident {
	i := &securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Namespace: "council", Name: "lost-laptop", Labels: map[string]string{"department": "finance"}},
		Spec: securityv1alpha1.IncidentSpec{
			Title:    "Laptop left on a train",
			Category: securityv1alpha1.CategoryLoss,
			Severity: securityv1alpha1.SeverityHigh,
			Impact:   securityv1alpha1.Impact{PersonalData: true, ITRelated: true, DataSubjects: ptr.To[int32](240)},
		},
	}
	if mutate != nil {
		mutate(i)
	}
	return i
}

func names(policies []Policy) []string {
	var out []string
	for _, p := range policies {
		out = append(out, p.Name)
	}
	return out
}

func TestRoute(t *testing.T) {
	all := securityv1alpha1.PolicyMatch{}
	cases := map[string]struct {
		incident *securityv1alpha1.Incident
		policies []*securityv1alpha1.EscalationPolicy
		want     []string
		skipped  []string
	}{
		"no policies": {
			incident: incident(nil),
			want:     nil,
		},
		"higher priority first and stop": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{policy("low", 1, false, all), policy("high", 10, false, all)},
			want:     []string{"high"},
		},
		"equal priority broken by name": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{policy("zeta", 5, false, all), policy("alpha", 5, false, all)},
			want:     []string{"alpha"},
		},
		"continue evaluates the next policies": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("audit", 100, true, all), policy("desk", 50, true, all), policy("managers", 0, false, all), policy("never", -1, false, all),
			},
			want: []string{"audit", "desk", "managers"},
		},
		"continue past a policy that does not match": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("audit", 100, true, all),
				policy("theft", 50, false, securityv1alpha1.PolicyMatch{Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryTheft}}),
				policy("catch-all", 0, false, all),
			},
			want: []string{"audit", "catch-all"},
		},
		"category, severity and type": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("wrong-severity", 3, false, securityv1alpha1.PolicyMatch{Severities: []securityv1alpha1.Severity{securityv1alpha1.SeverityLow}}),
				policy("weakness", 2, false, securityv1alpha1.PolicyMatch{Types: []securityv1alpha1.IncidentType{securityv1alpha1.TypeWeakness}}),
				policy("loss-high", 1, false, securityv1alpha1.PolicyMatch{
					Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryLoss, securityv1alpha1.CategoryTheft},
					Severities: []securityv1alpha1.Severity{securityv1alpha1.SeverityHigh, securityv1alpha1.SeverityCritical},
					Types:      []securityv1alpha1.IncidentType{securityv1alpha1.TypeIncident},
				}),
			},
			want: []string{"loss-high"},
		},
		"impact flags must equal when set": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("social-care", 3, false, securityv1alpha1.PolicyMatch{Impact: &securityv1alpha1.ImpactMatch{SocialCare: ptr.To(true)}}),
				policy("not-it", 2, false, securityv1alpha1.PolicyMatch{Impact: &securityv1alpha1.ImpactMatch{ITRelated: ptr.To(false)}}),
				policy("personal-it", 1, false, securityv1alpha1.PolicyMatch{Impact: &securityv1alpha1.ImpactMatch{PersonalData: ptr.To(true), ITRelated: ptr.To(true)}}),
			},
			want: []string{"personal-it"},
		},
		"label selector": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("hr", 2, false, securityv1alpha1.PolicyMatch{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"department": "hr"}}}),
				policy("finance", 1, false, securityv1alpha1.PolicyMatch{Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "department", Operator: metav1.LabelSelectorOpIn, Values: []string{"finance", "payroll"}},
				}}}),
			},
			want: []string{"finance"},
		},
		"expression": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("many-subjects", 2, false, securityv1alpha1.PolicyMatch{Expression: "incident.spec.impact.dataSubjects > 1000"}),
				policy("some-subjects", 1, false, securityv1alpha1.PolicyMatch{Expression: "incident.spec.impact.dataSubjects > 100 && incident.metadata.labels.department == 'finance'"}),
			},
			want: []string{"some-subjects"},
		},
		"broken expression is skipped, not fatal": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("broken", 2, false, securityv1alpha1.PolicyMatch{Expression: "incident.spec.("}),
				policy("fallback", 1, false, all),
			},
			want:    []string{"fallback"},
			skipped: []string{"broken"},
		},
		"expression reading an absent field is skipped with the error": {
			incident: incident(func(i *securityv1alpha1.Incident) { i.Spec.Impact.DataSubjects = nil }),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("subjects", 2, false, securityv1alpha1.PolicyMatch{Expression: "incident.spec.impact.dataSubjects > 1"}),
				policy("guarded", 1, false, securityv1alpha1.PolicyMatch{Expression: "!has(incident.spec.impact.dataSubjects)"}),
			},
			want:    []string{"guarded"},
			skipped: []string{"subjects"},
		},
		"expression sees the type the API server defaults": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("weaknesses", 2, false, securityv1alpha1.PolicyMatch{Expression: "incident.spec.type == 'Weakness'"}),
				policy("incidents", 1, false, securityv1alpha1.PolicyMatch{Expression: "incident.spec.type == 'Incident'"}),
			},
			want: []string{"incidents"},
		},
		"expression that fails at run time is skipped with the error": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("per-zero", 2, false, securityv1alpha1.PolicyMatch{Expression: "incident.spec.impact.dataSubjects / 0 > 1"}),
				policy("fallback", 1, false, all),
			},
			want:    []string{"fallback"},
			skipped: []string{"per-zero"},
		},
		"type error is skipped": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("string-count", 2, false, securityv1alpha1.PolicyMatch{Expression: "incident.spec.impact.dataSubjects > '100'"}),
				policy("fallback", 1, false, all),
			},
			want:    []string{"fallback"},
			skipped: []string{"string-count"},
		},
		"invalid selector is skipped": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("bad-selector", 2, false, securityv1alpha1.PolicyMatch{Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "department", Operator: "Near"},
				}}}),
			},
			want:    nil,
			skipped: []string{"bad-selector"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := Route(tc.incident, prepareAll(tc.policies))
			if got := names(d.Matched); !slices.Equal(got, tc.want) {
				t.Errorf("matched %v, want %v", got, tc.want)
			}
			var skipped []string
			for _, s := range d.Skipped {
				skipped = append(skipped, s.Policy)
				if !strings.Contains(s.Reason.Error(), "spec.match.") {
					t.Errorf("skip reason %q does not name the field", s.Reason)
				}
			}
			if !slices.Equal(skipped, tc.skipped) {
				t.Errorf("skipped %v, want %v", skipped, tc.skipped)
			}
		})
	}
}
