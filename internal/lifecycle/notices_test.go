package lifecycle

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/delivery"
)

// label names a record as receiver[+notice].
func label(rec *securityv1alpha1.NotificationRecord) string {
	if rec.Notice == "" {
		return rec.Receiver
	}
	return rec.Receiver + "+" + rec.Notice
}

// find is the record to receiver with notice, or nil.
func find(inc *securityv1alpha1.Incident, receiver, notice string) *securityv1alpha1.NotificationRecord {
	for i := range inc.Status.Notifications {
		if rec := &inc.Status.Notifications[i]; rec.Receiver == receiver && rec.Notice == notice {
			return rec
		}
	}
	return nil
}

// answer says how a receiver takes one attempt: delivered, failed (to be
// retried), or abandoned (a permanent failure).
type answer int

const (
	accept answer = iota
	fail
	refuse
)

// dispatch makes one round of attempts as the operator does: each record
// delivery.Due names is tried and answered. It returns what was tried.
func dispatch(inc *securityv1alpha1.Incident, policy *securityv1alpha1.EscalationPolicy, now time.Time, answers func(*securityv1alpha1.NotificationRecord) answer) []string {
	var tried []string
	records := inc.Status.Notifications
	for _, i := range delivery.Due(records, now) {
		rec := &records[i]
		tried = append(tried, label(rec))
		switch answers(rec) {
		case accept:
			delivery.Delivered(&rec.DeliveryAttempt, now)
		case fail:
			delivery.Failed(&rec.DeliveryAttempt, delivery.MaxAttempts(policy), delivery.Failure{Error: "503 Service Unavailable"}, now, delivery.Backoff{Initial: time.Second, Max: time.Second})
		case refuse:
			delivery.Failed(&rec.DeliveryAttempt, delivery.MaxAttempts(policy), delivery.Failure{Error: "404 Not Found", Permanent: true}, now, delivery.Backoff{})
		}
	}
	return tried
}

// failing answers fail for the receivers named, accept for the rest.
func failing(receivers ...string) func(*securityv1alpha1.NotificationRecord) answer {
	return func(rec *securityv1alpha1.NotificationRecord) answer {
		if slices.Contains(receivers, rec.Receiver) {
			return fail
		}
		return accept
	}
}

func acknowledge(inc *securityv1alpha1.Incident) {
	inc.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "Carol"}
}

func resolve(inc *securityv1alpha1.Incident) {
	inc.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Carol"}
}

// A receiver still retrying its alert when the incident is acknowledged
// is owed the notice at once, and is sent it only after its alert.
func TestAcknowledgementWaitsForTheAlertStillBeingRetried(t *testing.T) {
	policy := escalatingPolicy()
	inc := routedIncident("desk")
	advance(inc, routed, policy)
	if tried := dispatch(inc, policy, routed, failing("desk")); strings.Join(tried, " ") != "desk Reporter" {
		t.Fatalf("first round tried %v", tried)
	}

	acknowledge(inc)
	now := routed.Add(time.Minute)
	advance(inc, now, policy)
	desk := find(inc, "desk", NoticeAcknowledged)
	if desk == nil || desk.State != securityv1alpha1.DeliveryPending {
		t.Fatalf("desk, still retrying its alert, is not owed the acknowledgement: %v", owed(inc))
	}
	// The alert fails again; the reporter, told already, hears of the
	// acknowledgement; the desk does not yet.
	if tried := dispatch(inc, policy, now, failing("desk")); strings.Join(tried, " ") != "desk Reporter+Acknowledged" {
		t.Fatalf("while the alert fails, tried %v; want the alert retried and only the reporter's notice sent", tried)
	}
	now = now.Add(time.Minute)
	advance(inc, now, policy)
	if tried := dispatch(inc, policy, now, failing()); strings.Join(tried, " ") != "desk" {
		t.Fatalf("the round that delivers the alert tried %v; want the alert alone", tried)
	}
	// Its wait is over: due in a second, not at the next escalation.
	if got := delivery.NextRetry(inc.Status.Notifications, now); got != time.Second {
		t.Errorf("NextRetry = %s once the alert is delivered, want 1s", got)
	}
	now = now.Add(time.Second)
	advance(inc, now, policy)
	if tried := dispatch(inc, policy, now, failing()); strings.Join(tried, " ") != "desk+Acknowledged" {
		t.Fatalf("after the alert, tried %v; want the desk's acknowledgement", tried)
	}
	if got := delivery.NextRetry(inc.Status.Notifications, now); got != 0 {
		t.Errorf("NextRetry = %s with everything delivered, want none", got)
	}
}

