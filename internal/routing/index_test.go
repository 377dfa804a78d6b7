package routing

import (
	"fmt"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// TestIndexCandidates shows what the index rules out before any clause is
// judged, and what it must leave to judge. FuzzIndex shows that routing
// the candidates decides what routing every policy does.
func TestIndexCandidates(t *testing.T) {
	server := &securityv1alpha1.Asset{ObjectMeta: metav1.ObjectMeta{Name: "server"}, Spec: securityv1alpha1.AssetSpec{Type: securityv1alpha1.AssetServer}}
	assets := map[string]*securityv1alpha1.Asset{"server": server}
	selector := func(key string, op metav1.LabelSelectorOperator, values ...string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: op, Values: values}}}
	}
	cases := map[string]struct {
		incident *securityv1alpha1.Incident
		policies []*securityv1alpha1.EscalationPolicy
		want     []string
	}{
		"severity, category and type": {
			incident: incident(nil), // Loss, High, type defaulted to Incident
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("low", 5, false, securityv1alpha1.PolicyMatch{Severities: []securityv1alpha1.Severity{securityv1alpha1.SeverityLow}}),
				policy("theft", 4, false, securityv1alpha1.PolicyMatch{Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryTheft}}),
				policy("weakness", 3, false, securityv1alpha1.PolicyMatch{Types: []securityv1alpha1.IncidentType{securityv1alpha1.TypeWeakness}}),
				policy("loss-high-incident", 2, false, securityv1alpha1.PolicyMatch{
					Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryTheft, securityv1alpha1.CategoryLoss},
					Severities: []securityv1alpha1.Severity{securityv1alpha1.SeverityHigh},
					Types:      []securityv1alpha1.IncidentType{securityv1alpha1.TypeIncident},
				}),
				policy("catch-all", 1, false, securityv1alpha1.PolicyMatch{}),
			},
			want: []string{"loss-high-incident", "catch-all"},
		},
		"impact flags, wanted true or false": {
			incident: incident(nil), // personal data, IT related
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("social-care", 4, false, securityv1alpha1.PolicyMatch{Impact: &securityv1alpha1.ImpactMatch{SocialCare: ptr.To(true)}}),
				policy("not-it", 3, false, securityv1alpha1.PolicyMatch{Impact: &securityv1alpha1.ImpactMatch{ITRelated: ptr.To(false)}}),
				policy("no-breach", 2, false, securityv1alpha1.PolicyMatch{Impact: &securityv1alpha1.ImpactMatch{SecurityBreach: ptr.To(false)}}),
				policy("personal-it", 1, false, securityv1alpha1.PolicyMatch{Impact: &securityv1alpha1.ImpactMatch{PersonalData: ptr.To(true), ITRelated: ptr.To(true)}}),
			},
			want: []string{"no-breach", "personal-it"},
		},
		"labels asked for by value; other operators are left to judge": {
			incident: incident(nil), // department=finance
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("hr", 6, false, securityv1alpha1.PolicyMatch{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"department": "hr"}}}),
				policy("finance-or-payroll", 5, false, securityv1alpha1.PolicyMatch{Selector: selector("department", metav1.LabelSelectorOpIn, "finance", "payroll")}),
				policy("no-team", 4, false, securityv1alpha1.PolicyMatch{Selector: selector("team", metav1.LabelSelectorOpIn, "desk")}),
				policy("not-hr", 3, false, securityv1alpha1.PolicyMatch{Selector: selector("department", metav1.LabelSelectorOpNotIn, "hr")}),
				policy("not-finance", 2, false, securityv1alpha1.PolicyMatch{Selector: selector("department", metav1.LabelSelectorOpNotIn, "finance")}),
				policy("has-team", 1, false, securityv1alpha1.PolicyMatch{Selector: selector("team", metav1.LabelSelectorOpExists)}),
			},
			want: []string{"finance-or-payroll", "not-hr", "not-finance", "has-team"},
		},
		"assets by type, and only when one the incident names exists": {
			incident: incident(func(i *securityv1alpha1.Incident) { i.Spec.Assets = []string{"ghost", "server"} }),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("laptops", 3, false, securityv1alpha1.PolicyMatch{Assets: &securityv1alpha1.AssetMatch{Types: []securityv1alpha1.AssetType{securityv1alpha1.AssetLaptop}}}),
				policy("servers", 2, false, securityv1alpha1.PolicyMatch{Assets: &securityv1alpha1.AssetMatch{Types: []securityv1alpha1.AssetType{securityv1alpha1.AssetLaptop, securityv1alpha1.AssetServer}}}),
				policy("critical", 1, false, securityv1alpha1.PolicyMatch{Assets: &securityv1alpha1.AssetMatch{BusinessCritical: ptr.To(true)}}),
			},
			want: []string{"servers", "critical"},
		},
		"no asset that exists": {
			incident: incident(func(i *securityv1alpha1.Incident) { i.Spec.Assets = []string{"ghost"} }),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("any-asset", 2, false, securityv1alpha1.PolicyMatch{Assets: &securityv1alpha1.AssetMatch{}}),
				policy("no-assets-clause", 1, false, securityv1alpha1.PolicyMatch{}),
			},
			want: []string{"no-assets-clause"},
		},
		"an expression alone is always a candidate": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("never", 2, false, securityv1alpha1.PolicyMatch{Expression: "false"}),
				policy("theft-and-never", 1, false, securityv1alpha1.PolicyMatch{Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryTheft}, Expression: "false"}),
			},
			want: []string{"never"},
		},
		"a policy that cannot be evaluated is reported whatever the incident": {
			incident: incident(nil),
			policies: []*securityv1alpha1.EscalationPolicy{
				policy("theft-broken", 1, false, securityv1alpha1.PolicyMatch{Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryTheft}, Expression: "incident.spec.("}),
			},
			want: []string{"theft-broken"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			x := NewIndex(Sort(prepareAll(tc.policies)))
			var got []string
			for _, i := range x.Candidates(tc.incident, assets) {
				got = append(got, x.Policies()[i].Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("candidates %v, want %v", got, tc.want)
			}
			if diff := decisionDiff(x.Route(tc.incident, assets), RouteWithAssets(tc.incident, assets, x.Policies())); diff != "" {
				t.Error(diff)
			}
		})
	}
}

