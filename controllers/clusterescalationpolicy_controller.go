package controllers

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/routing"
)

// ClusterEscalationPolicyReconciler checks cluster policies as the
// EscalationPolicyReconciler checks a namespace's, with their receivers'
// Secrets read from the operator's namespace, and their namespace selector.
type ClusterEscalationPolicyReconciler struct {
	*EscalationPolicyReconciler
	// OperatorNamespace holds the Secrets of cluster policies' receivers.
	OperatorNamespace string
}

func (r *ClusterEscalationPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	cluster := &securityv1alpha1.ClusterEscalationPolicy{}
	if err := r.Get(ctx, req.NamespacedName, cluster); err != nil {
		if apierrors.IsNotFound(err) {
			// The caches key a cluster policy by its name alone.
			key := types.NamespacedName{Name: req.Name}
			r.Expressions.Forget(key)
			r.Renderers.forget(key)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := cluster.DeepCopy()
	view := cluster.AsEscalationPolicy()
	defer func() {
		cluster.Status = view.Status
		retErr = errors.Join(retErr, patchStatus(ctx, r.Client, cluster, before, clusterPolicyStatus))
	}()
	if _, err := routing.NamespaceSelector(cluster); err != nil {
		markStalled(&view.Status.Conditions, cluster.Generation, r.Clock.Now(), policycheck.ReasonInvalidSelector, truncateBytes(err.Error(), maxConditionMessage))
		view.Status.ObservedGeneration = cluster.Generation
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	return r.check(ctx, view, r.OperatorNamespace)
}

func clusterPolicyStatus(p *securityv1alpha1.ClusterEscalationPolicy) any { return p.Status }

// SetupWithManager registers the controller.
func (r *ClusterEscalationPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&securityv1alpha1.ClusterEscalationPolicy{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, readinessRewritten()))).
		Named("clusterescalationpolicy").
		Complete(r)
}
