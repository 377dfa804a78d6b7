package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/sink"
)

// nudge makes the operator look at an incident again after the test moved
// the clock: a real deadline would have woken it by itself.
func nudge(t *testing.T, inc *securityv1alpha1.Incident) {
	t.Helper()
	update(t, inc, func(i *securityv1alpha1.Incident) {
		if i.Annotations == nil {
			i.Annotations = map[string]string{}
		}
		i.Annotations["test.incidentops.io/nudge"] = fmt.Sprint(time.Now().UnixNano())
	})
}

// jump moves the operator's clock forward and nudges the incident.
func jump(t *testing.T, inc *securityv1alpha1.Incident, d time.Duration) {
	t.Helper()
	operatorClock.advance(d)
	nudge(t, inc)
}

func waitForPhase(t *testing.T, inc *securityv1alpha1.Incident, want securityv1alpha1.IncidentPhase) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(inc), inc); err != nil {
			return err
		}
		if inc.Status.Phase != want {
			return fmt.Errorf("phase = %s, want %s", inc.Status.Phase, want)
		}
		return nil
	})
}

// waitDelivered waits until every delivery the incident records is delivered.
func waitDelivered(t *testing.T, inc *securityv1alpha1.Incident, want int) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(inc), inc); err != nil {
			return err
		}
		delivered := 0
		for _, r := range inc.Status.Notifications {
			if r.State == securityv1alpha1.DeliveryDelivered {
				delivered++
			}
		}
		if delivered != want || len(inc.Status.Notifications) != want {
			return fmt.Errorf("%d of %d deliveries delivered, want %d", delivered, len(inc.Status.Notifications), want)
		}
		return nil
	})
}

func mailsTo(uid, address string) []sink.Mail {
	var out []sink.Mail
	for _, m := range mailsAbout(uid) {
		if strings.Join(m.To, ",") == address {
			out = append(out, m)
		}
	}
	return out
}

func minutes(n int) *securityv1alpha1.Duration {
	return securityv1alpha1.NewDuration(time.Duration(n) * time.Minute)
}

