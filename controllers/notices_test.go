package controllers_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// flakyReceiver is a loopback HTTP receiver, a webhook or the PagerDuty
// Events API, that answers 503 while it is down and keeps every request in
// the order it came, with whether it was accepted.
type flakyReceiver struct {
	*httptest.Server
	down atomic.Bool

	mu       sync.Mutex
	requests []flakyRequest
}

type flakyRequest struct {
	accepted bool
	body     map[string]any
}

// what a request said: a webhook's notice ("alert" for none), or a
// PagerDuty event's action.
func (r flakyRequest) what() string {
	if action, ok := r.body["event_action"].(string); ok {
		return action
	}
	if notice, ok := r.body["notice"].(string); ok && notice != "" {
		return notice
	}
	return "alert"
}

func newFlakyReceiver(t *testing.T) *flakyReceiver {
	r := &flakyReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		down := r.down.Load()
		r.mu.Lock()
		r.requests = append(r.requests, flakyRequest{accepted: !down, body: body})
		r.mu.Unlock()
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.Close)
	return r
}

// story is what the receiver accepted, in order, and what it was sent
// before it accepted anything.
func (r *flakyReceiver) story() (accepted, refusedFirst []string, all []flakyRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, req := range r.requests {
		if req.accepted {
			accepted = append(accepted, req.what())
		} else if len(accepted) == 0 {
			refusedFirst = append(refusedFirst, req.what())
		}
	}
	return accepted, refusedFirst, append([]flakyRequest(nil), r.requests...)
}

// noticePolicy notifies one receiver at level 0, with attempts enough to
// outlast the test's outage.
func noticePolicy(t *testing.T, ns string, receiver securityv1alpha1.Receiver, secret map[string]string) {
	t.Helper()
	create(t, secretWithData(ns, "receiver", secret))
	policy := &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "desk"},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Receivers: []securityv1alpha1.Receiver{receiver},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{
				Notify: []securityv1alpha1.NotifyTarget{{Receiver: receiver.Name}},
			}}},
			Delivery: &securityv1alpha1.Delivery{MaxAttempts: 100},
		},
	}
	create(t, policy)
	waitForCondition(t, policy, policyConditions(policy), securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
}

// waitForRecord waits until the incident records a delivery to receiver
// with notice in one of the states, and returns it.
func waitForRecord(t *testing.T, inc *securityv1alpha1.Incident, receiver, notice string, states ...securityv1alpha1.DeliveryState) securityv1alpha1.NotificationRecord {
	t.Helper()
	var found securityv1alpha1.NotificationRecord
	eventually(t, 20*time.Second, func() error {
		latest := getIncident(t, inc.Namespace, inc.Name)
		for _, rec := range latest.Status.Notifications {
			if rec.Receiver == receiver && rec.Notice == notice {
				for _, s := range states {
					if rec.State == s {
						found = rec
						return nil
					}
				}
				return fmt.Errorf("%s's %q delivery is %s (%d attempts), want one of %v", receiver, notice, rec.State, rec.Attempts, states)
			}
		}
		return fmt.Errorf("no %q delivery to %s recorded: %+v", notice, receiver, latest.Status.Notifications)
	})
	return found
}

// recordAll applies each change to the incident in turn.
func recordAll(t *testing.T, inc *securityv1alpha1.Incident, changes ...func(*securityv1alpha1.Incident)) {
	t.Helper()
	for _, change := range changes {
		update(t, inc, change)
	}
}

func acknowledged(i *securityv1alpha1.Incident) {
	i.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "Jo Bloggs"}
}

func resolved(i *securityv1alpha1.Incident) {
	i.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Jo Bloggs", Summary: "Disk replaced."}
}

// TestNoticeReachesAReceiverStillRetryingItsAlert: the receiver is down
// when the incident is acknowledged or resolved. The notice is owed at
// once, sent nowhere while the alert is being retried, and sent after the
// alert once the receiver is back.
func TestNoticeReachesAReceiverStillRetryingItsAlert(t *testing.T) {
	for name, tc := range map[string]struct {
		changes []func(*securityv1alpha1.Incident)
		notices []string
	}{
		"acknowledged":               {changes: []func(*securityv1alpha1.Incident){acknowledged}, notices: []string{"Acknowledged"}},
		"resolved":                   {changes: []func(*securityv1alpha1.Incident){resolved}, notices: []string{"Resolved"}},
		"acknowledged then resolved": {changes: []func(*securityv1alpha1.Incident){acknowledged, resolved}, notices: []string{"Acknowledged", "Resolved"}},
	} {
		t.Run(name, func(t *testing.T) {
			ns := newNamespace(t)
			hook := newFlakyReceiver(t)
			hook.down.Store(true)
			noticePolicy(t, ns, securityv1alpha1.Receiver{Name: "desk", Webhook: &securityv1alpha1.WebhookReceiver{
				URLSecretRef: securityv1alpha1.SecretKeyReference{Name: "receiver", Key: "url"}}}, map[string]string{"url": hook.URL})
			inc := newIncident(ns, "payroll-down", securityv1alpha1.CategorySystemMalfunction, securityv1alpha1.SeverityHigh)
			create(t, inc)
			waitForRecord(t, inc, "desk", "", securityv1alpha1.DeliveryFailed)

			recordAll(t, inc, tc.changes...)
			for _, notice := range tc.notices {
				waitForRecord(t, inc, "desk", notice, securityv1alpha1.DeliveryPending)
			}
			// The alert is still being retried: the notices wait for it.
			time.Sleep(time.Second)
			_, refused, _ := hook.story()
			for _, what := range refused {
				if what != "alert" {
					t.Fatalf("while the alert failed the receiver was sent %v; want the alert alone, retried", refused)
				}
			}
			hook.down.Store(false)
			for _, notice := range tc.notices {
				waitForRecord(t, inc, "desk", notice, securityv1alpha1.DeliveryDelivered)
			}
			accepted, refused, _ := hook.story()
			if want := append([]string{"alert"}, tc.notices...); strings.Join(accepted, ",") != strings.Join(want, ",") {
				t.Errorf("the receiver accepted %v, want %v (after %d refused alerts)", accepted, want, len(refused))
			}
			waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionNotified, metav1.ConditionTrue, securityv1alpha1.ReasonDelivered)
		})
	}
}

