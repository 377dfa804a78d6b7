package controllers_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func incidentConditions(inc *securityv1alpha1.Incident) func() []metav1.Condition {
	return func() []metav1.Condition { return inc.Status.Conditions }
}

func policyNames(inc *securityv1alpha1.Incident) []string {
	var names []string
	for _, p := range inc.Status.Policies {
		names = append(names, p.Name)
	}
	return names
}

func TestIncidentIsRoutedAndNotified(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "desk", s.URL+"/desk")
	create(t, webhookPolicy(ns, "it-service-desk", 10, "desk", securityv1alpha1.PolicyMatch{
		Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryMalware},
	}))
	inc := newIncident(ns, "malware-on-pc", securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityHigh)
	create(t, inc)

	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionReady, metav1.ConditionTrue, securityv1alpha1.ReasonSucceeded)

	if inc.Status.Phase != securityv1alpha1.PhaseOpen {
		t.Errorf("phase = %s, want Open", inc.Status.Phase)
	}
	if p := inc.Status.Policies; len(p) != 1 || p[0].Name != "it-service-desk" || p[0].Generation != 1 || p[0].Level != 0 ||
		p[0].LevelReachedAt == nil || !p[0].LevelReachedAt.Time.Equal(inc.Status.RoutedAt.Truncate(time.Second)) || p[0].NextEscalationAt != nil {
		t.Errorf("policies = %+v, want it-service-desk generation 1 at level 0 since routing, with nothing further due", p)
	}
	if inc.Status.ObservedGeneration != inc.Generation {
		t.Errorf("observedGeneration = %d, want %d", inc.Status.ObservedGeneration, inc.Generation)
	}
	if inc.Status.AwareAt == nil || !inc.Status.AwareAt.Equal(&inc.CreationTimestamp) {
		t.Errorf("awareAt = %v, want the creation time %v", inc.Status.AwareAt, inc.CreationTimestamp)
	}
	if len(inc.Status.Notifications) != 1 {
		t.Fatalf("notifications = %+v, want one", inc.Status.Notifications)
	}
	rec := inc.Status.Notifications[0]
	if rec.State != securityv1alpha1.DeliveryDelivered || rec.Attempts != 1 || rec.Channel != "webhook" || rec.DeliveredAt == nil {
		t.Errorf("notification record = %+v, want delivered once by webhook", rec)
	}

	got := s.Deliveries()
	if len(got) != 1 {
		t.Fatalf("sink received %d deliveries, want 1", len(got))
	}
	d := got[0]
	if d.Path != "/desk" || d.Key != rec.Key || d.Message.Key != rec.Key {
		t.Errorf("delivery path %q key %q body key %q, want /desk and %q", d.Path, d.Key, d.Message.Key, rec.Key)
	}
	if d.Message.Incident.Name != "malware-on-pc" || d.Message.Incident.Category != securityv1alpha1.CategoryMalware ||
		d.Message.Policy != "it-service-desk" || d.Message.Receiver != "hook" || d.Message.Level != 0 {
		t.Errorf("message = %+v, does not describe the incident, policy, level and receiver", d.Message)
	}
	if c := waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionRouted, metav1.ConditionTrue, securityv1alpha1.ReasonMatched); c.Message != "routed to it-service-desk" {
		t.Errorf("Routed message = %q", c.Message)
	}
	// One event tells the routing and who was told.
	if e := waitForEvent(t, ns, inc.Name, "Routed", "Normal"); !strings.Contains(e.Note, "Routed to EscalationPolicy it-service-desk; notified hook (webhook, level 0 of it-service-desk)") {
		t.Errorf("Routed event note = %q", e.Note)
	}
}

