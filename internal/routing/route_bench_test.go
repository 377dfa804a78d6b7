package routing

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// BenchmarkRoute measures routing one incident through P policies, half of
// them with CEL expressions, none of which match until the last catch-all:
// the worst case, where every policy is evaluated.
func BenchmarkRoute(b *testing.B) {
	for _, p := range []int{10, 1000} {
		b.Run(fmt.Sprintf("policies=%d", p), func(b *testing.B) {
			cache := NewExpressionCache()
			policies := make([]Policy, 0, p)
			for i := range p - 1 {
				match := securityv1alpha1.PolicyMatch{Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryTheft}}
				if i%2 == 0 {
					match = securityv1alpha1.PolicyMatch{Expression: fmt.Sprintf("incident.spec.impact.dataSubjects > %d", 100000+i)}
				}
				policies = append(policies, Prepare(policy(fmt.Sprintf("p-%04d", i), int32(i%100), false, match), cache))
			}
			policies = append(policies, Prepare(policy("catch-all", -1000, false, securityv1alpha1.PolicyMatch{}), cache))
			inc := incident(nil)
			policies = Sort(policies)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if d := RouteSorted(inc, policies); len(d.Matched) != 1 {
					b.Fatalf("matched %d", len(d.Matched))
				}
			}
		})
	}
}

// BenchmarkRouteIndexed routes one incident through 200 policies of which
// five are candidates, by every policy in order and by the index. The
// policies tell the candidates apart by category, or by a label selector;
// with cel, every policy also has an expression, which routing reaches only
// on the candidates either way, since judge reads the cheap clauses first:
// what the index saves is judging the other policies' cheap clauses.
func BenchmarkRouteIndexed(b *testing.B) {
	const p = 200
	for _, by := range []string{"category", "label"} {
		for _, cel := range []bool{false, true} {
			cache := NewExpressionCache()
			policies := make([]Policy, 0, p)
			for i := range p {
				var match securityv1alpha1.PolicyMatch
				if cel {
					match.Expression = fmt.Sprintf("incident.spec.impact.?dataSubjects.orValue(0) > %d", i)
				}
				switch by {
				case "category":
					match.Categories = []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryTheft}
					if i%40 == 0 {
						match.Categories = []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryLoss}
					}
				case "label":
					match.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"department": fmt.Sprintf("department-%d", i%40)}}
				}
				policies = append(policies, Prepare(policy(fmt.Sprintf("p-%04d", i), int32(i%100), true, match), cache))
			}
			policies = Sort(policies)
			index := NewIndex(policies)
			inc := incident(func(i *securityv1alpha1.Incident) { i.Labels = map[string]string{"department": "department-0"} })
			if n := len(index.Candidates(inc, nil)); n != 5 {
				b.Fatalf("%d candidates", n)
			}
			for _, indexed := range []bool{false, true} {
				b.Run(fmt.Sprintf("by=%s/cel=%t/policies=%d/indexed=%t", by, cel, p, indexed), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						var d Decision
						if indexed {
							d = index.Route(inc, nil)
						} else {
							d = RouteSorted(inc, policies)
						}
						if len(d.Matched) != 5 {
							b.Fatalf("matched %d", len(d.Matched))
						}
					}
				})
			}
		}
	}
}

// BenchmarkNewIndex measures building the index of 200 policies, which a
// namespace's policy set does once per change.
func BenchmarkNewIndex(b *testing.B) {
	cache := NewExpressionCache()
	policies := make([]Policy, 0, 200)
	for i := range 200 {
		match := securityv1alpha1.PolicyMatch{
			Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryTheft, securityv1alpha1.CategoryLoss},
			Severities: []securityv1alpha1.Severity{securityv1alpha1.SeverityHigh},
			Impact:     &securityv1alpha1.ImpactMatch{PersonalData: ptr.To(i%2 == 0)},
			Selector:   &metav1.LabelSelector{MatchLabels: map[string]string{"department": fmt.Sprintf("department-%d", i%40)}},
		}
		policies = append(policies, Prepare(policy(fmt.Sprintf("p-%04d", i), int32(i%100), true, match), cache))
	}
	policies = Sort(policies)
	b.ReportAllocs()
	for b.Loop() {
		NewIndex(policies)
	}
}