// Acknowledgement and resolution seen together while the alert is still
// pending reach the receiver in the order trigger, acknowledge, resolve.
func TestNoticesFollowTheAlertInOrder(t *testing.T) {
	policy := escalatingPolicy()
	inc := routedIncident("desk")
	advance(inc, routed, policy)
	acknowledge(inc)
	resolve(inc)
	advance(inc, routed, policy)
	if got := strings.Join(owed(inc), " "); got != "desk@0 Reporter/ann@example.org@0 desk@0+Acknowledged Reporter/ann@example.org@0+Acknowledged desk@0+Resolved Reporter/ann@example.org@0+Resolved" {
		t.Fatalf("owed %s", got)
	}
	var rounds []string
	now := routed
	for range 10 {
		tried := dispatch(inc, policy, now, failing())
		if len(tried) == 0 {
			break
		}
		rounds = append(rounds, strings.Join(tried, ","))
		now = now.Add(delivery.NextRetry(inc.Status.Notifications, now))
		advance(inc, now, policy)
	}
	if got := strings.Join(rounds, " | "); got != "desk,Reporter | desk+Acknowledged,Reporter+Acknowledged | desk+Resolved,Reporter+Resolved" {
		t.Errorf("rounds: %s", got)
	}
}

// Nobody hears of the end of an incident they were never told of: a
// follow-up to a receiver whose every alert was abandoned is settled
// unsent, whether the alert was given up before the change or after.
func TestNoticeToAReceiverNeverReachedIsNotSent(t *testing.T) {
	for name, tc := range map[string]struct {
		abandonBefore bool
	}{
		"alert abandoned before the acknowledgement": {abandonBefore: true},
		"alert abandoned while the notice waited":    {},
	} {
		t.Run(name, func(t *testing.T) {
			policy := escalatingPolicy()
			inc := routedIncident("desk")
			advance(inc, routed, policy)
			refuseDesk := func(rec *securityv1alpha1.NotificationRecord) answer {
				if rec.Receiver == "desk" {
					return refuse
				}
				return accept
			}
			if tc.abandonBefore {
				dispatch(inc, policy, routed, refuseDesk)
			} else {
				dispatch(inc, policy, routed, failing("desk"))
			}
			acknowledge(inc)
			now := routed.Add(time.Minute)
			advance(inc, now, policy)
			var tried []string
			for range 4 {
				tried = append(tried, dispatch(inc, policy, now, refuseDesk)...)
				now = now.Add(time.Second)
				advance(inc, now, policy)
			}
			if slices.Contains(tried, "desk+Acknowledged") {
				t.Errorf("the acknowledgement was sent to the desk, which never got the alert: %v", tried)
			}
			rec := find(inc, "desk", NoticeAcknowledged)
			if rec == nil || rec.State != securityv1alpha1.DeliveryAbandoned || rec.Attempts != 0 || rec.LastError != delivery.NotNeededError {
				t.Errorf("desk's acknowledgement = %+v, want Abandoned unsent, saying why", rec)
			}
			if r := find(inc, "Reporter", NoticeAcknowledged); r == nil || r.State != securityv1alpha1.DeliveryDelivered {
				t.Errorf("the reporter's acknowledgement = %+v, want delivered", r)
			}
			if got := delivery.NextRetry(inc.Status.Notifications, now); got != 0 {
				t.Errorf("NextRetry = %s with everything settled, want none", got)
			}
		})
	}
}

