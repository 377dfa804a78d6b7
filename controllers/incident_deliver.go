package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/delivery"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/receiver"
)

// maxErrorLength keeps a receiver's error from bloating the incident's status.
const maxErrorLength = 256

// recordSlowAfter is how long a reconcile waits for its sends before it
// stores the outcomes it has. A receiver that hangs until its timeout (10s
// by default, up to 5m) must not hold back the record of the fast ones: if
// the operator died in the meantime, they would all be sent again.
const recordSlowAfter = time.Second

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
// once they are stored. While sends are still out after recordSlowAfter,
// store is called to write the outcomes known so far.
func (r *IncidentReconciler) deliverDue(ctx context.Context, incident *securityv1alpha1.Incident, policies map[string]*securityv1alpha1.EscalationPolicy, store func() error) (retryIn time.Duration, sent, keys []string) {
	// A delivery abandoned here owes one to the fallback receiver, which is
	// sent at once: a second round, since a fallback is never replaced.
	for round := 0; round < 2; round++ {
		owed := len(incident.Status.Notifications)
		s, k := r.deliverRound(ctx, incident, policies, store)
		sent, keys = append(sent, s...), append(keys, k...)
		if len(incident.Status.Notifications) == owed {
			break
		}
	}
	return delivery.NextRetry(incident.Status.Notifications, r.Clock.Now()), sent, keys
}

// deliverRound makes one attempt at every delivery due now.
func (r *IncidentReconciler) deliverRound(ctx context.Context, incident *securityv1alpha1.Incident, policies map[string]*securityv1alpha1.EscalationPolicy, store func() error) (sent, keys []string) {
	now := r.Clock.Now()
	records := incident.Status.Notifications
	due := delivery.Due(records, now)

	// Each send gets its own copy of its record and message, and reports
	// back here; only this goroutine writes the records, so that status can
	// be stored while slow sends are still out.
	type job struct {
		i      int
		rec    securityv1alpha1.NotificationRecord
		policy *securityv1alpha1.EscalationPolicy
		// kind of the policy, for messages about it.
		kind string
		msg  notify.Message
	}
	type result struct {
		i   int
		err error
	}
	summary := notify.Summarise(incident)
	var jobs []job
	for _, i := range due {
		rec := &records[i]
		if at, ok := r.Sent.deliveredAt(rec.Key, now); ok {
			delivery.Delivered(rec, at)
			continue
		}
		msg := notify.Message{Key: rec.Key, Incident: summary, Policy: rec.Policy, Level: rec.Level, Receiver: rec.Receiver, Notice: rec.Notice}
		if original := delivery.Find(records, rec.FallbackFor); original != nil {
			msg.FallbackFor = original.Receiver
		}
		jobs = append(jobs, job{i: i, rec: *rec, policy: policies[rec.Policy], kind: routedKind(incident, rec.Policy), msg: msg})
	}
	results := make(chan result, len(jobs))
	go func() {
		sem := make(chan struct{}, max(r.DeliveryConcurrency, 1))
		for _, j := range jobs {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				err := r.send(ctx, j.kind, j.policy, &j.rec, j.msg)
				if err == nil {
					r.Sent.remember(j.rec.Key, r.Clock.Now())
				}
				results <- result{i: j.i, err: err}
			}()
		}
	}()
	timer := time.NewTimer(recordSlowAfter)
	defer timer.Stop()
	unstored := false
	for pending := len(jobs); pending > 0; {
		select {
		case res := <-results:
			rec := &records[res.i]
			r.recordAttempt(incident, policies[rec.Policy], rec, res.err)
			pending--
			unstored = true
		case <-timer.C:
			if unstored {
				summariseDeliveries(incident, r.Clock.Now())
				if err := store(); err != nil {
					ctrl.LoggerFrom(ctx).Error(err, "Storing the outcomes of finished deliveries while slow ones are still out")
				}
				unstored = false
			}
			timer.Reset(recordSlowAfter)
		}
	}

	for _, i := range due {
		if rec := &records[i]; rec.State == securityv1alpha1.DeliveryDelivered {
			sent = append(sent, describeDelivery(rec))
			keys = append(keys, rec.Key)
		}
	}

	// Fallback intents are appended only now: the loop above holds
	// indexes into the slice.
	for _, i := range due {
		if fallback := delivery.Fallback(incident, policies[records[i].Policy], &records[i]); fallback != nil {
			incident.Status.Notifications = append(incident.Status.Notifications, *fallback)
		}
	}
	return sent, keys
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