func TestIncidentWithoutMatchingPolicyIsUnroutedUntilOneAppears(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "audit", s.URL+"/audit")
	create(t, webhookPolicy(ns, "theft-only", 0, "audit", securityv1alpha1.PolicyMatch{
		Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryTheft},
	}))
	inc := newIncident(ns, "chain-letter", securityv1alpha1.CategoryChainLetter, securityv1alpha1.SeverityLow)
	create(t, inc)

	c := waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionRouted, metav1.ConditionFalse, securityv1alpha1.ReasonNoMatchingPolicy)
	if inc.Status.Phase != securityv1alpha1.PhaseUnrouted {
		t.Errorf("phase = %s, want Unrouted", inc.Status.Phase)
	}
	if c.Message == "" {
		t.Error("Routed=False has no message")
	}
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionStalled, metav1.ConditionTrue, securityv1alpha1.ReasonNoMatchingPolicy)
	waitForEvent(t, ns, inc.Name, "NoMatchingPolicy", "Warning")
	if n := len(s.Deliveries()); n != 0 {
		t.Fatalf("sink received %d deliveries for an unrouted incident", n)
	}

	// A policy that matches arrives: the waiting incident is routed.
	create(t, webhookPolicy(ns, "catch-all", -100, "audit", securityv1alpha1.PolicyMatch{}))
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
	if got := policyNames(inc); !slices.Equal(got, []string{"catch-all"}) {
		t.Errorf("policies = %v, want [catch-all]", got)
	}
	if n := len(s.Deliveries()); n != 1 {
		t.Errorf("sink received %d deliveries, want 1", n)
	}
}

func TestPoliciesAreEvaluatedByPriorityThenNameAndStopUnlessContinue(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "hook", s.URL)
	all := securityv1alpha1.PolicyMatch{}
	audit := webhookPolicy(ns, "internal-audit", 100, "hook", all)
	audit.Spec.Continue = true
	create(t, audit)
	create(t, webhookPolicy(ns, "desk-b", 50, "hook", all))
	create(t, webhookPolicy(ns, "desk-a", 50, "hook", all))
	create(t, webhookPolicy(ns, "catch-all", -100, "hook", all))

	inc := newIncident(ns, "lost-phone", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityMedium)
	create(t, inc)
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")

	if got, want := policyNames(inc), []string{"internal-audit", "desk-a"}; !slices.Equal(got, want) {
		t.Errorf("policies = %v, want %v (priority order, name tie-break, stop without continue)", got, want)
	}
	if n := len(s.Deliveries()); n != 2 {
		t.Errorf("sink received %d deliveries, want 2", n)
	}
}

