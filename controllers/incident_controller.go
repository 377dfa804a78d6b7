package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/delivery"
	"github.com/incidentops/incident-operator/internal/lifecycle"
	"github.com/incidentops/incident-operator/internal/receiver"
	"github.com/incidentops/incident-operator/internal/routing"
	"github.com/incidentops/incident-operator/internal/routing/gather"
)

// IncidentReconciler routes each incident to its policies and delivers the
// notifications they ask for.
type IncidentReconciler struct {
	client.Client
	Events      eventRecorder
	Clock       clock.Clock
	Expressions *routing.ExpressionCache
	// Transport is what receivers send through.
	Transport *receiver.Transport
	// Renderers holds each receiver's parsed template.
	Renderers *rendererCache
	// Sent remembers deliveries whose outcome is not stored yet.
	Sent *sentLedger
	// writes are the operator's last writes of each incident, which a
	// reconcile waits for the cache to show.
	writes ownWrites
	// Wakeups bring an incident back when a send or an export it did not
	// wait for ends.
	Wakeups *incidentWakeups
	// Namespaces are those the operator watches.
	Namespaces watchedNamespaces
	// Verdicts judge whether each policy may route, by this operator's
	// checks, whatever its status says.
	Verdicts *verdicts
	// PolicySets holds each namespace's policies prepared for routing.
	PolicySets *policySets
	// OperatorNamespace holds the Secrets of cluster policies' receivers.
	OperatorNamespace string
	Backoff           delivery.Backoff
	// MaxConcurrentReconciles bounds how many incidents are worked on at once.
	MaxConcurrentReconciles int
	// DeliveryConcurrency bounds the parallel deliveries of one incident.
	DeliveryConcurrency int
	// Audit records each incident in its namespace's audit log.
	Audit *Audit
	// DefaultRegimes are the RegulatoryRegimes that apply to every incident
	// their appliesTo describes, whatever its policies name.
	DefaultRegimes []string
}

// +kubebuilder:rbac:groups=security.incidentops.io,resources=incidents,verbs=list;watch
// +kubebuilder:rbac:groups=security.incidentops.io,resources=incidents/status,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