func TestEscalationUntilAcknowledgedThenResolved(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	pager := newRecorder(t)
	create(t, secretWithData(ns, "hooks", map[string]string{"desk": s.URL + "/desk", "manager": s.URL + "/manager", "director": s.URL + "/director", "pd": "routing-key"}))
	hook := func(key string) *securityv1alpha1.WebhookReceiver {
		return &securityv1alpha1.WebhookReceiver{URLSecretRef: securityv1alpha1.SecretKeyReference{Name: "hooks", Key: key}}
	}
	policy := &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "service-desk"},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Receivers: []securityv1alpha1.Receiver{
				{Name: "desk", Webhook: hook("desk")}, {Name: "manager", Webhook: hook("manager")}, {Name: "director", Webhook: hook("director")},
				{Name: "on-call", PagerDuty: &securityv1alpha1.PagerDutyReceiver{
					RoutingKeySecretRef: securityv1alpha1.SecretKeyReference{Name: "hooks", Key: "pd"}, URL: pager.URL + "/v2/enqueue"}},
			},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{
				{Notify: []securityv1alpha1.NotifyTarget{{Receiver: "desk"}, {Receiver: "on-call"}, {Role: securityv1alpha1.RoleReporter}}},
				{After: minutes(30), Notify: []securityv1alpha1.NotifyTarget{{Receiver: "manager"}, {Role: securityv1alpha1.RoleLineManager}}},
				{After: minutes(60), Notify: []securityv1alpha1.NotifyTarget{{Receiver: "director"}}},
			}},
		},
	}
	create(t, policy)
	waitForCondition(t, policy, policyConditions(policy), securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")

	inc := newIncident(ns, "payroll-down", securityv1alpha1.CategorySystemMalfunction, securityv1alpha1.SeverityHigh)
	inc.Spec.Reporter.LineManager = &securityv1alpha1.Contact{Name: "Sam Lee", Email: "sam@example.org"}
	create(t, inc)
	waitDelivered(t, inc, 3) // desk, on-call, reporter
	ref := inc.Status.Policies[0]
	if ref.Level != 0 || ref.NextEscalationAt == nil || ref.NextEscalationAt.Sub(ref.LevelReachedAt.Time) != 30*time.Minute {
		t.Fatalf("after routing: %+v", ref)
	}

	// Half an hour later nobody has acknowledged: level 1.
	jump(t, inc, 31*time.Minute)
	waitForPhase(t, inc, securityv1alpha1.PhaseEscalated)
	waitDelivered(t, inc, 6) // + manager, line manager, and the reporter hears of the escalation
	if ref := inc.Status.Policies[0]; ref.Level != 1 || ref.NextEscalationAt == nil {
		t.Errorf("after escalation: %+v", ref)
	}
	if len(mailsTo(string(inc.UID), "sam@example.org")) != 1 {
		t.Errorf("the line manager was not mailed once")
	}
	reporterMails := mailsTo(string(inc.UID), "priya@example.org")
	if len(reporterMails) != 2 || !strings.HasPrefix(reporterMails[1].Header.Get("Subject"), "Escalated: ") {
		t.Errorf("reporter mails: %d, want the incident and the escalation", len(reporterMails))
	}
	waitForEvent(t, ns, inc.Name, "Escalated", "Warning")

	// Acknowledged: escalation stops; everyone told so far hears of it.
	update(t, inc, func(i *securityv1alpha1.Incident) {
		i.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "Jo Bloggs", Note: "Looking at the payroll server."}
	})
	waitForPhase(t, inc, securityv1alpha1.PhaseAcknowledged)
	waitDelivered(t, inc, 11) // + desk, on-call, reporter, manager, line manager
	if inc.Status.AcknowledgedAt == nil || inc.Status.Policies[0].NextEscalationAt != nil {
		t.Errorf("after acknowledgement: acknowledgedAt %v, next escalation %v", inc.Status.AcknowledgedAt, inc.Status.Policies[0].NextEscalationAt)
	}
	jump(t, inc, 2*time.Hour)
	time.Sleep(time.Second)
	waitDelivered(t, inc, 11)
	for _, d := range s.Deliveries() {
		if d.Path == "/director" {
			t.Errorf("the director was told after the acknowledgement")
		}
	}

	// Resolved: a notice to everyone told, and the PagerDuty alert resolves.
	update(t, inc, func(i *securityv1alpha1.Incident) {
		i.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Jo Bloggs", Summary: "Disk replaced."}
	})
	waitForPhase(t, inc, securityv1alpha1.PhaseResolved)
	waitDelivered(t, inc, 16)
	var actions []string
	for range 3 {
		r := <-pager.requests
		if r.body["dedup_key"] != string(inc.UID) {
			t.Errorf("PagerDuty dedup_key = %v, want the incident UID", r.body["dedup_key"])
		}
		actions = append(actions, fmt.Sprint(r.body["event_action"]))
	}
	if strings.Join(actions, ",") != "trigger,acknowledge,resolve" {
		t.Errorf("PagerDuty actions = %v", actions)
	}
	if last := mailsTo(string(inc.UID), "priya@example.org"); !strings.Contains(last[len(last)-1].Text, "Resolved, by Jo Bloggs. Disk replaced.") {
		t.Errorf("the reporter's last mail does not give the resolution:\n%s", last[len(last)-1].Text)
	}
	for _, d := range s.Deliveries() {
		if d.Message.Notice == "" && d.Message.Incident.Name == inc.Name && d.Path == "/desk" && d.Message.Incident.Phase != securityv1alpha1.PhaseOpen {
			t.Errorf("the first notification carried phase %s", d.Message.Incident.Phase)
		}
	}
}

