package controllers

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// recordedEvents is an event recorder that keeps what it is given.
type recordedEvents struct{ reasons []string }

func (r *recordedEvents) Eventf(_, _ runtime.Object, _, reason, _, _ string, _ ...any) {
	r.reasons = append(r.reasons, reason)
}

func (r *recordedEvents) AnnotatedEventf(_, _ runtime.Object, _ map[string]string, _, reason, _, _ string, _ ...any) {
	r.reasons = append(r.reasons, reason)
}

func TestCapNotifications(t *testing.T) {
	tests := map[string]struct {
		records     int
		wantRecords int
		wantWarning bool
	}{
		"under the ceiling": {records: 10, wantRecords: 10},
		"at the ceiling":    {records: securityv1alpha1.MaxNotificationsPerIncident, wantRecords: securityv1alpha1.MaxNotificationsPerIncident},
		"over the ceiling":  {records: securityv1alpha1.MaxNotificationsPerIncident + 37, wantRecords: securityv1alpha1.MaxNotificationsPerIncident, wantWarning: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			events := &recordedEvents{}
			r := &IncidentReconciler{Events: eventRecorder{recorder: events}, Clock: clock.RealClock{}}
			incident := &securityv1alpha1.Incident{}
			for i := range tc.records {
				incident.Status.Notifications = append(incident.Status.Notifications, securityv1alpha1.NotificationRecord{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: fmt.Sprint(i)}})
			}
			r.capNotifications(incident)
			if got := len(incident.Status.Notifications); got != tc.wantRecords {
				t.Errorf("%d records kept, want %d", got, tc.wantRecords)
			}
			if last := incident.Status.Notifications[len(incident.Status.Notifications)-1].Key; last != fmt.Sprint(tc.wantRecords-1) {
				t.Errorf("last record kept is %s: the oldest must be kept, the newest dropped", last)
			}
			c := meta.FindStatusCondition(incident.Status.Conditions, securityv1alpha1.ConditionNotificationsComplete)
			if tc.wantWarning != (c != nil && c.Status == "False") || tc.wantWarning != (len(events.reasons) == 1) {
				t.Errorf("condition %+v, events %v; want a condition and a Warning: %v", c, events.reasons, tc.wantWarning)
			}
			if tc.wantWarning && !strings.Contains(c.Message, "37 more") {
				t.Errorf("message %q should say how many were dropped", c.Message)
			}
		})
	}
}

func TestTruncateBytes(t *testing.T) {
	tests := map[string]struct {
		in    string
		limit int
	}{
		"short":         {in: "Notify desk", limit: 128},
		"ascii":         {in: strings.Repeat("a", 300), limit: 128},
		"multi-byte":    {in: strings.Repeat("Ω", 300), limit: 128},
		"four-byte":     {in: strings.Repeat("𝄞", 300), limit: 1024},
		"exactly fits":  {in: strings.Repeat("a", 128), limit: 128},
		"one byte over": {in: strings.Repeat("a", 129), limit: 128},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := truncateBytes(tc.in, tc.limit)
			if len(got) > tc.limit {
				t.Errorf("%d bytes, limit %d", len(got), tc.limit)
			}
			if !utf8.ValidString(got) {
				t.Errorf("cut inside a rune: %q", got)
			}
			if len(tc.in) <= tc.limit && got != tc.in {
				t.Errorf("a string that fits was changed: %q", got)
			}
			if len(tc.in) > tc.limit && !strings.HasSuffix(got, "…") {
				t.Errorf("a cut is not marked: %q", got)
			}
		})
	}
}