func (r *IncidentReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	incident := &securityv1alpha1.Incident{}
	if err := r.Get(ctx, req.NamespacedName, incident); err != nil {
		if apierrors.IsNotFound(err) {
			r.writes.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if wait := r.writes.behind(incident, r.Clock.Now()); wait > 0 {
		// The cache does not show this operator's last write yet: acting
		// on it could repeat what that write recorded, such as a delivery.
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if !incident.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.sealOrSay(ctx, incident)
	}
	if err := r.ensureFinalizer(ctx, incident); err != nil {
		return ctrl.Result{}, err
	}
	before := incident.DeepCopy()
	readVersion := incident.ResourceVersion
	var delivered []string
	defer func() {
		// The generation is observed once the reconcile succeeded or failed
		// for good; a transient failure leaves it, so kstatus keeps waiting.
		if retErr == nil || errors.Is(retErr, reconcile.TerminalError(nil)) {
			incident.Status.ObservedGeneration = incident.Generation
		}
		retry, err := r.commit(ctx, incident, before)
		withheld := errors.Is(err, ErrLogSigningWithheld)
		if withheld {
			// Retried on a timer: the key returns when an administrator
			// restores it, and deliveries made stay remembered meanwhile.
			retry, err = auditSigningRetry, nil
		}
		if retry > 0 && (result.RequeueAfter == 0 || retry < result.RequeueAfter) {
			result.RequeueAfter = retry
		}
		if err == nil && !withheld {
			r.Sent.forget(delivered)
		} else if isTooLarge(err) {
			r.Events.warning(incident, EventStatusNotRecorded, "RecordStatus",
				"The API server refused to store this incident's status as too large; deliveries made are remembered and not sent again: %v", err)
		}
		if err == nil && !withheld && incident.ResourceVersion != readVersion {
			// The next reconcile waits for the cache to show this
			// reconcile's last write, so that it never re-sends a
			// delivery recorded here.
			r.writes.wrote(incident, r.Clock.Now())
		}
		retErr = errors.Join(retErr, err)
	}()

	status := &incident.Status
	if status.Phase == "" {
		status.Phase = securityv1alpha1.PhasePending
	}
	if status.AwareAt == nil {
		status.AwareAt = &metav1.Time{Time: incident.ReportedAwareAt()}
	}
	checkInput(incident, r.Clock.Now())

	routedNow := false
	if !isRouted(incident) {
		routed, err := r.route(ctx, incident)
		if err == nil && !routed {
			// No policy routes it, yet the law's clocks run all the same:
			// the default regimes apply to an unrouted breach too.
			var due time.Time
			if _, due, err = r.obligations(ctx, incident, nil); err == nil && !due.IsZero() {
				return ctrl.Result{RequeueAfter: untilWake(due, r.Clock.Now())}, nil
			}
		}
		if err != nil || !routed {
			return ctrl.Result{}, err
		}
		routedNow = true
	} else if incident.Generation != before.Status.ObservedGeneration && incident.Status.ResolvedAt == nil {
		if err := r.routeLate(ctx, incident); err != nil {
			return ctrl.Result{}, err
		}
	}

	policies := r.routedPolicies(ctx, incident)
	authority, due, err := r.obligations(ctx, incident, policies)
	if err != nil {
		return ctrl.Result{}, err
	}
	outcome := r.advance(ctx, incident, policies, authority)
	if !due.IsZero() && (outcome.Wake.IsZero() || due.Before(outcome.Wake)) {
		outcome.Wake = due
	}
	r.capNotifications(incident)

	// The deliveries owed are sent before anything is written, and routing
	// and the outcomes known within waitForSends are recorded together in
	// one status write when the reconcile ends: the idempotency key, not a
	// pending record, is what makes a resend recognisable. A crash between
	// send and write routes the incident again and resends under the same
	// keys: at least once. A send still out when the reconcile ends wakes
	// the incident when it ends, and is recorded then.
	retryIn, sent, keys := r.deliverDue(ctx, incident, policies)
	delivered = keys
	r.capNotifications(incident)
	r.tellDeliveries(incident, routedNow, sent)
	summariseDeliveries(incident, r.Clock.Now())
	return ctrl.Result{RequeueAfter: earliest(retryIn, untilWake(outcome.Wake, r.Clock.Now()))}, nil
}

// tellDeliveries emits one Normal event for the reconcile: Routed, naming
// the policies and who was told, or NotificationSent for later deliveries.
// The action names who was told, so that events/v1 does not fold one
// reconcile's event into another's series.
func (r *IncidentReconciler) tellDeliveries(incident *securityv1alpha1.Incident, routedNow bool, sent []string) {
	told := strings.Join(sent, ", ")
	action := "Notify " + told
	switch {
	case routedNow:
		names := make([]string, 0, len(incident.Status.Policies))
		for _, p := range incident.Status.Policies {
			names = append(names, p.KindOrDefault()+" "+p.Name)
		}
		note := "Routed to " + strings.Join(names, ", ")
		if told != "" {
			note += "; notified " + told
		}
		r.Events.normal(incident, EventRouted, "Route", "%s", note)
	case told != "":
		r.Events.normal(incident, EventNotificationSent, action, "Notified %s", told)
	}
}

// routedPolicies reads, once per reconcile, the current version of each
// policy the incident is routed to; a policy that is gone is left out.
func (r *IncidentReconciler) routedPolicies(ctx context.Context, incident *securityv1alpha1.Incident) map[string]*securityv1alpha1.EscalationPolicy {
	policies := make(map[string]*securityv1alpha1.EscalationPolicy, len(incident.Status.Policies))
	for _, ref := range incident.Status.Policies {
		if p := r.currentPolicy(ctx, incident.Namespace, ref); p != nil {
			policies[ref.Name] = p
		}
	}
	return policies
}

// advance runs the incident's lifecycle against the current policies and
// assets, and tells people what happened through events.
func (r *IncidentReconciler) advance(ctx context.Context, incident *securityv1alpha1.Incident, policies map[string]*securityv1alpha1.EscalationPolicy, authority *lifecycle.AuthorityFiling) lifecycle.Outcome {
	assets := r.assetsOf(ctx, incident)
	outcome := lifecycle.Advance(lifecycle.Input{
		Now: r.Clock.Now(), Incident: incident, Policies: policies, Assets: assets, ChannelOf: delivery.ChannelOf,
		Department: r.departmentOf(ctx, incident), Authority: authority,
	})
	for _, e := range outcome.Events {
		if e.Warning {
			r.Events.warning(incident, e.Reason, e.Action, "%s", e.Note)
		} else {
			r.Events.normal(incident, e.Reason, e.Action, "%s", e.Note)
		}
	}
	return outcome
}

// +kubebuilder:rbac:groups=security.incidentops.io,resources=departments,verbs=list;watch

// departmentOf is the Department of the incident's namespace that the
// reporter names; nil when none is declared (or more than one, which the
// operator cannot choose between and says so).
func (r *IncidentReconciler) departmentOf(ctx context.Context, incident *securityv1alpha1.Incident) *securityv1alpha1.Department {
	dept, named, err := gather.Department(ctx, r.Client, incident, client.MatchingFields{indexDepartmentName: incident.Spec.Reporter.Department})
	switch {
	case err != nil:
		ctrl.LoggerFrom(ctx).Error(err, "Listing departments", "department", incident.Spec.Reporter.Department)
	case named > 1:
		r.Events.warning(incident, "DepartmentAmbiguous", "Notify", "%d Departments in namespace %s are named %q; none is used for deputies",
			named, incident.Namespace, incident.Spec.Reporter.Department)
	}
	return dept
}

// assetsOf reads the Assets the incident names, by name, from the cache;
// one that does not exist is left out.
func (r *IncidentReconciler) assetsOf(ctx context.Context, incident *securityv1alpha1.Incident) map[string]*securityv1alpha1.Asset {
	assets, unread := gather.Assets(ctx, r.Client, incident)
	for _, err := range unread {
		ctrl.LoggerFrom(ctx).Error(err, "Reading assets")
	}
	return assets
}

// untilWake is how long until wake, plus a little so that the clock has
// surely passed it; zero when wake is unset. Rounding it up to a second, as
// retries are, would make deadlines fire up to a second late.
func untilWake(wake, now time.Time) time.Duration {
	if wake.IsZero() {
		return 0
	}
	return max(wake.Sub(now)+5*time.Millisecond, 10*time.Millisecond)
}

// earliest is the shorter of two waits, where zero means none.
func earliest(a, b time.Duration) time.Duration {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

func incidentStatus(i *securityv1alpha1.Incident) any { return i.Status }

// capNotifications keeps the incident's notification records at or under
// MaxNotificationsPerIncident. Records are appended in the order they are
// owed, so the ones past the ceiling are the newest; they are dropped
// before anything is sent to them, and the incident says so.
func (r *IncidentReconciler) capNotifications(incident *securityv1alpha1.Incident) {
	status := &incident.Status
	over := len(status.Notifications) - securityv1alpha1.MaxNotificationsPerIncident
	if over <= 0 {
		return
	}
	status.Notifications = status.Notifications[:securityv1alpha1.MaxNotificationsPerIncident]
	message := fmt.Sprintf("this incident reached the ceiling of %d notification records; %d more notifications were not recorded or sent",
		securityv1alpha1.MaxNotificationsPerIncident, over)
	setCondition(&status.Conditions, incident.Generation, r.Clock.Now(), securityv1alpha1.ConditionNotificationsComplete, metav1.ConditionFalse,
		securityv1alpha1.ReasonNotificationLimit, message)
	r.Events.warning(incident, securityv1alpha1.ReasonNotificationLimit, "Notify", "%s", message)
}

// isTooLarge is true when the API server refused a write for its size.
func isTooLarge(err error) bool {
	return apierrors.IsRequestEntityTooLargeError(err) || strings.Contains(err.Error(), "request is too large")
}

// checkInput reports, as the InputValid condition, what in the spec cannot
// be right: the API server refuses each of these now, but an incident
// stored before it did may hold them. The operator works on (a clock that
// would start in the future starts at the report instead) and the
// condition names each field.
func checkInput(incident *securityv1alpha1.Incident, now time.Time) {
	type problem struct{ reason, field, message string }
	var problems []problem
	spec := &incident.Spec
	reported := incident.CreationTimestamp
	if at := spec.ReportedAt; at != nil && at.After(reported.Add(securityv1alpha1.ReportClockSkew)) {
		problems = append(problems, problem{securityv1alpha1.ReasonTimeInFuture, "spec.reportedAt", fmt.Sprintf(
			"%s is after the incident was created (%s); the service desk's clock starts at the creation instead",
			at.UTC().Format(time.RFC3339), reported.UTC().Format(time.RFC3339))})
	}
	if aware, at := spec.AwareAt, spec.ReportedAt; aware != nil && at != nil && aware.After(at.Time) {
		problems = append(problems, problem{securityv1alpha1.ReasonInconsistent, "spec.awareAt", fmt.Sprintf(
			"%s is after reportedAt %s: the organisation knew of the event by the time it was reported; the regulatory clock starts at reportedAt",
			aware.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))})
	}
	if aware := spec.AwareAt; aware != nil && aware.After(reported.Add(securityv1alpha1.ReportClockSkew)) {
		problems = append(problems, problem{securityv1alpha1.ReasonTimeInFuture, "spec.awareAt", fmt.Sprintf(
			"%s is after the incident was reported (%s); the regulatory clock starts at the report instead",
			aware.UTC().Format(time.RFC3339), reported.UTC().Format(time.RFC3339))})
	}
	if spec.Impact.SpecialCategoryData && !spec.Impact.PersonalData {
		problems = append(problems, problem{securityv1alpha1.ReasonInconsistent, "spec.impact.personalData", "specialCategoryData is personal data: set personalData too"})
	}
	if spec.Impact.SocialCare && !spec.Impact.PersonalData {
		problems = append(problems, problem{securityv1alpha1.ReasonInconsistent, "spec.impact.personalData", "social-care records are personal data: set personalData too"})
	}
	if n := spec.AuthorityNotification; n != nil {
		if !spec.Impact.PersonalData {
			problems = append(problems, problem{securityv1alpha1.ReasonInconsistent, "spec.authorityNotification", "is only for incidents involving personal data: set impact.personalData"})
		}
		if n.NotifiedAt.After(now.Add(securityv1alpha1.ReportClockSkew)) {
			problems = append(problems, problem{securityv1alpha1.ReasonTimeInFuture, "spec.authorityNotification.notifiedAt", fmt.Sprintf(
				"%s is in the future; record the report once it has been made", n.NotifiedAt.UTC().Format(time.RFC3339))})
		}
		aware := incident.ReportedAwareAt()
		if n.NotifiedAt.Time.Before(aware) {
			problems = append(problems, problem{securityv1alpha1.ReasonInconsistent, "spec.authorityNotification.notifiedAt", fmt.Sprintf(
				"%s is before awareAt %s: the authority cannot be told of a breach before the organisation knew of it",
				n.NotifiedAt.UTC().Format(time.RFC3339), aware.UTC().Format(time.RFC3339))})
		}
		if n.DelayReason == "" && n.NotifiedAt.After(aware.Add(securityv1alpha1.AuthorityNotificationWithin)) {
			problems = append(problems, problem{securityv1alpha1.ReasonInconsistent, "spec.authorityNotification.delayReason", "is required: the authority was told more than 72 hours after awareAt"})
		}
	}
	conditions := &incident.Status.Conditions
	if len(problems) == 0 {
		meta.RemoveStatusCondition(conditions, securityv1alpha1.ConditionInputValid)
		return
	}
	parts := make([]string, len(problems))
	for i, p := range problems {
		parts[i] = p.field + ": " + p.message
	}
	setCondition(conditions, incident.Generation, now, securityv1alpha1.ConditionInputValid, metav1.ConditionFalse,
		problems[0].reason, truncateBytes(strings.Join(parts, "; "), maxConditionMessage))
}

func (r *IncidentReconciler) now() metav1.Time {
	return metav1.NewTime(r.Clock.Now().Truncate(time.Second))
}

// SetupWithManager registers the controller. Incidents are reconciled when
// their spec, labels or annotations change and, while still unrouted, when a
// policy in their namespace does; time-driven work comes back through
// RequeueAfter. A change of status alone, which only the operator makes,
// queues nothing: the reconcile it would cause has nothing to do.
func (r *IncidentReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&securityv1alpha1.Incident{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicate.LabelChangedPredicate{}))).
		// Routing judges policies by their spec, not their status.
		Watches(&securityv1alpha1.EscalationPolicy{}, handler.EnqueueRequestsFromMapFunc(r.unroutedIncidents),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&securityv1alpha1.ClusterEscalationPolicy{}, handler.EnqueueRequestsFromMapFunc(r.unroutedEverywhere),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.unroutedInNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{}, r.Namespaces.predicate())).
		Watches(&securityv1alpha1.Evidence{}, handler.EnqueueRequestsFromMapFunc(evidenceIncident),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&securityv1alpha1.Filing{}, handler.EnqueueRequestsFromMapFunc(filingIncident),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&securityv1alpha1.RegulatoryRegime{}, handler.EnqueueRequestsFromMapFunc(r.incidentsForRegime),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(r.Wakeups.source()).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1)}).
		Named("incident").
		Complete(r)
}