func TestSLAAtRiskThenBreachedTellsTheReporter(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "hook", s.URL)
	policy := webhookPolicy(ns, "desk", 0, "hook", securityv1alpha1.PolicyMatch{})
	policy.Spec.SLA = &securityv1alpha1.SLA{Targets: []securityv1alpha1.SLATarget{{
		Severities:        []securityv1alpha1.Severity{securityv1alpha1.SeverityMedium},
		AcknowledgeWithin: minutes(60), ResolveWithin: minutes(240), WarnBefore: minutes(15),
	}}}
	create(t, policy)
	inc := newIncident(ns, "printer-fault", securityv1alpha1.CategorySystemMalfunction, securityv1alpha1.SeverityMedium)
	create(t, inc)
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionSLAAtRisk, metav1.ConditionFalse, securityv1alpha1.ReasonWithinTarget)
	sla := inc.Status.SLA
	if sla == nil || sla.AcknowledgeBy.Sub(inc.Status.RoutedAt.Truncate(time.Second)) != time.Hour || sla.ResolveBy.Sub(inc.Status.RoutedAt.Truncate(time.Second)) != 4*time.Hour {
		t.Fatalf("SLA = %+v", sla)
	}

	jump(t, inc, 46*time.Minute)
	c := waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionSLAAtRisk, metav1.ConditionTrue, securityv1alpha1.ReasonAcknowledgeDueSoon)
	if !strings.Contains(c.Message, "acknowledge") {
		t.Errorf("SLAAtRisk message %q", c.Message)
	}
	eventually(t, 20*time.Second, func() error {
		for _, m := range mailsTo(string(inc.UID), "priya@example.org") {
			if strings.HasPrefix(m.Header.Get("Subject"), "SLAAtRisk: ") && strings.Contains(m.Text, "may not be met") {
				return nil
			}
		}
		return fmt.Errorf("the reporter has not been told the SLA is at risk")
	})

	jump(t, inc, 15*time.Minute)
	c = waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionSLABreached, metav1.ConditionTrue, securityv1alpha1.ReasonAcknowledgeTargetMissed)
	if !strings.Contains(c.Message, "acknowledge target of desk") {
		t.Errorf("SLABreached message %q does not name the target", c.Message)
	}
	waitForEvent(t, ns, inc.Name, "SLABreached", "Warning")

	// Resolution: no longer at risk, the breach stays on record.
	update(t, inc, func(i *securityv1alpha1.Incident) {
		i.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Desk"}
	})
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionSLAAtRisk, metav1.ConditionFalse, securityv1alpha1.ReasonStoppedOnResolution)
	if !meta.IsStatusConditionTrue(inc.Status.Conditions, securityv1alpha1.ConditionSLABreached) {
		t.Error("the breach was forgotten on resolution")
	}
}

func TestSeventyTwoHourAuthorityClock(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "hook", s.URL)
	create(t, webhookPolicy(ns, "personal-data", 0, "hook", securityv1alpha1.PolicyMatch{}))
	inc := newIncident(ns, "letter-to-wrong-address", securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityHigh)
	inc.Spec.Impact.PersonalData = true
	create(t, inc)
	c := waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionAuthorityNotificationRequired, metav1.ConditionTrue, securityv1alpha1.ReasonPersonalData)
	deadline := inc.Status.AuthorityNotificationDeadline
	if deadline == nil || deadline.Sub(inc.Status.AwareAt.Time) != 72*time.Hour || !strings.Contains(c.Message, deadline.UTC().Format(time.RFC3339)) {
		t.Fatalf("deadline %v, message %q: want 72 hours after awareAt %v", deadline, c.Message, inc.Status.AwareAt)
	}

	jump(t, inc, 73*time.Hour)
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionAuthorityDeadlineMissed, metav1.ConditionTrue, securityv1alpha1.ReasonNotReported)
	waitForEvent(t, ns, inc.Name, "AuthorityDeadlineMissed", "Warning")

	// Reporting late without a reason is refused by the API server.
	late := &securityv1alpha1.AuthorityNotification{NotifiedAt: metav1.NewTime(deadline.Add(time.Hour)), Reference: "ICO-0042"}
	latest := getIncident(t, ns, inc.Name)
	latest.Spec.AuthorityNotification = late
	err := k8sClient.Update(context.Background(), latest)
	if err == nil || !strings.Contains(err.Error(), "spec.authorityNotification") || !strings.Contains(err.Error(), "delayReason is required") {
		t.Fatalf("late report without a reason: %v, want a rejection naming spec.authorityNotification.delayReason", err)
	}
	update(t, inc, func(i *securityv1alpha1.Incident) {
		late.DelayReason = "The recipient only told us on day four."
		i.Spec.AuthorityNotification = late
	})
	c = waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionAuthorityNotified, metav1.ConditionTrue, securityv1alpha1.ReasonReportedLate)
	if !strings.Contains(c.Message, "ICO-0042") || !strings.Contains(c.Message, "day four") {
		t.Errorf("AuthorityNotified message %q lacks the reference and the reason", c.Message)
	}
	if meta.IsStatusConditionTrue(inc.Status.Conditions, securityv1alpha1.ConditionAuthorityNotificationRequired) {
		t.Error("still required after the report")
	}
}

