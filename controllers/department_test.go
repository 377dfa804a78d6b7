package controllers_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// While the reporter's line manager is absent, the department's deputy is
// told in their place, and the record says so; once back, the line
// manager is told again.
func TestDeputyIsToldWhileTheLineManagerIsAbsent(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "hook", s.URL)
	policy := webhookPolicy(ns, "managers", 0, "hook", securityv1alpha1.PolicyMatch{})
	policy.Spec.Escalation.Levels[0].Notify = append(policy.Spec.Escalation.Levels[0].Notify, securityv1alpha1.NotifyTarget{Role: securityv1alpha1.RoleLineManager})
	create(t, policy)
	now := operatorClock.Now()
	create(t, &securityv1alpha1.Department{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "finance"},
		Spec: securityv1alpha1.DepartmentSpec{
			Name:     "Finance",
			Deputies: []securityv1alpha1.Contact{{Name: "Dee Puty", Email: "dee@example.org"}},
			Absences: []securityv1alpha1.Absence{{Email: "tom@example.org", From: metav1.NewTime(now.Add(-time.Hour)), Until: metav1.NewTime(now.Add(time.Hour)), Reason: "annual leave"}},
		},
	})

	toldAs := func(name string) securityv1alpha1.NotificationRecord {
		inc := newIncident(ns, name, securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityHigh)
		inc.Spec.Reporter.Department = "Finance"
		inc.Spec.Reporter.LineManager = &securityv1alpha1.Contact{Name: "Tom", Email: "tom@example.org"}
		create(t, inc)
		var got securityv1alpha1.NotificationRecord
		eventually(t, 20*time.Second, func() error {
			for _, n := range getIncident(t, ns, name).Status.Notifications {
				if n.Role == securityv1alpha1.RoleLineManager && n.State == securityv1alpha1.DeliveryDelivered {
					got = n
					return nil
				}
			}
			return errorf("the line manager's notification is not delivered yet")
		})
		return got
	}
	if n := toldAs("while-away"); n.Recipient != "dee@example.org" || n.StandsInFor == "" {
		t.Errorf("while Tom is away: told %s (standing in for %q), want the deputy dee@example.org standing in for Tom", n.Recipient, n.StandsInFor)
	}
	operatorClock.advance(2 * time.Hour)
	if n := toldAs("once-back"); n.Recipient != "tom@example.org" || n.StandsInFor != "" {
		t.Errorf("once Tom is back: told %s (standing in for %q), want tom@example.org", n.Recipient, n.StandsInFor)
	}
}