func TestPolicyChangeDoesNotRerouteRoutedIncidents(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "hook", s.URL)
	policy := webhookPolicy(ns, "malware", 0, "hook", securityv1alpha1.PolicyMatch{
		Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryMalware},
	})
	create(t, policy)
	first := newIncident(ns, "first", securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityLow)
	create(t, first)
	waitForCondition(t, first, incidentConditions(first), securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")

	// Widen the policy: a new generation.
	update(t, policy, func(p *securityv1alpha1.EscalationPolicy) {
		p.Spec.Match.Severities = []securityv1alpha1.Severity{securityv1alpha1.SeverityLow, securityv1alpha1.SeverityHigh}
	})
	if policy.Generation != 2 {
		t.Fatalf("policy generation = %d, want 2", policy.Generation)
	}
	second := newIncident(ns, "second", securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityHigh)
	create(t, second)
	waitForCondition(t, second, incidentConditions(second), securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
	if got := second.Status.Policies; len(got) != 1 || got[0].Generation != 2 {
		t.Errorf("new incident policies = %+v, want generation 2", got)
	}

	// Give the operator time to (wrongly) revisit the first incident.
	time.Sleep(time.Second)
	first = getIncident(t, ns, "first")
	if got := first.Status.Policies; len(got) != 1 || got[0].Generation != 1 {
		t.Errorf("routed incident policies = %+v, want it to keep generation 1", got)
	}
	if n := len(s.Deliveries()); n != 2 {
		t.Errorf("sink received %d deliveries, want one per incident", n)
	}
}

func TestFailingWebhookIsRetriedWithTheSameKeyUntilDelivered(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	var down atomic.Bool
	down.Store(true)
	s.Fail = func(int) int {
		if down.Load() {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	webhookSecret(t, ns, "hook", s.URL)
	create(t, webhookPolicy(ns, "all", 0, "hook", securityv1alpha1.PolicyMatch{}))
	inc := newIncident(ns, "fault", securityv1alpha1.CategorySystemMalfunction, securityv1alpha1.SeverityMedium)
	create(t, inc)

	// While the receiver is down, status and events say so.
	c := waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionNotified, metav1.ConditionFalse, securityv1alpha1.ReasonNotificationFailed)
	if want := "503 Service Unavailable"; !strings.Contains(c.Message, want) {
		t.Errorf("Notified message %q does not give the receiver's answer %q", c.Message, want)
	}
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionReconciling, metav1.ConditionTrue, securityv1alpha1.ReasonNotificationFailed)
	if rec := inc.Status.Notifications[0]; rec.State != securityv1alpha1.DeliveryFailed || rec.NextAttemptAt == nil || rec.LastError == "" {
		t.Errorf("record while failing = %+v, want Failed with the error and the next attempt", rec)
	}
	failedEvent := waitForEvent(t, ns, inc.Name, "NotificationFailed", "Warning")
	if !strings.Contains(failedEvent.Note, "503") {
		t.Errorf("NotificationFailed event note %q does not say why", failedEvent.Note)
	}
	eventually(t, 20*time.Second, func() error {
		if n := len(s.Deliveries()); n < 2 {
			return fmt.Errorf("receiver has seen %d attempts, want a retry", n)
		}
		return nil
	})

	down.Store(false)
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionNotified, metav1.ConditionTrue, securityv1alpha1.ReasonDelivered)
	rec := inc.Status.Notifications[0]
	got := s.Deliveries()
	if rec.State != securityv1alpha1.DeliveryDelivered || rec.LastError != "" || int(rec.Attempts) != len(got) {
		t.Errorf("record = %+v after %d requests, want delivered with every attempt counted", rec, len(got))
	}
	for i, d := range got {
		if d.Key != rec.Key {
			t.Errorf("request %d carried key %q, want %q on every retry", i+1, d.Key, rec.Key)
		}
	}
}

func TestPolicyWithMissingSecretStillRoutesAndDeliversOnceTheSecretExists(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	policy := webhookPolicy(ns, "desk", 0, "not-yet", securityv1alpha1.PolicyMatch{})
	create(t, policy)
	c := waitForCondition(t, policy, func() []metav1.Condition { return policy.Status.Conditions },
		securityv1alpha1.ConditionReady, metav1.ConditionFalse, securityv1alpha1.ReasonSecretNotFound)
	if !strings.Contains(c.Message, "not-yet") {
		t.Errorf("SecretNotFound message %q does not name the secret", c.Message)
	}

	inc := newIncident(ns, "phish", securityv1alpha1.CategoryPhishing, securityv1alpha1.SeverityLow)
	create(t, inc)
	c = waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionNotified, metav1.ConditionFalse, securityv1alpha1.ReasonNotificationFailed)
	if !strings.Contains(c.Message, "not-yet") {
		t.Errorf("Notified message %q does not name the missing secret", c.Message)
	}

	webhookSecret(t, ns, "not-yet", s.URL)
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionNotified, metav1.ConditionTrue, "")
	if n := len(s.Deliveries()); n != 1 {
		t.Errorf("sink received %d deliveries, want 1", n)
	}
}

