package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/delivery"
	"github.com/incidentops/incident-operator/internal/dispatch"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/receiver"
)

// maxErrorLength keeps a receiver's error from bloating the incident's status.
const maxErrorLength = 256

// waitForSends is how long a reconcile waits for the sends it started
// before it records the outcomes it has and lets the worker go. A receiver
// that answers within it is recorded in the same status write as the
// routing; one that hangs until its timeout (10s by default, up to 5m)
// goes on in the dispatcher, holding only its own namespace's and
// receiver's slots, and its outcome is recorded by the reconcile its end
// wakes. The reconcile workers are shared by every namespace: none may be
// held by one namespace's receiver for longer than this, and while that
// receiver hangs, none is held by it at all.
const waitForSends = time.Second

// inFlightRecheck is how soon an incident with sends in flight is looked
// at again even if no wakeup brings it back when they end.
const inFlightRecheck = time.Minute

// Default bounds of the sends in flight; Options can set others.
const (
	// defaultNamespaceDeliveries bounds one namespace's sends in flight,
	// as many as the reconcile workers: a namespace whose receivers hang
	// holds these, never another namespace's.
	defaultNamespaceDeliveries = 32
	// defaultReceiverDeliveries bounds one receiver's sends in flight, so
	// that a receiver that hangs leaves its namespace's other receivers
	// room.
	defaultReceiverDeliveries = 16
)

// deliveryDispatch runs incidents' sends outside their reconciles, bounded
// per incident, per namespace and per receiver. The outcome of a send
// that outlived its reconcile's wait is held, and the incident woken to
// record it.
type deliveryDispatch struct {
	dispatcher *dispatch.Dispatcher
	wakeups    *incidentWakeups
	// perIncident, perNamespace and perReceiver bound the sends in flight.
	perIncident, perNamespace, perReceiver int
}

// newDeliveryDispatch runs sends under ctx, so that they end with the
// manager; a send cut short is sent again by the next operator, under its
// key.
func newDeliveryDispatch(ctx context.Context, now func() time.Time, wakeups *incidentWakeups, perIncident, perNamespace, perReceiver int) *deliveryDispatch {
	return &deliveryDispatch{
		dispatcher:   dispatch.New(ctx, now),
		wakeups:      wakeups,
		perIncident:  max(perIncident, 1),
		perNamespace: cmp.Or(perNamespace, defaultNamespaceDeliveries),
		perReceiver:  cmp.Or(perReceiver, defaultReceiverDeliveries),
	}
}

// lanes are the limits a delivery of the incident counts against; its
// receiver's comes last. A receiver is its policy's; people reached by
// role are reached through the one SMTP server.
func (d *deliveryDispatch) lanes(incident *securityv1alpha1.Incident, policy *securityv1alpha1.EscalationPolicy, rec *securityv1alpha1.NotificationRecord) []dispatch.Lane {
	receiver := "smtp"
	if rec.Role == "" {
		receiver = "receiver/" + incident.Namespace + "/" + rec.Policy + "/" + rec.Receiver
		if policy != nil {
			receiver = "receiver/" + policy.Namespace + "/" + policy.Name + "/" + rec.Receiver
		}
	}
	return []dispatch.Lane{
		{Key: "incident/" + string(incident.UID), Limit: d.perIncident},
		{Key: "namespace/" + incident.Namespace, Limit: d.perNamespace},
		{Key: receiver, Limit: d.perReceiver},
	}
}

// deliverDue sends every delivery that is pending or whose retry is due,
// and records each outcome known within waitForSends. A delivery that has
// used up its policy's attempts is abandoned, and the policy's fallback
// receiver, if any, is owed a delivery in its place. It returns how long
// until the next retry is due, or zero when none is, and the deliveries
// made, as people would read them. policies are the routed policies as
// routedPolicies read them; a record whose policy is missing fails. A
// delivery the ledger remembers as accepted, whose outcome an earlier
// reconcile could not store, is recorded without being sent again; one
// still in flight is not sent again, and one that ended since the last
// reconcile is recorded as it ended. keys are the deliveries recorded as
// delivered here, for the ledger to forget once they are stored.
func (r *IncidentReconciler) deliverDue(ctx context.Context, incident *securityv1alpha1.Incident, policies map[string]*securityv1alpha1.EscalationPolicy) (retryIn time.Duration, sent, keys []string) {
	// A delivery abandoned here owes one to the fallback receiver, which is
	// sent at once: a second round, since a fallback is never replaced.
	for round := 0; round < 2; round++ {
		owed := len(incident.Status.Notifications)
		s, k := r.deliverRound(ctx, incident, policies)
		sent, keys = append(sent, s...), append(keys, k...)
		if len(incident.Status.Notifications) == owed {
			break
		}
	}
	// Sends in flight are no retries: their end wakes the incident.
	busy := r.Sent.dispatch.dispatcher.Busy
	retryIn = delivery.NextRetryExcept(incident.Status.Notifications, r.Clock.Now(), busy)
	if slices.ContainsFunc(incident.Status.Notifications, func(rec securityv1alpha1.NotificationRecord) bool { return busy(rec.Key) }) {
		retryIn = earliest(retryIn, inFlightRecheck)
	}
	return retryIn, sent, keys
}