// evidenceIncident maps evidence to its incident, whose trail records it.
func evidenceIncident(_ context.Context, o client.Object) []reconcile.Request {
	ev := o.(*securityv1alpha1.Evidence)
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ev.Namespace, Name: ev.Spec.Incident}}}
}

// unroutedIncidents maps a policy to the incidents of its namespace that no
// policy has matched yet. Routed incidents keep the policies that routed them.
func (r *IncidentReconciler) unroutedIncidents(ctx context.Context, policy client.Object) []reconcile.Request {
	r.PolicySets.invalidate(policy.GetNamespace())
	return r.unrouted(ctx, client.InNamespace(policy.GetNamespace()))
}

// unroutedInNamespace maps a namespace whose labels changed, which may
// change the cluster policies that apply to it, to its unrouted incidents.
func (r *IncidentReconciler) unroutedInNamespace(ctx context.Context, ns client.Object) []reconcile.Request {
	r.PolicySets.invalidate(ns.GetName())
	return r.unrouted(ctx, client.InNamespace(ns.GetName()))
}

// unroutedEverywhere maps a cluster policy to every unrouted incident: the
// namespaces it applies to may have changed with it.
func (r *IncidentReconciler) unroutedEverywhere(ctx context.Context, _ client.Object) []reconcile.Request {
	r.PolicySets.invalidateAll()
	return r.unrouted(ctx)
}

func (r *IncidentReconciler) unrouted(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	var incidents securityv1alpha1.IncidentList
	if err := r.List(ctx, &incidents, append(opts, client.MatchingFields{indexIncidentRouted: "false"})...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing unrouted incidents")
		return nil
	}
	requests := make([]reconcile.Request, 0, len(incidents.Items))
	for i := range incidents.Items {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&incidents.Items[i])})
	}
	return requests
}