// currentPolicy returns the referenced policy from the cache, or nil when
// it is gone. A cluster policy comes back without a namespace.
func (r *IncidentReconciler) currentPolicy(ctx context.Context, namespace string, ref securityv1alpha1.PolicyReference) *securityv1alpha1.EscalationPolicy {
	if ref.Kind == securityv1alpha1.KindClusterEscalationPolicy {
		policy := &securityv1alpha1.ClusterEscalationPolicy{}
		if err := r.Get(ctx, types.NamespacedName{Name: ref.Name}, policy); err != nil {
			if !apierrors.IsNotFound(err) {
				ctrl.LoggerFrom(ctx).Error(err, "Reading cluster escalation policy", "policy", ref.Name)
			}
			return nil
		}
		return policy.AsEscalationPolicy()
	}
	policy := &securityv1alpha1.EscalationPolicy{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, policy); err != nil {
		if !apierrors.IsNotFound(err) {
			ctrl.LoggerFrom(ctx).Error(err, "Reading escalation policy", "policy", ref.Name)
		}
		return nil
	}
	return policy
}

// routedKind is the kind of the policy of that name the incident is routed
// to.
func routedKind(incident *securityv1alpha1.Incident, policy string) string {
	for _, ref := range incident.Status.Policies {
		if ref.Name == policy {
			return referenceKind(ref)
		}
	}
	return securityv1alpha1.KindEscalationPolicy
}

// referenceKind is the kind a reference names.
func referenceKind(ref securityv1alpha1.PolicyReference) string {
	if ref.Kind == "" {
		return securityv1alpha1.KindEscalationPolicy
	}
	return ref.Kind
}

// secretNamespace is where a policy's receivers' Secrets are: its own
// namespace, or the operator's for a cluster policy.
func secretNamespace(policy *securityv1alpha1.EscalationPolicy, operatorNamespace string) string {
	if policy.Namespace == "" {
		return operatorNamespace
	}
	return policy.Namespace
}

// send makes one delivery attempt.
func (r *IncidentReconciler) send(ctx context.Context, kind string, policy *securityv1alpha1.EscalationPolicy, rec *securityv1alpha1.NotificationRecord, msg notify.Message) error {
	var to receiver.Receiver
	if rec.Role != "" {
		renderer, err := r.Renderers.defaultRenderer()
		if err != nil {
			return err
		}
		to = receiver.Person(rec.Recipient, renderer, r.Transport)
	} else {
		spec := delivery.Receiver(policy, rec.Receiver)
		switch {
		case policy == nil:
			return permanentError{fmt.Errorf("%s %s no longer exists", kind, rec.Policy)}
		case spec == nil:
			return permanentError{fmt.Errorf("%s %s has no receiver %q", kind, rec.Policy, rec.Receiver)}
		}
		renderer, err := r.Renderers.get(policy, spec)
		if err != nil {
			return err
		}
		if to, err = receiver.New(secretNamespace(policy, r.OperatorNamespace), spec, renderer, r.Transport); err != nil {
			return permanentError{err}
		}
	}
	start := time.Now()
	err := to.Send(ctx, msg)
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
	now := r.Clock.Now()
	if err == nil {
		delivery.Delivered(rec, now)
		notificationsTotal.WithLabelValues(rec.Channel, "delivered").Inc()
		return
	}
	failure := delivery.Failure{Error: notify.Truncate(err.Error(), maxErrorLength), Permanent: isPermanent(err)}
	failure.RetryAfter, _ = notify.RetryAfter(err)
	action := notifyAction(rec)
	if delivery.Failed(rec, policy, failure, now, r.Backoff) {
		notificationsTotal.WithLabelValues(rec.Channel, "abandoned").Inc()
		fallback := ""
		if to := delivery.FallbackReceiver(policy, rec); to != "" {
			fallback = "; telling fallback receiver " + to + " instead"
		}
		why := fmt.Sprintf("after %d attempts", rec.Attempts)
		if failure.Permanent {
			why = "at once: retrying cannot help"
		}
		r.Events.warning(incident, EventNotificationAbandoned, action, "Gave up notifying %s %s%s: %s",
			rec.Receiver, why, fallback, rec.LastError)
		return
	}
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
		errors.Is(err, receiver.ErrNoMailServer) || errors.Is(err, receiver.ErrDestinationNotAllowed)
}

// summariseDeliveries sets Notified and the kstatus conditions from the
// delivery records of a routed incident.
func summariseDeliveries(incident *securityv1alpha1.Incident, now time.Time) {
	status := &incident.Status
	generation := incident.Generation
	summary := delivery.Summarise(status.Notifications)
	setCondition(&status.Conditions, generation, now, securityv1alpha1.ConditionNotified, summary.Status, summary.Reason, summary.Message)
	switch summary.Progress {
	case delivery.Done:
		markReady(&status.Conditions, generation, now, summary.Message)
	case delivery.GaveUp:
		markStalled(&status.Conditions, generation, now, summary.Reason, summary.Message)
	default:
		markReconciling(&status.Conditions, generation, now, summary.Reason, summary.Message)
	}
}
