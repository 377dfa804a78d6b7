package controllers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// TestNoSecretValueLeaks runs every channel through success, refusal,
// unreachable and slow receivers, then looks for each secret value in
// everything the operator writes where people can read it: incident and
// policy status, events, its log and its metrics.
func TestNoSecretValueLeaks(t *testing.T) {
	ns := newNamespace(t)
	ok := newRecorder(t)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A receiver that echoes the request back must not make the
		// operator repeat it.
		http.Error(w, "no such hook: "+r.URL.String(), http.StatusForbidden)
	}))
	t.Cleanup(refusing.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)

	secrets := map[string]string{
		"ok-url":       ok.URL + "/hooks/T0KEN-ok-webhook-4f1c",
		"refused-url":  refusing.URL + "/services/T0KEN-refused-9a7e?token=T0KEN-query-77c2",
		"dead-url":     "http://127.0.0.1:1/hooks/T0KEN-dead-b3d0",
		"slow-url":     slow.URL + "/hooks/T0KEN-slow-1e55",
		"signing":      "T0KEN-signing-key-5c9d",
		"routing-key":  "T0KEN-pagerduty-routing-8b21",
		"slack-url":    refusing.URL + "/services/T0KEN-slack-6d3a",
		"teams-url":    "http://127.0.0.1:1/workflows/T0KEN-teams-0f4b",
		"missing-host": "https://user:T0KEN-password-in-url-2aa1@127.0.0.1:1/hook",
	}
	create(t, secretWithData(ns, "receivers", secrets))
	ref := func(key string) securityv1alpha1.SecretKeyReference {
		return securityv1alpha1.SecretKeyReference{Name: "receivers", Key: key}
	}
	short := securityv1alpha1.NewDuration(time.Second) // the shortest timeout a receiver may have
	policy := &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "every-outcome"},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Receivers: []securityv1alpha1.Receiver{
				{Name: "ok", Webhook: &securityv1alpha1.WebhookReceiver{URLSecretRef: ref("ok-url"), SigningSecretRef: new(ref("signing"))}},
				{Name: "refused", Webhook: &securityv1alpha1.WebhookReceiver{URLSecretRef: ref("refused-url")}},
				{Name: "dead", Webhook: &securityv1alpha1.WebhookReceiver{URLSecretRef: ref("dead-url")}},
				{Name: "slow", Webhook: &securityv1alpha1.WebhookReceiver{URLSecretRef: ref("slow-url"), Timeout: short}},
				{Name: "userinfo", Webhook: &securityv1alpha1.WebhookReceiver{URLSecretRef: ref("missing-host")}},
				{Name: "chat", Slack: &securityv1alpha1.ChatReceiver{URLSecretRef: ref("slack-url")}},
				{Name: "team", Teams: &securityv1alpha1.ChatReceiver{URLSecretRef: ref("teams-url")}},
				{Name: "pager", PagerDuty: &securityv1alpha1.PagerDutyReceiver{RoutingKeySecretRef: ref("routing-key"), URL: refusing.URL + "/v2/enqueue"}},
				{Name: "mail", Email: &securityv1alpha1.EmailReceiver{To: []string{"audit@council.example"}}},
			},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{Notify: []securityv1alpha1.NotifyTarget{
				{Receiver: "ok"}, {Receiver: "refused"}, {Receiver: "dead"}, {Receiver: "slow"}, {Receiver: "userinfo"},
				{Receiver: "chat"}, {Receiver: "team"}, {Receiver: "pager"}, {Receiver: "mail"},
			}}}},
			Delivery: &securityv1alpha1.Delivery{MaxAttempts: 2, FallbackReceiver: "mail"},
		},
	}
	create(t, policy)
	inc := newIncident(ns, "phishing", securityv1alpha1.CategoryPhishing, securityv1alpha1.SeverityHigh)
	create(t, inc)
	// Everything that can fail fails for good, and the fallback is mailed.
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionStalled, metav1.ConditionTrue, securityv1alpha1.ReasonNotificationAbandoned)
	states := map[string]securityv1alpha1.DeliveryState{}
	for _, rec := range inc.Status.Notifications {
		if rec.FallbackFor == "" {
			states[rec.Receiver] = rec.State
		}
	}
	for name, want := range map[string]securityv1alpha1.DeliveryState{
		"ok": securityv1alpha1.DeliveryDelivered, "mail": securityv1alpha1.DeliveryDelivered,
		"refused": securityv1alpha1.DeliveryAbandoned, "dead": securityv1alpha1.DeliveryAbandoned, "slow": securityv1alpha1.DeliveryAbandoned,
		"userinfo": securityv1alpha1.DeliveryAbandoned, "chat": securityv1alpha1.DeliveryAbandoned,
		"team": securityv1alpha1.DeliveryAbandoned, "pager": securityv1alpha1.DeliveryAbandoned,
	} {
		if states[name] != want {
			t.Errorf("receiver %s is %s, want %s: the run did not exercise what it means to", name, states[name], want)
		}
	}
	// A policy whose Secret lacks a key reports that too.
	broken := webhookPolicy(ns, "missing-key", -1, "receivers", securityv1alpha1.PolicyMatch{})
	broken.Spec.Receivers[0].Webhook.URLSecretRef.Key = "no-such-key"
	create(t, broken)
	waitForCondition(t, broken, policyConditions(broken), securityv1alpha1.ConditionReady, metav1.ConditionFalse, securityv1alpha1.ReasonSecretNotFound)

	// What people can read.
	var readable bytes.Buffer
	for _, list := range []client.ObjectList{&securityv1alpha1.IncidentList{}, &securityv1alpha1.EscalationPolicyList{}, &eventsv1.EventList{}} {
		if err := k8sClient.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if err := json.NewEncoder(&readable).Encode(list); err != nil {
			t.Fatal(err)
		}
	}
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(&readable, mf); err != nil {
			t.Fatal(err)
		}
	}
	readable.WriteString(operatorLog.String())
	text := readable.String()
	if !strings.Contains(text, "receiver answered 403 Forbidden") || !strings.Contains(text, `"receiver":"dead"`) {
		t.Fatalf("the scanned text lacks the failures it should hold; the scan would prove nothing")
	}

	for key, value := range secrets {
		for _, token := range tokensOf(value) {
			if strings.Contains(text, token) {
				t.Errorf("secret %s leaks: %q appears in status, events, logs or metrics", key, token)
			}
		}
	}
	if strings.Contains(text, mailbox.Password) {
		t.Errorf("the SMTP password appears in status, events, logs or metrics")
	}
}

// tokensOf picks the parts of a secret value that must never be seen: the
// value itself and every T0KEN-... within it.
func tokensOf(value string) []string {
	out := []string{value}
	for _, f := range strings.FieldsFunc(value, func(r rune) bool { return strings.ContainsRune("/?=:@&", r) }) {
		if strings.HasPrefix(f, "T0KEN-") {
			out = append(out, f)
		}
	}
	return out
}