// The fallback receiver, told in an abandoned alert's place, hears the end.
func TestFallbackReceiverHearsTheEnd(t *testing.T) {
	policy := escalatingPolicy()
	policy.Spec.Receivers = append(policy.Spec.Receivers, securityv1alpha1.Receiver{Name: "duty-manager"})
	policy.Spec.Delivery = &securityv1alpha1.Delivery{FallbackReceiver: "duty-manager"}
	inc := routedIncident("desk")
	advance(inc, routed, policy)
	dispatch(inc, policy, routed, func(rec *securityv1alpha1.NotificationRecord) answer {
		if rec.Receiver == "desk" {
			return refuse
		}
		return accept
	})
	desk := find(inc, "desk", "")
	inc.Status.Notifications = append(inc.Status.Notifications, *delivery.Fallback(inc, policy, desk))
	resolve(inc)
	advance(inc, routed.Add(time.Minute), policy)
	if rec := find(inc, "duty-manager", NoticeResolved); rec == nil || rec.State != securityv1alpha1.DeliveryPending {
		t.Fatalf("the fallback receiver, its alert pending, is not owed the resolution: %v", owed(inc))
	}
	if tried := dispatch(inc, policy, routed.Add(time.Minute), failing()); strings.Join(tried, " ") != "duty-manager Reporter+Resolved" {
		t.Errorf("tried %v; want the fallback's alert and the reporter's notice", tried)
	}
	advance(inc, routed.Add(time.Minute+time.Second), policy)
	if tried := dispatch(inc, policy, routed.Add(time.Minute+time.Second), failing()); strings.Join(tried, " ") != "duty-manager+Resolved" {
		t.Errorf("tried %v; want the fallback's resolution after its alert", tried)
	}
}

// The notices owed follow from status alone: an incident whose
// acknowledgement was stamped, and whose notices were never recorded (as an
// operator killed at the wrong moment, or an older version, left it), is
// owed them on the next Advance, each once.
func TestNoticesAreOwedFromStatusAlone(t *testing.T) {
	policy := escalatingPolicy()
	inc := routedIncident("desk")
	advance(inc, routed, policy)
	dispatch(inc, policy, routed, failing("desk"))
	acknowledge(inc)
	at := metav1.NewTime(routed.Add(time.Minute))
	inc.Status.AcknowledgedAt = &at // seen before, its notices never recorded
	advance(inc, routed.Add(2*time.Minute), policy)
	if find(inc, "desk", NoticeAcknowledged) == nil || find(inc, "Reporter", NoticeAcknowledged) == nil {
		t.Fatalf("after the change was seen, nothing owed: %v", owed(inc))
	}
	n := len(inc.Status.Notifications)
	for range 3 {
		advance(inc, routed.Add(3*time.Minute), policy)
	}
	if len(inc.Status.Notifications) != n {
		t.Errorf("notices owed again: %v", owed(inc)[n:])
	}

	// Resolved: every recipient told of the acknowledgement is told of the
	// resolution; one made after it is not told of an acknowledgement.
	late := routedIncident("desk")
	advance(late, routed, policy)
	deliverAll(late)
	resolve(late)
	advance(late, routed.Add(time.Minute), policy)
	acknowledge(late)
	advance(late, routed.Add(2*time.Minute), policy)
	if got := strings.Join(owed(late), " "); got != "desk@0 Reporter/ann@example.org@0 desk@0+Resolved Reporter/ann@example.org@0+Resolved" {
		t.Errorf("acknowledged after resolution, owed %s", got)
	}
}

// Whoever is first told of an incident after it was acknowledged (its Major
// receivers, say) hears of the acknowledgement after that.
func TestReceiverToldAfterTheChangeHearsOfIt(t *testing.T) {
	policy := escalatingPolicy()
	policy.Spec.Major = &securityv1alpha1.Major{Notify: []securityv1alpha1.NotifyTarget{{Receiver: "director"}}}
	inc := routedIncident("desk")
	advance(inc, routed, policy)
	deliverAll(inc)
	acknowledge(inc)
	advance(inc, routed.Add(time.Minute), policy)
	deliverAll(inc)
	inc.Spec.Severity = securityv1alpha1.SeverityCritical
	advance(inc, routed.Add(2*time.Minute), policy)
	if got := strings.Join(dispatch(inc, policy, routed.Add(2*time.Minute), failing()), " "); got != "director+Major" {
		t.Fatalf("tried %s, want the director's Major notice alone", got)
	}
	advance(inc, routed.Add(3*time.Minute), policy)
	if got := strings.Join(dispatch(inc, policy, routed.Add(3*time.Minute), failing()), " "); got != "director+Acknowledged" {
		t.Errorf("tried %s, want the director told of the acknowledgement", got)
	}
}