func TestMatchingOnImpactSelectorAndExpression(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "hook", s.URL)
	create(t, webhookPolicy(ns, "large-personal-data", 10, "hook", securityv1alpha1.PolicyMatch{
		Impact:     &securityv1alpha1.ImpactMatch{PersonalData: ptr.To(true)},
		Selector:   &metav1.LabelSelector{MatchLabels: map[string]string{"department": "finance"}},
		Expression: "incident.spec.impact.dataSubjects > 100",
	}))
	create(t, webhookPolicy(ns, "catch-all", 0, "hook", securityv1alpha1.PolicyMatch{}))

	cases := map[string]struct {
		labels       map[string]string
		personalData bool
		subjects     int32
		want         string
	}{
		"everything-matches": {map[string]string{"department": "finance"}, true, 500, "large-personal-data"},
		"too-few-subjects":   {map[string]string{"department": "finance"}, true, 3, "catch-all"},
		"wrong-label":        {map[string]string{"department": "hr"}, true, 500, "catch-all"},
		"no-personal-data":   {map[string]string{"department": "finance"}, false, 500, "catch-all"},
	}
	for name, tc := range cases {
		inc := newIncident(ns, name, securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityMedium)
		inc.Labels = tc.labels
		inc.Spec.Impact = securityv1alpha1.Impact{PersonalData: tc.personalData, DataSubjects: ptr.To(tc.subjects)}
		create(t, inc)
	}
	for name, tc := range cases {
		inc := &securityv1alpha1.Incident{}
		inc.Namespace, inc.Name = ns, name
		waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionRouted, metav1.ConditionTrue, "")
		if got := policyNames(inc); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%s: policies = %v, want [%s]", name, got, tc.want)
		}
	}
}

func TestReceiverThatKeepsFailingIsAbandonedAndTheFallbackIsTold(t *testing.T) {
	ns := newNamespace(t)
	down := newSink(t)
	down.Fail = func(int) int { return http.StatusBadGateway }
	create(t, secretWithData(ns, "hooks", map[string]string{"desk": down.URL + "/desk", "audit": down.URL + "/audit"}))
	ref := func(key string) securityv1alpha1.SecretKeyReference {
		return securityv1alpha1.SecretKeyReference{Name: "hooks", Key: key}
	}
	policy := &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "with-fallback"},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Receivers: []securityv1alpha1.Receiver{
				{Name: "service-desk", Webhook: &securityv1alpha1.WebhookReceiver{URLSecretRef: ref("desk")}},
				{Name: "internal-audit", Webhook: &securityv1alpha1.WebhookReceiver{URLSecretRef: ref("audit")}},
				{Name: "security-mailbox", Email: &securityv1alpha1.EmailReceiver{To: []string{"security@council.example"}}},
			},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{Notify: []securityv1alpha1.NotifyTarget{
				{Receiver: "service-desk"}, {Receiver: "internal-audit"},
			}}}},
			Delivery: &securityv1alpha1.Delivery{MaxAttempts: 3, FallbackReceiver: "security-mailbox"},
		},
	}
	create(t, policy)
	inc := newIncident(ns, "server-down", securityv1alpha1.CategorySystemMalfunction, securityv1alpha1.SeverityHigh)
	create(t, inc)

	c := waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionNotified, metav1.ConditionFalse, securityv1alpha1.ReasonNotificationAbandoned)
	if !strings.Contains(c.Message, "gave up on receiver") || !strings.Contains(c.Message, "502 Bad Gateway") {
		t.Errorf("Notified message %q should name the receiver and its last answer", c.Message)
	}
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionStalled, metav1.ConditionTrue, securityv1alpha1.ReasonNotificationAbandoned)

	records := map[string]securityv1alpha1.NotificationRecord{}
	for _, rec := range inc.Status.Notifications {
		records[rec.Receiver+"/"+rec.FallbackFor] = rec
	}
	if len(records) != 4 {
		t.Fatalf("want 2 abandoned and 2 fallback records, got %+v", inc.Status.Notifications)
	}
	for _, name := range []string{"service-desk", "internal-audit"} {
		abandoned := records[name+"/"]
		if abandoned.State != securityv1alpha1.DeliveryAbandoned || abandoned.Attempts != 3 || abandoned.NextAttemptAt != nil {
			t.Errorf("%s record = %+v, want Abandoned after 3 attempts with no retry due", name, abandoned)
		}
		fallback, ok := records["security-mailbox/"+abandoned.Key]
		if !ok || fallback.State != securityv1alpha1.DeliveryDelivered || fallback.Channel != "email" {
			t.Errorf("fallback for %s = %+v, want a delivered email", name, fallback)
		}
	}
	if n := len(down.Deliveries()); n != 6 {
		t.Errorf("the failing receiver got %d requests, want 3 for each of 2 deliveries", n)
	}

	mails := mailsAbout(string(inc.UID))
	if len(mails) != 2 {
		t.Fatalf("security mailbox got %d mails, want one for each abandoned receiver", len(mails))
	}
	for _, m := range mails {
		if !strings.Contains(m.Text, "could not be notified") {
			t.Errorf("fallback mail does not say why it came:\n%s", m.Text)
		}
	}

	// One Warning per abandoned receiver: events about different receivers
	// are not folded into one series.
	eventually(t, 20*time.Second, func() error {
		notes := map[string]bool{}
		for _, e := range eventsFor(t, ns, inc.Name, "NotificationAbandoned") {
			for _, name := range []string{"service-desk", "internal-audit"} {
				if strings.Contains(e.Note, "Gave up notifying "+name+" after 3 attempts; telling fallback receiver security-mailbox") {
					notes[name] = true
				}
			}
		}
		if len(notes) != 2 {
			return fmt.Errorf("NotificationAbandoned events name %v, want both receivers", notes)
		}
		return nil
	})
}

