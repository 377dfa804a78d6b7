package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
)

// maxErrorLength keeps a receiver's error from bloating the incident's status.
const maxErrorLength = 256

// deliverDue sends every delivery that is pending or whose retry is due, in
// parallel up to DeliveryConcurrency, and records each outcome. A delivery
// that has used up its policy's attempts is abandoned, and the policy's
// fallback receiver, if any, is owed a delivery in its place. It returns how
// long until the next retry is due, or zero when none is, and the deliveries
// made, as people would read them. policies are the routed policies as
// routedPolicies read them; a record whose policy is missing fails. A
// delivery the ledger remembers as accepted, whose outcome an earlier
// reconcile could not store, is recorded without being sent again. keys
// are the deliveries recorded as delivered here, for the ledger to forget
// once they are stored.
func (r *IncidentReconciler) deliverDue(ctx context.Context, incident *securityv1alpha1.Incident, policies map[string]*securityv1alpha1.EscalationPolicy) (retryIn time.Duration, sent, keys []string) {
	now := r.Clock.Now()
	records := incident.Status.Notifications
	var due []int
	for i := range records {
		rec := &records[i]
		if isSettled(rec) || (rec.NextAttemptAt != nil && rec.NextAttemptAt.Time.After(now)) {
			continue
		}
		due = append(due, i)
	}

	summary := notify.Summarise(incident)
	sem := make(chan struct{}, max(r.DeliveryConcurrency, 1))
	var wg sync.WaitGroup
	for _, i := range due {
		rec := &records[i]
		policy := policies[rec.Policy]
		msg := notify.Message{Key: rec.Key, Incident: summary, Policy: rec.Policy, Level: rec.Level, Receiver: rec.Receiver, Notice: rec.Notice}
		if original := findDelivery(records, rec.FallbackFor); original != nil {
			msg.FallbackFor = original.Receiver
		}
		if at, ok := r.Sent.deliveredAt(rec.Key, now); ok {
			recordDelivered(rec, metav1.NewTime(at.Truncate(time.Second)))
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := r.send(ctx, policy, rec, msg)
			if err == nil {
				r.Sent.remember(rec.Key, r.Clock.Now())
			}
			r.recordAttempt(incident, policy, rec, err)
		})
	}
	wg.Wait()

	for _, i := range due {
		if rec := &records[i]; rec.State == securityv1alpha1.DeliveryDelivered {
			sent = append(sent, describeDelivery(rec))
			keys = append(keys, rec.Key)
		}
	}

	// Fallback intents are appended only now: the sends above hold
	// pointers into the slice.
	for _, i := range due {
		if fallback := fallbackDelivery(incident, policies[records[i].Policy], &records[i]); fallback != nil {
			incident.Status.Notifications = append(incident.Status.Notifications, *fallback)
		}
	}
	return nextRetry(incident.Status.Notifications, r.Clock.Now()), sent, keys
}

// recordDelivered records a delivery the receiver accepted at.
func recordDelivered(rec *securityv1alpha1.NotificationRecord, at metav1.Time) {
	rec.Attempts++
	rec.LastAttemptAt = &at
	rec.State = securityv1alpha1.DeliveryDelivered
	rec.DeliveredAt = &at
	rec.NextAttemptAt = nil
	rec.LastError = ""
}

// describeDelivery says who was told what, for an event. People reached by
// role are named by their role only: events are readable by anyone with
// the built-in view role, and an e-mail address is personal data.
func describeDelivery(rec *securityv1alpha1.NotificationRecord) string {
	who := rec.Receiver
	what := fmt.Sprintf("level %d of %s", rec.Level, rec.Policy)
	if rec.Notice != "" {
		what = strings.ToLower(rec.Notice) + " notice"
	}
	return fmt.Sprintf("%s (%s, %s)", who, rec.Channel, what)
}

// isSettled is true for a delivery that needs no more attempts.
func isSettled(rec *securityv1alpha1.NotificationRecord) bool {
	return rec.State == securityv1alpha1.DeliveryDelivered || rec.State == securityv1alpha1.DeliveryAbandoned
}

// maxAttempts is how often the policy lets one delivery be tried.
func maxAttempts(policy *securityv1alpha1.EscalationPolicy) int32 {
	if policy != nil && policy.Spec.Delivery != nil && policy.Spec.Delivery.MaxAttempts > 0 {
		return policy.Spec.Delivery.MaxAttempts
	}
	return securityv1alpha1.DefaultMaxAttempts
}