func TestLateAuthorityNotificationIsRefusedOnCreate(t *testing.T) {
	ns := newNamespace(t)
	inc := newIncident(ns, "old-breach", securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityHigh)
	inc.Spec.Impact.PersonalData = true
	aware := metav1.NewTime(time.Now().Add(-100 * time.Hour).Truncate(time.Second))
	inc.Spec.AwareAt = &aware
	inc.Spec.AuthorityNotification = &securityv1alpha1.AuthorityNotification{NotifiedAt: metav1.NewTime(time.Now().Truncate(time.Second))}
	err := k8sClient.Create(context.Background(), inc)
	if err == nil || !strings.Contains(err.Error(), "spec.authorityNotification.delayReason") {
		t.Fatalf("create: %v, want a rejection naming spec.authorityNotification.delayReason", err)
	}
}

// TestBreachFiresOnceOnTimeAcrossARestart uses real seconds: the manager is
// stopped after routing and started again before the deadline; the breach
// must appear once, within 2 seconds of the deadline.
func TestBreachFiresOnceOnTimeAcrossARestart(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "hook", s.URL)
	policy := webhookPolicy(ns, "fast", 0, "hook", securityv1alpha1.PolicyMatch{})
	policy.Spec.SLA = &securityv1alpha1.SLA{Targets: []securityv1alpha1.SLATarget{{
		Severities: []securityv1alpha1.Severity{securityv1alpha1.SeverityLow}, AcknowledgeWithin: securityv1alpha1.NewDuration(6 * time.Second),
	}}}
	create(t, policy)
	inc := newIncident(ns, "restart", securityv1alpha1.CategoryOther, securityv1alpha1.SeverityLow)
	create(t, inc)
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionSLABreached, metav1.ConditionFalse, securityv1alpha1.ReasonWithinTarget)
	deadline := inc.Status.SLA.AcknowledgeBy.Time

	operator.stop()
	time.Sleep(time.Second)
	if err := operator.start(); err != nil {
		t.Fatal(err)
	}
	if !operatorClock.Now().Before(deadline) {
		t.Fatalf("the restart took past the deadline; the test proves nothing")
	}

	var seenAt time.Time
	eventually(t, 20*time.Second, func() error {
		latest := getIncident(t, ns, inc.Name)
		if meta.IsStatusConditionTrue(latest.Status.Conditions, securityv1alpha1.ConditionSLABreached) {
			seenAt = operatorClock.Now()
			return nil
		}
		return fmt.Errorf("not breached yet")
	})
	if lag := seenAt.Sub(deadline); lag < 0 || lag > 2*time.Second {
		t.Errorf("breach seen %s after the deadline, want within 2s", lag)
	}
	time.Sleep(2 * time.Second)
	events := eventsFor(t, ns, inc.Name, "SLABreached")
	if len(events) != 1 || (events[0].Series != nil && events[0].Series.Count > 1) {
		t.Errorf("SLABreached events = %d (series %+v), want exactly one", len(events), events)
	}
	t.Logf("breach condition seen %s after the deadline", seenAt.Sub(deadline).Round(10*time.Millisecond))
}
