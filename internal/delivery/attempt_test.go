package delivery

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// TestAttemptLedgerIsShared shows the ledger keeps an incident's
// notification and a report's delivery alike: the same attempt, whichever
// record embeds it, is tried, retried, given up and woken for the same way,
// and what only one kind of record holds is left as it was.
func TestAttemptLedgerIsShared(t *testing.T) {
	backoff := Backoff{Initial: time.Minute, Max: time.Hour}
	failing := securityv1alpha1.DeliveryAttempt{Key: "k", Receiver: "hook", Channel: ChannelWebhook, State: securityv1alpha1.DeliveryFailed, Attempts: 3, NextAttemptAt: at(time.Minute), LastError: "503"}
	pending := securityv1alpha1.DeliveryAttempt{Key: "k", Receiver: "hook", Channel: ChannelWebhook, State: securityv1alpha1.DeliveryPending}
	tests := map[string]struct {
		attempt securityv1alpha1.DeliveryAttempt
		act     func(*securityv1alpha1.DeliveryAttempt)
		want    securityv1alpha1.DeliveryState
		due     bool
		retryIn time.Duration
	}{
		"pending is due": {
			attempt: pending, act: func(*securityv1alpha1.DeliveryAttempt) {},
			want: securityv1alpha1.DeliveryPending, due: true,
		},
		"failed waits for its retry": {
			attempt: failing, act: func(*securityv1alpha1.DeliveryAttempt) {},
			want: securityv1alpha1.DeliveryFailed, retryIn: time.Minute,
		},
		"delivered is settled": {
			attempt: failing, act: func(a *securityv1alpha1.DeliveryAttempt) { Delivered(a, t0) },
			want: securityv1alpha1.DeliveryDelivered,
		},
		"a transient failure is retried after the backoff": {
			attempt: pending,
			act: func(a *securityv1alpha1.DeliveryAttempt) {
				Failed(a, securityv1alpha1.DefaultMaxAttempts, Failure{Error: "503"}, t0, backoff)
			},
			want: securityv1alpha1.DeliveryFailed, retryIn: time.Minute,
		},
		"the receiver's Retry-After is kept": {
			attempt: pending,
			act: func(a *securityv1alpha1.DeliveryAttempt) {
				Failed(a, securityv1alpha1.DefaultMaxAttempts, Failure{Error: "429", RetryAfter: 5 * time.Minute}, t0, backoff)
			},
			want: securityv1alpha1.DeliveryFailed, retryIn: 5 * time.Minute,
		},
		"a permanent failure is given up": {
			attempt: pending,
			act: func(a *securityv1alpha1.DeliveryAttempt) {
				Failed(a, securityv1alpha1.DefaultMaxAttempts, Failure{Error: "404", Permanent: true}, t0, backoff)
			},
			want: securityv1alpha1.DeliveryAbandoned,
		},
		"the last attempt allowed is given up": {
			attempt: failing,
			act: func(a *securityv1alpha1.DeliveryAttempt) {
				Failed(a, 4, Failure{Error: "503"}, t0.Add(time.Minute), backoff)
			},
			want: securityv1alpha1.DeliveryAbandoned,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			incident := securityv1alpha1.NotificationRecord{DeliveryAttempt: *tc.attempt.DeepCopy(), Policy: "desk", Level: 1, Notice: "Escalated"}
			report := securityv1alpha1.ReportDelivery{DeliveryAttempt: *tc.attempt.DeepCopy(), SHA256: "abc"}
			tc.act(&incident.DeliveryAttempt)
			tc.act(&report.DeliveryAttempt)

			if !equality.Semantic.DeepEqual(incident.DeliveryAttempt, report.DeliveryAttempt) {
				t.Errorf("the attempts differ:\nincident %+v\nreport   %+v", incident.DeliveryAttempt, report.DeliveryAttempt)
			}
			if incident.State != tc.want || report.State != tc.want {
				t.Errorf("state: incident %s, report %s; want %s", incident.State, report.State, tc.want)
			}
			if incident.Policy != "desk" || incident.Level != 1 || incident.Notice != "Escalated" || report.SHA256 != "abc" {
				t.Errorf("fields of one kind of record changed: %+v, %+v", incident, report)
			}
			settled := tc.want == securityv1alpha1.DeliveryDelivered || tc.want == securityv1alpha1.DeliveryAbandoned
			if Settled(&incident.DeliveryAttempt) != settled || Settled(&report.DeliveryAttempt) != settled {
				t.Errorf("settled: incident %t, report %t; want %t", Settled(&incident.DeliveryAttempt), Settled(&report.DeliveryAttempt), settled)
			}
			// The incident's list functions, which also weigh follow-ups,
			// agree with the attempt's own for a record that is none.
			records := []securityv1alpha1.NotificationRecord{incident}
			if got := len(Due(records, t0)) == 1; got != tc.due || AttemptDue(&report.DeliveryAttempt, t0) != tc.due {
				t.Errorf("due: incident %t, report %t; want %t", got, AttemptDue(&report.DeliveryAttempt, t0), tc.due)
			}
			incidentWait := NextRetry(records, t0)
			reportWait := EarliestRetry([]*securityv1alpha1.DeliveryAttempt{&report.DeliveryAttempt}, t0)
			if incidentWait != tc.retryIn || reportWait != tc.retryIn {
				t.Errorf("next retry: incident %s, report %s; want %s", incidentWait, reportWait, tc.retryIn)
			}
		})
	}
}