// TestPagerDutyResolvesTheAlertItTriggered: PagerDuty pairs events by
// dedup_key, and a resolve only closes an alert a trigger opened before
// it. With the Events API failing when the incident is acknowledged and
// resolved, PagerDuty gets trigger, acknowledge, resolve in that order,
// all under the incident's UID; an incident imported already resolved
// triggers nobody's pager.
func TestPagerDutyResolvesTheAlertItTriggered(t *testing.T) {
	ns := newNamespace(t)
	pagerDuty := newFlakyReceiver(t)
	pagerDuty.down.Store(true)
	noticePolicy(t, ns, securityv1alpha1.Receiver{Name: "on-call", PagerDuty: &securityv1alpha1.PagerDutyReceiver{
		RoutingKeySecretRef: securityv1alpha1.SecretKeyReference{Name: "receiver", Key: "routing-key"}, URL: pagerDuty.URL + "/v2/enqueue"}},
		map[string]string{"routing-key": "routing-key"})

	inc := newIncident(ns, "ransomware", securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityHigh)
	create(t, inc)
	waitForRecord(t, inc, "on-call", "", securityv1alpha1.DeliveryFailed)
	recordAll(t, inc, acknowledged, resolved)
	waitForRecord(t, inc, "on-call", "Resolved", securityv1alpha1.DeliveryPending)
	time.Sleep(time.Second)
	pagerDuty.down.Store(false)
	waitForRecord(t, inc, "on-call", "Resolved", securityv1alpha1.DeliveryDelivered)

	accepted, refused, all := pagerDuty.story()
	if strings.Join(accepted, ",") != "trigger,acknowledge,resolve" {
		t.Errorf("PagerDuty accepted %v, want trigger,acknowledge,resolve", accepted)
	}
	for _, what := range refused {
		if what != "trigger" {
			t.Errorf("PagerDuty was sent %s before it accepted the trigger", what)
		}
	}
	for _, req := range all {
		if req.body["dedup_key"] != string(inc.UID) || req.body["routing_key"] != "routing-key" {
			t.Errorf("%s event dedup_key %v, routing_key %v; want the incident's UID and the routing key", req.what(), req.body["dedup_key"], req.body["routing_key"])
		}
	}
	t.Logf("PagerDuty refused %d triggers, then accepted %v", len(refused), accepted)
}

// TestIncidentImportedResolvedPagesNobody: an incident imported already
// resolved is a record of the past. It is routed, so status says whose it
// was, but no pager is triggered, and so none is owed a resolve.
func TestIncidentImportedResolvedPagesNobody(t *testing.T) {
	ns := newNamespace(t)
	pagerDuty := newFlakyReceiver(t)
	noticePolicy(t, ns, securityv1alpha1.Receiver{Name: "on-call", PagerDuty: &securityv1alpha1.PagerDutyReceiver{
		RoutingKeySecretRef: securityv1alpha1.SecretKeyReference{Name: "receiver", Key: "routing-key"}, URL: pagerDuty.URL + "/v2/enqueue"}},
		map[string]string{"routing-key": "routing-key"})
	imported := newIncident(ns, "old-phish", securityv1alpha1.CategoryPhishing, securityv1alpha1.SeverityHigh)
	acknowledged(imported)
	resolved(imported)
	create(t, imported)
	waitForCondition(t, imported, incidentConditions(imported), securityv1alpha1.ConditionNotified, metav1.ConditionTrue, securityv1alpha1.ReasonDelivered)
	if !imported.Spec.Imported.Includes("resolution") {
		t.Fatalf("spec.imported = %+v; the API server should have marked the incident imported", imported.Spec.Imported)
	}
	if imported.Status.Phase != securityv1alpha1.PhaseResolved || len(imported.Status.Notifications) != 0 || len(imported.Status.Policies) != 1 {
		t.Errorf("imported resolved incident: phase %s, policies %v, notifications %+v; want Resolved, routed, nobody told",
			imported.Status.Phase, imported.Status.Policies, imported.Status.Notifications)
	}
	// One reported the usual way and then resolved is paged, and resolved.
	reported := newIncident(ns, "new-phish", securityv1alpha1.CategoryPhishing, securityv1alpha1.SeverityHigh)
	create(t, reported)
	waitForRecord(t, reported, "on-call", "", securityv1alpha1.DeliveryDelivered)
	recordAll(t, reported, resolved)
	waitForRecord(t, reported, "on-call", "Resolved", securityv1alpha1.DeliveryDelivered)
	accepted, _, all := pagerDuty.story()
	if strings.Join(accepted, ",") != "trigger,resolve" {
		t.Errorf("PagerDuty accepted %v, want the reported incident's trigger and resolve alone", accepted)
	}
	for _, req := range all {
		if req.body["dedup_key"] != string(reported.UID) {
			t.Errorf("PagerDuty got a %s event for %v, want only the reported incident's", req.what(), req.body["dedup_key"])
		}
	}
}