// prepareAll prepares a namespace's policies, as the operator does.
func prepareAll(policies []*securityv1alpha1.EscalationPolicy) []Policy {
	cache := NewExpressionCache()
	var prepared []Policy
	for _, p := range policies {
		prepared = append(prepared, Prepare(p, cache))
	}
	return prepared
}

// TestIndexAcrossWords keeps the evaluation order, stops and protected
// policies right when the policies fill more than one word of a bitset.
func TestIndexAcrossWords(t *testing.T) {
	cache := NewExpressionCache()
	var prepared []Policy
	for i := range 200 {
		match := securityv1alpha1.PolicyMatch{Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryTheft}}
		if i%50 == 7 {
			match = securityv1alpha1.PolicyMatch{Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryLoss}}
		}
		p := &securityv1alpha1.ClusterEscalationPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%03d", i), Generation: 1},
			Spec:       securityv1alpha1.ClusterEscalationPolicySpec{EscalationPolicySpec: securityv1alpha1.EscalationPolicySpec{Priority: int32(-i), Continue: i < 100, Match: match}, Protected: i == 157},
		}
		prepared = append(prepared, PrepareCluster(p, cache))
	}
	x := NewIndex(Sort(prepared))
	inc := incident(nil)
	var got []string
	for _, i := range x.Candidates(inc, nil) {
		got = append(got, x.Policies()[i].Name)
	}
	if want := []string{"p007", "p057", "p107", "p157"}; !slices.Equal(got, want) {
		t.Errorf("candidates %v, want %v", got, want)
	}
	// p107 does not continue: of the policies after it, only the
	// protected p157 is still routed.
	if got, want := names(x.Route(inc, nil).Matched), []string{"p007", "p057", "p107", "p157"}; !slices.Equal(got, want) {
		t.Errorf("matched %v, want %v", got, want)
	}
}
