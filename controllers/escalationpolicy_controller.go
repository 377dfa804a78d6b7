package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/receiver"
	"github.com/incidentops/incident-operator/internal/routing"
)

// secretRecheckInterval is how often a policy waiting for a Secret looks
// again. Secrets are read by direct GET, never watched, so that the operator
// needs no cluster-wide access to them.
const secretRecheckInterval = 30 * time.Second

// EscalationPolicyReconciler validates policies and reports whether they can
// be used: everything the schema cannot check (internal/policycheck), and
// that every Secret they name is available.
type EscalationPolicyReconciler struct {
	client.Client
	// Secrets reads the Secrets receivers name.
	Secrets     receiver.Secrets
	Expressions *routing.ExpressionCache
	Renderers   *rendererCache
	// Checks is what the policy checks need from the operator.
	Checks policycheck.Environment
	Clock  clock.Clock
}

// +kubebuilder:rbac:groups=security.incidentops.io,resources=escalationpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=security.incidentops.io,resources=escalationpolicies/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

func (r *EscalationPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	policy := &securityv1alpha1.EscalationPolicy{}
	if err := r.Get(ctx, req.NamespacedName, policy); err != nil {
		if apierrors.IsNotFound(err) {
			r.Expressions.Forget(req.NamespacedName)
			r.Renderers.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := policy.DeepCopy()
	defer func() {
		retErr = errors.Join(retErr, patchStatus(ctx, r.Client, policy, before, policyStatus))
	}()

	generation := policy.Generation
	conditions := &policy.Status.Conditions
	if problems := policycheck.Run(policy, r.Checks); len(problems) > 0 {
		reason, message := policycheck.Summary(problems)
		markStalled(conditions, generation, r.Clock.Now(), reason, truncateBytes(message, maxConditionMessage))
		policy.Status.ObservedGeneration = generation
		// Only a new generation, or a restart with other settings, can fix
		// these; retrying would not help.
		return ctrl.Result{}, reconcile.TerminalError(errors.New(message))
	}

	missing, err := r.missingSecrets(ctx, policy)
	if err != nil {
		return ctrl.Result{}, err
	}
	policy.Status.ObservedGeneration = generation
	if len(missing) > 0 {
		markStalled(conditions, generation, r.Clock.Now(), securityv1alpha1.ReasonSecretNotFound,
			truncateBytes(strings.Join(missing, "; "), maxConditionMessage))
		return ctrl.Result{RequeueAfter: secretRecheckInterval}, nil
	}

	markReady(conditions, generation, r.Clock.Now(), fmt.Sprintf("%d receivers, %d escalation levels", len(policy.Spec.Receivers), len(policy.Spec.Escalation.Levels)))
	return ctrl.Result{}, nil
}

// missingSecrets lists the Secret keys the policy names that cannot be
// used, each with the field that names it.
func (r *EscalationPolicyReconciler) missingSecrets(ctx context.Context, policy *securityv1alpha1.EscalationPolicy) ([]string, error) {
	var missing []string
	for i := range policy.Spec.Receivers {
		spec := &policy.Spec.Receivers[i]
		for _, use := range receiver.SecretsOf(spec) {
			_, err := r.Secrets.Key(ctx, policy.Namespace, use.Ref)
			switch {
			case err == nil:
			case receiver.IsUnavailable(err):
				missing = append(missing, fmt.Sprintf("spec.receivers[%d].%s: receiver %q: %v", i, use.Field, spec.Name, err))
			default:
				return nil, err
			}
		}
	}
	return missing, nil
}

func policyStatus(p *securityv1alpha1.EscalationPolicy) any { return p.Status }

// SetupWithManager registers the controller.
func (r *EscalationPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&securityv1alpha1.EscalationPolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("escalationpolicy").
		Complete(r)
}