// deliverRound makes one attempt at every delivery due now that is not in
// flight, and records the attempts that ended.
func (r *IncidentReconciler) deliverRound(ctx context.Context, incident *securityv1alpha1.Incident, policies map[string]*securityv1alpha1.EscalationPolicy) (sent, keys []string) {
	now := r.Clock.Now()
	records := incident.Status.Notifications
	due := delivery.Due(records, now)
	d := r.Sent.dispatch

	summary := notify.Summarise(incident)
	index := make(map[string]int, len(due))
	var ended []dispatch.Outcome
	// A send to a receiver whose earlier sends outlived their reconcile's
	// wait (one that hangs) is not waited for at all: only the first
	// reconciles to meet a receiver that hangs wait for it.
	batch, unwaited := d.dispatcher.Batch(len(due)), d.dispatcher.Batch(len(due))
	for _, i := range due {
		rec := &records[i]
		index[rec.Key] = i
		if o, ok := d.dispatcher.Claim(rec.Key); ok {
			ended = append(ended, o)
			continue
		}
		if at, ok := r.Sent.deliveredAt(rec.Key, now); ok {
			delivery.Delivered(&rec.DeliveryAttempt, at)
			continue
		}
		msg := notify.Message{Key: rec.Key, Notice: rec.Notice, IncidentMessage: &notify.IncidentMessage{
			Incident: summary, Policy: rec.Policy, Level: rec.Level, Receiver: rec.Receiver,
		}}
		if rec.Obligation != "" {
			msg.Obligation = notify.SummariseObligation(incident, rec.Obligation)
		}
		if original := delivery.Find(records, rec.FallbackFor); original != nil {
			msg.FallbackFor = original.Receiver
		}
		// The send gets its own copy of its record and message: only this
		// reconcile writes the records.
		policy, kind, copied := policies[rec.Policy], routedKind(incident, rec.Policy), *rec
		lanes := d.lanes(incident, policy, rec)
		to := batch
		if d.dispatcher.Stalled(lanes[len(lanes)-1].Key) {
			to = unwaited
		}
		to.Submit(dispatch.Job{
			Key:   rec.Key,
			Lanes: lanes,
			// The incident comes back to record the outcome.
			Announce: d.wakeups.waker(incident),
			Send: func(ctx context.Context) error {
				err := r.send(ctx, kind, policy, &copied, msg)
				if err == nil {
					r.Sent.remember(copied.Key, r.Clock.Now())
				}
				return err
			},
		})
	}
	ended = append(ended, unwaited.Wait(ctx, 0)...)
	ended = append(ended, batch.Wait(ctx, waitForSends)...)
	for _, o := range ended {
		rec := &records[index[o.Key]]
		r.recordAttempt(incident, policies[rec.Policy], rec, o.Err, o.At)
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
	return currentPolicyOf(ctx, r.Client, namespace, ref)
}

// currentPolicyOf reads the policy ref names, as current, from reader; nil
// when it is gone.
func currentPolicyOf(ctx context.Context, reader client.Reader, namespace string, ref securityv1alpha1.PolicyReference) *securityv1alpha1.EscalationPolicy {
	if ref.Kind == securityv1alpha1.KindClusterEscalationPolicy {
		policy := &securityv1alpha1.ClusterEscalationPolicy{}
		if err := reader.Get(ctx, types.NamespacedName{Name: ref.Name}, policy); err != nil {
			if !apierrors.IsNotFound(err) {
				ctrl.LoggerFrom(ctx).Error(err, "Reading cluster escalation policy", "policy", ref.Name)
			}
			return nil
		}
		return policy.AsEscalationPolicy()
	}
	policy := &securityv1alpha1.EscalationPolicy{}
	if err := reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, policy); err != nil {
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
			return ref.KindOrDefault()
		}
	}
	return securityv1alpha1.KindEscalationPolicy
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

// recordAttempt writes the outcome of an attempt that ended at now into
// its record. Failures are told as events at once; successes are told
// together, once per reconcile, because every event costs a write and
// memory in the event recorder for minutes.
func (r *IncidentReconciler) recordAttempt(incident *securityv1alpha1.Incident, policy *securityv1alpha1.EscalationPolicy, rec *securityv1alpha1.NotificationRecord, err error, now time.Time) {
	if err == nil {
		delivery.Delivered(&rec.DeliveryAttempt, now)
		notificationsTotal.WithLabelValues(rec.Channel, "delivered").Inc()
		return
	}
	failure := delivery.Failure{Error: notify.Truncate(err.Error(), maxErrorLength), Permanent: isPermanent(err)}
	failure.RetryAfter, _ = notify.RetryAfter(err)
	action := notifyAction(rec)
	if delivery.Failed(&rec.DeliveryAttempt, delivery.MaxAttempts(policy), failure, now, r.Backoff) {
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
// without an SMTP server, a report's file for a receiver that cannot carry
// it. Such a delivery is abandoned at once, and the
// fallback receiver told within seconds rather than after every attempt.
// A Secret that is not available yet is retried: GitOps often applies a
// policy moments before the Secret it names.
func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p) || notify.IsPermanent(err) ||
		errors.Is(err, receiver.ErrNoMailServer) || errors.Is(err, receiver.ErrDestinationNotAllowed) ||
		errors.Is(err, receiver.ErrCannotCarryDocument)
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
