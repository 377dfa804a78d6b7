package routing

import (
	"fmt"
	"testing"

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
