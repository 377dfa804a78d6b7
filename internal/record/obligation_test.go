package record

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func TestObligationChangesRecordWhatTheOperatorDecided(t *testing.T) {
	due := metav1.NewTime(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	o := func(stage string, state securityv1alpha1.ObligationState, missed bool) securityv1alpha1.ObligationStatus {
		return securityv1alpha1.ObligationStatus{Regime: "uk-gdpr", Stage: stage, State: state, Missed: missed, Deadline: &due}
	}
	tests := map[string]struct {
		before, after []securityv1alpha1.ObligationStatus
		want          []string
	}{
		"a stage misses its deadline": {
			before: []securityv1alpha1.ObligationStatus{o("notification", securityv1alpha1.ObligationToDecide, false)},
			after:  []securityv1alpha1.ObligationStatus{o("notification", securityv1alpha1.ObligationToDecide, true)},
			want:   []string{"ObligationMissed uk-gdpr/notification"},
		},
		"a missed stage is recorded once": {
			before: []securityv1alpha1.ObligationStatus{o("notification", securityv1alpha1.ObligationDrafted, true)},
			after:  []securityv1alpha1.ObligationStatus{o("notification", securityv1alpha1.ObligationAgreed, true)},
		},
		"a false positive closes its open stages": {
			before: []securityv1alpha1.ObligationStatus{o("notification", securityv1alpha1.ObligationToDecide, false), o("data-subjects", securityv1alpha1.ObligationFiled, false)},
			after:  []securityv1alpha1.ObligationStatus{o("notification", securityv1alpha1.ObligationNotApplicable, false), o("data-subjects", securityv1alpha1.ObligationFiled, false)},
			want:   []string{"ObligationClosed uk-gdpr/notification NotApplicable"},
		},
		"a stage that follows one not required falls with it": {
			before: []securityv1alpha1.ObligationStatus{o("further-information", securityv1alpha1.ObligationWaiting, false)},
			after:  []securityv1alpha1.ObligationStatus{o("further-information", securityv1alpha1.ObligationNotRequired, false)},
			want:   []string{"ObligationClosed uk-gdpr/further-information NotRequired"},
		},
		"people's decisions are recorded from their Filings, not here": {
			before: []securityv1alpha1.ObligationStatus{o("notification", securityv1alpha1.ObligationToDecide, false)},
			after:  []securityv1alpha1.ObligationStatus{o("notification", securityv1alpha1.ObligationNotRequired, false)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, e := range obligationChanges(tc.before, tc.after) {
				line := string(e.Action) + " " + e.Details["regime"] + "/" + e.Details["stage"]
				if s := e.Details["state"]; s != "" {
					line += " " + s
				}
				if !e.Actor.Operator {
					t.Errorf("%s is recorded as %+v, want the operator", line, e.Actor)
				}
				got = append(got, line)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("entries %q, want %q", got, tc.want)
			}
		})
	}
}
