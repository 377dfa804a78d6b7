package controllers

import (
	"context"
	"fmt"
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
// parallel up to DeliveryConcurrency, and records each outcome. It returns
// how long until the next retry is due, or zero when none is.
func (r *IncidentReconciler) deliverDue(ctx context.Context, incident *securityv1alpha1.Incident) time.Duration {
	now := r.Clock.Now()
	records := incident.Status.Notifications
	policies := map[string]*securityv1alpha1.EscalationPolicy{}
	var due []int
	for i := range records {
		rec := &records[i]
		if rec.State == securityv1alpha1.DeliveryDelivered {
			continue
		}
		if rec.NextAttemptAt != nil && rec.NextAttemptAt.Time.After(now) {
			continue
		}
		if _, ok := policies[rec.Policy]; !ok {
			policies[rec.Policy] = r.currentPolicy(ctx, incident.Namespace, rec.Policy)
		}
		due = append(due, i)
	}

	message := notify.Summarise(incident)
	sem := make(chan struct{}, max(r.DeliveryConcurrency, 1))
	var wg sync.WaitGroup
	for _, i := range due {
		rec := &records[i]
		policy := policies[rec.Policy]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := r.send(ctx, incident, policy, rec, message)
			r.recordAttempt(incident, rec, err)
		})
	}
	wg.Wait()
	return nextRetry(records, r.Clock.Now())
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
func (r *IncidentReconciler) send(ctx context.Context, incident *securityv1alpha1.Incident, policy *securityv1alpha1.EscalationPolicy, rec *securityv1alpha1.NotificationRecord, summary notify.IncidentSummary) error {
	if policy == nil {
		return fmt.Errorf("EscalationPolicy %s no longer exists", rec.Policy)
	}
	var receiver *securityv1alpha1.Receiver
	for i := range policy.Spec.Receivers {
		if policy.Spec.Receivers[i].Name == rec.Receiver {
			receiver = &policy.Spec.Receivers[i]
		}
	}
	if receiver == nil {
		return fmt.Errorf("EscalationPolicy %s has no receiver %q", rec.Policy, rec.Receiver)
	}
	msg := notify.Message{Key: rec.Key, Incident: summary, Policy: rec.Policy, Level: rec.Level, Receiver: rec.Receiver}

	start := time.Now()
	err := r.sendTo(ctx, incident.Namespace, receiver, msg)
	notificationDuration.WithLabelValues(rec.Channel).Observe(time.Since(start).Seconds())
	return err
}

// recordAttempt writes the outcome of an attempt into its record and tells
// people about it.
func (r *IncidentReconciler) recordAttempt(incident *securityv1alpha1.Incident, rec *securityv1alpha1.NotificationRecord, err error) {
	now := r.now()
	rec.Attempts++
	rec.LastAttemptAt = &now
	if err == nil {
		rec.State = securityv1alpha1.DeliveryDelivered
		rec.DeliveredAt = &now
		rec.NextAttemptAt = nil
		rec.LastError = ""
		notificationsTotal.WithLabelValues(rec.Channel, "delivered").Inc()
		r.Events.normal(incident, EventNotificationSent, "Notify", "Notified %s (%s, level %d of %s)", rec.Receiver, rec.Channel, rec.Level, rec.Policy)
		return
	}
	next := metav1.NewTime(now.Add(r.Backoff.Delay(rec.Attempts, nil)))
	rec.State = securityv1alpha1.DeliveryFailed
	rec.NextAttemptAt = &next
	rec.LastError = notify.Truncate(err.Error(), maxErrorLength)
	notificationsTotal.WithLabelValues(rec.Channel, "failed").Inc()
	r.Events.warning(incident, EventNotificationFailed, "Notify", "Notifying %s failed (attempt %d, next at %s): %s",
		rec.Receiver, rec.Attempts, next.UTC().Format(time.RFC3339), rec.LastError)
}

// nextRetry is the time until the earliest retry that is due, or zero.
func nextRetry(records []securityv1alpha1.NotificationRecord, now time.Time) time.Duration {
	var next time.Duration
	for _, rec := range records {
		if rec.State == securityv1alpha1.DeliveryDelivered || rec.NextAttemptAt == nil {
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
	var failed *securityv1alpha1.NotificationRecord
	for i := range status.Notifications {
		rec := &status.Notifications[i]
		switch {
		case rec.State == securityv1alpha1.DeliveryDelivered:
			delivered++
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
	default:
		message := fmt.Sprintf("%d of %d notifications delivered", delivered, total)
		setCondition(&status.Conditions, generation, securityv1alpha1.ConditionNotified, metav1.ConditionFalse, securityv1alpha1.ReasonDelivering, message)
		markReconciling(&status.Conditions, generation, securityv1alpha1.ReasonDelivering, message)
	}
}