// An incident imported already resolved is a record of the past: nobody is
// paged, so nobody is owed a resolution either. Imported acknowledged but
// open, or reported and resolved before it was routed, its receivers are
// alerted and then told.
func TestIncidentCreatedAcknowledgedOrResolved(t *testing.T) {
	for name, tc := range map[string]struct {
		imported []string
		ack, res bool
		want     string
	}{
		"imported resolved":              {imported: []string{"acknowledgement", "resolution"}, ack: true, res: true, want: ""},
		"imported resolved, never acked": {imported: []string{"resolution"}, res: true, want: ""},
		"imported acknowledged, not resolved": {imported: []string{"acknowledgement"}, ack: true,
			want: "desk@0 Reporter/ann@example.org@0 desk@0+Acknowledged Reporter/ann@example.org@0+Acknowledged"},
		"reported, resolved before routing": {res: true,
			want: "desk@0 Reporter/ann@example.org@0 desk@0+Resolved Reporter/ann@example.org@0+Resolved"},
	} {
		t.Run(name, func(t *testing.T) {
			policy := escalatingPolicy()
			policy.Spec.Major = &securityv1alpha1.Major{Notify: []securityv1alpha1.NotifyTarget{{Receiver: "director"}}}
			inc := routedIncident("desk")
			inc.Spec.Severity = securityv1alpha1.SeverityMedium
			if tc.imported != nil {
				inc.Spec.Imported = &securityv1alpha1.Import{Records: tc.imported}
			}
			if tc.ack {
				acknowledge(inc)
			}
			if tc.res {
				resolve(inc)
			}
			advance(inc, routed, policy)
			if got := strings.Join(owed(inc), " "); got != tc.want {
				t.Errorf("owed %q, want %q", got, tc.want)
			}
			if want := map[bool]securityv1alpha1.IncidentPhase{true: securityv1alpha1.PhaseResolved, false: securityv1alpha1.PhaseAcknowledged}[tc.res]; inc.Status.Phase != want {
				t.Errorf("phase %s, want %s", inc.Status.Phase, want)
			}
			if ref := inc.Status.Policies[0]; ref.LevelReachedAt == nil || ref.NextEscalationAt != nil {
				t.Errorf("policy %+v, want level 0 reached and no escalation", ref)
			}
			// A major imported incident tells its Major receivers nothing either.
			inc.Spec.Severity = securityv1alpha1.SeverityCritical
			advance(inc, routed.Add(time.Minute), policy)
			if find(inc, "director", NoticeMajor) != nil && tc.imported != nil && tc.res {
				t.Errorf("the imported resolved incident owes the director a Major notice: %v", owed(inc))
			}
		})
	}
}