// fallbackDelivery is the delivery owed to the policy's fallback receiver
// for an abandoned one, or nil when none is owed. A fallback delivery that
// fails is not itself replaced.
func fallbackDelivery(incident *securityv1alpha1.Incident, policy *securityv1alpha1.EscalationPolicy, rec *securityv1alpha1.NotificationRecord) *securityv1alpha1.NotificationRecord {
	fallback := fallbackReceiver(policy, rec)
	if rec.State != securityv1alpha1.DeliveryAbandoned || fallback == "" {
		return nil
	}
	key := notify.DeliveryKey(string(incident.UID), rec.Policy, rec.Level, 0, fallback+"\x00fallback-for\x00"+rec.Receiver)
	if findDelivery(incident.Status.Notifications, key) != nil {
		return nil
	}
	return &securityv1alpha1.NotificationRecord{
		Key:         key,
		Policy:      rec.Policy,
		Level:       rec.Level,
		Receiver:    fallback,
		Channel:     channelOf(policy, fallback),
		State:       securityv1alpha1.DeliveryPending,
		FallbackFor: rec.Key,
	}
}

// fallbackReceiver is who the policy tells in place of rec's receiver when
// rec is abandoned, or "". A fallback delivery is never itself replaced.
func fallbackReceiver(policy *securityv1alpha1.EscalationPolicy, rec *securityv1alpha1.NotificationRecord) string {
	if policy == nil || policy.Spec.Delivery == nil || rec.FallbackFor != "" || policy.Spec.Delivery.FallbackReceiver == rec.Receiver {
		return ""
	}
	return policy.Spec.Delivery.FallbackReceiver
}

// currentPolicy returns the policy from the cache, or nil when it is gone.
func (r *IncidentReconciler) currentPolicy(ctx context.Context, namespace, name string) *securityv1alpha1.EscalationPolicy {
	policy := &securityv1alpha1.EscalationPolicy{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, policy); err != nil {
		if !apierrors.IsNotFound(err) {
			ctrl.LoggerFrom(ctx).Error(err, "Reading escalation policy", "policy", name)
		}
		return nil
	}
	return policy
}

// send makes one delivery attempt.
func (r *IncidentReconciler) send(ctx context.Context, policy *securityv1alpha1.EscalationPolicy, rec *securityv1alpha1.NotificationRecord, msg notify.Message) error {
	if rec.Role != "" {
		start := time.Now()
		err := r.sendToPerson(ctx, rec.Recipient, msg)
		notificationDuration.WithLabelValues(rec.Channel).Observe(time.Since(start).Seconds())
		return err
	}
	if policy == nil {
		return permanentError{fmt.Errorf("EscalationPolicy %s no longer exists", rec.Policy)}
	}
	var receiver *securityv1alpha1.Receiver
	for i := range policy.Spec.Receivers {
		if policy.Spec.Receivers[i].Name == rec.Receiver {
			receiver = &policy.Spec.Receivers[i]
		}
	}
	if receiver == nil {
		return permanentError{fmt.Errorf("EscalationPolicy %s has no receiver %q", rec.Policy, rec.Receiver)}
	}
	start := time.Now()
	err := r.sendTo(ctx, policy, receiver, msg)
	notificationDuration.WithLabelValues(rec.Channel).Observe(time.Since(start).Seconds())
	return err
}

// notifyAction is the events/v1 action of a delivery's events. It names the
// receiver, because events/v1 folds events that differ only in their note
// into one series, which would hide one receiver's outcome behind another's.
func notifyAction(rec *securityv1alpha1.NotificationRecord) string {
	// The receiver comes first: when a long policy name makes the action
	// too long, the cut falls in the policy's name, and receivers still
	// have series of their own.
	return "Notify " + rec.Receiver + " of " + rec.Policy
}

// recordAttempt writes the outcome of an attempt into its record. Failures
// are told as events at once; successes are told together, once per
// reconcile, because every event costs a write and memory in the event
// recorder for minutes.
func (r *IncidentReconciler) recordAttempt(incident *securityv1alpha1.Incident, policy *securityv1alpha1.EscalationPolicy, rec *securityv1alpha1.NotificationRecord, err error) {
	now := r.now()
	rec.Attempts++
	rec.LastAttemptAt = &now
	action := notifyAction(rec)
	if err == nil {
		rec.Attempts--
		recordDelivered(rec, now)
		notificationsTotal.WithLabelValues(rec.Channel, "delivered").Inc()
		return
	}
	rec.LastError = notify.Truncate(err.Error(), maxErrorLength)
	permanent := isPermanent(err)
	if limit := maxAttempts(policy); permanent || rec.Attempts >= limit {
		rec.State = securityv1alpha1.DeliveryAbandoned
		rec.NextAttemptAt = nil
		notificationsTotal.WithLabelValues(rec.Channel, "abandoned").Inc()
		fallback := ""
		if to := fallbackReceiver(policy, rec); to != "" {
			fallback = "; telling fallback receiver " + to + " instead"
		}
		why := fmt.Sprintf("after %d attempts", rec.Attempts)
		if permanent {
			why = "at once: retrying cannot help"
		}
		r.Events.warning(incident, EventNotificationAbandoned, action, "Gave up notifying %s %s%s: %s",
			rec.Receiver, why, fallback, rec.LastError)
		return
	}
	// Status keeps whole seconds; rounding up keeps a retry from ever
	// coming sooner than the backoff asks.
	delay := r.Backoff.Delay(rec.Attempts, nil)
	if asked, ok := notify.RetryAfter(err); ok && asked > delay {
		delay = asked // the receiver said when to come back (429, 503)
	}
	next := metav1.NewTime(ceilSecond(r.Clock.Now().Add(delay)))
	rec.State = securityv1alpha1.DeliveryFailed
	rec.NextAttemptAt = &next
	notificationsTotal.WithLabelValues(rec.Channel, "failed").Inc()
	// The note stays the same from one attempt to the next: events/v1
	// keeps the first note of a series and counts the repeats, so one
	// receiver's failures are one Event, not one per attempt. Status has
	// the attempt count and the next attempt.
	r.Events.warning(incident, EventNotificationFailed, action, "Notifying %s failed: %s", rec.Receiver, rec.LastError)
}

