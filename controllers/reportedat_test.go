package controllers_test

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// A report queued out of hours, or imported, is timed from when it was
// made: one made last Friday at 19:00 is due at the desk's opening on
// Monday in Europe/London, not an SLA later than when it was recorded.
func TestSLACountsFromWhenTheReportWasMade(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "hook", s.URL)
	policy := webhookPolicy(ns, "desk", 0, "hook", securityv1alpha1.PolicyMatch{})
	policy.Spec.SLA = &securityv1alpha1.SLA{
		Calendar: &securityv1alpha1.Calendar{TimeZone: "Europe/London", Days: []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}, Opens: "08:45", Closes: "17:00"},
		Targets: []securityv1alpha1.SLATarget{{
			Severities: []securityv1alpha1.Severity{securityv1alpha1.SeverityMedium}, Hours: securityv1alpha1.BusinessHours,
			AcknowledgeWithin: securityv1alpha1.NewDuration(15 * time.Minute),
		}},
	}
	create(t, policy)

	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(london)
	friday := time.Date(now.Year(), now.Month(), now.Day(), 19, 0, 0, 0, london)
	for friday.Weekday() != time.Friday || !friday.Before(now) {
		friday = friday.AddDate(0, 0, -1)
	}
	monday := time.Date(friday.Year(), friday.Month(), friday.Day()+3, 9, 0, 0, 0, london)

	// A report at 16:50 uses ten minutes on Friday and five on Monday,
	// which tells the report's time from when the operator saw it on any day.
	for name, c := range map[string]struct{ reported, due time.Time }{
		"queued":       {friday, monday},
		"before-close": {friday.Add(-130 * time.Minute), monday.Add(-10 * time.Minute)},
	} {
		inc := newIncident(ns, name, securityv1alpha1.CategoryOther, securityv1alpha1.SeverityMedium)
		inc.Spec.ReportedAt = &metav1.Time{Time: c.reported}
		create(t, inc)
		eventually(t, 20*time.Second, func() error {
			got := getIncident(t, ns, name)
			if got.Status.SLA == nil || got.Status.SLA.AcknowledgeBy == nil {
				return errorf("no SLA yet")
			}
			if !got.Status.SLA.AcknowledgeBy.Time.Equal(c.due) {
				t.Fatalf("%s: acknowledge by %s, want %s", name, got.Status.SLA.AcknowledgeBy.In(london), c.due)
			}
			if !got.Status.AwareAt.Equal(&metav1.Time{Time: c.reported}) {
				t.Errorf("%s: awareAt defaults to %s, want the report's time %s", name, got.Status.AwareAt.In(london), c.reported)
			}
			return nil
		})
	}

	stored := getIncident(t, ns, "queued")

	// It cannot be in the future, be changed, or follow awareAt.
	future := newIncident(ns, "future", securityv1alpha1.CategoryOther, securityv1alpha1.SeverityLow)
	future.Spec.ReportedAt = &metav1.Time{Time: time.Now().Add(time.Hour)}
	if err := k8sClient.Create(t.Context(), future); err == nil || !strings.Contains(err.Error(), "spec.reportedAt") {
		t.Errorf("a report made in the future: %v", err)
	}
	late := newIncident(ns, "aware-later", securityv1alpha1.CategoryOther, securityv1alpha1.SeverityLow)
	late.Spec.ReportedAt = &metav1.Time{Time: friday}
	late.Spec.AwareAt = &metav1.Time{Time: friday.Add(time.Hour)}
	if err := k8sClient.Create(t.Context(), late); err == nil || !strings.Contains(err.Error(), "awareAt is after reportedAt") {
		t.Errorf("aware after the report: %v", err)
	}
	moved := stored.DeepCopy()
	moved.Spec.ReportedAt = &metav1.Time{Time: friday.Add(-time.Hour)}
	if err := k8sClient.Patch(t.Context(), moved, client.MergeFrom(stored)); err == nil || !strings.Contains(err.Error(), "reportedAt cannot be changed") {
		t.Errorf("reportedAt changed: %v", err)
	}
}
