package triage

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time {
	t := metav1.NewTime(now.Add(d))
	return &t
}

func incident(name string, severity securityv1alpha1.Severity, edit func(*securityv1alpha1.Incident)) securityv1alpha1.Incident {
	inc := securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Namespace: "council", Name: name, CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))},
		Spec:       securityv1alpha1.IncidentSpec{Title: name, Category: securityv1alpha1.CategoryOther, Severity: severity},
	}
	if edit != nil {
		edit(&inc)
	}
	return inc
}

func condition(typ, reason string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: reason}
}

func TestNextDeadline(t *testing.T) {
	tests := map[string]struct {
		edit   func(*securityv1alpha1.Incident)
		want   Deadline
		wantOK bool
	}{
		"nothing set: no deadline": {},
		"a regime's open stage is the deadline, and speaks for the authority's clock": {
			edit: func(i *securityv1alpha1.Incident) {
				i.Spec.Impact.PersonalData = true
				i.Status.AuthorityNotificationDeadline = at(70 * time.Hour)
				i.Status.Conditions = []metav1.Condition{condition(securityv1alpha1.ConditionAuthorityNotificationRequired, securityv1alpha1.ReasonPersonalData)}
				i.Status.Obligations = []securityv1alpha1.ObligationStatus{
					{Regime: "uk-gdpr", Stage: "notification", Recipient: securityv1alpha1.RecipientSupervisoryAuthority, State: securityv1alpha1.ObligationToDecide, Deadline: at(70 * time.Hour)},
					{Regime: "uk-gdpr", Stage: "data-subjects", Recipient: securityv1alpha1.RecipientDataSubjects, State: securityv1alpha1.ObligationToDecide, WithoutUndueDelay: true},
				}
			},
			want: Deadline{Kind: ObligationBy, At: now.Add(70 * time.Hour), Obligation: "uk-gdpr/notification"}, wantOK: true,
		},
		"a stage filed or decided not required is no deadline": {
			edit: func(i *securityv1alpha1.Incident) {
				i.Status.Obligations = []securityv1alpha1.ObligationStatus{
					{Regime: "nis2", Stage: "early-warning", State: securityv1alpha1.ObligationFiled, Deadline: at(-time.Hour)},
					{Regime: "uk-gdpr", Stage: "notification", State: securityv1alpha1.ObligationNotRequired},
				}
			},
		},
		"a missed stage is breached": {
			edit: func(i *securityv1alpha1.Incident) {
				i.Status.SLA = &securityv1alpha1.SLAStatus{ResolveBy: at(time.Hour)}
				i.Status.Obligations = []securityv1alpha1.ObligationStatus{
					{Regime: "nis2", Stage: "notification", State: securityv1alpha1.ObligationDrafted, Deadline: at(2 * time.Hour), Missed: true},
				}
			},
			want: Deadline{Kind: ObligationBy, At: now.Add(2 * time.Hour), Obligation: "nis2/notification", Breached: true}, wantOK: true,
		},
		"the acknowledge target comes before the resolve target": {
			edit: func(i *securityv1alpha1.Incident) {
				i.Status.SLA = &securityv1alpha1.SLAStatus{AcknowledgeBy: at(time.Hour), ResolveBy: at(8 * time.Hour)}
			},
			want: Deadline{Kind: AcknowledgeBy, At: now.Add(time.Hour)}, wantOK: true,
		},
		"an escalation due sooner than the SLA comes first": {
			edit: func(i *securityv1alpha1.Incident) {
				i.Status.SLA = &securityv1alpha1.SLAStatus{AcknowledgeBy: at(time.Hour)}
				i.Status.Policies = []securityv1alpha1.PolicyReference{{Name: "desk", NextEscalationAt: at(30 * time.Minute)}, {Name: "audit", NextEscalationAt: at(45 * time.Minute)}}
			},
			want: Deadline{Kind: NextEscalation, At: now.Add(30 * time.Minute), Policy: "desk"}, wantOK: true,
		},
		"acknowledged: the acknowledge target and the escalation no longer matter": {
			edit: func(i *securityv1alpha1.Incident) {
				i.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "Rita"}
				i.Status.SLA = &securityv1alpha1.SLAStatus{AcknowledgeBy: at(time.Hour), ResolveBy: at(8 * time.Hour)}
				i.Status.Policies = []securityv1alpha1.PolicyReference{{Name: "desk", NextEscalationAt: at(30 * time.Minute)}}
			},
			want: Deadline{Kind: ResolveBy, At: now.Add(8 * time.Hour)}, wantOK: true,
		},
		"a missed target outranks an escalation ahead": {
			edit: func(i *securityv1alpha1.Incident) {
				i.Status.SLA = &securityv1alpha1.SLAStatus{AcknowledgeBy: at(-5 * time.Minute)}
				i.Status.Policies = []securityv1alpha1.PolicyReference{{Name: "desk", NextEscalationAt: at(-10 * time.Minute)}}
			},
			want: Deadline{Kind: AcknowledgeBy, At: now.Add(-5 * time.Minute), Breached: true}, wantOK: true,
		},
		"an escalation that is due is not a breach": {
			edit: func(i *securityv1alpha1.Incident) {
				i.Status.Policies = []securityv1alpha1.PolicyReference{{Name: "desk", NextEscalationAt: at(-time.Second)}}
			},
			want: Deadline{Kind: NextEscalation, At: now.Add(-time.Second), Policy: "desk"}, wantOK: true,
		},
		"a breach the operator recorded stays, though the clock says it is ahead": {
			edit: func(i *securityv1alpha1.Incident) {
				i.Status.SLA = &securityv1alpha1.SLAStatus{AcknowledgeBy: at(time.Hour)}
				i.Status.Conditions = []metav1.Condition{condition(securityv1alpha1.ConditionSLABreached, securityv1alpha1.ReasonAcknowledgeTargetMissed)}
			},
			want: Deadline{Kind: AcknowledgeBy, At: now.Add(time.Hour), Breached: true}, wantOK: true,
		},
		"personal data: the authority deadline, from the operator's status": {
			edit: func(i *securityv1alpha1.Incident) {
				i.Spec.Impact.PersonalData = true
				i.Status.AuthorityNotificationDeadline = at(70 * time.Hour)
				i.Status.SLA = &securityv1alpha1.SLAStatus{ResolveBy: at(80 * time.Hour)}
			},
			want: Deadline{Kind: AuthorityBy, At: now.Add(70 * time.Hour)}, wantOK: true,
		},
		"personal data before the operator looked: 72 hours from awareness": {
			edit: func(i *securityv1alpha1.Incident) {
				i.Spec.Impact.PersonalData = true
				i.Spec.AwareAt = at(-2 * time.Hour)
			},
			want: Deadline{Kind: AuthorityBy, At: now.Add(70 * time.Hour)}, wantOK: true,
		},
		"the authority was told: no authority deadline": {
			edit: func(i *securityv1alpha1.Incident) {
				i.Spec.Impact.PersonalData = true
				i.Spec.AuthorityNotification = &securityv1alpha1.AuthorityNotification{NotifiedAt: *at(-time.Hour)}
			},
		},
		"resolved, but a breach must still be reported": {
			edit: func(i *securityv1alpha1.Incident) {
				i.Spec.Impact.PersonalData = true
				i.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Rita"}
				i.Status.AuthorityNotificationDeadline = at(-time.Minute)
				i.Status.SLA = &securityv1alpha1.SLAStatus{ResolveBy: at(-time.Hour)}
			},
			want: Deadline{Kind: AuthorityBy, At: now.Add(-time.Minute), Breached: true}, wantOK: true,
		},
		"a false positive needs no report": {
			edit: func(i *securityv1alpha1.Incident) {
				i.Spec.Impact.PersonalData = true
				i.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionFalsePositive, By: "Rita"}
				i.Status.AuthorityNotificationDeadline = at(-time.Minute)
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inc := incident("x", securityv1alpha1.SeverityHigh, tc.edit)
			got, ok := Next(&inc, now)
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("Next = %+v, %v; want %+v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestSortPutsTheMostUrgentFirst(t *testing.T) {
	sla := func(ack time.Duration) func(*securityv1alpha1.Incident) {
		return func(i *securityv1alpha1.Incident) { i.Status.SLA = &securityv1alpha1.SLAStatus{AcknowledgeBy: at(ack)} }
	}
	incidents := []securityv1alpha1.Incident{
		incident("none-low", securityv1alpha1.SeverityLow, nil),
		incident("ahead-2h", securityv1alpha1.SeverityCritical, sla(2*time.Hour)),
		incident("missed-5m-ago", securityv1alpha1.SeverityLow, sla(-5*time.Minute)),
		incident("ahead-10m", securityv1alpha1.SeverityLow, sla(10*time.Minute)),
		incident("missed-1h-ago", securityv1alpha1.SeverityLow, sla(-time.Hour)),
		incident("none-critical", securityv1alpha1.SeverityCritical, nil),
		incident("ahead-10m-high", securityv1alpha1.SeverityHigh, sla(10*time.Minute)),
	}
	var got []string
	for _, it := range Sort(incidents, now) {
		got = append(got, it.Incident.Name)
	}
	want := []string{"missed-1h-ago", "missed-5m-ago", "ahead-10m-high", "ahead-10m", "ahead-2h", "none-critical", "none-low"}
	if !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

func TestFilter(t *testing.T) {
	incidents := map[string]securityv1alpha1.Incident{
		"resolved": incident("resolved", securityv1alpha1.SeverityLow, func(i *securityv1alpha1.Incident) {
			i.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "R"}
		}),
		"at-risk": incident("at-risk", securityv1alpha1.SeverityLow, func(i *securityv1alpha1.Incident) {
			i.Status.Conditions = []metav1.Condition{condition(securityv1alpha1.ConditionSLAAtRisk, securityv1alpha1.ReasonAcknowledgeDueSoon)}
		}),
		"breached": incident("breached", securityv1alpha1.SeverityLow, func(i *securityv1alpha1.Incident) {
			i.Status.SLA = &securityv1alpha1.SLAStatus{AcknowledgeBy: at(-time.Minute)}
		}),
		"major": incident("major", securityv1alpha1.SeverityCritical, func(i *securityv1alpha1.Incident) {
			i.Status.Conditions = []metav1.Condition{condition(securityv1alpha1.ConditionMajor, securityv1alpha1.ReasonMajorIncident)}
		}),
		"personal": incident("personal", securityv1alpha1.SeverityMedium, func(i *securityv1alpha1.Incident) {
			i.Spec.Impact.PersonalData = true
			i.Status.Conditions = []metav1.Condition{condition(securityv1alpha1.ConditionAuthorityNotificationRequired, securityv1alpha1.ReasonPersonalData)}
		}),
		"reported": incident("reported", securityv1alpha1.SeverityMedium, func(i *securityv1alpha1.Incident) {
			i.Spec.Impact.PersonalData = true
			i.Spec.AuthorityNotification = &securityv1alpha1.AuthorityNotification{NotifiedAt: *at(-time.Hour), Reference: "ICO-1"}
		}),
	}
	tests := map[string]struct {
		filter Filter
		want   []string
	}{
		"no filter keeps all":    {Filter{}, []string{"at-risk", "breached", "major", "personal", "reported", "resolved"}},
		"open":                   {Filter{Open: true}, []string{"at-risk", "breached", "major", "personal", "reported"}},
		"at risk":                {Filter{AtRisk: true}, []string{"at-risk"}},
		"breached":               {Filter{Breached: true}, []string{"breached"}},
		"major":                  {Filter{Major: true}, []string{"major"}},
		"awaiting authority":     {Filter{AwaitingAuthority: true}, []string{"personal"}},
		"every option must hold": {Filter{Open: true, Major: true, Breached: true}, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for n, inc := range incidents {
				if tc.filter.Keep(&inc, now) {
					got = append(got, n)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("kept %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUntil(t *testing.T) {
	tests := map[string]struct {
		d    time.Duration
		want string
	}{
		"now":           {0, "now"},
		"seconds ahead": {35 * time.Second, "in 35s"},
		"minutes ahead": {3*time.Minute + 20*time.Second, "in 3m20s"},
		"whole minutes": {5 * time.Minute, "in 5m"},
		"hours behind":  {-(2*time.Hour + 5*time.Minute), "2h5m ago"},
		"days ahead":    {28*time.Hour + 10*time.Minute, "in 1d4h"},
		"rounded":       {59*time.Second + 600*time.Millisecond, "in 1m"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Until(now.Add(tc.d), now); got != tc.want {
				t.Errorf("Until(%v) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}