// permanentError marks a failure that no retry can mend.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// isPermanent is true for failures that retrying cannot mend, as
// Alertmanager's retry stage tells them apart: a receiver's 4xx answer
// other than 408, 425 and 429, a refused destination or redirect, a
// template that does not render, a receiver or policy that is gone, e-mail
// without an SMTP server. Such a delivery is abandoned at once, and the
// fallback receiver told within seconds rather than after every attempt.
// A Secret that is not available yet is retried: GitOps often applies a
// policy moments before the Secret it names.
func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p) || notify.IsPermanent(err) ||
		errors.Is(err, errNoMailServer) || errors.Is(err, errDestinationNotAllowed)
}

func ceilSecond(t time.Time) time.Time {
	if c := t.Truncate(time.Second); !c.Equal(t) {
		return c.Add(time.Second)
	}
	return t
}

// nextRetry is the time until the earliest retry that is due, or zero.
func nextRetry(records []securityv1alpha1.NotificationRecord, now time.Time) time.Duration {
	var next time.Duration
	for _, rec := range records {
		if isSettled(&rec) || rec.NextAttemptAt == nil {
			continue
		}
		wait := max(rec.NextAttemptAt.Sub(now), time.Second)
		if next == 0 || wait < next {
			next = wait
		}
	}
	return next
}

// summariseDeliveries sets Notified and the kstatus conditions from the
// delivery records of a routed incident.
func summariseDeliveries(incident *securityv1alpha1.Incident) {
	status := &incident.Status
	generation := incident.Generation
	var delivered int
	var failed, abandoned *securityv1alpha1.NotificationRecord
	for i := range status.Notifications {
		rec := &status.Notifications[i]
		switch {
		case rec.State == securityv1alpha1.DeliveryDelivered:
			delivered++
		case abandoned == nil && rec.State == securityv1alpha1.DeliveryAbandoned:
			abandoned = rec
		case failed == nil && rec.State == securityv1alpha1.DeliveryFailed:
			failed = rec
		}
	}
	total := len(status.Notifications)
	switch {
	case delivered == total:
		message := fmt.Sprintf("%d of %d notifications delivered", delivered, total)
		setCondition(&status.Conditions, generation, securityv1alpha1.ConditionNotified, metav1.ConditionTrue, securityv1alpha1.ReasonDelivered, message)
		markReady(&status.Conditions, generation, message)
	case failed != nil:
		message := fmt.Sprintf("%d of %d notifications delivered; receiver %s of policy %s failed %d times, last: %s",
			delivered, total, failed.Receiver, failed.Policy, failed.Attempts, failed.LastError)
		setCondition(&status.Conditions, generation, securityv1alpha1.ConditionNotified, metav1.ConditionFalse, securityv1alpha1.ReasonNotificationFailed, message)
		markReconciling(&status.Conditions, generation, securityv1alpha1.ReasonNotificationFailed, message)
	case abandoned != nil && delivered+countAbandoned(status.Notifications) == total:
		// Nothing is left to try: only a person can fix the receiver.
		message := fmt.Sprintf("%d of %d notifications delivered; gave up on receiver %s of policy %s after %d attempts, last: %s",
			delivered, total, abandoned.Receiver, abandoned.Policy, abandoned.Attempts, abandoned.LastError)
		setCondition(&status.Conditions, generation, securityv1alpha1.ConditionNotified, metav1.ConditionFalse, securityv1alpha1.ReasonNotificationAbandoned, message)
		markStalled(&status.Conditions, generation, securityv1alpha1.ReasonNotificationAbandoned, message)
	default:
		message := fmt.Sprintf("%d of %d notifications delivered", delivered, total)
		setCondition(&status.Conditions, generation, securityv1alpha1.ConditionNotified, metav1.ConditionFalse, securityv1alpha1.ReasonDelivering, message)
		markReconciling(&status.Conditions, generation, securityv1alpha1.ReasonDelivering, message)
	}
}

func countAbandoned(records []securityv1alpha1.NotificationRecord) int {
	n := 0
	for i := range records {
		if records[i].State == securityv1alpha1.DeliveryAbandoned {
			n++
		}
	}
	return n
}
