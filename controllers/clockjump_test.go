package controllers_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// The operator's clock jumps forward two hours, then back, then forward
// again, as a host's clock may after a suspend or an NTP correction. Each
// level fires once when its time passes, a jump back undoes nothing and
// sends nothing, and passing the same times again sends nothing twice.
func TestClockJumpsForwardAndBack(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	create(t, secretWithData(ns, "hooks", map[string]string{"desk": s.URL + "/desk", "manager": s.URL + "/manager", "director": s.URL + "/director"}))
	hook := func(key string) *securityv1alpha1.WebhookReceiver {
		return &securityv1alpha1.WebhookReceiver{URLSecretRef: securityv1alpha1.SecretKeyReference{Name: "hooks", Key: key}}
	}
	policy := &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "desk"},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Receivers: []securityv1alpha1.Receiver{{Name: "desk", Webhook: hook("desk")}, {Name: "manager", Webhook: hook("manager")}, {Name: "director", Webhook: hook("director")}},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{
				{Notify: []securityv1alpha1.NotifyTarget{{Receiver: "desk"}}},
				{After: minutes(30), Notify: []securityv1alpha1.NotifyTarget{{Receiver: "manager"}}},
				{After: minutes(60), Notify: []securityv1alpha1.NotifyTarget{{Receiver: "director"}}},
			}},
			Regulatory: &securityv1alpha1.Regulatory{AuthorityNotificationWithin: minutes(90)},
			SLA: &securityv1alpha1.SLA{Targets: []securityv1alpha1.SLATarget{{
				Severities: []securityv1alpha1.Severity{securityv1alpha1.SeverityHigh}, AcknowledgeWithin: minutes(60),
			}}},
		},
	}
	create(t, policy)
	waitForCondition(t, policy, policyConditions(policy), securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
	inc := newIncident(ns, "clock", securityv1alpha1.CategorySystemMalfunction, securityv1alpha1.SeverityHigh)
	inc.Spec.Impact.PersonalData = true
	create(t, inc)
	waitDelivered(t, inc, 1)
	t.Cleanup(func() { operatorClock.advance(0) })

	perPath := func() map[string]int {
		out := map[string]int{}
		for _, d := range s.Deliveries() {
			out[d.Path]++
		}
		return out
	}
	settle := func() {
		// No deadline is due, so nothing should happen: give a wrong
		// reconcile time to act before looking.
		time.Sleep(1500 * time.Millisecond)
	}

	// Forward two hours: both levels are reached, each once, and the SLA
	// is breached.
	jump(t, inc, 2*time.Hour)
	waitDelivered(t, inc, 3)
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionSLABreached, metav1.ConditionTrue, securityv1alpha1.ReasonAcknowledgeTargetMissed)
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionAuthorityDeadlineMissed, metav1.ConditionTrue, securityv1alpha1.ReasonNotReported)
	reached := inc.Status.Policies[0]
	if reached.Level != 2 {
		t.Fatalf("after the jump forward: level %d, want 2", reached.Level)
	}

	// Back two hours: the clock is now before every time already passed.
	jump(t, inc, -2*time.Hour)
	settle()
	after := getIncident(t, ns, "clock")
	if after.Status.Policies[0].Level != 2 || len(after.Status.Notifications) != 3 {
		t.Errorf("after the jump back: level %d with %d notifications; want 2 and 3, unchanged", after.Status.Policies[0].Level, len(after.Status.Notifications))
	}
	if c := findCondition(after.Status.Conditions, securityv1alpha1.ConditionSLABreached); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("after the jump back: SLABreached = %+v; a breach that happened stays", c)
	}
	if c := findCondition(after.Status.Conditions, securityv1alpha1.ConditionAuthorityDeadlineMissed); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("after the jump back: AuthorityDeadlineMissed = %+v; a missed deadline stays missed", c)
	}

	// Forward again over the same times: nothing is sent twice.
	jump(t, inc, 2*time.Hour)
	settle()
	if got := perPath(); got["/desk"] != 1 || got["/manager"] != 1 || got["/director"] != 1 {
		t.Errorf("deliveries per receiver = %v; want each once", got)
	}
}

func findCondition(conditions []metav1.Condition, t string) *metav1.Condition {
	for i := range conditions {
		if conditions[i].Type == t {
			return &conditions[i]
		}
	}
	return nil
}