// TestEveryAlertedRecipientHearsTheEndInOrder runs many incidents with
// receivers that fail at random, acknowledged and resolved at random
// moments, through the ledger as the operator would, and checks each
// recipient's story: nothing after its end, no notice before its alert,
// the resolution after the acknowledgement, and every notice owed to a
// recipient that got an alert delivered, delivered.
func TestEveryAlertedRecipientHearsTheEndInOrder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	for n := range 200 {
		policy := escalatingPolicy()
		policy.Spec.Delivery = &securityv1alpha1.Delivery{MaxAttempts: 4}
		inc := routedIncident("desk")
		inc.UID = types.UID(fmt.Sprint("uid-", n))
		ackAt, resAt := rnd.IntN(40), 20+rnd.IntN(60)
		type attempt struct {
			key     string
			settled map[string]bool // keys of the recipient's records settled before it
		}
		tried := map[string][]attempt{} // recipient → attempts, in order
		now := routed
		for step := range 120 {
			if step == ackAt {
				acknowledge(inc)
			}
			if step == resAt {
				resolve(inc)
			}
			advance(inc, now, policy)
			records := inc.Status.Notifications
			settledBefore := map[string]map[string]bool{}
			for i := range records {
				who := records[i].Receiver + "/" + records[i].Recipient
				if settledBefore[who] == nil {
					settledBefore[who] = map[string]bool{}
				}
				if delivery.Settled(&records[i].DeliveryAttempt) {
					settledBefore[who][records[i].Key] = true
				}
			}
			dispatch(inc, policy, now, func(rec *securityv1alpha1.NotificationRecord) answer {
				who := rec.Receiver + "/" + rec.Recipient
				tried[who] = append(tried[who], attempt{rec.Key, settledBefore[who]})
				switch r := rnd.IntN(10); {
				case r < 5:
					return accept
				case r < 9:
					return fail
				}
				return refuse
			})
			now = now.Add(time.Duration(1+rnd.IntN(4)) * 30 * time.Second)
		}
		advance(inc, now, policy)

		for i := range inc.Status.Notifications {
			rec := &inc.Status.Notifications[i]
			who := rec.Receiver + "/" + rec.Recipient
			if !delivery.Settled(&rec.DeliveryAttempt) {
				t.Fatalf("incident %d: %s still %s at the end", n, label(rec), rec.State)
			}
			if !delivery.FollowUp(rec) {
				continue
			}
			reached := false
			for j := range i {
				other := &inc.Status.Notifications[j]
				reached = reached || (delivery.SameRecipient(other, rec) && !delivery.FollowUp(other) && other.State == securityv1alpha1.DeliveryDelivered)
			}
			if reached && rec.Attempts == 0 {
				t.Errorf("incident %d: %s was owed to a recipient its alert reached, and never tried", n, label(rec))
			}
			if !reached && rec.Attempts != 0 {
				t.Errorf("incident %d: %s was tried though nothing reached %s", n, label(rec), who)
			}
			for _, a := range tried[who] {
				if a.key != rec.Key {
					continue
				}
				for j := range i {
					other := &inc.Status.Notifications[j]
					if delivery.SameRecipient(other, rec) && !a.settled[other.Key] {
						t.Errorf("incident %d: %s was tried before %s was settled", n, label(rec), label(other))
					}
				}
			}
		}
		// Every recipient alerted is owed each notice of the phase reached.
		for i := range inc.Status.Notifications {
			rec := &inc.Status.Notifications[i]
			if delivery.FollowUp(rec) {
				continue
			}
			if find(inc, rec.Receiver, NoticeResolved) == nil {
				t.Errorf("incident %d: %s was alerted and is not owed the resolution", n, rec.Receiver)
			}
		}
	}
}

// A notice held by an alert whose send is still out is not a retry due:
// the send's end brings the operator back, not a poll every second.
func TestNoticeHeldByASendInFlightWaitsForIt(t *testing.T) {
	policy := escalatingPolicy()
	inc := routedIncident("desk")
	advance(inc, routed, policy)
	acknowledge(inc)
	advance(inc, routed, policy)
	for _, rec := range []*securityv1alpha1.NotificationRecord{find(inc, "Reporter", ""), find(inc, "Reporter", NoticeAcknowledged)} {
		delivery.Delivered(&rec.DeliveryAttempt, routed)
	}
	desk := find(inc, "desk", "").Key // its send has not ended
	inFlight := func(key string) bool { return key == desk }
	if got := delivery.NextRetryExcept(inc.Status.Notifications, routed, inFlight); got != 0 {
		t.Errorf("NextRetryExcept = %s while the alert is in flight, want none", got)
	}
	var waiting []securityv1alpha1.NotificationRecord
	for _, rec := range inc.Status.Notifications {
		if !inFlight(rec.Key) {
			waiting = append(waiting, rec)
		}
	}
	if got := delivery.NextRetry(waiting, routed); got != time.Second {
		t.Errorf("NextRetry without the send in flight = %s; the poll this avoids is gone, and the test proves nothing", got)
	}
	if got := delivery.Due(inc.Status.Notifications, routed); len(got) != 1 || label(&inc.Status.Notifications[got[0]]) != "desk" {
		t.Errorf("due %v, want the alert alone", got)
	}
}
