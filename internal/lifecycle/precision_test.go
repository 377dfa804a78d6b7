package lifecycle

import (
	"encoding/json"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// stored is the incident as the API server gives it back: status written
// as JSON, its metav1.Time deadlines to the second, routedAt to the
// nanosecond.
func stored(t *testing.T, inc *securityv1alpha1.Incident) *securityv1alpha1.Incident {
	t.Helper()
	b, err := json.Marshal(inc)
	if err != nil {
		t.Fatal(err)
	}
	out := &securityv1alpha1.Incident{}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// slaOnly is a policy with one escalation level, so that nothing but its
// SLA target falls due.
func slaOnly(target securityv1alpha1.SLATarget) *securityv1alpha1.EscalationPolicy {
	p := escalatingPolicy()
	p.Spec.Escalation = securityv1alpha1.Escalation{Levels: p.Spec.Escalation.Levels[:1]}
	target.Severities = []securityv1alpha1.Severity{securityv1alpha1.SeverityHigh}
	p.Spec.SLA = &securityv1alpha1.SLA{
		Calendar: &securityv1alpha1.Calendar{TimeZone: "Europe/London", Opens: "08:00", Closes: "17:30"},
		Targets:  []securityv1alpha1.SLATarget{target},
	}
	return p
}

func conditionTrue(condType string) func(*securityv1alpha1.Incident) bool {
	return func(inc *securityv1alpha1.Incident) bool {
		return meta.IsStatusConditionTrue(inc.Status.Conditions, condType)
	}
}

// TestDeadlinesKeepTheFractionOfASecond routes two incidents 300 ms apart
// within one second. Each deadline, read back from what status stores,
// falls due 300 ms after the other's, at the instant worked out from the
// routing time to the nanosecond; the wake is that instant, and nothing
// fires a nanosecond before it.
func TestDeadlinesKeepTheFractionOfASecond(t *testing.T) {
	saturday := time.Date(2026, 3, 7, 11, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		policy *securityv1alpha1.EscalationPolicy
		// routedIn is the second both incidents are routed in.
		routedIn time.Time
		due      func(routedAt time.Time) time.Time
		fired    func(*securityv1alpha1.Incident) bool
		// apart is how far apart the two deadlines fall.
		apart time.Duration
	}{
		"the next escalation level": {
			policy: escalatingPolicy(), routedIn: routed,
			due:   func(at time.Time) time.Time { return at.Add(10 * time.Minute) },
			fired: func(inc *securityv1alpha1.Incident) bool { return inc.Status.Policies[0].Level == 1 },
			apart: 300 * time.Millisecond,
		},
		"the escalation's repeat": {
			policy: func() *securityv1alpha1.EscalationPolicy {
				p := escalatingPolicy()
				p.Spec.Escalation.Levels = p.Spec.Escalation.Levels[:1]
				return p
			}(),
			routedIn: routed,
			due:      func(at time.Time) time.Time { return at.Add(30 * time.Minute) },
			fired:    func(inc *securityv1alpha1.Incident) bool { return inc.Status.Policies[0].Repeat == 1 },
			apart:    300 * time.Millisecond,
		},
		"the acknowledge target at risk": {
			policy:   slaOnly(securityv1alpha1.SLATarget{AcknowledgeWithin: minutes(60), WarnBefore: minutes(15)}),
			routedIn: routed,
			due:      func(at time.Time) time.Time { return at.Add(45 * time.Minute) },
			fired:    conditionTrue(securityv1alpha1.ConditionSLAAtRisk),
			apart:    300 * time.Millisecond,
		},
		"the acknowledge target": {
			policy:   slaOnly(securityv1alpha1.SLATarget{AcknowledgeWithin: minutes(60)}),
			routedIn: routed,
			due:      func(at time.Time) time.Time { return at.Add(time.Hour) },
			fired:    conditionTrue(securityv1alpha1.ConditionSLABreached),
			apart:    300 * time.Millisecond,
		},
		"the resolve target": {
			policy:   slaOnly(securityv1alpha1.SLATarget{ResolveWithin: minutes(8 * 60)}),
			routedIn: routed,
			due:      func(at time.Time) time.Time { return at.Add(8 * time.Hour) },
			fired:    conditionTrue(securityv1alpha1.ConditionSLABreached),
			apart:    300 * time.Millisecond,
		},
		"business hours, routed within them": {
			policy:   slaOnly(securityv1alpha1.SLATarget{AcknowledgeWithin: minutes(60), Hours: securityv1alpha1.BusinessHours}),
			routedIn: routed, // Monday 09:00 in London
			due:      func(at time.Time) time.Time { return at.Add(time.Hour) },
			fired:    conditionTrue(securityv1alpha1.ConditionSLABreached),
			apart:    300 * time.Millisecond,
		},
		"business hours, routed out of them: both count from the opening": {
			policy:   slaOnly(securityv1alpha1.SLATarget{AcknowledgeWithin: minutes(60), Hours: securityv1alpha1.BusinessHours}),
			routedIn: saturday,
			due:      func(time.Time) time.Time { return time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC) },
			fired:    conditionTrue(securityv1alpha1.ConditionSLABreached),
			apart:    0,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			first := tc.routedIn.Add(200 * time.Millisecond)
			var wakes []time.Time
			for _, routedAt := range []time.Time{first, first.Add(300 * time.Millisecond)} {
				inc := routedIncident("desk")
				precise := securityv1alpha1.NewPreciseTime(routedAt)
				inc.Status.RoutedAt = &precise
				inc.CreationTimestamp = metav1.NewTime(routedAt.Truncate(time.Second))
				advance(inc, routedAt, tc.policy)
				inc = stored(t, inc)

				// A later reconcile reads the deadline back from status.
				want := tc.due(routedAt)
				out := advance(inc, routedAt.Add(time.Second), tc.policy)
				if !out.Wake.Equal(want) {
					t.Errorf("routed at %s: wake %s, want %s", stamp(routedAt), stamp(out.Wake), stamp(want))
				}
				wakes = append(wakes, out.Wake)
				inc = stored(t, inc)

				advance(inc, want.Add(-time.Nanosecond), tc.policy)
				if tc.fired(inc) {
					t.Errorf("routed at %s: fired a nanosecond before %s", stamp(routedAt), stamp(want))
				}
				inc = stored(t, inc)
				advance(inc, want, tc.policy)
				if !tc.fired(inc) {
					t.Errorf("routed at %s: not fired at %s", stamp(routedAt), stamp(want))
				}
			}
			if got := wakes[1].Sub(wakes[0]); got != tc.apart {
				t.Errorf("the deadlines fall %s apart, want %s", got, tc.apart)
			}
		})
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// BenchmarkBreach is the CPU one incident's breach costs the lifecycle:
// the reconcile at its acknowledge deadline, from status as stored.
func BenchmarkBreach(b *testing.B) {
	policy := slaOnly(securityv1alpha1.SLATarget{AcknowledgeWithin: minutes(60), ResolveWithin: minutes(8 * 60), WarnBefore: minutes(15)})
	inc := routedIncident("desk")
	at := securityv1alpha1.NewPreciseTime(routed.Add(300 * time.Millisecond))
	inc.Status.RoutedAt = &at
	advance(inc, at.Time, policy)
	advance(inc, at.Add(45*time.Minute), policy)
	deliverAll(inc)
	due := at.Add(time.Hour)
	for b.Loop() {
		c := inc.DeepCopy()
		advance(c, due, policy)
		if !meta.IsStatusConditionTrue(c.Status.Conditions, securityv1alpha1.ConditionSLABreached) {
			b.Fatal("not breached")
		}
	}
}