// A receiver that answers 404 will never take the notification: it is
// abandoned after the one attempt, and the fallback receiver is told in
// seconds, not after every attempt the policy allows. A 503 beside it is
// retried.
func TestPermanentFailureIsAbandonedAtOnceAndTheFallbackIsTold(t *testing.T) {
	ns := newNamespace(t)
	gone, busy, fallback := newSink(t), newSink(t), newSink(t)
	gone.Fail = func(int) int { return http.StatusNotFound }
	busy.Fail = func(int) int { return http.StatusServiceUnavailable }
	create(t, secretWithData(ns, "hooks", map[string]string{"gone": gone.URL, "busy": busy.URL, "fallback": fallback.URL}))
	hook := func(key string) *securityv1alpha1.WebhookReceiver {
		return &securityv1alpha1.WebhookReceiver{URLSecretRef: securityv1alpha1.SecretKeyReference{Name: "hooks", Key: key}}
	}
	create(t, &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "desk"},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Receivers: []securityv1alpha1.Receiver{{Name: "gone", Webhook: hook("gone")}, {Name: "busy", Webhook: hook("busy")}, {Name: "fallback", Webhook: hook("fallback")}},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{Notify: []securityv1alpha1.NotifyTarget{
				{Receiver: "gone"}, {Receiver: "busy"},
			}}}},
			Delivery: &securityv1alpha1.Delivery{MaxAttempts: 10, FallbackReceiver: "fallback"},
		},
	})
	inc := newIncident(ns, "hook-removed", securityv1alpha1.CategorySystemMalfunction, securityv1alpha1.SeverityHigh)
	create(t, inc)

	eventually(t, 10*time.Second, func() error {
		if fallback.Len() == 0 {
			return errorf("the fallback receiver was not told")
		}
		return nil
	})
	current := getIncident(t, ns, inc.Name)
	for _, rec := range current.Status.Notifications {
		switch rec.Receiver {
		case "gone":
			if rec.State != securityv1alpha1.DeliveryAbandoned || rec.Attempts != 1 || !strings.Contains(rec.LastError, "404") {
				t.Errorf("gone: %s after %d attempts (%s); want Abandoned after 1, with the 404", rec.State, rec.Attempts, rec.LastError)
			}
		case "busy":
			if rec.State == securityv1alpha1.DeliveryAbandoned {
				t.Errorf("busy was abandoned after %d attempts: a 503 is worth retrying", rec.Attempts)
			}
		}
	}
	if gone.Len() != 1 {
		t.Errorf("the 404 receiver got %d requests, want 1", gone.Len())
	}
	eventually(t, 10*time.Second, func() error {
		if busy.Len() < 2 {
			return errorf("the 503 receiver was tried %d times; want retries", busy.Len())
		}
		return nil
	})
}
