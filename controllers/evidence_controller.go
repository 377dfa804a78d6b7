package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/custody"
)

// EvidenceReconciler says who holds each item of evidence, whether its
// chain of custody holds together, and keeps its legal hold in step with
// its incident's, which the admission policies read to refuse changes.
// The incident's audit trail records the evidence and each transfer.
type EvidenceReconciler struct {
	client.Client
	Clock clock.Clock
}

// +kubebuilder:rbac:groups=security.incidentops.io,resources=evidences/status,verbs=patch

// Evidence condition reasons.
const (
	ReasonIncidentNotFound        = "IncidentNotFound"
	ReasonCustodyBroken           = "CustodyBroken"
	ReasonCollectedBeforeIncident = "CollectedBeforeIncident"
)

func (r *EvidenceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	ev := &securityv1alpha1.Evidence{}
	if err := r.Get(ctx, req.NamespacedName, ev); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := ev.DeepCopy()
	defer func() {
		if retErr == nil {
			ev.Status.ObservedGeneration = ev.Generation
		}
		retErr = errors.Join(retErr, patchStatus(ctx, r.Client, ev, before, evidenceStatus))
	}()

	status := &ev.Status
	status.Holder = custody.Holder(ev)
	now := r.Clock.Now()
	incident := &securityv1alpha1.Incident{}
	err := r.Get(ctx, types.NamespacedName{Namespace: ev.Namespace, Name: ev.Spec.Incident}, incident)
	switch {
	case apierrors.IsNotFound(err):
		markStalled(&status.Conditions, ev.Generation, now, ReasonIncidentNotFound,
			"spec.incident: incident "+ev.Spec.Incident+" does not exist in namespace "+ev.Namespace+"; nothing records this evidence")
		return ctrl.Result{}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	status.LegalHold = incident.Spec.LegalHold.Active()
	if known := incident.StatedKnownSince(); known != nil && ev.Spec.CollectedAt.Time.Before(known.Add(-clockLeeway)) {
		markStalled(&status.Conditions, ev.Generation, now, ReasonCollectedBeforeIncident, fmt.Sprintf(
			"spec.collectedAt: %s is before incident %s was known of (%s): evidence is collected for an incident once it is known; record when this item was collected",
			ev.Spec.CollectedAt.UTC().Format(time.RFC3339), incident.Name, known.UTC().Format(time.RFC3339)))
		return ctrl.Result{}, nil
	}
	if problems := custody.Check(ev, now); len(problems) > 0 {
		markStalled(&status.Conditions, ev.Generation, now, ReasonCustodyBroken, truncateBytes(strings.Join(problems, "; "), maxConditionMessage))
		return ctrl.Result{}, nil
	}
	markReady(&status.Conditions, ev.Generation, now, "held by "+status.Holder+"; recorded in the audit trail of incident "+incident.Name)
	return ctrl.Result{}, nil
}

func evidenceStatus(e *securityv1alpha1.Evidence) any { return e.Status }

// clockLeeway allows for the clocks of those who record times.
const clockLeeway = 5 * time.Minute

// SetupWithManager registers the controller; an incident's change (its
// legal hold) reaches each of its items of evidence.
func (r *EvidenceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&securityv1alpha1.Evidence{}).
		Watches(&securityv1alpha1.Incident{}, handler.EnqueueRequestsFromMapFunc(r.evidenceOfIncident),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("evidence").
		Complete(r)
}

func (r *EvidenceReconciler) evidenceOfIncident(ctx context.Context, o client.Object) []reconcile.Request {
	var list securityv1alpha1.EvidenceList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexEvidenceIncident: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing evidence of incident", "incident", o.GetName())
		return nil
	}
	requests := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return requests
}
