package controllers_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Events about long names and many recipients are all stored: the API
// server refuses an action over 128 bytes or a note over 1 KiB, and the
// recorder does not retry. Each failing receiver's attempts are one series,
// and no note carries a person's e-mail address.
func TestEventsFitTheAPIAndFormOneSeriesPerReceiver(t *testing.T) {
	ns := newNamespace(t)
	failing := newSink(t)
	failing.Fail = func(int) int { return http.StatusServiceUnavailable }
	webhookSecret(t, ns, "hook", failing.URL+"/down")

	// A policy name of 200 characters, and receivers named as long as the
	// API lets them be, some with multi-byte names in their notes.
	policyName := strings.Repeat("department-of-adult-social-care.", 6) + strings.Repeat("x", 8)
	var receivers []securityv1alpha1.Receiver
	var targets []securityv1alpha1.NotifyTarget
	for i := range 3 {
		name := fmt.Sprintf("%s-%d", strings.Repeat("receiver", 7), i)
		receivers = append(receivers, securityv1alpha1.Receiver{Name: name, Webhook: &securityv1alpha1.WebhookReceiver{
			URLSecretRef: securityv1alpha1.SecretKeyReference{Name: "hook", Key: "url"},
		}})
		targets = append(targets, securityv1alpha1.NotifyTarget{Receiver: name})
	}
	targets = append(targets, securityv1alpha1.NotifyTarget{Role: securityv1alpha1.RoleLineManager}, securityv1alpha1.NotifyTarget{Role: securityv1alpha1.RoleReporter})
	policy := &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: policyName},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Receivers:  receivers,
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{Notify: targets}}},
			Delivery:   &securityv1alpha1.Delivery{MaxAttempts: 100},
		},
	}
	create(t, policy)
	incident := newIncident(ns, strings.Repeat("lost-laptop-", 20)+"x", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityHigh)
	incident.Spec.Title = strings.Repeat("Laptop left on the 07:42 train — Ω ", 5)
	incident.Spec.Reporter.LineManager = &securityv1alpha1.Contact{Name: "Sam Lee", Email: "sam.lee@example.org"}
	create(t, incident)

	// Every failing receiver is tried at least three times.
	eventually(t, 30*time.Second, func() error {
		inc := getIncident(t, ns, incident.Name)
		tried := 0
		for _, rec := range inc.Status.Notifications {
			if rec.Channel == "webhook" && rec.Attempts >= 3 {
				tried++
			}
		}
		if tried < len(receivers) {
			return errorf("%d of %d receivers tried three times", tried, len(receivers))
		}
		return nil
	})

	// One Routed event, and one NotificationFailed series per receiver
	// that counts the repeats.
	eventually(t, 20*time.Second, func() error {
		var list eventsv1.EventList
		if err := k8sClient.List(t.Context(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		routed := 0
		series := map[string]int32{}
		for _, e := range list.Items {
			if len(e.Action) > 128 || len(e.Note) > 1024 {
				t.Fatalf("an event over the API's limits was stored: action %d bytes, note %d bytes", len(e.Action), len(e.Note))
			}
			if strings.Contains(e.Note, "@") {
				t.Fatalf("event %s carries an e-mail address: %q", e.Reason, e.Note)
			}
			switch e.Reason {
			case "Routed":
				routed++
			case "NotificationFailed":
				count := int32(1)
				if e.Series != nil {
					count = e.Series.Count
				}
				for _, r := range receivers {
					if strings.Contains(e.Action, r.Name) {
						if _, seen := series[r.Name]; seen {
							t.Fatalf("receiver %s has more than one NotificationFailed event; want one series", r.Name)
						}
						series[r.Name] = count
					}
				}
			}
		}
		if routed != 1 {
			return errorf("%d Routed events stored, want 1", routed)
		}
		for _, r := range receivers {
			if series[r.Name] < 2 {
				return errorf("receiver %s: NotificationFailed series counts %d, want at least 2 (series %v)", r.Name, series[r.Name], series)
			}
		}
		return nil
	})
	if strings.Contains(operatorLog.String(), "Server rejected event") {
		t.Error("the API server rejected an event the operator sent")
	}
}
