package controllers

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// RegulatoryRegimeReconciler says on each regime whether the operator can
// compute its deadlines: a deadline it cannot read would leave a stage with
// no clock, which must be corrected, not guessed.
type RegulatoryRegimeReconciler struct {
	client.Client
	Clock clock.Clock
}

// +kubebuilder:rbac:groups=security.incidentops.io,resources=regulatoryregimes/status,verbs=patch

// ReasonInvalidDeadline: a stage's deadline cannot be read.
const ReasonInvalidDeadline = "InvalidDeadline"

func (r *RegulatoryRegimeReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	regime := &securityv1alpha1.RegulatoryRegime{}
	if err := r.Get(ctx, req.NamespacedName, regime); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := regime.DeepCopy()
	defer func() {
		if retErr == nil {
			regime.Status.ObservedGeneration = regime.Generation
		}
		retErr = errors.Join(retErr, patchStatus(ctx, r.Client, regime, before, func(g *securityv1alpha1.RegulatoryRegime) any { return g.Status }))
	}()
	now := r.Clock.Now()
	if problem := unreadableDeadline(&regime.Spec); problem != "" {
		markStalled(&regime.Status.Conditions, regime.Generation, now, ReasonInvalidDeadline, problem)
		return ctrl.Result{}, nil
	}
	markReady(&regime.Status.Conditions, regime.Generation, now, fmt.Sprintf("%d stages, each with a deadline the operator can compute", len(regime.Spec.Stages)))
	return ctrl.Result{}, nil
}

// unreadableDeadline names the first stage whose deadline is not a
// duration, or not a positive one; empty when every stage's is.
func unreadableDeadline(spec *securityv1alpha1.RegulatoryRegimeSpec) string {
	for i, stage := range spec.Stages {
		for field, d := range map[string]*securityv1alpha1.Duration{"deadline": stage.Deadline, "maxFromAwareness": stage.MaxFromAwareness} {
			switch {
			case d == nil:
			case d.Err() != nil:
				return fmt.Sprintf("spec.stages[%d].%s: %v", i, field, d.Err())
			case d.Duration <= 0:
				return fmt.Sprintf("spec.stages[%d].%s: %s is not a time limit: a stage is due some time after its clock starts", i, field, d)
			}
		}
	}
	return ""
}

func (r *RegulatoryRegimeReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&securityv1alpha1.RegulatoryRegime{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("regulatoryregime").
		Complete(r)
}
